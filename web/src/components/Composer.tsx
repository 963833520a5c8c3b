// Writing: text (kept as a draft per conversation, through a reload), a file, a voice note.
// Sending hands the message to the outbox, which keeps it until the server has it.

import { useEffect, useRef, useState } from "preact/hooks";

import { cancelCompose, saveDraft, sendFile, sendText, typing } from "../compose";
import { findItem } from "../conversation";
import { previewOf } from "../renderers";
import { store, useStore } from "../state";
import { startRecording } from "../voice";
import { Microphone, Paperclip, Stop } from "./Icons";
import type { VoiceNote } from "../voice";

/** The voice note being recorded; outlives the composer (which is redrawn per conversation). */
let stopRecording: (() => Promise<VoiceNote>) | null = null;

function VoiceButton({ roomId }: { roomId: string }) {
  const recording = useStore((s) => s.recording);
  const [noMic, setNoMic] = useState(false);
  const active = recording === roomId;
  const click = async () => {
    if (!recording) {
      try {
        stopRecording = await startRecording();
        store.update({ recording: roomId });
      } catch {
        setNoMic(true);
      }
      return;
    }
    if (!active || !stopRecording) return;
    const stop = stopRecording;
    stopRecording = null;
    store.update({ recording: null });
    const note = await stop();
    const ext = note.blob.type.includes("ogg") ? "ogg" : note.blob.type.includes("mp4") ? "m4a" : "webm";
    sendFile(roomId, new File([note.blob], `Voice note.${ext}`, { type: note.blob.type }), note.durationMs);
  };
  const label = noMic ? "No microphone" : active ? "Stop and send" : "Record";
  return (
    <button type="button" class="plain" aria-pressed={active ? "true" : "false"} aria-label={label} onClick={click}>
      {active ? <Stop /> : <Microphone />}
      <span class={active ? "word keep" : "word"}>{label}</span>
    </button>
  );
}

/** "Replying to Ben Carter: …" or "Editing your message", with a way out. */
function Context({ onCancel }: { onCancel: () => void }) {
  const replyingTo = useStore((s) => s.replyingTo);
  const editing = useStore((s) => s.editing);
  if (!replyingTo && !editing) return null;
  const target = replyingTo ? findItem(replyingTo) : undefined;
  const what = editing
    ? "Editing your message"
    : `Replying to ${target?.senderName ?? "a message"}${target ? `: ${previewOf(target.type, target.content, target.redacted)}` : ""}`;
  return (
    <div class="compose-context">
      <span>{what}</span>
      <button type="button" class="plain" aria-label={editing ? "Cancel the edit" : "Cancel the reply"} onClick={onCancel}>
        ✕
      </button>
    </div>
  );
}

export function Composer({ roomId }: { roomId: string }) {
  const [text, setText] = useState(() => store.get().drafts[roomId] ?? "");
  const editing = useStore((s) => s.editing);
  const replyingTo = useStore((s) => s.replyingTo);
  const input = useRef<HTMLTextAreaElement>(null);
  const file = useRef<HTMLInputElement>(null);
  const before = useRef("");
  useEffect(() => {
    input.current?.focus();
  }, [replyingTo, editing?.eventId]);
  // Editing starts from the message's text; the draft comes back after.
  useEffect(() => {
    if (!editing) return;
    before.current = text;
    setText(editing.body);
  }, [editing?.eventId]);
  const cancel = () => {
    if (editing) setText(before.current);
    cancelCompose();
  };
  const change = (value: string) => {
    setText(value);
    if (!store.get().editing) saveDraft(roomId, value);
    typing(roomId, value.length > 0);
  };
  const submit = (ev?: Event) => {
    ev?.preventDefault();
    const body = text.trim();
    if (!body) return;
    const wasEditing = Boolean(store.get().editing);
    if (wasEditing && body === store.get().editing?.body) return cancel();
    sendText(roomId, body);
    if (wasEditing) {
      setText(before.current);
    } else {
      change("");
    }
  };
  return (
    <form class="composer" aria-label="Send a message" onSubmit={submit}>
      <Context onCancel={cancel} />
      <button type="button" class="plain" aria-label="Attach" onClick={() => file.current?.click()}>
        <Paperclip />
        <span class="word">Attach</span>
      </button>
      <input
        ref={file}
        type="file"
        accept="image/*,audio/*,video/*,application/pdf"
        aria-label="Attach a file"
        hidden
        onChange={(ev) => {
          const el = ev.currentTarget as HTMLInputElement;
          const chosen = el.files?.[0];
          if (chosen) sendFile(roomId, chosen);
          el.value = "";
        }}
      />
      <VoiceButton roomId={roomId} />
      <textarea
        ref={input}
        rows={1}
        placeholder="Message"
        aria-label="Message"
        autocomplete="off"
        value={text}
        onInput={(ev) => change((ev.currentTarget as HTMLTextAreaElement).value)}
        onKeyDown={(ev) => {
          if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) submit(ev);
          if (ev.key === "Escape" && (editing || replyingTo)) cancel();
        }}
      />
      <button type="submit">Send</button>
    </form>
  );
}
