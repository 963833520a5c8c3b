// Writing: text (kept as a draft per conversation, through a reload), a file, a voice note.
// Sending hands the message to the outbox, which keeps it until the server has it.

import { useEffect, useRef, useState } from "preact/hooks";

import { saveDraft, sendFile, sendText, typing } from "../chat";
import { store, useStore } from "../state";
import { startRecording } from "../voice";
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
  return (
    <button type="button" class="plain" aria-pressed={active ? "true" : "false"} onClick={click}>
      {noMic ? "No microphone" : active ? "Stop and send" : "Record"}
    </button>
  );
}

export function Composer({ roomId }: { roomId: string }) {
  const [text, setText] = useState(() => store.get().drafts[roomId] ?? "");
  const input = useRef<HTMLTextAreaElement>(null);
  const file = useRef<HTMLInputElement>(null);
  useEffect(() => {
    input.current?.focus();
  }, []);
  const change = (value: string) => {
    setText(value);
    saveDraft(roomId, value);
    typing(roomId, value.length > 0);
  };
  const submit = (ev?: Event) => {
    ev?.preventDefault();
    const body = text.trim();
    if (!body) return;
    change("");
    sendText(roomId, body);
  };
  return (
    <form class="composer" aria-label="Send a message" onSubmit={submit}>
      <button type="button" class="plain" onClick={() => file.current?.click()}>
        Attach
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
        }}
      />
      <button type="submit">Send</button>
    </form>
  );
}
