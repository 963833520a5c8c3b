// Which part of the open conversation is shown: usually its latest messages (the live end,
// which the sync extends), or, after opening a search result, the part around that message,
// loaded with /context and extended both ways (/messages) until it meets the latest ones.
// matrix-js-sdk keeps each loaded part as a timeline and links them when they meet; the part
// shown is one or more runs of linked timelines. A limited sync (more arrived while the client
// was away than a sync brings) starts a new live timeline after a gap: what was shown stays,
// the newest follow after the gap, and the gap is filled on demand (/messages, forwards from
// the last message before it) until the two runs meet.

import { EventTimeline } from "./mx";
import type { MatrixEvent, Room } from "./mx";
import { matrix } from "./signedin";

/**
 * The first timeline of each run shown, oldest first; between two runs, messages not loaded (a
 * gap). Empty: the live timeline alone (the latest messages).
 */
let heads: EventTimeline[] = [];
/** The live timeline when last looked at: a limited sync replaces it. */
let lastLive: EventTimeline | null = null;

/** The runs of timelines shown, oldest first (runs that met since are one run). */
function runs(room: Room): EventTimeline[][] {
  const live = room.getLiveTimeline();
  if (lastLive && lastLive !== live) {
    // A limited sync: the old live timeline stays (with a token to go on from) when the sdk
    // keeps it. If what was shown reached it, the new latest messages follow after a gap.
    const old = lastLive;
    const shown = heads.length ? heads : [old];
    // (No token: the sdk forgot the old timelines; only the new one is left to show.)
    if (old.getPaginationToken(EventTimeline.FORWARDS) === null) heads = [];
    else if (walkAll(shown, old).at(-1)?.at(-1) === old) heads = [...shown, live];
  }
  lastLive = live;
  const out = walkAll(heads.length ? heads : [live], live);
  // Runs that met are one: only their first timelines stay heads.
  heads = out.length === 1 && out[0][0] === live ? [] : out.map((r) => r[0]);
  return out;
}

function walkAll(starts: EventTimeline[], live: EventTimeline): EventTimeline[][] {
  const out: EventTimeline[][] = [];
  for (let i = 0; i < starts.length; i++) {
    const later = new Set(starts.slice(i + 1));
    const r: EventTimeline[] = [];
    for (let tl: EventTimeline | null = starts[i]; tl && r.length < 100; ) {
      if (later.has(tl)) {
        // This run reached a later one: they are one; the runs between are inside it too.
        i = starts.indexOf(tl);
        later.delete(tl);
        for (const s of starts.slice(0, i + 1)) later.delete(s);
      }
      r.push(tl);
      if (tl === live) {
        i = starts.length;
        break;
      }
      tl = tl.getNeighbouringTimeline(EventTimeline.FORWARDS);
    }
    out.push(r);
  }
  return out;
}

/** The events shown, oldest first, one list per run (a gap between two). */
export function shownRuns(room: Room): MatrixEvent[][] {
  return runs(room).map((r) => r.flatMap((tl) => tl.getEvents()));
}

/** The events shown, oldest first. */
export function shownEvents(room: Room): MatrixEvent[] {
  return shownRuns(room).flat();
}

/** The latest messages are shown (new ones arrive at the bottom). */
export function showsLatest(room: Room): boolean {
  return runs(room).at(-1)?.at(-1) === room.getLiveTimeline();
}

export function canLoadBefore(room: Room): boolean {
  const first = runs(room)[0][0];
  return Boolean(first.getNeighbouringTimeline(EventTimeline.BACKWARDS)) || first.getPaginationToken(EventTimeline.BACKWARDS) !== null;
}

/** Earlier messages: a part loaded before and linked, else from the server. */
export async function loadBefore(room: Room, limit: number): Promise<void> {
  const first = runs(room)[0][0];
  const before = first.getNeighbouringTimeline(EventTimeline.BACKWARDS);
  if (before) {
    heads = [before, ...heads.slice(1)];
    return;
  }
  if (first === room.getLiveTimeline()) await matrix().scrollback(room, limit);
  else await matrix().paginateEventTimeline(first, { backwards: true, limit });
}

/** Later messages, towards the latest; once they meet, the latest messages are shown too. */
export async function loadAfter(room: Room, limit: number): Promise<void> {
  if (showsLatest(room)) return;
  const r = runs(room);
  const last = r[r.length - 1][r[r.length - 1].length - 1];
  const more = await matrix().paginateEventTimeline(last, { backwards: false, limit });
  // The end of the conversation, not linked to the latest messages: show those.
  if (!more && !showsLatest(room) && last.getPaginationToken(EventTimeline.FORWARDS) === null) heads = [];
}

/**
 * Fills the `index`th gap (0: the first) with the messages right after it, in reading order:
 * what is above stays where it is; once the gap is filled, the two runs are one.
 */
export async function fillGap(room: Room, index: number, limit: number): Promise<void> {
  const r = runs(room);
  if (index + 1 >= r.length) return;
  const before = r[index][r[index].length - 1];
  if (before.getPaginationToken(EventTimeline.FORWARDS) !== null) {
    await matrix().paginateEventTimeline(before, { backwards: false, limit });
    return;
  }
  // (No token to go on from: the gap is filled from its other side.)
  const after = r[index + 1][0];
  if (after === room.getLiveTimeline()) await matrix().scrollback(room, limit);
  else await matrix().paginateEventTimeline(after, { backwards: true, limit });
}

/** Shows the part of the conversation around `eventId` (loaded if it is not yet). */
export async function showAround(room: Room, eventId: string): Promise<void> {
  const tl = await matrix().getEventTimeline(room.getUnfilteredTimelineSet(), eventId);
  heads = tl && tl !== room.getLiveTimeline() ? [tl] : [];
  lastLive = room.getLiveTimeline();
}

/** An earlier part is shown (it may have met the latest messages since), or a gap. */
export function startsEarlier(): boolean {
  return heads.length > 0;
}

/** Back to the latest messages (a conversation opened, or the "Latest messages" button). */
export function showLatest(): void {
  heads = [];
  lastLive = null;
}

/** Is `eventId` among the events shown? */
export function isShownEvent(room: Room, eventId: string): boolean {
  return shownEvents(room).some((e) => e.getId() === eventId);
}
