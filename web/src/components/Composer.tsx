// Writing: text (kept as a draft per conversation, through a reload; several lines; "@" to
// mention someone of the conversation), a file, a voice note.
// Sending hands the message to the outbox, which keeps it until the server has it.

import { useEffect, useRef, useState } from "preact/hooks";

import { cancelCompose, saveDraft, sendFile, sendText, typing } from "../compose";
import { findItem, goToLatest } from "../conversation";
import { askProblem, priorityContent } from "../priority";
import type { AskOption, Level } from "../priority";
import { mentionedIn, mentionOptions, mentionQuery } from "../mentions";
import type { Mentioned } from "../mentions";
import { previewOf } from "../renderers";
import { store, useStore } from "../state";
import { startRecording } from "../voice";
import { Microphone, Paperclip, Stop } from "./Icons";
import { Presence } from "./Presence";
import { PriorityPicker } from "./PriorityPicker";
import { QuickResponses } from "./QuickResponses";
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

/** A phone or tablet: Enter starts a new line there, and the Send button sends. */
function touchScreen(): boolean {
  return window.matchMedia("(pointer: coarse)").matches;
}

/** The people to choose from after "@": tapped, or chosen with the arrows and Enter. */
function MentionOptions(props: { options: Mentioned[]; active: number; onPick: (m: Mentioned) => void }) {
  return (
    // Focusable (not by Tab) so a tap on it does not count as leaving the text box.
    <ul class="mention-options" id="mention-options" role="listbox" aria-label="Mention someone" tabIndex={-1}>
      {props.options.map((m, i) => (
        <li
          key={m.userId}
          id={`mention-option-${i}`}
          role="option"
          aria-selected={i === props.active ? "true" : "false"}
          // The text box keeps the focus (and the phone its keyboard).
          onMouseDown={(ev) => ev.preventDefault()}
          onClick={() => props.onPick(m)}
        >
          <Presence userId={m.userId} />
          {m.name}
        </li>
      ))}
    </ul>
  );
}

