// Roles and on-call from Wardline's staff endpoints (/_wardline/client/v1/roles): who holds each
// role now and since when, swipe in, swipe out (with a successor when the role must not be
// left empty), handover, a role's history and its rota. What the server says is kept in the
// store (state.oncall.roles); nothing about who holds a role is guessed here.

import { later } from "./conversation";
import { hasClient, matrix, token } from "./signedin";
import { store } from "./state";
import type { OnCall, RoleView } from "./rolestate";

export type { Holder, RoleView } from "./rolestate";

export const NOT_ELIGIBLE = "ORG.WARDLINE.NOT_ELIGIBLE";
export const SUCCESSOR_REQUIRED = "ORG.WARDLINE.SUCCESSOR_REQUIRED";
export const ROLE_CONFLICT = "ORG.WARDLINE.ROLE_CONFLICT";

/** One change of a role's holders, newest first. */
export interface HistoryEntry {
  seq: number;
  ts: number;
  /** swipe_in, swipe_out, handover, admin, deactivated, rota */
  reason: string;
  by: string | null;
  from: string | null;
  to: string | null;
  note: string | null;
}

export interface RoleDetail extends RoleView {
  history: HistoryEntry[];
}

/** One shift of a role's rota. */
export interface Shift {
  user_id: string;
  start_ts: number;
  end_ts: number;
  note: string | null;
  started: boolean;
  ended: boolean;
  uncovered: boolean;
}

/** The server answered with an error (its errcode and words), as opposed to no answer. */
export class Refused extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
  ) {
    super(message);
  }
}

/** A call to one of Wardline's own endpoints as the signed-in person. */
export async function wardline<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // Never from or into the browser's cache: answers name patients.
  const r = await fetch(path, { method, headers, cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body) });
  const json = (await r.json().catch(() => ({}))) as Record<string, unknown>;
  if (!r.ok) {
    const error = typeof json.error === "string" && json.error ? json.error : `HTTP ${r.status}`;
    throw new Refused(r.status, typeof json.errcode === "string" ? json.errcode : "", error);
  }
  return json as T;
}

/** Why something failed, in words for the person. */
export function failure(e: unknown, what: string): string {
  if (e instanceof Refused) return e.message;
  // matrix-js-sdk's errors carry the server's words in `data`.
  const said = (e as { data?: { error?: unknown } } | undefined)?.data?.error;
  if (typeof said === "string" && said) return `${what}: ${said}`;
  return `${what}: no connection to Wardline. Try again.`;
}

export function updateOnCall(change: Partial<OnCall> | ((o: OnCall) => Partial<OnCall>)): void {
  store.update((s) => ({ oncall: { ...s.oncall, ...(typeof change === "function" ? change(s.oncall) : change) } }));
}

/** Keeps what the server said of these roles (a role's page keeps its eligibility). */
export function remember(roles: RoleView[], whole = false): void {
  updateOnCall((o) => {
    const next: Record<string, RoleView> = whole ? {} : { ...o.roles };
    for (const r of roles) next[r.role_id] = { ...o.roles[r.role_id], ...r };
    return whole ? { roles: next, listed: true } : { roles: next };
  });
}

const BASE = "/_wardline/client/v1/roles";
const id = (roleId: string) => encodeURIComponent(roleId);

/** Every role in use, with its holders now (the store's list is replaced). */
export async function listRoles(): Promise<RoleView[]> {
  const { roles } = await wardline<{ roles: RoleView[] }>("GET", BASE);
  remember(roles, true);
  return roles;
}

/** A role with who may hold it and its handover history (newest first). */
export async function getRole(roleId: string): Promise<RoleDetail> {
  const r = await wardline<RoleDetail>("GET", `${BASE}/${id(roleId)}?limit=50`);
  const { history: _, ...role } = r;
  remember([role]);
  return r;
}

const asked = new Set<string>();

