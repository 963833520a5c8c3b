// Someone's presence as the server said it: a shape and a word (for screen readers, and on
// hover), not colour alone; nothing at all when the server has said nothing.

import { useStore } from "../state";
import type { PresenceView } from "../state";

export function presenceWord(p: PresenceView): string {
  if (p.dnd) return "do not disturb";
  return p.state === "online" ? "online" : p.state === "unavailable" ? "away" : "offline";
}

const SHAPES: Record<string, string> = { online: "●", away: "◐", "do not disturb": "⊖", offline: "○" };

export function Presence({ userId, withWord }: { userId: string; withWord?: boolean }) {
  const p = useStore((s) => s.presence[userId]);
  // Nothing said by the server: nothing shown (not a guess of "offline").
  if (!p) return null;
  const word = presenceWord(p);
  const cls = word === "do not disturb" ? "dnd" : word === "away" ? "unavailable" : word;
  return (
    <>
      <span class={`presence ${cls}`} role="img" aria-label={word} title={word}>
        {SHAPES[word]}
      </span>
      {withWord && <span class="presence-word">{word}</span>}
    </>
  );
}
