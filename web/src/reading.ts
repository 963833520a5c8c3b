// Read only when seen: a message counts as read once it was on screen, in the open
// conversation, while the page was visible. The read receipt moves to the last message of the
// unbroken run of seen messages after it, so jumping to the bottom does not mark the skipped
// middle as read.

export interface ReadingEvent {
  id: string;
  /** Mine: nothing to read. */
  mine: boolean;
  /** Drawn in the timeline (a message); other events (membership, names) do not stop the run. */
  shown: boolean;
}

/**
 * Where the receipt should move to: the last event of the run of seen (or mine) messages that
 * follows the current receipt at `receiptIndex` (-1: before all of `events`). Null when the run
 * holds no message of someone else (nothing new was read).
 */
export function receiptTarget(events: ReadingEvent[], receiptIndex: number, seen: (id: string) => boolean): string | null {
  let target: string | null = null;
  let read = 0;
  for (let i = receiptIndex + 1; i < events.length; i++) {
    const e = events[i];
    if (!e.shown) continue;
    if (e.mine) {
      target = e.id;
      continue;
    }
    if (!seen(e.id)) break;
    target = e.id;
    read++;
  }
  return read > 0 ? target : null;
}

/** Messages of others after the receipt not seen yet: the "N new messages ↓" count. */
export function unseenAfter(events: ReadingEvent[], receiptIndex: number, seen: (id: string) => boolean): number {
  let n = 0;
  for (let i = receiptIndex + 1; i < events.length; i++) {
    const e = events[i];
    if (e.shown && !e.mine && !seen(e.id)) n++;
  }
  return n;
}
