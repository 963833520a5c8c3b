// Patients from the electronic patient record (issue 16, /_wardline/client/v1/patients and
// /rooms/{roomId}/patient): finding a patient (by NHS number, hospital number, or family name
// and date of birth), tying a conversation to them, its banner (who, where, "Open in the EPR"),
// untying it, and the conversations about a patient. Whom a conversation is about is kept in
// the store only (state.patients: memory, never localStorage, IndexedDB, the service worker or
// a notification), asked again when the conversation is opened and when the server's notice of
// a change arrives. A refusal is shown in the server's words, or in words for the EPR failing.

import type { Choosing, FilingView } from "./filing";
import type { MatrixEvent, Room } from "./mx";
import { serverMember } from "./priority";
import { Refused, failure, wardline } from "./roles";
import { hasClient, me } from "./signedin";
import { store } from "./state";

const BASE = "/_wardline/client/v1";
const enc = encodeURIComponent;

/** The server's notice that a conversation's patient changed (from its own member only). */
export const PATIENT_CONTEXT = "org.wardline.patient_context";

export const NO_EPR = "ORG.WARDLINE.NO_EPR";
const EPR_UNAVAILABLE = "ORG.WARDLINE.EPR_UNAVAILABLE";
const EPR_CREDENTIALS = "ORG.WARDLINE.EPR_CREDENTIALS";
const EPR_REFUSED = "ORG.WARDLINE.EPR_REFUSED";

export interface PatientPlace {
  ward?: string;
  bed?: string;
  /** adt: the hospital's admissions feed; record: the EPR's current encounter. */
  source: "adt" | "record";
}

/** A patient as the server describes them (search results, a conversation's banner). */
export interface Patient {
  id: string;
  /** "SMITH, John". */
  name: string;
  birth_date?: string;
  gender?: string;
  /** Ten digits. */
  nhs_number?: string;
  hospital_number?: string;
  place?: PatientPlace;
  encounter?: string;
  launch_url?: string | null;
  /** A restricted record (a protected address, a VIP): where they are is never given. */
  restricted?: boolean;
  /** The record says the patient has died. */
  deceased?: boolean;
  /** The record is not in use. */
  inactive?: boolean;
  /** The record was merged into another (this one cannot be tied). */
  merged?: boolean;
  /** The EPR id of the record it was merged into, when known. */
  merged_into?: string;
  /** Where they are could not be read (not the same as "not admitted"). */
  place_unknown?: boolean;
}

/** What the record says of itself that a clinician must see before acting on it, in words. */
export function recordFlags(p: Patient): string[] {
  const out: string[] = [];
  if (p.deceased) out.push("Deceased");
  if (p.merged || p.merged_into) out.push("Merged into another record: search again");
  else if (p.inactive) out.push("Inactive record");
  if (p.restricted) out.push("Restricted record: where they are is not shown");
  return out;
}

/** Whom a conversation is about: its banner. */
export interface RoomPatient {
  patient: Patient;
  version: number;
  tied_by: string;
  tied_at: number;
  launch_url?: string | null;
}

/** A conversation about a patient that I am in. */
export interface RoomAbout {
  room_id: string;
  name?: string | null;
  tied_at: number;
  tied_by: string;
}

/** What is known of one conversation's patient. */
export interface RoomPatientView {
  /** null: not about a patient (or not asked yet, while `loading`). */
  tie: RoomPatient | null;
  loading: boolean;
  /** The server has answered (or failed to) at least once since the conversation was opened. */
  known: boolean;
  /** Why the banner could not be read (what was known stays). */
  error: string;
}

export interface Patients {
  /**
   * false: the server said it has no patient record (NO_EPR: a conversation's banner, a
   * search or a tie answers so); the patient features are hidden.
   */
  epr: boolean;
  /** By conversation (room id). */
  rooms: Record<string, RoomPatientView>;
  /**
   * The patient dialog open in a conversation: finding a patient, the conversations about its
   * patient, or filing to the record.
   */
  dialog: { roomId: string; kind: PatientDialog } | null;
  /** What the record holds of each conversation's messages, by room id (filing.ts). */
  filings: Record<string, FilingView>;
  /** Messages being chosen to file (filing.ts). */
  choosing: Choosing | null;
}

export type PatientDialog = "search" | "rooms" | "file";

function update(change: (p: Patients) => Partial<Patients>): void {
  store.update((s) => ({ patients: { ...s.patients, ...change(s.patients) } }));
}

function setRoom(roomId: string, change: Partial<RoomPatientView>): void {
  update((p) => ({
    rooms: { ...p.rooms, [roomId]: { ...(p.rooms[roomId] ?? { tie: null, loading: false, known: false, error: "" }), ...change } },
  }));
}

// ---- the NHS number --------------------------------------------------------------------------

