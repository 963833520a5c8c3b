// What I can do with a role: message it; swipe in; or, holding it, swipe out (asked for a
// successor when the role must not be left empty) and hand it over. The server's refusals
// (not eligible, must not be left empty) are said in its words, beside the buttons.

import { useState } from "preact/hooks";

import { messageRole } from "../rolechat";
import { failure, NOT_ELIGIBLE, Refused, SUCCESSOR_REQUIRED, swipeIn, swipeOut } from "../roles";
import type { RoleView } from "../roles";
import { me } from "../signedin";
import { HandoverDialog } from "./HandoverDialog";
import { showToast } from "./Toast";

export function RoleActions({ role, message = true, onChanged }: { role: RoleView; message?: boolean; onChanged?: () => void }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [handing, setHanding] = useState<null | { required: boolean }>(null);
  const mine = role.holders.some((h) => h.user_id === me());
  const run = async (what: string, action: () => Promise<unknown>, done: string) => {
    setBusy(true);
    setError("");
    try {
      await action();
      showToast(done);
      onChanged?.();
    } catch (e) {
      if (e instanceof Refused && e.errcode === SUCCESSOR_REQUIRED) setHanding({ required: true });
      else if (e instanceof Refused && e.errcode === NOT_ELIGIBLE) setError(`You cannot hold ${role.name}: ${e.message}`);
      else setError(failure(e, what));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="role-actions">
      {message && role.user_id && (
        <button type="button" class="plain" aria-label={`Message ${role.name}`} onClick={() => void messageRole(role.user_id as string).catch((e) => setError(failure(e, "Could not open the conversation")))}>
          Message
        </button>
      )}
      {mine ? (
        <>
          <button
            type="button"
            class="plain"
            disabled={busy}
            aria-label={`Swipe out of ${role.name}`}
            onClick={() => void run("You are still on shift", () => swipeOut(role.role_id), `You swiped out of ${role.name}`)}
          >
            Swipe out
          </button>
          <button type="button" class="plain" disabled={busy} aria-label={`Hand over ${role.name}`} onClick={() => setHanding({ required: false })}>
            Hand over…
          </button>
        </>
      ) : (
        <button
          type="button"
          class="plain"
          disabled={busy || Boolean(role.retired)}
          aria-label={`Swipe in to ${role.name}`}
          onClick={() => void run("You did not swipe in", () => swipeIn(role.role_id), `You are on shift as ${role.name}`)}
        >
          Swipe in
        </button>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {handing && (
        <HandoverDialog
          role={role}
          successorRequired={handing.required}
          onClose={() => {
            setHanding(null);
            onChanged?.();
          }}
        />
      )}
    </div>
  );
}
