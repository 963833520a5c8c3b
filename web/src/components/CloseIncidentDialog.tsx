// Closing an incident (standing the team down), with an optional reason ("ROSC achieved",
// "false alarm"): everyone in it sees it closed, its alarm stops escalating, and the source
// system is told. The server's refusal (already closed, no longer a member) is shown as it says it.

import { useState } from "preact/hooks";

import { closeIncident } from "../incidents";
import type { Incident } from "../incidents";
import { Refused, failure } from "../roles";
import { Dialog } from "./Dialog";
import { showToast } from "./Toast";

export function CloseIncidentDialog({ incident, onClose }: { incident: Incident; onClose: () => void }) {
  const [reason, setReason] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const go = async () => {
    setBusy(true);
    setError("");
    try {
      await closeIncident(incident.room_id, reason);
      showToast("Incident closed");
      onClose();
    } catch (e) {
      // (The server's words: "the incident is already closed", say.)
      setError(e instanceof Refused ? `Not closed: ${e.message}` : failure(e, "The incident was not closed"));
      setBusy(false);
    }
  };
  return (
    <Dialog label="Close incident" onClose={onClose}>
      <form
        onSubmit={(ev) => {
          ev.preventDefault();
          void go();
        }}
      >
        <h2>Close incident</h2>
        <p>
          {incident.title}: everyone in it sees it closed, and the alarm stops calling people.
        </p>
        <label for="close-incident-reason">Reason (optional)</label>
        <input
          id="close-incident-reason"
          type="text"
          value={reason}
          maxLength={500}
          autoFocus
          placeholder="For example: ROSC achieved, false alarm"
          onInput={(ev) => setReason((ev.currentTarget as HTMLInputElement).value)}
        />
        <p class="error" role="alert">
          {error}
        </p>
        <div class="dialog-actions">
          <button type="button" class="plain" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="danger" disabled={busy}>
            {busy ? "Closing…" : "Close incident"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
