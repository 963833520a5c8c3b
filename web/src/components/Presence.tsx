// Someone's presence: a shape and a word (for screen readers, and on hover), not colour alone.

import { useStore } from "../state";
import type { PresenceView } from "../state";

export function presenceWord(p: PresenceView | undefined): string {
  if (!p) return "offline";
  if (p.dnd) return "do not disturb";
  return p.state === "online" ? "online" : p.state === "unavailable" ? "away" : "offline";
}

const SHAPES: Record<string, string> = { online: "●", away: "◐", "do not disturb": "⊖", offline: "○" };

export function Presence({ userId, withWord }: { userId: string; withWord?: boolean }) {
  const p = useStore((s) => s.presence[userId]);
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
