// The status of a message of mine: Sending, Sent, Delivered to N of M, Read by N of M (from the
// server), or Not sent with the reason and Retry / Delete.

import { discard, retry } from "../compose";
import { store, useStore } from "../state";
import type { NotSentReason, TimelineItem } from "../state";
import { statusLabel } from "../statuses";

function notSent(reason: NotSentReason | undefined): string {
  if (!reason) return "Not sent";
  switch (reason.kind) {
    case "network":
      return `Not sent: ${reason.text}. Trying again when the connection returns.`;
    case "too-large":
      return `Not sent: file too large (${reason.text})`;
    default:
      return `Not sent: ${reason.text}`;
  }
}

export function MessageStatus({ item }: { item: TimelineItem }) {
  const entry = useStore((s) => (item.txnId ? s.outbox.find((e) => e.txnId === item.txnId) : undefined));
  const eventId = item.eventId ?? entry?.eventId;
  const counts = useStore((s) => (eventId ? s.statuses[eventId] : undefined));
  if (entry?.state === "failed") {
    return (
      <span class="not-sent">
        <span class="reason">
          <span aria-hidden="true">⚠ </span>
          {notSent(entry.reason)}
          {entry.unkept && " This device could not keep the file: stay on this page until it is sent."}
        </span>
        <button type="button" class="plain small" onClick={() => retry(entry.txnId)}>
          Retry
        </button>
        <button type="button" class="plain small" onClick={() => discard(entry.txnId)}>
          Delete
        </button>
      </span>
    );
  }
  if (!eventId || entry?.state === "sending") {
    return (
      <span class="status sending">
        <span aria-hidden="true">◷ </span>Sending…
        {entry?.unkept && (
          <span class="reason"> This device could not keep the file: stay on this page until it is sent.</span>
        )}
      </span>
    );
  }
  const label = statusLabel(counts);
  const read = counts && counts.read > 0;
  const ticks = read || (counts && counts.delivered > 0) ? "✓✓" : "✓";
  const all = counts && counts.recipients > 0 && counts.read === counts.recipients;
  return (
    <button
      type="button"
      class={`status${read ? " read" : ""}${all ? " all" : ""}`}
      aria-label={`${label}: show who has read it`}
      onClick={() => store.update({ readersFor: eventId })}
    >
      <span aria-hidden="true" class="ticks">
        {ticks}
      </span>{" "}
      {label}
    </button>
  );
}

/** On my edited message: who has read the latest change ("edited · change read by 0 of 3"). */
export function EditStatus({ editId }: { editId: string }) {
  const counts = useStore((s) => s.statuses[editId]);
  if (!counts || counts.recipients === 0) return <span class="edited">edited</span>;
  return (
    <button
      type="button"
      class="edited plain small"
      aria-label={`Edited: the change read by ${counts.read} of ${counts.recipients}: show who has read it`}
      onClick={() => store.update({ readersFor: editId })}
    >
      edited · change read by {counts.read} of {counts.recipients}
    </button>
  );
}
