// Who has a message of mine (or a clinical alert sent to me and others: who has seen it): read
// (and when), delivered but not read yet, not delivered yet. From the server's status of the
// message; refreshed when its counts change.

import { useEffect, useRef, useState } from "preact/hooks";

import { nameIn as ownName } from "../rolechat";
import { matrix, token } from "../signedin";
import { store, useStore } from "../state";
import { fetchStatus } from "../statuses";
import type { Recipient, StatusDetail } from "../statuses";
import { clockTime } from "../time";

function nameOf(roomId: string, userId: string): string {
  const c = matrix();
  const room = c.getRoom(roomId);
  return (room ? ownName(room, userId) : undefined) ?? c.getUser(userId)?.displayName ?? userId;
}

/** "Dr Priya Shah, as Medical Registrar On-call": who received it, and for which role. */
function recipientName(roomId: string, r: Recipient): string {
  const name = nameOf(roomId, r.user_id);
  return r.as_role ? `${name}, as ${r.as_role.name}` : name;
}

export function ReadersDialog({ roomId, eventId }: { roomId: string; eventId: string }) {
  const counts = useStore((s) => s.statuses[eventId]);
  // Redrawn as people's own names arrive (those seated for a role).
  useStore((s) => s.oncall.names);
  const [detail, setDetail] = useState<StatusDetail | null>(null);
  const [failed, setFailed] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let live = true;
    fetchStatus(token(), roomId, eventId)
      .then((d) => {
        if (!live) return;
        setDetail(d);
        setFailed(false);
        store.update((s) => ({ statuses: { ...s.statuses, [eventId]: d.counts } }));
      })
      .catch(() => live && setFailed(true));
    return () => {
      live = false;
    };
  }, [roomId, eventId, counts?.delivered, counts?.read, counts?.recipients]);
  const close = () => {
    store.update({ readersFor: null });
    const at = `[data-event="${CSS.escape(eventId)}"]`;
    document.querySelector<HTMLElement>(`${at} button.status, ${at} .alarm-seen button`)?.focus();
  };
  useEffect(() => {
    box.current?.focus();
    const escape = (ev: KeyboardEvent) => {
      if (ev.key === "Escape") close();
    };
    document.addEventListener("keydown", escape);
    return () => document.removeEventListener("keydown", escape);
  }, []);
  const list = (people: Recipient[], cls: string, when?: (r: Recipient) => number | null) => (
    <ul class={cls}>
      {people.map((r) => {
        const ts = when?.(r);
        return <li key={r.user_id}>{`${recipientName(roomId, r)}${ts ? ` at ${clockTime(ts)}` : ""}`}</li>;
      })}
    </ul>
  );
  const recipients = detail?.recipients ?? [];
  const read = recipients.filter((r) => r.read_ts !== null);
  const delivered = recipients.filter((r) => r.read_ts === null && r.delivered_ts !== null);
  const waiting = recipients.filter((r) => r.read_ts === null && r.delivered_ts === null);
  return (
    <div
      class="readers"
      role="dialog"
      aria-modal="true"
      aria-label="Who has read this message"
      tabIndex={-1}
      ref={box}
    >
      {detail ? (
        <>
          <h3>Read ({read.length})</h3>
          {list(read, "read-list", (r) => r.read_ts)}
          <h3>Delivered, not read yet ({delivered.length})</h3>
          {list(delivered, "delivered-list", (r) => r.delivered_ts)}
          <h3>Not delivered yet ({waiting.length})</h3>
          {list(waiting, "unread-list")}
        </>
      ) : failed ? (
        <p class="error">Who has read it cannot be shown right now.</p>
      ) : (
        <p class="muted">Asking the server…</p>
      )}
      <button type="button" onClick={close}>
        Close
      </button>
    </div>
  );
}
