// Handing a role over to a named colleague: at the end of a shift, or when swiping out of a
// role that must not be left empty (the server asked for a successor). The colleague must be
// eligible; the server says so if not, and nothing changes.

import { useState } from "preact/hooks";

import type { Person } from "../directory";
import { failure, handover, swipeOut } from "../roles";
import type { RoleView } from "../roles";
import { me } from "../signedin";
import { Dialog } from "./Dialog";
import { PeoplePicker } from "./PeoplePicker";
import { showToast } from "./Toast";

export function HandoverDialog(props: { role: RoleView; successorRequired: boolean; onClose: () => void }) {
  const { role } = props;
  const [chosen, setChosen] = useState<Person | null>(null);
  const [note, setNote] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const go = async () => {
    if (!chosen) return;
    setBusy(true);
    setError("");
    try {
      // Swiping out with a successor and handing over come to the same; the history says which.
      if (props.successorRequired) await swipeOut(role.role_id, chosen.userId, note.trim() || undefined);
      else await handover(role.role_id, chosen.userId, note.trim() || undefined);
      showToast(`${chosen.name} now holds ${role.name}`);
      props.onClose();
    } catch (e) {
      setError(failure(e, "The role was not handed over"));
      setBusy(false);
    }
  };
  return (
    <Dialog label={`Hand over ${role.name}`} onClose={props.onClose}>
      <h2>Hand over {role.name}</h2>
      {props.successorRequired && (
        <p class="notice" role="status">
          {role.name} must not be left empty: choose who takes over from you.
        </p>
      )}
      {chosen ? (
        <div class="chosen">
          <p>
            Hand over to <strong>{chosen.name}</strong>
            {chosen.role && <span class="muted"> — {chosen.role}</span>}
          </p>
          <button type="button" class="plain" onClick={() => setChosen(null)}>
            Choose someone else
          </button>
          <label for="handover-note">Note for the history (optional)</label>
          <input id="handover-note" type="text" value={note} onInput={(ev) => setNote((ev.currentTarget as HTMLInputElement).value)} />
        </div>
      ) : (
        <PeoplePicker label="Who takes over" onPick={setChosen} exclude={[me()]} autofocus />
      )}
      <p class="error" role="alert">
        {error}
      </p>
      <div class="dialog-actions">
        <button type="button" class="plain" onClick={props.onClose}>
          Cancel
        </button>
        <button type="button" disabled={!chosen || busy} onClick={() => void go()}>
          {chosen ? `Hand over to ${chosen.name}` : "Hand over"}
        </button>
      </div>
    </Dialog>
  );
}
