// Filing a conversation's messages to the patient's record (issue 16, "File to record":
// POST/GET /_wardline/client/v1/rooms/{roomId}/filings). The server stores the request and its
// background task writes it to the EPR, retrying while the record is down; the client asks for
// the filings' states (every 5 s while one is pending: FilingStatus in the banner) and shows the
// latest in the banner, and under each message the record holds, what the record has of it.
// An edit or a deletion of a message the record holds, arriving by the sync, asks again at once
// (noteFilingEvent): whether it has changed since it was filed is the server's to say.
// Kept in the store only (state.patients.filings: memory, never localStorage or IndexedDB).

import type { MatrixEvent, Room } from "./mx";
import { patientFailure } from "./patients";
import type { Patients } from "./patients";
import { Refused, wardline } from "./roles";
import { hasClient } from "./signedin";
import { store } from "./state";

const BASE = "/_wardline/client/v1";
const enc = encodeURIComponent;

const NO_PATIENT = "ORG.WARDLINE.NO_PATIENT";

/** How often the filings are asked while one is pending (ms). */
export const FILING_POLL_MS = 5000;

/** How long after an edit or a deletion of a filed message the filings are asked (ms): more arriving together are asked once. */
export const FILING_CHANGE_WAIT_MS = 250;

/** One request to file, as the server describes it. */
export interface Filing {
  filing_id: string;
  state: "pending" | "filed" | "refused";
  requested_by: string;
  requested_ts: number;
  event_count: number;
  transcript: boolean;
  attempts: number;
  last_error: string | null;
  /** Who refused it: the record (its words in last_error), or Wardline (the patient changed, the record never answered). */
  refused_by?: "record" | "wardline" | null;
  /** What the record made of it: "Communication/123", "DocumentReference/9". */
  resources: string[];
  finished_ts: number | null;
}

/** What the record holds of one message. */
export interface FiledEvent {
  /** changed: edited or deleted since it was filed (file it again). */
  state: "filed" | "changed" | "entered_in_error";
  resource: string | null;
  filed_ts: number;
}

/** What is known of one conversation's filings. */
export interface FilingView {
  /** Newest first. */
  filings: Filing[];
  events: Record<string, FiledEvent>;
  /** Why the filings could not be read (what was known stays). */
  error: string;
}

/** Messages being chosen to file, in the open conversation. */
export interface Choosing {
  roomId: string;
  ids: string[];
  transcript: boolean;
}

function update(change: (p: Patients) => Partial<Patients>): void {
  store.update((s) => ({ patients: { ...s.patients, ...change(s.patients) } }));
}

function setView(roomId: string, change: Partial<FilingView>): void {
  update((p) => ({
    filings: { ...p.filings, [roomId]: { ...(p.filings[roomId] ?? { filings: [], events: {}, error: "" }), ...change } },
  }));
}

function readFilings(raw: unknown): Filing[] {
  if (!Array.isArray(raw)) return [];
  return (raw as Filing[])
    .filter((f) => typeof f?.filing_id === "string" && typeof f.state === "string")
    .map((f) => ({ ...f, resources: Array.isArray(f.resources) ? f.resources.filter((r) => typeof r === "string") : [] }))
    .sort((a, b) => (b.requested_ts ?? 0) - (a.requested_ts ?? 0));
}

function readEvents(raw: unknown): Record<string, FiledEvent> {
  const out: Record<string, FiledEvent> = {};
  if (typeof raw !== "object" || raw === null) return out;
  for (const [id, e] of Object.entries(raw as Record<string, FiledEvent>)) {
    if (e && (e.state === "filed" || e.state === "changed" || e.state === "entered_in_error")) out[id] = e;
  }
  return out;
}

const asking = new Map<string, number>();
let seq = 0;

/** Asks the server for `roomId`'s filings; a failure keeps what was known, and says so. */
export async function loadFilings(roomId: string): Promise<void> {
  if (!hasClient()) return;
  const mine = ++seq;
  asking.set(roomId, mine);
  try {
    const r = await wardline<{ filings?: unknown; events?: unknown }>("GET", `${BASE}/rooms/${enc(roomId)}/filings`);
    if (asking.get(roomId) !== mine || !hasClient()) return;
    setView(roomId, { filings: readFilings(r.filings), events: readEvents(r.events), error: "" });
  } catch (e) {
    if (asking.get(roomId) !== mine || !hasClient()) return;
    setView(roomId, { error: patientFailure(e, "Whether the record has this conversation cannot be shown") });
  }
}

