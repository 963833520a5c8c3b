// Forwarding a message: my conversations to choose from (most recent first, with a filter);
// one tap sends it there through the outbox, marked "Forwarded".

import { useState } from "preact/hooks";

import { forward, startForward } from "../compose";
import { findItem } from "../conversation";
import { previewOf } from "../renderers";
import { useStore } from "../state";
import { Dialog } from "./Dialog";
import { Presence } from "./Presence";
import { showToast } from "./Toast";

export function ForwardDialog({ eventId }: { eventId: string }) {
  const rooms = useStore((s) => s.rooms);
  const current = useStore((s) => s.current);
  const [filter, setFilter] = useState("");
  const item = findItem(eventId);
  const close = () => startForward(null);
  const q = filter.trim().toLowerCase();
  const shown = rooms.filter((r) => r.id !== current && (!q || r.name.toLowerCase().includes(q)));
  const send = (roomId: string, name: string) => {
    const sent = forward(eventId, roomId);
    close();
    showToast(sent ? `Forwarded to ${name}` : "This message cannot be forwarded.");
  };
  return (
    <Dialog label="Forward to" onClose={close} class="forward">
      <h2>Forward to…</h2>
      {item && <p class="muted forward-what">{previewOf(item.type, item.content, item.redacted)}</p>}
      <input
        type="search"
        aria-label="Find a conversation"
        placeholder="Find a conversation"
        value={filter}
        onInput={(ev) => setFilter((ev.currentTarget as HTMLInputElement).value)}
      />
      <ul class="pick-list" aria-label="Your conversations">
        {shown.map((r) => (
          <li key={r.id}>
            <button type="button" class="pick" onClick={() => send(r.id, r.name)}>
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
