// Forwarding a message: my conversations to choose from (most recent first, with a filter);
// choosing one asks to confirm, naming it and showing what will be sent; confirmed, it is sent
// there through the outbox, marked "Forwarded".

import { useEffect, useRef, useState } from "preact/hooks";

import { forward, startForward } from "../compose";
import { findItem } from "../conversation";
import { previewOf, rendererFor } from "../renderers";
import { useStore } from "../state";
import type { TimelineItem } from "../state";
import { Dialog } from "./Dialog";
import { Presence } from "./Presence";
import { showToast } from "./Toast";

/** The message as it will be sent: drawn as the timeline draws it, not to be used here. */
function Preview({ item }: { item: TimelineItem }) {
  const View = rendererFor(item.type, item.content, item.redacted).view;
  return (
    <div class="forward-preview" inert>
      <View item={item} preview />
    </div>
  );
}

export function ForwardDialog({ eventId }: { eventId: string }) {
  const rooms = useStore((s) => s.rooms);
  const current = useStore((s) => s.current);
  const [filter, setFilter] = useState("");
  /** The conversation chosen, to confirm. */
  const [to, setTo] = useState<{ id: string; name: string } | null>(null);
  const confirm = useRef<HTMLButtonElement>(null);
  const list = useRef<HTMLUListElement>(null);
  const item = findItem(eventId);
  const close = () => startForward(null);
  const q = filter.trim().toLowerCase();
  const shown = rooms.filter((r) => r.id !== current && (!q || r.name.toLowerCase().includes(q)));
  const preview = item ? previewOf(item.type, item.content, item.redacted) : "";
  useEffect(() => {
    if (to) confirm.current?.focus();
  }, [to]);
  const back = () => {
    const was = to?.id;
    setTo(null);
    // Back in the list, on the conversation that was chosen.
    setTimeout(() => list.current?.querySelector<HTMLElement>(`[data-room="${CSS.escape(was ?? "")}"]`)?.focus(), 0);
  };
  const send = () => {
    if (!to) return;
    const sent = forward(eventId, to.id);
    close();
    showToast(sent ? `Forwarded to ${to.name}` : "This message cannot be forwarded.");
  };
  if (to) {
    return (
      <Dialog label="Forward to" onClose={close} class="forward">
        <h2>Forward to {to.name}?</h2>
        <p class="muted">This message will be sent to {to.name}, marked "Forwarded":</p>
        {item && <Preview item={item} />}
        <div class="dialog-actions">
          <button type="button" class="plain" onClick={back}>
            Back
          </button>
          <button type="button" ref={confirm} onClick={send}>
            Forward
          </button>
        </div>
      </Dialog>
    );
  }
  return (
    <Dialog label="Forward to" onClose={close} class="forward">
      <h2>Forward to…</h2>
      {item && <p class="muted forward-what">{preview}</p>}
      <input
        type="search"
        aria-label="Find a conversation"
        placeholder="Find a conversation"
        value={filter}
        onInput={(ev) => setFilter((ev.currentTarget as HTMLInputElement).value)}
      />
      <ul class="pick-list" aria-label="Your conversations" ref={list}>
        {shown.map((r) => (
          <li key={r.id}>
            <button type="button" class="pick" data-room={r.id} onClick={() => setTo({ id: r.id, name: r.name })}>
              {r.other && <Presence userId={r.other} />}
              {r.name}
            </button>
          </li>
        ))}
      </ul>
      {shown.length === 0 && <p class="muted">No other conversation{q ? " matches" : ""}.</p>}
      <div class="dialog-actions">
        <button type="button" class="plain" onClick={close}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}
