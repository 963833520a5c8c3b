// The server's answers to a message that asks (answers.ts), asked for when it is drawn and
// again when its delivery or read counts change.

import { useEffect } from "preact/hooks";

import { askAbout } from "../answers";
import type { AskDetail, Answer } from "../answers";
import { nameIn } from "../rolechat";
import { hasClient, matrix, me } from "../signedin";
import { store, useStore } from "../state";
import type { TimelineItem } from "../state";

export function useAsk(item: TimelineItem): { detail: AskDetail | null; failed: boolean } {
  const roomId = useStore((s) => s.current);
  const eventId = item.eventId;
  const view = useStore((s) => (eventId ? s.asks[eventId] : undefined));
  const counts = useStore((s) => (eventId ? s.statuses[eventId] : undefined));
  useEffect(() => {
    if (roomId && eventId) askAbout(roomId, eventId);
  }, [roomId, eventId, counts?.delivered, counts?.read, counts?.recipients]);
  return { detail: view?.detail ?? null, failed: view?.failed ?? false };
}

/** My answer, as the server counts it (a recipient's or not). */
export function myAnswer(detail: AskDetail | null): Answer | null {
  if (!detail) return null;
  const mine = detail.recipients.find((r) => r.user_id === me())?.answer;
  return mine ?? detail.other_answers?.find((a) => a.user_id === me()) ?? null;
}

/** Every answer given, with who gave it, earliest first. */
export function allAnswers(detail: AskDetail | null): (Answer & { user_id: string })[] {
  if (!detail) return [];
  const out: (Answer & { user_id: string })[] = [];
  for (const r of detail.recipients) if (r.answer) out.push({ ...r.answer, user_id: r.user_id });
  for (const a of detail.other_answers ?? []) out.push(a);
  return out.sort((a, b) => a.ts - b.ts);
}

/** A person's name as the open conversation knows it. */
export function nameOf(userId: string): string {
  if (!hasClient()) return userId;
  const c = matrix();
  const id = store.get().current;
  const room = id ? c.getRoom(id) : null;
  return (room ? nameIn(room, userId) : undefined) ?? c.getUser(userId)?.displayName ?? userId;
}
