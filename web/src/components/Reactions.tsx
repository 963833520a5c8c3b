// A message's reactions: the server's, with mine still in the outbox on their way ("sending…"),
// Not sent (the reason, Retry, Delete) or being taken back (reactions.ts).

import { discard, retry, toggleReaction } from "../compose";
import { count, mineShown, shownReactions } from "../reactions";
import type { ShownReaction } from "../reactions";
import { useStore } from "../state";
import type { OutboxEntry, TimelineItem } from "../state";

/** My reaction, or the taking back of it, not done yet: what is happening, and what I can do. */
function Pending({ chip, entry }: { chip: ShownReaction; entry: OutboxEntry }) {
  const adding = entry === chip.adding;
  if (entry.state === "sent") return null;
  if (entry.state === "sending") {
    return <span class="reaction-status">{adding ? `${chip.key} sending…` : `Taking back ${chip.key}…`}</span>;
  }
  const what = adding ? `Reaction ${chip.key} not sent` : `Reaction ${chip.key} not taken back`;
  return (
    <span class="not-sent">
      <span class="reason">
        <span aria-hidden="true">⚠ </span>
        {what}: {entry.reason?.text ?? "not sent"}
      </span>
      <button type="button" class="plain small" aria-label={`Retry: ${what}`} onClick={() => retry(entry.txnId)}>
        Retry
      </button>
      <button
        type="button"
        class="plain small"
        aria-label={adding ? `Delete the reaction ${chip.key} not sent` : `Keep the reaction ${chip.key}`}
        onClick={() => discard(entry.txnId)}
      >
        {adding ? "Delete" : "Keep it"}
      </button>
    </span>
  );
}

export function Reactions({ item }: { item: TimelineItem }) {
  const pending = useStore((s) => s.outbox.filter((e) => e.kind));
  const chips = shownReactions(item, pending);
  if (!chips.length || !item.eventId) return null;
  const eventId = item.eventId;
  const busy = (c: ShownReaction) => c.removing ?? c.adding;
  return (
    <div class="reactions" role="group" aria-label="Reactions">
      {chips.map((r) => {
        const mine = mineShown(r);
        const who = [...r.who, ...(r.adding && !r.mine ? ["you"] : [])];
        const entry = busy(r);
        const waiting = entry && entry.state !== "sent";
        return (
          <span key={r.key} class="reaction-wrap">
            <button
              type="button"
              class={`reaction${mine ? " mine" : ""}${waiting ? " pending" : ""}`}
              aria-pressed={mine ? "true" : "false"}
              aria-label={`${r.key} ${who.join(", ")}${waiting ? (r.removing ? " (being taken back)" : " (yours not sent yet)") : mine ? " (tap to take yours back)" : ""}`}
              title={who.join(", ")}
              onClick={() => toggleReaction(eventId, r.key)}
            >
              {r.key} {count(r)}
            </button>
            {entry && <Pending chip={r} entry={entry} />}
          </span>
        );
      })}
    </div>
  );
}
