// Alarms from hospital systems, as their messages say them (README "Alarms from hospital
// systems"; the server's `alarms/content.rs`): an integration's user (`@integration.<id>`)
// posts an `m.room.message` with the `org.wardline.alarm` block {alarm_id, kind,
// source_priority, location {site, ward, room, bed}, integration, state, patient?}; when the
// source resets or cancels it, a notice replying to it carries the block again with its new
// state. A clinical alert adds its topic {id, name}, the observation that raised it {code,
// text, value, units} and the patient's specialty when the result named one. Pure rules only: what a content is, its kind in words, its place, its text.

import { messageText } from "./messagetext";

export const ALARM = "org.wardline.alarm";
/** The state event of an incident's own conversation (incidents.ts). */
export const INCIDENT = "org.wardline.incident";

export type AlarmKind = "nurse_call" | "staff_assist" | "cardiac_arrest" | "fire" | "monitor" | "clinical_alert" | "other";
export type AlarmState = "active" | "reset" | "cancelled";
/** How a kind is drawn: red for a code call, amber for a call to the bedside, blue for an alert. */
export type Tone = "red" | "amber" | "blue" | "grey";

export interface Location {
  site?: string;
  ward?: string;
  room?: string;
  bed?: string;
}

export interface Patient {
  id: string;
  system?: string;
  name?: string;
  birth_date?: string;
}

/** The result a clinical alert was raised by: "NEWS2 score 9 score". */
export interface Observation {
  code: string;
  text?: string;
  value: string;
  units?: string;
}

export interface Alarm {
  alarmId: string;
  kind: AlarmKind;
  location: Location;
  integration: string;
  state: AlarmState;
  patient: Patient | null;
  /** The clinical alert topic it went to. */
  topic: { id: string; name: string } | null;
  observation: Observation | null;
  /** The patient's specialty (hospital service), which subscriptions may be by. */
  specialty?: string;
}

/** Each kind's word (the server's names) and tone; the sign is drawn by AlarmIcon. */
export const KINDS: Record<AlarmKind, { word: string; tone: Tone }> = {
  cardiac_arrest: { word: "Cardiac arrest", tone: "red" },
  fire: { word: "Fire alarm", tone: "red" },
  nurse_call: { word: "Nurse call", tone: "amber" },
  staff_assist: { word: "Staff assist", tone: "amber" },
  monitor: { word: "Monitor alarm", tone: "amber" },
  clinical_alert: { word: "Clinical alert", tone: "blue" },
  other: { word: "Alarm", tone: "grey" },
};

function obj(v: unknown): Record<string, unknown> | null {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.trim() ? v : undefined;
}

function isKind(v: unknown): v is AlarmKind {
  return typeof v === "string" && v in KINDS;
}

/** Is this user id a hospital system's (the only senders whose alarm block counts)? */
export function fromIntegration(sender: string | undefined): boolean {
  return typeof sender === "string" && sender.startsWith("@integration.");
}

/** The alarm a content carries, or null. An unknown kind is "other"; an unknown state "active". */
export function alarmOf(content: Record<string, unknown>): Alarm | null {
  const b = obj(content[ALARM]);
  if (!b || typeof b.alarm_id !== "string") return null;
  const loc = obj(b.location) ?? {};
  const p = obj(b.patient);
  const t = obj(b.topic);
  const o = obj(b.observation);
  const value = typeof o?.value === "number" ? String(o.value) : str(o?.value);
  const state = b.state === "reset" || b.state === "cancelled" ? b.state : "active";
  return {
    alarmId: b.alarm_id,
    kind: isKind(b.kind) ? b.kind : "other",
    location: { site: str(loc.site), ward: str(loc.ward), room: str(loc.room), bed: str(loc.bed) },
    integration: typeof b.integration === "string" ? b.integration : "",
    state,
    patient:
      p && str(p.id)
        ? { id: p.id as string, system: str(p.system), name: str(p.name), birth_date: str(p.birth_date) }
        : null,
    topic: t && str(t.id) && str(t.name) ? { id: t.id as string, name: t.name as string } : null,
    observation: o && str(o.code) && value !== undefined ? { code: o.code as string, text: str(o.text), value, units: str(o.units) } : null,
    specialty: str(b.specialty),
  };
}

/** "NEWS2 score 9 score": what was measured (its text, else its code), the value and its units. */
export function describeObservation(o: Observation): string {
  return [o.text ?? o.code, o.value, o.units].filter(Boolean).join(" ");
}

/** "Main, Ward 7, room 3, bed 12": the place as the server writes it. */
export function describeLocation(l: Location): string {
  const parts: string[] = [];
  if (l.site) parts.push(l.site.trim());
  if (l.ward) parts.push(l.ward.trim());
  if (l.room) parts.push(`room ${l.room.trim()}`);
  if (l.bed) parts.push(`bed ${l.bed.trim()}`);
  return parts.join(", ");
}

/** "H123456 (mrn)", with the name and date of birth when the source sent them. */
export function describePatient(p: Patient): string {
  const id = p.system ? `${p.id} (${p.system})` : p.id;
  return [p.name, id, p.birth_date ? `born ${p.birth_date}` : undefined].filter(Boolean).join(" · ");
}

/**
 * The source's own text: the message's text (without the server's "[EMERGENCY]" and answer
 * list) after its "Cardiac arrest — Ward 7, bed 12: ". The whole text when it does not start so.
 */
export function alarmText(content: Record<string, unknown>, alarm: Alarm): string {
  const text = messageText(content).text;
  const where = describeLocation(alarm.location);
  const marker = ` — ${where}: `;
  const at = where ? text.indexOf(marker) : -1;
  return at >= 0 && at <= 64 ? text.slice(at + marker.length) : text;
}

/** "reset" → "Reset by the source", "cancelled" → "Cancelled by the source". */
export function endedWords(state: AlarmState): string {
  return state === "cancelled" ? "Cancelled by the source" : "Reset by the source";
}