/**
 * The check digit of the first nine digits (NHS Data Dictionary): weights 10 down to 2,
 * 11 - (sum mod 11), where 11 means 0 and 10 means no NHS number has these nine digits.
 */
function checkDigit(d: number[]): number | null {
  const sum = d.slice(0, 9).reduce((a, n, i) => a + n * (10 - i), 0);
  const c = 11 - (sum % 11);
  return c === 11 ? 0 : c === 10 ? null : c;
}

/**
 * An NHS number as typed ("943 476 5919", "943-476-5919", "9434765919") as its ten digits, or
 * why it is not one, in the server's words (it checks the same before asking the EPR).
 */
export function readNhsNumber(text: string): { digits: string } | { error: string } {
  const t = text.trim();
  const digits: number[] = [];
  for (const c of t) {
    if (c >= "0" && c <= "9" && digits.length < 10) digits.push(Number(c));
    else if ((c === " " || c === "-") && (digits.length === 3 || digits.length === 6)) continue;
    else return { error: "An NHS number is 10 digits." };
  }
  if (digits.length !== 10 || t.length > 12) return { error: "An NHS number is 10 digits." };
  if (checkDigit(digits) !== digits[9]) return { error: "This NHS number's check digit is wrong: please check the number." };
  return { digits: digits.join("") };
}

/** "943 476 5919". */
export function groupedNhs(digits: string): string {
  return /^\d{10}$/.test(digits) ? `${digits.slice(0, 3)} ${digits.slice(3, 6)} ${digits.slice(6)}` : digits;
}

// ---- words -----------------------------------------------------------------------------------

/** Whole years between a date of birth (YYYY-MM-DD) and `now`, or null. */
export function ageOn(birth: string, now: Date): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birth);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  let age = now.getFullYear() - y;
  if (now.getMonth() + 1 < mo || (now.getMonth() + 1 === mo && now.getDate() < d)) age--;
  return age >= 0 ? age : null;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "31 Jan 1970 (56 y)": the date of birth as the NHS writes it, with the age. */
export function bornWords(birth: string | undefined, now = new Date()): string {
  if (!birth) return "";
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birth);
  if (!m) return birth;
  const date = `${Number(m[3])} ${MONTHS[Number(m[2]) - 1] ?? m[2]} ${m[1]}`;
  const age = ageOn(birth, now);
  return age === null ? date : `${date} (${age} y)`;
}

/** "Ward 7, Bay 2 bed 12", or "". */
export function placeWords(place: PatientPlace | undefined): string {
  return [place?.ward, place?.bed].filter(Boolean).join(", ");
}

/** Who said where they are. */
export function placeSource(place: PatientPlace | undefined): string {
  return place?.source === "adt" ? "admissions feed" : place?.source === "record" ? "patient record" : "";
}

/** The link to the patient's record, if it is a web address (nothing else is followed). */
export function launchUrl(url: string | null | undefined): string | null {
  return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null;
}

/** Why something about patients failed, in words for the clinician. */
export function patientFailure(e: unknown, what: string): string {
  if (e instanceof Refused) {
    switch (e.errcode) {
      case NO_EPR:
        return "Patients are not available: this Wardline is not connected to a patient record.";
      case EPR_UNAVAILABLE:
        return "The patient record is not answering — try again in a moment.";
      case EPR_CREDENTIALS:
        return "Wardline could not sign in to the patient record — tell the IT service desk.";
      case EPR_REFUSED:
        return `The patient record refused the request: ${e.message}`;
    }
    if (e.status === 429) return "Too many searches at once — wait a moment and try again.";
    return `${what}: ${e.message}`;
  }
  return failure(e, what);
}

function noted(e: unknown): void {
  if (e instanceof Refused && e.errcode === NO_EPR) update(() => ({ epr: false }));
}

// ---- searching ---------------------------------------------------------------------------

/** One of the three ways to ask for a patient. */
export type PatientQuery =
  | { by: "nhs"; nhs: string }
  | { by: "hospital"; number: string }
  | { by: "name"; family: string; given: string; born: string };

export interface Found {
  patients: Patient[];
  more: boolean;
}

function queryString(q: PatientQuery): string {
  const p = new URLSearchParams();
  if (q.by === "nhs") p.set("nhs_number", q.nhs);
  else if (q.by === "hospital") p.set("hospital_number", q.number.trim());
  else {
    p.set("family", q.family.trim());
    p.set("birth_date", q.born);
    if (q.given.trim()) p.set("given", q.given.trim());
  }
  return p.toString();
}

