// How much a conversation notifies me, as push rules (the Matrix spec's, kept by the server and
// followed by its pushers and by this client alike):
//   "all"      no rule of mine for the room: the defaults (every message).
//   "mentions" a `room` rule for it with no actions (Element's "mentions and keywords"): the
//              mention rules, which are `override` rules and so come first, still notify.
//   "off"      an `override` rule matching its room_id with no actions: nothing notifies.
// Urgent and emergency messages ring whatever is chosen here: the server's priority rule comes
// before every rule of mine and cannot be changed by me. (rule id = the room id, both kinds.)
//   PUT/DELETE /_matrix/client/v3/pushrules/global/{override|room}/{roomId}

import { matrix, token } from "./signedin";

export type RoomNotify = "all" | "mentions" | "off";

interface Rule {
  rule_id?: string;
  enabled?: boolean;
  actions?: unknown[];
}

/** What I chose here, before the sync brings the rules back (cleared when it does). */
const chosen = new Map<string, RoomNotify>();

/** The sync brought my push rules (`m.push_rules`): they say, not what was chosen here. */
export function pushRulesChanged(): void {
  chosen.clear();
}

function rules(kind: "override" | "room"): Rule[] {
  const all = (matrix() as unknown as { pushRules?: { global?: Record<string, Rule[] | undefined> } }).pushRules;
  return all?.global?.[kind] ?? [];
}

const silent = (r: Rule | undefined) => Boolean(r && r.enabled !== false && !(r.actions ?? []).includes("notify"));

/** This conversation's notifications as my push rules have them. */
export function roomNotify(roomId: string): RoomNotify {
  const mine = chosen.get(roomId);
  if (mine) return mine;
  if (silent(rules("override").find((r) => r.rule_id === roomId))) return "off";
  if (silent(rules("room").find((r) => r.rule_id === roomId))) return "mentions";
  return "all";
}

const path = (kind: "override" | "room", roomId: string) =>
  `/_matrix/client/v3/pushrules/global/${kind}/${encodeURIComponent(roomId)}`;

async function call(method: "PUT" | "DELETE", url: string, body?: unknown): Promise<void> {
  const r = await fetch(url, {
    method,
    headers: { Authorization: `Bearer ${token()}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // Deleting a rule that is not there: already as wanted.
  if (r.ok || (method === "DELETE" && r.status === 404)) return;
  throw new Error(`push rule ${method}: ${r.status}`);
}

/** The push-rule changes that make a conversation notify as `v` (in order). */
export function ruleChanges(roomId: string, v: RoomNotify): { method: "PUT" | "DELETE"; url: string; body?: unknown }[] {
  const override = path("override", roomId);
  const room = path("room", roomId);
  switch (v) {
    case "all":
      return [
        { method: "DELETE", url: override },
        { method: "DELETE", url: room },
      ];
    case "mentions":
      return [
        { method: "PUT", url: room, body: { actions: [] } },
        { method: "DELETE", url: override },
      ];
    case "off":
      return [
        { method: "PUT", url: override, body: { conditions: [{ kind: "event_match", key: "room_id", pattern: roomId }], actions: [] } },
        { method: "DELETE", url: room },
      ];
  }
}

/** Makes a conversation notify as `v`; throws when the server refuses. */
export async function setRoomNotify(roomId: string, v: RoomNotify): Promise<void> {
  for (const c of ruleChanges(roomId, v)) await call(c.method, c.url, c.body);
  chosen.set(roomId, v);
}

export function forgetRoomNotify(): void {
  chosen.clear();
}
