// A link from an answer or an escalation notice to the message it is about: brings it into
// view and points it out (loading the part of the conversation around it if need be).

import { openAt } from "../conversation";
import { useStore } from "../state";

export function ToMessage({ eventId, label }: { eventId: string; label: string }) {
  const roomId = useStore((s) => s.current);
  if (!roomId) return null;
  return (
    <button type="button" class="plain small to-message" onClick={() => openAt(roomId, eventId)}>
      {label}
    </button>
  );
}
