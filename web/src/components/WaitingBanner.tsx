// The banner that stays until I answer: every urgent or emergency message still escalating that
// waits for my answer (waiting.ts, as the server says), red with a siren sign for an emergency,
// amber for urgent, each with who sent it, where, when, and a button to it. Sign and word as
// well as colour (UX.md); at the top of every screen, above the conversation list.

import { openAt } from "../conversation";
import { hasClient, matrix } from "../signedin";
import { useStore } from "../state";
import { clockTime } from "../time";

function whoAndWhere(sender: string, roomId: string): { who: string; where: string } {
  if (!hasClient()) return { who: sender, where: "a conversation" };
  const room = matrix().getRoom(roomId);
  const who = room?.getMember(sender)?.name ?? matrix().getUser(sender)?.displayName ?? sender;
  return { who, where: room?.name ?? "a conversation" };
}

export function WaitingBanner() {
  const waiting = useStore((s) => s.waiting);
  // (Names follow the rooms as they load.)
  useStore((s) => s.rooms);
  if (!waiting.length) return null;
  const emergency = waiting.some((w) => w.level === "emergency");
  return (
    <div class={`waiting-banner ${emergency ? "emergency" : "urgent"}`} role="alert" aria-label="Waiting for your answer">
      <ul>
        {waiting.map((w) => {
          const { who, where } = whoAndWhere(w.sender, w.room_id);
          return (
            <li key={w.event_id} class={w.level}>
              <span aria-hidden="true">{w.level === "emergency" ? "‼ " : "! "}</span>
              <strong>{w.level === "emergency" ? "EMERGENCY" : "URGENT"}</strong> from {who} in {where} at {clockTime(w.sent_ts)}:
              waiting for your answer{" "}
              <button type="button" class="small" onClick={() => openAt(w.room_id, w.event_id)}>
                Open
              </button>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
