// In a conversation with someone on do-not-disturb: "⊖ On do-not-disturb until 14:00 — messages
// also go to Dr C (cover)", a shape and words, asked of the server when the conversation opens
// and kept current by their presence.

import { useEffect } from "preact/hooks";

import { lookUpDnd } from "../dnd";
import { comingTime } from "../time";
import { useStore } from "../state";

export function DndNotice({ userId }: { userId: string }) {
  const d = useStore((s) => s.dndOf[userId] ?? null);
  const name = useStore((s) => s.rooms.find((r) => r.other === userId)?.name ?? "");
  useEffect(() => {
    void lookUpDnd(userId).catch(() => undefined);
  }, [userId]);
  if (!d) return null;
  return (
    <p class="dnd-notice" role="status">
      <span class="dnd-mark" aria-hidden="true">
        ⊖{" "}
      </span>
      {name ? `${name} is on` : "On"} do-not-disturb until {comingTime(d.until)}
      {d.cover ? ` — messages also go to ${d.cover.name} (cover)` : " — no cover named"}
    </p>
  );
}
