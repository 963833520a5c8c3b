// What the person sends and does to messages: text (new, a reply, an edit), files, Retry and
// Delete of a message not sent, reactions, deleting a message for everyone (the last two through
// the outbox too), typing, drafts.

import { findItem, openRoomObject } from "./conversation";
import { mentionContent } from "./mentions";
import type { Mentioned } from "./mentions";
import { KnownMembership } from "./mx";
import { shownReactions, toggleOf } from "./reactions";
import { conversationName } from "./rolechat";
import { hasClient, matrix, outbox } from "./signedin";
import { store } from "./state";

function roomName(roomId: string): string {
  return hasClient() ? (matrix().getRoom(roomId)?.name ?? "") : "";
}

/**
 * Sends what the composer holds: a new message, a reply, or an edit of one of mine; `picked`
 * are the people chosen from the "@" completion (mentioned if their name is still in the text);
 * `blocks` make a new message urgent or emergency, or ask for quick responses (priority.ts).
 */
export function sendText(roomId: string, text: string, picked: Mentioned[] = [], blocks: Record<string, unknown> = {}): void {
  const { replyingTo, editing } = store.get();
  const mentions = mentionContent(text, picked);
  if (editing) {
    // The edit's mentions are in its new content; the edit itself notifies no one again.
    outbox()?.sendText(
      roomId,
      roomName(roomId),
      `* ${text}`,
      {
        "m.new_content": { msgtype: "m.text", body: text, ...mentions },
        "m.relates_to": { rel_type: "m.replace", event_id: editing.eventId },
        "m.mentions": {},
      },
      editing.eventId,
    );
  } else if (replyingTo) {
    outbox()?.sendText(roomId, roomName(roomId), text, {
      ...mentions,
      ...blocks,
      "m.relates_to": { "m.in_reply_to": { event_id: replyingTo } },
    });
  } else {
    outbox()?.sendText(roomId, roomName(roomId), text, { ...mentions, ...blocks });
  }
  store.update({ replyingTo: null, editing: null });
  matrix().sendTyping(roomId, false, 0).catch(() => undefined);
}

export function showActions(eventId: string | null): void {
  store.update({ actionsFor: eventId });
}

export function startReply(eventId: string): void {
  store.update({ replyingTo: eventId, editing: null, actionsFor: null });
}

export function startEdit(eventId: string, body: string): void {
  store.update({ editing: { eventId, body }, replyingTo: null, actionsFor: null });
}

export function cancelCompose(): void {
  store.update({ editing: null, replyingTo: null });
}

/**
 * Adds my reaction `key` to a message, or takes it back (the server's, or one still in the
 * outbox): through the outbox, so it is kept across a network drop and a reload.
 */
export function toggleReaction(eventId: string, key: string): void {
  const room = openRoomObject();
  const box = outbox();
  const item = findItem(eventId);
  if (!room || !box || !item) return;
  store.update({ actionsFor: null });
  const name = roomName(room.roomId);
  const toggle = toggleOf(shownReactions(item, store.get().outbox), key);
  if (toggle.kind === "react") box.react(room.roomId, name, eventId, key);
  else if (toggle.kind === "redact") box.redact(room.roomId, name, { eventId: toggle.eventId });
  else if (!box.withdraw(toggle.entry.txnId)) {
    // It may have reached the server already: undone there, after it.
    if (toggle.entry.kind === "reaction") box.redact(room.roomId, name, { txnId: toggle.entry.txnId });
    else box.react(room.roomId, name, eventId, key);
  }
}

/** Deletes a message of mine for everyone (a redaction), through the outbox. */
export function deleteMessage(eventId: string): void {
  const room = openRoomObject();
  store.update({ actionsFor: null });
  if (room) outbox()?.redact(room.roomId, roomName(room.roomId), { eventId });
}

/** The content key marking a forwarded message, with where it was forwarded from. */
export const FORWARDED = "org.wardline.forwarded";

/** What of a message's content is forwarded: what it says or holds, not what it answered. */
export function forwardedContent(content: Record<string, unknown>, roomId: string, eventId: string): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const key of ["msgtype", "body", "format", "formatted_body", "url", "info", "filename"]) {
    if (content[key] !== undefined) kept[key] = content[key];
  }
  // Whoever the original mentioned is not notified again.
  return { ...kept, "m.mentions": {}, [FORWARDED]: { room_id: roomId, event_id: eventId } };
}

/**
 * Where a forwarded message came from, as this person knows it: the conversation's name as
 * they see it, if they are or were in it; null if they cannot know (never the room id).
 */
export function forwardedFrom(content: Record<string, unknown>): string | null {
  const from = content[FORWARDED] as { room_id?: unknown } | undefined;
  const id = typeof from?.room_id === "string" ? from.room_id : null;
  const room = id && hasClient() ? matrix().getRoom(id) : null;
  const membership = room?.getMyMembership();
  if (!room || (membership !== KnownMembership.Join && membership !== KnownMembership.Leave)) return null;
  return conversationName(room) || null;
}

/** Forwards the open conversation's message `eventId` to `toRoomId`, through the outbox. */
export function forward(eventId: string, toRoomId: string): boolean {
  const from = store.get().current;
  const item = findItem(eventId);
  if (!from || !item || item.redacted) return false;
  outbox()?.sendContent(toRoomId, roomName(toRoomId), forwardedContent(item.content, from, eventId));
  return true;
}

export function startForward(eventId: string | null): void {
  store.update({ forwarding: eventId, actionsFor: null });
}

export function sendFile(roomId: string, file: File, durationMs?: number): void {
  void outbox()?.sendFile(roomId, roomName(roomId), file, durationMs);
}

export function retry(txnId: string): void {
  outbox()?.retry(txnId);
}

export function discard(txnId: string): void {
  outbox()?.delete(txnId);
}

export function typing(roomId: string, active: boolean): void {
  matrix().sendTyping(roomId, active, 5000).catch(() => undefined);
}


const DRAFTS = "wardline.drafts";

/** What is typed and not sent yet, kept per conversation through a reload of the tab. */
export function saveDraft(roomId: string, text: string): void {
  if (!hasClient()) return;
  const drafts = { ...store.get().drafts };
  if (text) drafts[roomId] = text;
  else delete drafts[roomId];
  store.update({ drafts });
  if (Object.keys(drafts).length) sessionStorage.setItem(DRAFTS, JSON.stringify(drafts));
  else sessionStorage.removeItem(DRAFTS);
}

export function savedDrafts(): Record<string, string> {
  try {
    const d = JSON.parse(sessionStorage.getItem(DRAFTS) ?? "{}") as unknown;
    return typeof d === "object" && d !== null ? (d as Record<string, string>) : {};
  } catch {
    return {};
  }
}
