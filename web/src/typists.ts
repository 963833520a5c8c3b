// Who is typing in a conversation, as its typing line says: the sync's word (matrix-js-sdk's
// members' `typing`), but never longer than the server would keep it without hearing from the
// typist again, gone at once when their message arrives, and never someone who left. (While
// the sync is held up, a lift or a dead spot, nobody says "stopped typing".)

import { KnownMembership } from "./mx";
import type { Room } from "./mx";

/**
 * The server's longest typing notification (`sync.max_typing_ms`, 30 s by default): after that
 * without a word, nobody is still typing. Each time a typist's app says they still are, the
 * server tells every sync again.
 */
export const TYPING_TIMEOUT_MS = 30_000;

/** Syncs heard so far: what one sync says, it says at once. */
let syncs = 0;
/** When each person was last said to be typing (anywhere: a typing notice names no room). */
const heard = new Map<string, number>();
/** "room user" → the sync their message came in: not typing until a later sync says so. */
const quiet = new Map<string, number>();

/** One sync is done. */
export function noteSync(): void {
  syncs++;
}

/** A typing notice (m.typing): who is typing. */
export function noteTyping(userIds: unknown): void {
  if (!Array.isArray(userIds)) return;
  const now = Date.now();
  for (const id of userIds) {
    if (typeof id !== "string") continue;
    heard.set(id, now);
    for (const [key, sync] of quiet) if (key.endsWith(` ${id}`) && sync !== syncs) quiet.delete(key);
  }
}

/** A message from `userId` arrived in `roomId`: they have stopped typing it. */
export function noteMessage(roomId: string, userId: string): void {
  quiet.set(`${roomId} ${userId}`, syncs);
}

/** The members of `room` typing now (not `me`), and when the next of them runs out. */
export function typists(room: Room, me: string): { names: string[]; until: number | null } {
  const now = Date.now();
  let until: number | null = null;
  const names: string[] = [];
  for (const m of room.getMembers()) {
    if (!m.typing || m.userId === me || m.membership !== KnownMembership.Join) continue;
    if (quiet.has(`${room.roomId} ${m.userId}`)) continue;
    const ends = (heard.get(m.userId) ?? 0) + TYPING_TIMEOUT_MS;
    if (ends <= now) continue;
    names.push(m.name);
    until = until === null ? ends : Math.min(until, ends);
  }
  return { names, until };
}

/** Forgets everything (sign-out). */
export function forgetTypists(): void {
  heard.clear();
  quiet.clear();
}
