// Do not disturb, with cover: mine (set until a time, with a colleague covering, ended by me or
// by the clock), and colleagues' (shown where I write to them). The server keeps it:
//   PUT /_wardline/client/v1/dnd {until_ts, cover}   DELETE /_wardline/client/v1/dnd
//   GET /_wardline/client/v1/dnd/{userId} → {user_id, active, until_ts, cover: {user_id, displayname} | null}
// Mine comes with every sync as account data `org.wardline.dnd` (this client then makes no
// notification); colleagues' comes in their presence (`org.wardline.dnd` {until_ts, cover}).

import { hasClient, matrix, me, token } from "./signedin";
import { store } from "./state";

export const DND_KIND = "org.wardline.dnd";
const API = "/_wardline/client/v1/dnd";

export interface DndInfo {
  /** Until when (ms since the epoch). */
  until: number;
  /** Who covers, if anyone. */
  cover: { userId: string; name: string } | null;
}

/** A name for a user id: their name in a conversation I share with them, else the id. */
function nameOf(userId: string): string {
  if (!hasClient()) return userId;
  for (const room of matrix().getRooms()) {
    const m = room.getMember(userId);
    if (m?.name && m.name !== userId) return m.name;
  }
  return matrix().getUser(userId)?.displayName ?? userId;
}

function info(untilTs: unknown, cover: unknown): DndInfo | null {
  if (typeof untilTs !== "number" || untilTs <= Date.now()) return null;
  let who: DndInfo["cover"] = null;
  if (typeof cover === "string") who = { userId: cover, name: nameOf(cover) };
  else if (cover && typeof cover === "object") {
    const c = cover as { user_id?: unknown; displayname?: unknown };
    if (typeof c.user_id === "string") {
      who = { userId: c.user_id, name: typeof c.displayname === "string" && c.displayname ? c.displayname : nameOf(c.user_id) };
    }
  }
  return { until: untilTs, cover: who };
}

// ---- mine -------------------------------------------------------------------------------------

let myEnd: ReturnType<typeof setTimeout> | undefined;

function showMine(mine: DndInfo | null): void {
  clearTimeout(myEnd);
  store.update({ myDnd: mine, dnd: mine !== null });
  // It ends by itself: the server says so too, but the page need not wait to hear it.
  if (mine) myEnd = setTimeout(() => showMine(null), Math.min(mine.until - Date.now(), 2 ** 31 - 1));
}

/** My do-not-disturb as the server's account data says (at start, and as it changes). */
export function noteMyDnd(content: Record<string, unknown> | undefined): void {
  showMine(content?.active === true ? info(content.until_ts, content.cover) : null);
}

/** Reads my do-not-disturb from the account data the first sync brought. */
export function loadMyDnd(): void {
  noteMyDnd(matrix().getAccountData(DND_KIND as never)?.getContent());
}

async function api(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${token()}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await r.json().catch(() => ({}))) as Record<string, unknown>;
  if (!r.ok) {
    const said = typeof json.error === "string" ? json.error : `the server refused (${r.status})`;
    throw new Error(said.charAt(0).toUpperCase() + said.slice(1));
  }
  return json;
}

function fromApi(v: Record<string, unknown>): DndInfo | null {
  return v.active === true ? info(v.until_ts, v.cover) : null;
}

/** Turns on my do-not-disturb until `until`, with `cover` (user id) covering; the server's refusal as an Error. */
export async function startDnd(until: number, cover: string | null): Promise<void> {
  showMine(fromApi(await api("PUT", API, { until_ts: until, cover })));
}

/** Ends my do-not-disturb now. */
export async function endDnd(): Promise<void> {
  await api("DELETE", API);
  showMine(null);
}

/** The next 08:00 (local time) from now. */
export function nextEight(now = new Date()): number {
  const d = new Date(now);
  d.setHours(8, 0, 0, 0);
  if (d.getTime() <= now.getTime()) d.setDate(d.getDate() + 1);
  return d.getTime();
}

// ---- colleagues' ------------------------------------------------------------------------------

const ends = new Map<string, ReturnType<typeof setTimeout>>();

function showTheirs(userId: string, dnd: DndInfo | null): void {
  clearTimeout(ends.get(userId));
  const old = store.get().dndOf[userId];
  const same = old === dnd || (old && dnd && old.until === dnd.until && old.cover?.userId === dnd.cover?.userId);
  if (!same || !(userId in store.get().dndOf)) store.update((s) => ({ dndOf: { ...s.dndOf, [userId]: dnd } }));
  if (dnd) ends.set(userId, setTimeout(() => showTheirs(userId, null), Math.min(dnd.until - Date.now(), 2 ** 31 - 1)));
}

/** A colleague's presence content arrived: it carries their do-not-disturb, or its end. */
export function noteDndFromPresence(userId: string, content: Record<string, unknown>): void {
  if (userId === me()) return;
  const d = content[DND_KIND] as { until_ts?: unknown; cover?: unknown } | undefined;
  showTheirs(userId, d ? info(d.until_ts, d.cover) : null);
}

/** Asks the server for a colleague's do-not-disturb (a conversation with them opened). */
export async function lookUpDnd(userId: string): Promise<DndInfo | null> {
  const v = await api("GET", `${API}/${encodeURIComponent(userId)}`);
  const d = fromApi(v);
  showTheirs(userId, d);
  return d;
}

/** Forgets everything (sign-out). */
export function forgetDnd(): void {
  clearTimeout(myEnd);
  for (const t of ends.values()) clearTimeout(t);
  ends.clear();
}
