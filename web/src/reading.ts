// Read only when seen: a message counts as read once it was on screen for a second, in the open
// conversation, while someone was there (the page visible and focused, and activity within the
// last minute: Attention). The read receipt moves to the last message of the unbroken run of
// seen messages after it, so jumping to the bottom does not mark the skipped middle as read,
// and never past a gap (messages not loaded, after a limited sync): no rule here crosses one.

export interface ReadingEvent {
  id: string;
  /** Mine: nothing to read. */
  mine: boolean;
  /** Drawn in the timeline (a message); other events (membership, names) do not stop the run. */
  shown: boolean;
  /**
   * Messages not loaded here (a gap between two loaded runs, after a limited sync): never seen,
   * never read, so no receipt reaches past it (until it is loaded and is messages instead).
   */
  gap?: boolean;
}

/** Messages not loaded between two loaded runs, as the reading rules see them. */
export const GAP: ReadingEvent = { id: "", mine: false, shown: true, gap: true };

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
    if (e.gap) break;
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
    if (e.shown && !e.mine && !e.gap && !seen(e.id)) n++;
  }
  return n;
}

// ---- someone reading ----------------------------------------------------------------------

/** Without activity for this long the person may have walked away: nothing is seen. */
export const IDLE_MS = 60_000;
/** How long a message stays on screen, with the person there, before it counts as seen. */
export const DWELL_MS = 1000;

/** The page as attention sees it: in front (visible) and with the keyboard focus. */
export interface PageState {
  visible(): boolean;
  focused(): boolean;
}

const browserPage: PageState = {
  visible: () => document.visibilityState === "visible",
  focused: () => document.hasFocus(),
};

/**
 * Is someone at the screen, and which messages on it have they seen? The page visible and
 * focused, pointer, key, touch, click or focus activity within the last minute, and a message on
 * screen for a second while all that holds. The clock and the page are parameters (tests).
 */
export class Attention {
  private lastActivity = Number.NEGATIVE_INFINITY;
  /** Since when each message on screen has been there, with someone reading. */
  private since = new Map<string, number>();

  constructor(
    private readonly now: () => number = () => Date.now(),
    private readonly page: PageState = browserPage,
  ) {}

  /** Pointer, key, wheel, touch, click or focus activity of the person at the screen. */
  noteActivity(): void {
    this.lastActivity = this.now();
  }

  /** The page visible and focused, with activity in the last minute. */
  present(): boolean {
    return this.page.visible() && this.page.focused() && this.now() - this.lastActivity < IDLE_MS;
  }

  /**
   * Messages `onScreen` now that have been there long enough, with someone reading, to count as
   * seen (those in `seen` already are left out). `reading`: nothing else stops it (a dialog).
   */
  seenNow(onScreen: string[], seen: Set<string>, reading = true): string[] {
    if (!reading || !this.present()) {
      this.since.clear();
      return [];
    }
    const now = this.now();
    const visible = new Set(onScreen);
    for (const id of [...this.since.keys()]) if (!visible.has(id)) this.since.delete(id);
    const out: string[] = [];
    for (const id of visible) {
      if (seen.has(id)) continue;
      const since = this.since.get(id);
      if (since === undefined) this.since.set(id, now);
      else if (now - since >= DWELL_MS) out.push(id);
    }
    return out;
  }

  /** Another conversation, or another view of it: nothing has been on screen yet. */
  restart(): void {
    this.since.clear();
  }
}

// ---- read up to here ----------------------------------------------------------------------

/** What "Mark as read up to here" on a message does. */
export type MarkRead =
  /** The receipt moves to this message. */
  | { kind: "read"; id: string }
  /** The receipt is at or after it already. */
  | { kind: "already" }
  /** Messages between my receipt and it are not loaded: none may be counted as read. */
  | { kind: "gap" };

/**
 * "Mark as read up to here" on `events[index]` (keyboard and screen-reader users' explicit
 * reading): read up to it only if every message between my receipt (`receiptIndex`, -1: not in
 * `events`) and it is loaded: no gap between them (`GAP` entries). `gapBefore`: with the receipt
 * not in `events`, messages before the first of `events` were never loaded after it (the same
 * rule as reading's: never across a gap).
 */
export function markReadUpTo(events: ReadingEvent[], receiptIndex: number, index: number, gapBefore: boolean): MarkRead {
  if (index < 0 || events[index].gap) return { kind: "gap" };
  if (receiptIndex >= 0 && index <= receiptIndex) return { kind: "already" };
  if (receiptIndex < 0 && gapBefore) return { kind: "gap" };
  return events.slice(receiptIndex + 1, index).some((e) => e.gap) ? { kind: "gap" } : { kind: "read", id: events[index].id };
}