/** Finds patients for the conversation `roomId` (the server checks I am in it). */
export async function searchPatients(q: PatientQuery, roomId: string): Promise<Found> {
  try {
    const r = await wardline<{ patients?: unknown; more?: unknown }>("GET", `${BASE}/patients?${queryString(q)}&room_id=${enc(roomId)}`);
    const patients = Array.isArray(r.patients) ? (r.patients as Patient[]).filter((p) => typeof p?.id === "string" && typeof p.name === "string") : [];
    return { patients, more: r.more === true };
  } catch (e) {
    noted(e);
    throw e;
  }
}

// ---- a conversation's patient ----------------------------------------------------------------

const asking = new Map<string, number>();
let seq = 0;

/** Asks whom `roomId` is about (its banner); a failure keeps what was known, and says so. */
export async function loadRoomPatient(roomId: string): Promise<void> {
  if (!hasClient()) return;
  const mine = ++seq;
  asking.set(roomId, mine);
  setRoom(roomId, { loading: true });
  try {
    const tie = await wardline<RoomPatient>("GET", `${BASE}/rooms/${enc(roomId)}/patient`);
    if (asking.get(roomId) !== mine || !hasClient()) return;
    setRoom(roomId, { tie: tie?.patient?.id ? tie : null, loading: false, known: true, error: "" });
  } catch (e) {
    if (asking.get(roomId) !== mine || !hasClient()) return;
    // Not about a patient (404), not mine to see (403: invited, not joined), or no patient
    // record at all (NO_EPR: the patient features go): no banner, and nothing wrong to say.
    if (e instanceof Refused && (e.status === 404 || e.status === 403)) {
      noted(e);
      setRoom(roomId, { tie: null, loading: false, known: true, error: "" });
      return;
    }
    noted(e);
    setRoom(roomId, { loading: false, known: true, error: patientFailure(e, "Whom this conversation is about cannot be shown") });
  }
}

/** Ties `roomId` to the patient (replacing any other); throws the server's refusal. */
export async function tiePatient(roomId: string, patient: Patient): Promise<RoomPatient> {
  try {
    const body: Record<string, string> = { patient: patient.id };
    const tie = await wardline<RoomPatient>("PUT", `${BASE}/rooms/${enc(roomId)}/patient`, body);
    asking.set(roomId, ++seq);
    setRoom(roomId, { tie, loading: false, known: true, error: "" });
    return tie;
  } catch (e) {
    noted(e);
    throw e;
  }
}

/** The conversation is no longer about a patient; throws the server's refusal. */
export async function untiePatient(roomId: string): Promise<void> {
  try {
    await wardline("DELETE", `${BASE}/rooms/${enc(roomId)}/patient`);
  } catch (e) {
    // Someone else removed it meanwhile: it is gone all the same.
    if (!(e instanceof Refused && e.status === 404 && e.errcode !== NO_EPR)) throw e;
  }
  asking.set(roomId, ++seq);
  setRoom(roomId, { tie: null, loading: false, known: true, error: "" });
}

/** The conversations about a patient that I am in, newest tie first. */
export async function roomsAbout(patientId: string): Promise<RoomAbout[]> {
  const r = await wardline<{ rooms?: unknown }>("GET", `${BASE}/patients/${enc(patientId)}/rooms`);
  return Array.isArray(r.rooms) ? (r.rooms as RoomAbout[]).filter((x) => typeof x?.room_id === "string") : [];
}

/** The server's notice of a change (its own member's only: anyone may write the key). */
export function patientNotice(sender: string | undefined, content: Record<string, unknown>): { action: string; version: number } | null {
  if (!hasClient() || sender === undefined || sender !== serverMember(me())) return null;
  const n = content[PATIENT_CONTEXT];
  if (typeof n !== "object" || n === null) return null;
  const { action, version } = n as { action?: unknown; version?: unknown };
  return typeof action === "string" ? { action, version: typeof version === "number" ? version : 0 } : null;
}

/**
 * An event arrived: the server's notice that a conversation's patient changed asks its banner
 * again (the open conversation's now; any other's when it is next opened).
 */
export function notePatientEvent(e: MatrixEvent, room: Room): void {
  if (e.getType() !== "m.room.message" || !patientNotice(e.getSender() ?? undefined, e.getContent())) return;
  if (store.get().current === room.roomId) void loadRoomPatient(room.roomId);
  else
    update((p) => {
      if (!(room.roomId in p.rooms)) return {};
      const rooms = { ...p.rooms };
      delete rooms[room.roomId];
      return { rooms };
    });
}

/** Opens a patient dialog in the conversation `roomId` (null: closes it). */
export function showPatientDialog(roomId: string | null, kind: PatientDialog = "search"): void {
  update(() => ({ dialog: roomId ? { roomId, kind } : null }));
}

/** Forgets every patient (sign-out). */
export function forgetPatients(): void {
  asking.clear();
  store.update({ patients: { epr: true, rooms: {}, dialog: null, filings: {}, choosing: null } });
}