/** The messages to file: these, or the whole conversation. */
export type FilingScope = { all: true } | { event_ids: string[] };

/** Files to the record; throws the server's refusal in words for the clinician. */
export async function fileToRecord(roomId: string, scope: FilingScope, transcript: boolean): Promise<string> {
  try {
    const r = await wardline<{ filing_id?: unknown }>("POST", `${BASE}/rooms/${enc(roomId)}/filings`, { ...scope, transcript });
    void loadFilings(roomId);
    return typeof r.filing_id === "string" ? r.filing_id : "";
  } catch (e) {
    throw new Error(filingFailure(e));
  }
}

/** Why filing was refused, in words. */
export function filingFailure(e: unknown): string {
  if (e instanceof Refused) {
    if (e.errcode === NO_PATIENT) return "Not filed: this conversation is not about a patient.";
    if (e.status === 403) return `Not filed: ${e.message}`;
    if (e.status === 429) return "Too many requests at once — wait a moment and try again.";
  }
  return patientFailure(e, "Not filed");
}

/** Why the record refused a filing, without the server's "the record refused it: " (the words before say so). */
function refusedBecause(f: Filing): string {
  const why = (f.last_error ?? "").replace(/^the record refused it:\s*/i, "").trim();
  return why || "no reason given";
}

/** The latest filing's state in words for the banner. */
export function filingWords(f: Filing): string {
  if (f.state === "filed") return "Filed to the record";
  if (f.state === "refused" && f.refused_by === "wardline") return `Not filed: ${refusedBecause(f)}`;
  if (f.state === "refused") return `Refused by the record: ${refusedBecause(f)}`;
  return f.attempts > 0 || f.last_error ? "Waiting for the record (retrying)" : "Filing to the record…";
}

/** What the record has of a message, in words. */
export function filedWords(e: FiledEvent): string {
  if (e.state === "filed") return "In the record";
  if (e.state === "changed") return "Changed since filed — file again";
  return "Marked entered-in-error";
}

// ---- choosing messages -----------------------------------------------------------------------

/** Starts (or with null, ends) choosing messages to file in `roomId`. */
export function chooseMessages(roomId: string | null, transcript = false): void {
  update(() => ({ choosing: roomId ? { roomId, ids: [], transcript } : null }));
}

/** Chooses or unchooses one message. */
export function toggleChosen(eventId: string): void {
  update((p) => {
    if (!p.choosing) return {};
    const ids = p.choosing.ids.includes(eventId) ? p.choosing.ids.filter((i) => i !== eventId) : [...p.choosing.ids, eventId];
    return { choosing: { ...p.choosing, ids } };
  });
}

// ---- edits and deletions of filed messages -----------------------------------------------------

const changing = new Map<string, ReturnType<typeof setTimeout>>();

/** The message an event changes: an edit's (m.replace), or a deletion's (redaction). */
function changedBy(e: MatrixEvent): string | undefined {
  if (e.isRedaction()) {
    const redacts = e.event.redacts ?? e.getContent().redacts;
    return typeof redacts === "string" ? redacts : undefined;
  }
  if (e.isRelation("m.replace")) return e.getRelation()?.event_id;
  return undefined;
}

/**
 * An event arrived by the sync: an edit or a deletion of a message the record holds (of a
 * conversation whose filings are shown) asks the filings again, once for several arriving
 * together, so "Changed since filed" shows at once rather than at the next read.
 */
export function noteFilingEvent(e: MatrixEvent, room: Room): void {
  const target = changedBy(e);
  const roomId = room.roomId;
  if (!target || !store.get().patients.filings[roomId]?.events[target]) return;
  clearTimeout(changing.get(roomId));
  changing.set(
    roomId,
    setTimeout(() => {
      changing.delete(roomId);
      void loadFilings(roomId);
    }, FILING_CHANGE_WAIT_MS),
  );
}

/** Forgets a conversation's filings (it was left; asked again when it is next opened). */
export function forgetFilings(roomId: string): void {
  asking.delete(roomId);
  clearTimeout(changing.get(roomId));
  changing.delete(roomId);
  update((p) => {
    const filings = { ...p.filings };
    delete filings[roomId];
    return { filings, choosing: p.choosing?.roomId === roomId ? null : p.choosing };
  });
}

/** Forgets every wait to ask the filings again (sign-out; the filings themselves go with the patients). */
export function forgetFilingWaits(): void {
  for (const t of changing.values()) clearTimeout(t);
  changing.clear();
  asking.clear();
}
