// What the person sends and does to messages: text (new, a reply, an edit), files, Retry and
// Delete of a message not sent, reactions, deleting a message for everyone, typing, drafts.

import { findItem, later, openRoomObject } from "./conversation";
import { hasClient, matrix, outbox } from "./signedin";
import { store } from "./state";

function roomName(roomId: string): string {
  return hasClient() ? (matrix().getRoom(roomId)?.name ?? "") : "";
}

/** Sends what the composer holds: a new message, a reply, or an edit of one of mine. */
export function sendText(roomId: string, text: string): void {
  const { replyingTo, editing } = store.get();
  if (editing) {
    outbox()?.sendText(
      roomId,
      roomName(roomId),
      `* ${text}`,
      {
        "m.new_content": { msgtype: "m.text", body: text },
        "m.relates_to": { rel_type: "m.replace", event_id: editing.eventId },
      },
      editing.eventId,
    );
  } else if (replyingTo) {
    outbox()?.sendText(roomId, roomName(roomId), text, { "m.relates_to": { "m.in_reply_to": { event_id: replyingTo } } });
  } else {
    outbox()?.sendText(roomId, roomName(roomId), text);
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

/** Adds my reaction `key` to a message, or takes it back. */
export async function toggleReaction(eventId: string, key: string): Promise<void> {
  const room = openRoomObject();
  if (!room) return;
  store.update({ actionsFor: null });
  const mine = findItem(eventId)?.reactions?.find((r) => r.key === key)?.mine;
  try {
    if (mine) await matrix().redactEvent(room.roomId, mine);
    else {
      await matrix().sendEvent(room.roomId, "m.reaction" as never, {
        "m.relates_to": { rel_type: "m.annotation", event_id: eventId, key },
      } as never);
    }
  } catch {
    store.update({ announcement: "The reaction could not be sent." });
  }
}

/** Deletes a message of mine for everyone (a redaction). */
export async function deleteMessage(eventId: string): Promise<string | null> {
  const room = openRoomObject();
  if (!room) return null;
  store.update({ actionsFor: null });
  try {
    await matrix().redactEvent(room.roomId, eventId);
    return null;
  } catch (e) {
    return (e as { data?: { error?: string } }).data?.error ?? "The message could not be deleted.";
  } finally {
    later("timeline");
  }
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
