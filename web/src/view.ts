// Which part of the open conversation is shown: usually its latest messages (the live end,
// which the sync extends), or, after opening a search result, the part around that message,
// loaded with /context and extended both ways (/messages) until it meets the latest ones.
// matrix-js-sdk keeps each loaded part as a timeline and links them when they meet; the part
// shown is a run of linked timelines, from `start` forwards.

import { EventTimeline } from "./mx";
import type { MatrixEvent, Room } from "./mx";
import { matrix } from "./signedin";

/** The first timeline shown; null: the live one (the latest messages). */
let start: EventTimeline | null = null;

/** The timelines shown, oldest first. */
function run(room: Room): EventTimeline[] {
  const live = room.getLiveTimeline();
  const out: EventTimeline[] = [];
  for (let tl: EventTimeline | null = start ?? live; tl && out.length < 100; ) {
    out.push(tl);
    if (tl === live) break;
    tl = tl.getNeighbouringTimeline(EventTimeline.FORWARDS);
  }
  return out;
}

/** The events shown, oldest first. */
export function shownEvents(room: Room): MatrixEvent[] {
  return run(room).flatMap((tl) => tl.getEvents());
}

/** The latest messages are shown (new ones arrive at the bottom). */
export function showsLatest(room: Room): boolean {
  const r = run(room);
  return r[r.length - 1] === room.getLiveTimeline();
}

export function canLoadBefore(room: Room): boolean {
  const first = run(room)[0];
  return Boolean(first.getNeighbouringTimeline(EventTimeline.BACKWARDS)) || first.getPaginationToken(EventTimeline.BACKWARDS) !== null;
}

/** Earlier messages: a part loaded before and linked, else from the server. */
export async function loadBefore(room: Room, limit: number): Promise<void> {
  const first = run(room)[0];
  const before = first.getNeighbouringTimeline(EventTimeline.BACKWARDS);
  if (before) {
    start = before;
    return;
  }
  if (first === room.getLiveTimeline()) await matrix().scrollback(room, limit);
  else await matrix().paginateEventTimeline(first, { backwards: true, limit });
}

/** Later messages, towards the latest; once they meet, the latest messages are shown too. */
export async function loadAfter(room: Room, limit: number): Promise<void> {
  if (showsLatest(room)) return;
  const r = run(room);
  const last = r[r.length - 1];
  const more = await matrix().paginateEventTimeline(last, { backwards: false, limit });
  // The end of the conversation, not linked to the latest messages: show those.
  if (!more && !showsLatest(room) && last.getPaginationToken(EventTimeline.FORWARDS) === null) start = null;
}

/** Shows the part of the conversation around `eventId` (loaded if it is not yet). */
export async function showAround(room: Room, eventId: string): Promise<void> {
  const tl = await matrix().getEventTimeline(room.getUnfilteredTimelineSet(), eventId);
  start = tl && tl !== room.getLiveTimeline() ? tl : null;
}

/** An earlier part is shown (it may have met the latest messages since). */
export function startsEarlier(): boolean {
  return start !== null;
}

/** Back to the latest messages. */
export function showLatest(): void {
  start = null;
}

/** Is `eventId` among the events shown? */
export function isShownEvent(room: Room, eventId: string): boolean {
  return shownEvents(room).some((e) => e.getId() === eventId);
}