export function Composer({ roomId }: { roomId: string }) {
  const [text, setText] = useState(() => store.get().drafts[roomId] ?? "");
  const editing = useStore((s) => s.editing);
  const replyingTo = useStore((s) => s.replyingTo);
  const input = useRef<HTMLTextAreaElement>(null);
  const file = useRef<HTMLInputElement>(null);
  const before = useRef("");
  /** People chosen from the "@" completion for the message being written. */
  const picked = useRef<Mentioned[]>([]);
  const [query, setQuery] = useState<{ start: number; text: string } | null>(null);
  const [active, setActive] = useState(0);
  const options = query ? mentionOptions(roomId, query.text) : [];
  // Priority and quick responses of the message being written (a new one, not an edit).
  const [level, setLevel] = useState<Level>("routine");
  const [asking, setAsking] = useState(false);
  const [responses, setResponses] = useState<AskOption[]>([]);
  const [firstAccept, setFirstAccept] = useState(false);
  const [deadlineMin, setDeadlineMin] = useState(0);
  const problem = asking ? askProblem(responses) : "";
  // On a phone the priority row opens from a button beside Attach, keeping the composer short.
  const [showPriority, setShowPriority] = useState(false);
  useEffect(() => {
    input.current?.focus();
  }, [replyingTo, editing?.eventId]);
  // Editing starts from the message's text; the draft comes back after.
  useEffect(() => {
    if (!editing) return;
    before.current = text;
    setText(editing.body);
    picked.current = mentionedIn(roomId, findItem(editing.eventId)?.content);
  }, [editing?.eventId]);
  const cancel = () => {
    if (editing) {
      setText(before.current);
      picked.current = [];
    }
    cancelCompose();
  };
  const change = (value: string) => {
    setText(value);
    if (!store.get().editing) saveDraft(roomId, value);
    typing(roomId, value.length > 0);
  };
  const lookForMention = (el: HTMLTextAreaElement) => {
    const q = mentionQuery(el.value, el.selectionStart ?? el.value.length);
    setQuery(q);
    if (q?.text !== query?.text) setActive(0);
  };
  const pick = (m: Mentioned) => {
    const el = input.current;
    if (!el || !query) return;
    const caret = el.selectionStart ?? text.length;
    const next = `${text.slice(0, query.start)}${m.name} ${text.slice(caret)}`;
    picked.current = [...picked.current, m];
    change(next);
    setQuery(null);
    const at = query.start + m.name.length + 1;
    requestAnimationFrame(() => {
      el.focus();
      el.setSelectionRange(at, at);
    });
  };
  const submit = (ev?: Event) => {
    ev?.preventDefault();
    const body = text.trim();
    if (!body) return;
    const wasEditing = Boolean(store.get().editing);
    if (wasEditing && body === store.get().editing?.body) return cancel();
    // Reading an earlier part of the conversation (a search result): back to the latest, where
    // the message goes.
    if (!wasEditing && !store.get().live) goToLatest();
    if (!wasEditing && problem) return;
    const blocks = wasEditing ? {} : priorityContent(level, asking ? responses : [], firstAccept, deadlineMin);
    sendText(roomId, body, picked.current, blocks);
    picked.current = [];
    if (!wasEditing) {
      setLevel("routine");
      setAsking(false);
      setResponses([]);
      setFirstAccept(false);
      setDeadlineMin(0);
      setShowPriority(false);
    }
    setQuery(null);
    if (wasEditing) {
      setText(before.current);
    } else {
      change("");
    }
  };
  const keydown = (ev: KeyboardEvent) => {
    if (options.length) {
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        const step = ev.key === "ArrowDown" ? 1 : -1;
        setActive((active + step + options.length) % options.length);
        return;
      }
      if ((ev.key === "Enter" || ev.key === "Tab") && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        pick(options[Math.min(active, options.length - 1)]);
        return;
      }
      if (ev.key === "Escape") {
        ev.preventDefault();
        setQuery(null);
        return;
      }
    }
    // On a desktop Enter sends and Shift+Enter starts a new line; on a phone Enter starts a
    // new line and the Send button sends.
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && !touchScreen()) submit(ev);
    if (ev.key === "Escape" && (editing || replyingTo)) cancel();
  };
  const listed = options.length > 0;
  return (
    <form class={`composer ${level}`} aria-label="Send a message" onSubmit={submit}>
      <Context onCancel={cancel} />
      <PriorityPicker
        open={showPriority || level !== "routine" || asking}
        level={editing ? "routine" : level}
        onLevel={setLevel}
        responses={asking}
        onResponses={() => setAsking(!asking)}
        disabled={Boolean(editing)}
      />
      {asking && !editing && (
        <QuickResponses
          options={responses}
          onOptions={setResponses}
          firstAccept={firstAccept}
          onFirstAccept={setFirstAccept}
          deadlineMin={deadlineMin}
          onDeadline={setDeadlineMin}
        />
      )}
      {listed && <MentionOptions options={options} active={Math.min(active, options.length - 1)} onPick={pick} />}
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
      <button
        type="button"
        class="plain priority-toggle"
        aria-expanded={showPriority ? "true" : "false"}
        aria-label="Priority and quick responses"
        disabled={Boolean(editing)}
        onClick={() => setShowPriority(!showPriority)}
      >
        <span aria-hidden="true">{level === "emergency" ? "‼" : "⚠"}</span>
      </button>
      <textarea
        ref={input}
        rows={1}
        placeholder="Message"
        aria-label="Message"
        autocomplete="off"
        aria-autocomplete="list"
        aria-controls={listed ? "mention-options" : undefined}
        aria-expanded={listed ? "true" : "false"}
        aria-activedescendant={listed ? `mention-option-${Math.min(active, options.length - 1)}` : undefined}
        enterkeyhint={touchScreen() ? "enter" : "send"}
        value={text}
        onInput={(ev) => {
          const el = ev.currentTarget as HTMLTextAreaElement;
          change(el.value);
          lookForMention(el);
        }}
        onClick={(ev) => lookForMention(ev.currentTarget as HTMLTextAreaElement)}
        onKeyUp={(ev) => {
          if (ev.key === "ArrowLeft" || ev.key === "ArrowRight" || ev.key === "Home" || ev.key === "End") {
            lookForMention(ev.currentTarget as HTMLTextAreaElement);
          }
        }}
        onBlur={(ev) => {
          const to = ev.relatedTarget as Node | null;
          if (!to || !(ev.currentTarget as HTMLTextAreaElement).form?.contains(to)) setQuery(null);
        }}
        onKeyDown={keydown}
      />
      <button type="submit" class={level !== "routine" && !editing ? `send-${level}` : undefined} disabled={Boolean(problem) && !editing}>
        {editing || level === "routine" ? "Send" : level === "urgent" ? "Send urgent" : "Send emergency"}
      </button>
    </form>
  );
}
