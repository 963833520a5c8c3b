// The answers to messages that ask (priority, quick responses), and their escalation, as the
// server counts them: the message status endpoint (statuses.ts) adds each recipient's answer,
// others' answers, the counts accepted / declined and the escalation's state and steps. Kept in
// the store (`asks`, by event id) for the messages drawn, asked again when something about the
// message arrives (an answer, a reaction, an escalation notice, its delivery or read counts).
// Answering goes through the outbox, like any message.

import { hasClient, matrix, outbox, token } from "./signedin";
import { store } from "./state";
import type { Counts } from "./state";
import { fetchStatus, StatusRefused } from "./statuses";
import type { Recipient, StatusDetail } from "./statuses";
import { escalationOf, responseContent, responseOf } from "./priority";
import type { Ask, AskOption, Level, Means } from "./priority";

export interface Answer {
  option: string;
  label: string;
  means: Means;
  reason: string | null;
  ts: number;
  event_id: string;
}

export interface EscalationStep {
  step: number;
  ts: number;
  summary: string;
}

export interface Escalation {
  state: "open" | "accepted" | "failsafe" | "cancelled";
  ended_ts: number | null;
  next_step: number | null;
  next_due_ts: number | null;
  steps: EscalationStep[];
}

/** "Tell me if nobody has accepted in N minutes": when, and what came of it. */
export interface Deadline {
  due_ts: number;
  state: "waiting" | "accepted" | "not_accepted" | "cancelled" | "failed";
  ended_ts: number | null;
}

export interface AskDetail extends StatusDetail {
  recipients: (Recipient & { answer?: Answer | null })[];
  other_answers?: (Answer & { user_id: string })[];
  counts: Counts & { accepted?: number; declined?: number };
  priority?: Level;
  ask?: Ask;
  escalation?: Escalation;
  deadline?: Deadline;
}

/** What the client knows of a message's answers: the server's status, or that it could not ask. */
export interface AskView {
  detail: AskDetail | null;
  failed: boolean;
}

const asking = new Map<string, Promise<void>>();
const again = new Set<string>();
/** The conversation of each message asked about (to ask again). */
const roomOf = new Map<string, string>();

async function ask(roomId: string, eventId: string): Promise<void> {
  try {
    const detail = (await fetchStatus(token(), roomId, eventId)) as AskDetail;
    if (!roomOf.has(eventId)) return; // Signed out meanwhile.
    store.update((s) => ({ asks: { ...s.asks, [eventId]: { detail, failed: false } } }));
  } catch (err) {
    if (!roomOf.has(eventId)) return;
    const had = store.get().asks[eventId]?.detail ?? null;
    // Refused (not a member any more, the message unknown): what was known stays, marked.
    store.update((s) => ({ asks: { ...s.asks, [eventId]: { detail: had, failed: err instanceof StatusRefused || !had } } }));
  }
}

/** Asks the server about `eventId` (once at a time; asked again after if wanted meanwhile). */
export function askAbout(roomId: string, eventId: string): void {
  if (!eventId.startsWith("$")) return;
  roomOf.set(eventId, roomId);
  if (asking.has(eventId)) {
    again.add(eventId);
    return;
  }
  const p = ask(roomId, eventId).finally(() => {
    asking.delete(eventId);
    if (again.delete(eventId)) askAbout(roomId, eventId);
  });
  asking.set(eventId, p);
}

/** Something about `eventId` changed: asked again if it is shown (known here). */
export function refreshAsk(eventId: string): void {
  const roomId = roomOf.get(eventId);
  if (roomId) askAbout(roomId, eventId);
}

/**
 * An event arriving: an answer (a response or a reaction) or an escalation notice about a
 * message whose answers are shown makes them asked again.
 */
export function noteAnswerEvent(type: string, content: Record<string, unknown>): void {
  const response = responseOf(content);
  if (response) return refreshAsk(response.to);
  const escalation = escalationOf(content);
  if (escalation) return refreshAsk(escalation.message);
  const rel = content["m.relates_to"] as { rel_type?: unknown; event_id?: unknown } | undefined;
  if (type === "m.reaction" && typeof rel?.event_id === "string") refreshAsk(rel.event_id);
}

/** Answers the message `eventId` with `option` (and a reason), through the outbox. */
export function answer(roomId: string, eventId: string, option: AskOption, reason = ""): void {
  const name = hasClient() ? (matrix().getRoom(roomId)?.name ?? "") : "";
  outbox()?.sendContent(roomId, name, responseContent(eventId, option, reason));
}

/** Forgets everything (sign-out). */
export function forgetAnswers(): void {
  asking.clear();
  again.clear();
  roomOf.clear();
}