/** Reads a role the store does not have yet (once per session, unless `again`). */
export function want(roleId: string, again = false): void {
  if (!hasClient() || (!again && (asked.has(roleId) || store.get().oncall.roles[roleId]))) return;
  asked.add(roleId);
  // Asked again later only if the server could not be reached (not for a role it refused).
  getRole(roleId).catch((e) => e instanceof Refused || asked.delete(roleId));
}

export async function swipeIn(roleId: string, note?: string): Promise<RoleView> {
  const r = await wardline<RoleView>("POST", `${BASE}/${id(roleId)}/swipe_in`, note ? { note } : {});
  remember([r]);
  return r;
}

/** Leaves the role; refused with SUCCESSOR_REQUIRED when it must not be left empty. */
export async function swipeOut(roleId: string, successor?: string, note?: string): Promise<RoleView> {
  const body: Record<string, string> = {};
  if (successor) body.successor = successor;
  if (note) body.note = note;
  const r = await wardline<RoleView>("POST", `${BASE}/${id(roleId)}/swipe_out`, body);
  remember([r]);
  return r;
}

export async function handover(roleId: string, to: string, note?: string): Promise<RoleView> {
  const r = await wardline<RoleView>("POST", `${BASE}/${id(roleId)}/handover`, note ? { to, note } : { to });
  remember([r]);
  return r;
}

/** The role's rota shifts from now for the next `hours`. */
export async function rota(roleId: string, hours = 24): Promise<Shift[]> {
  const r = await wardline<{ shifts: Shift[] }>("GET", `${BASE}/${id(roleId)}/rota?hours=${hours}`);
  return r.shifts;
}

/** The role id of a role's Matrix user id (`@role.<id>:server`), or null for a person. */
export function roleIdOfUser(userId: string): string | null {
  return /^@role\.([a-z0-9-]+):/.exec(userId)?.[1] ?? null;
}

// ---- people's own names ----------------------------------------------------------------------

const named = new Set<string>();

/**
 * Someone's own name (their profile), or `fallback` until the server has said it: in a role's
 * conversation their name in the room carries the role too ("Dr Priya Shah (Medical Registrar
 * On-call)"), for clients that know nothing of roles.
 */
export function personName(userId: string, fallback?: string): string {
  const known = store.get().oncall.names[userId];
  if (known) return known;
  if (!named.has(userId) && hasClient()) {
    named.add(userId);
    matrix()
      .getProfileInfo(userId)
      .then((p) => {
        if (!p.displayname) return;
        updateOnCall((o) => ({ names: { ...o.names, [userId]: p.displayname as string } }));
        // Messages sent as a role name their sender by this name.
        later("timeline");
      })
      .catch((e: { httpStatus?: number }) => {
        // Asked again later only if the server could not be reached.
        if (!(e.httpStatus && e.httpStatus < 500)) named.delete(userId);
      });
  }
  return fallback ?? matrix().getUser(userId)?.displayName ?? userId.replace(/^@([^:]+):.*$/, "$1");
}

/** Forgets what was looked up (sign-out). */
export function forgetRoles(): void {
  asked.clear();
  named.clear();
}

/** How someone came to hold a role, in words. */
export function howWords(how: string): string {
  switch (how) {
    case "swipe_in":
      return "swiped in";
    case "handover":
      return "handed over";
    case "rota":
      return "rota";
    case "admin":
      return "set by an administrator";
    default:
      return how.replace(/_/g, " ");
  }
}

/** "Today 08:00", "Tue 20:00": times of shifts and handovers, within a day or two. */
export function shiftTime(ts: number): string {
  const d = new Date(ts);
  const time = d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
  const today = new Date();
  if (d.toDateString() === today.toDateString()) return `today ${time}`;
  const tomorrow = new Date(today.getTime() + 86_400_000);
  if (d.toDateString() === tomorrow.toDateString()) return `tomorrow ${time}`;
  return `${d.toLocaleDateString("en-GB", { weekday: "short", day: "numeric", month: "short" })} ${time}`;
}
