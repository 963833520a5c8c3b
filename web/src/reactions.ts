// Reactions to a message as I see them: the server's, with mine still in the outbox added (on
// their way, or Not sent) and mine being taken back marked; and what tapping one does then.

import type { OutboxEntry, Reaction, TimelineItem } from "./state";

/** A reaction chip: the server's reactions with this key, and mine on its way or being taken back. */
export interface ShownReaction extends Reaction {
  /** My reaction with this key, in the outbox (not accepted yet, or accepted and not back yet). */
  adding?: OutboxEntry;
  /** The deletion of my reaction with this key, in the outbox. */
  removing?: OutboxEntry;
}

/** The chips of `item`: the server's reactions with the outbox's reactions and deletions applied, in order. */
export function shownReactions(item: TimelineItem, outbox: OutboxEntry[]): ShownReaction[] {
  const chips: ShownReaction[] = (item.reactions ?? []).map((r) => ({ ...r }));
  if (!item.eventId) return chips;
  const eventId = item.eventId;
  // My reactions to this message in the outbox, by transaction id.
  const mineInOutbox = new Map<string, OutboxEntry>();
  for (const e of outbox) {
    if (e.kind === "reaction" && e.target === eventId && e.key) {
      mineInOutbox.set(e.txnId, e);
      const chip = chips.find((c) => c.key === e.key);
      // Already back from the server (its entry is forgotten at once): nothing to add.
      if (chip?.mine && !chip.removing) continue;
      if (chip) {
        chip.adding = e;
        chip.removing = undefined;
      } else chips.push({ key: e.key, who: [], adding: e });
    } else if (e.kind === "redaction") {
      const reaction = e.targetTxn ? mineInOutbox.get(e.targetTxn) : undefined;
      const chip = reaction
        ? chips.find((c) => c.key === reaction.key)
        : chips.find((c) => (c.mine && c.mine === e.target) || (c.adding?.eventId && c.adding.eventId === e.target));
      if (chip) chip.removing = e;
    }
  }
  return chips.filter((c) => count(c) > 0 || (c.removing && c.removing.state !== "sent"));
}

/** Is my reaction part of this chip (shown, counted)? */
export function mineShown(c: ShownReaction): boolean {
  if (c.removing?.state === "sent") return false;
  return Boolean(c.mine || c.adding || c.removing);
}

/** How many reacted, me included while my reaction is on its way or not yet taken back. */
export function count(c: ShownReaction): number {
  const others = c.who.length - (c.mine ? 1 : 0);
  return others + (mineShown(c) ? 1 : 0);
}

/** What tapping the chip `key` (or choosing it in the menu) does. */
export type Toggle =
  | { kind: "react" }
  /** Delete my reaction from the server. */
  | { kind: "redact"; eventId: string }
  /** Withdraw an outbox entry (my reaction on its way, or the deletion of it); if it may be on the server already, undo it there. */
  | { kind: "withdraw"; entry: OutboxEntry };

export function toggleOf(chips: ShownReaction[], key: string): Toggle {
  const c = chips.find((x) => x.key === key);
  if (!c) return { kind: "react" };
  if (c.removing) return c.removing.state === "sent" ? { kind: "react" } : { kind: "withdraw", entry: c.removing };
  if (c.adding) {
    return c.adding.state === "sent" && c.adding.eventId
      ? { kind: "redact", eventId: c.adding.eventId }
      : { kind: "withdraw", entry: c.adding };
  }
  return c.mine ? { kind: "redact", eventId: c.mine } : { kind: "react" };
}
