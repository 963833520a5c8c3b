// The conversations, most recent first, with unread counts and the other person's presence.

import { memo } from "./memo";

import { openRoom } from "../conversation";
import { waitingInWords } from "../outbox";
import { useStore } from "../state";
import type { RoomSummary } from "../state";
import { clockTime } from "../time";
import { Presence } from "./Presence";
import { RoleLine } from "./RoleLine";

const Item = memo(function Item({ room, current, notSent }: { room: RoomSummary; current: boolean; notSent: string }) {
  return (
    <li
      tabIndex={0}
      data-room={room.id}
      aria-current={current ? "true" : "false"}
      onClick={() => openRoom(room.id)}
      onKeyDown={(ev) => ev.key === "Enter" && openRoom(room.id)}
    >
      <span class="name">
        {room.other && <Presence userId={room.other} />}
        {room.name}
      </span>
      <span class="time">{room.lastTs ? clockTime(room.lastTs) : ""}</span>
      <span class="last">
        {notSent && (
          <strong class="not-sent-count">
            <span aria-hidden="true">⚠ </span>
            {notSent} not sent ·{" "}
          </strong>
        )}
        {room.preview}
      </span>
      {room.role && <RoleLine roleId={room.role} roomId={room.id} />}
      {room.unread > 0 && (
        <span class="badge" aria-label={`${room.unread} unread`}>
          {room.unread}
        </span>
      )}
    </li>
  );
});

export function ConversationList() {
  const rooms = useStore((s) => s.rooms);
  const filter = useStore((s) => s.filter);
  const current = useStore((s) => s.current);
  // Messages (reactions, deletions) not sent, by conversation: seen without opening each one.
  const failed = useStore((s) => s.outbox.filter((e) => e.state === "failed"));
  const notSent = (roomId: string) => waitingInWords(failed.filter((e) => e.roomId === roomId)).words;
  const shown = filter ? rooms.filter((r) => r.name.toLowerCase().includes(filter)) : rooms;
  return (
    <ul class="rooms" aria-label="Conversations">
      {shown.map((r) => (
        <Item key={r.id} room={r} current={r.id === current} notSent={notSent(r.id)} />
      ))}
    </ul>
  );
}
