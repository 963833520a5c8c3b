// Deleting a message of mine, through the outbox: "Deleting…" until the server has it, or Not
// deleted with the reason, Retry, and Cancel (the message stays).

import { discard, retry } from "../compose";
import { useStore } from "../state";

export function PendingDelete({ eventId }: { eventId: string }) {
  const entry = useStore((s) => s.outbox.find((e) => e.kind === "redaction" && e.target === eventId));
  if (!entry || entry.state === "sent") return null;
  if (entry.state === "sending") {
    return (
      <span class="status sending deleting">
        <span aria-hidden="true">◷ </span>Deleting…
      </span>
    );
  }
  return (
    <span class="not-sent">
      <span class="reason">
        <span aria-hidden="true">⚠ </span>Not deleted: {entry.reason?.text ?? "not sent"}
        {entry.reason?.kind === "network" && ". Trying again when the connection returns."}
      </span>
      <button type="button" class="plain small" aria-label="Retry deleting" onClick={() => retry(entry.txnId)}>
        Retry
      </button>
      <button type="button" class="plain small" aria-label="Cancel deleting: keep the message" onClick={() => discard(entry.txnId)}>
        Cancel
      </button>
    </span>
  );
}
