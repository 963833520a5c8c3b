// Clinical alert topics (issue 15: "NEWS2 ≥ 7", sepsis, AKI): a result that matches a topic's
// rule becomes an alert in a conversation of its own, to the topic's subscribers whose scope
// fits it (its ward, its specialty, or all). Staff subscribe themselves
// (/_wardline/client/v1/alert_topics: every topic, whether it is open to me, my scopes);
// administrators make topics and say who may subscribe (/_wardline/admin/v1/alert_topics). What
// the server answers is kept in the store (state.subscriptions, state.alarmAdmin.topics); a
// refusal is shown in the server's words.

import { updateAlarmAdmin } from "./alarmadmin";
import type { AdminTopic, OpenTo, Target } from "./alarmadminstate";
import { Refused, failure, wardline } from "./roles";
import { store } from "./state";

const C = "/_wardline/client/v1/alert_topics";
const A = "/_wardline/admin/v1/alert_topics";
const enc = encodeURIComponent;

/** A topic as staff see it: `scopes` mine ([]: not subscribed). */
export interface MyTopic {
  id: string;
  name: string;
  description?: string | null;
  /** Not open to me: shown, never with controls. */
  may_subscribe: boolean;
  /** The scopes I may choose (null: any, wards and specialties by name). */
  allowed_scopes?: string[] | null;
  scopes: string[];
}

export interface Subscriptions {
  /** Every topic, by name (null: not asked yet). */
  topics: MyTopic[] | null;
  /** Why the list could not be read. */
  error: string;
}

/** A scope as its parts: "all", or a ward's or a specialty's name. */
export type Scope = { kind: "all" } | { kind: "ward" | "specialty"; name: string };

export const ALL = "all";

export function scopeOf(s: string): Scope | null {
  if (s === ALL) return { kind: "all" };
  const at = s.indexOf(":");
  const kind = s.slice(0, at);
  return kind === "ward" || kind === "specialty" ? { kind, name: s.slice(at + 1) } : null;
}

export function scopeString(kind: "ward" | "specialty", name: string): string {
  return `${kind}:${name.trim()}`;
}

/** "All wards", "Ward 7", "Cardiology (specialty)": my scopes in words. */
export function scopeWords(s: string): string {
  const p = scopeOf(s);
  if (!p) return s;
  if (p.kind === "all") return "All wards";
  return p.kind === "ward" ? p.name : `${p.name} (specialty)`;
}

function byName<T extends { name: string }>(list: T[]): T[] {
  return [...list].sort((a, b) => a.name.localeCompare(b.name));
}

function updateSubscriptions(change: Partial<Subscriptions> | ((s: Subscriptions) => Partial<Subscriptions>)): void {
  store.update((s) => ({ subscriptions: { ...s.subscriptions, ...(typeof change === "function" ? change(s.subscriptions) : change) } }));
}

// ---- mine ------------------------------------------------------------------------------------

/** Every topic, with whether it is open to me and my scopes. A failure keeps what was known. */
export async function loadMyTopics(): Promise<void> {
  try {
    const { topics } = await wardline<{ topics: MyTopic[] }>("GET", C);
    updateSubscriptions({ topics: byName(topics), error: "" });
  } catch (e) {
    updateSubscriptions({ error: failure(e, "The alert topics cannot be shown") });
  }
}

function noteScopes(id: string, scopes: string[]): void {
  updateSubscriptions((s) => ({ topics: s.topics?.map((t) => (t.id === id ? { ...t, scopes } : t)) ?? null }));
}

/** Subscribes me to `id` for exactly these scopes ([]: none); the scopes the server keeps. */
export async function subscribe(id: string, scopes: string[]): Promise<string[]> {
  const r = await wardline<{ scopes: string[] }>("PUT", `${C}/${enc(id)}/subscription`, { scopes });
  noteScopes(id, r.scopes);
  return r.scopes;
}

/** No more alerts of `id` for me. */
export async function unsubscribe(id: string): Promise<void> {
  await wardline("DELETE", `${C}/${enc(id)}/subscription`);
  noteScopes(id, []);
}

/** Why a subscription was not saved, in words for the person. */
export function subscriptionRefusal(e: unknown): string {
  if (e instanceof Refused) return `Not saved: ${e.message}`;
  return failure(e, "Not saved");
}

// ---- administrators --------------------------------------------------------------------------

export async function loadTopics(): Promise<void> {
  try {
    const { topics } = await wardline<{ topics: AdminTopic[] }>("GET", A);
    updateAlarmAdmin((a) => ({ topics: byName(topics), errors: { ...a.errors, topics: "" } }));
  } catch (e) {
    updateAlarmAdmin((a) => ({ errors: { ...a.errors, topics: failure(e, "The alert topics cannot be shown") } }));
  }
}

export interface TopicFields {
  id: string;
  name: string;
  description: string;
  open_to: OpenTo[];
}

/** A target's key, to keep its scope limit beside it while the picker changes the list. */
export function targetKey(t: Target): string {
  return t.kind === "role" ? `role:${t.role}` : `user:${t.user_id}`;
}

/**
 * A limit as an administrator writes it, "Ward 7, Ward 8, specialty:Renal, all", as scopes
 * (a name alone is a ward); blank: none (any scope).
 */
export function limitScopes(text: string): string[] | undefined {
  const parts = text
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  if (!parts.length) return undefined;
  return parts.map((p) => (p.toLowerCase() === "all" || p.toLowerCase() === "all wards" ? ALL : /^(ward|specialty):/.test(p) ? p : `ward:${p}`));
}

/** A limit in words for the form: "Ward 7, Renal (specialty)". */
export function limitText(scopes: string[] | undefined): string {
  return (scopes ?? []).map((s) => (s.startsWith("ward:") ? s.slice(5) : s === ALL ? "all" : s)).join(", ");
}

/**
 * Saves a topic: `version` the one read to replace it, null to create it. Refused with the
 * server's words (a broken check: 400 naming it; there already, or changed by someone else: 409).
 */
export async function saveTopic(t: TopicFields, version: number | null): Promise<void> {
  const body = { name: t.name, ...(t.description ? { description: t.description } : {}), open_to: t.open_to };
  await wardline("PUT", `${A}/${enc(t.id)}`, version === null ? body : { ...body, version });
  await loadTopics();
}

/** Deletes a topic and every subscription to it (its alerts' conversations stay). */
export async function removeTopic(id: string): Promise<void> {
  await wardline("DELETE", `${A}/${enc(id)}`);
  await loadTopics();
}

/** A 409: the topic is there already (a new one), or changed since it was read. */
export function isTopicConflict(e: unknown): boolean {
  return e instanceof Refused && e.status === 409;
}

/** Why a topic was not saved, in words for the administrator. */
export function topicRefusal(e: unknown, creating: boolean): string {
  if (isTopicConflict(e)) {
    return creating
      ? `Not saved: a topic with this id exists already (${(e as Refused).message}). Choose another id, or edit that topic.`
      : "Not saved: someone else changed this topic since you opened it. Reload it to see their change, then make yours again.";
  }
  if (e instanceof Refused) return `Not saved: ${e.message}`;
  return failure(e, "Not saved");
}
