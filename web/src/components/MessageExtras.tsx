// Around a message: the message it replies to, and its actions (reply, react, forward, mark as
// read up to it, edit and delete my own). Its reactions: Reactions.tsx.

import { useEffect, useRef } from "preact/hooks";

import { mayWrite } from "../broadcasts";
import { deleteMessage, showActions, startEdit, startForward, startReply, toggleReaction } from "../compose";
import { findItem, markRead } from "../conversation";
import { messageText } from "../messagetext";
import { previewOf } from "../renderers";
import { hasClient, matrix } from "../signedin";
import { store, useStore } from "../state";
import type { TimelineItem } from "../state";

export const QUICK_REACTIONS = ["👍", "✅", "👀", "🙏"];
/** In a broadcast a recipient only answers: the reactions the server takes as acknowledging. */
export const ANSWER_REACTIONS = ["👍", "✅"];

/** The message this one answers, quoted (tap: go to it). */
export function ReplyQuote({ eventId }: { eventId: string }) {
  // Redrawn with the timeline, so a quoted message loaded later shows.
  useStore((s) => s.timeline);
  const target = findItem(eventId);
  const go = () => {
    const el = document.querySelector<HTMLElement>(`.timeline [data-event="${CSS.escape(eventId)}"]`);
    el?.scrollIntoView({ block: "center" });
    el?.focus();
  };
  return (
    <button type="button" class="quote" onClick={go} aria-label={target ? `In reply to ${target.senderName}` : "In reply to an earlier message"}>
      <span class="quote-who">{target ? target.senderName : "Earlier message"}</span>
      <span class="quote-text">{target ? previewOf(target.type, target.content, target.redacted) : ""}</span>
    </button>
  );
}

/** "Mark as read up to here": the menu closes, focus back on its button, and what happened is said. */
function markAsRead(eventId: string): void {
  showActions(null);
  store.update({ toast: markRead(eventId) });
  requestAnimationFrame(() =>
    document.querySelector<HTMLElement>(`.timeline [data-event="${CSS.escape(eventId)}"] .more`)?.focus(),
  );
}

/** The "⋯" button and, when open, the message's actions. */
export function MessageActions({ item }: { item: TimelineItem }) {
  const open = useStore((s) => s.actionsFor === item.eventId);
  const current = useStore((s) => s.current);
  // A broadcast's recipient: no reply, no edit, and only the reactions that answer it (the
  // server refuses anything else there).
  const writer = mayWrite(current && hasClient() ? matrix().getRoom(current) : null);
  const bar = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return undefined;
    bar.current?.querySelector<HTMLElement>("button")?.focus();
    const escape = (ev: KeyboardEvent) => ev.key === "Escape" && showActions(null);
    document.addEventListener("keydown", escape);
    return () => document.removeEventListener("keydown", escape);
  }, [open]);
  if (!item.eventId || item.redacted) return null;
  const eventId = item.eventId;
  const text = item.content.msgtype === "m.text" && typeof item.content.body === "string" ? messageText(item.content).text : null;
  const remove = () => {
    if (window.confirm("Delete this message for everyone in the conversation?")) deleteMessage(eventId);
  };
  return (
    <>
      <button
        type="button"
        class="more"
        aria-expanded={open ? "true" : "false"}
        aria-label={`Actions for the message from ${item.mine ? "you" : item.senderName}`}
        onClick={() => showActions(open ? null : eventId)}
      >
        ⋯
      </button>
      {open && (
        <div class="actions" role="toolbar" aria-label="Message actions" ref={bar}>
          {writer && (
            <button type="button" class="plain" onClick={() => startReply(eventId)}>
              Reply
            </button>
          )}
          {(writer ? QUICK_REACTIONS : ANSWER_REACTIONS).map((key) => (
            <button type="button" class="plain" key={key} aria-label={`React ${key}`} onClick={() => toggleReaction(eventId, key)}>
              {key}
            </button>
          ))}
          <button type="button" class="plain" onClick={() => startForward(eventId)}>
            Forward
          </button>
          {!item.mine && (
            <button type="button" class="plain" onClick={() => markAsRead(eventId)}>
              Mark as read up to here
            </button>
          )}
          {writer && item.mine && text !== null && (
            <button type="button" class="plain" onClick={() => startEdit(eventId, text)}>
              Edit
            </button>
          )}
          {item.mine && (
            <button type="button" class="plain" onClick={remove}>
              Delete for everyone
            </button>
          )}
        </div>
      )}
    </>
  );
}
