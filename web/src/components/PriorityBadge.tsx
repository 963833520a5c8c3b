// "⚠ URGENT" (amber) or "‼ EMERGENCY" (red): a sign and the word, never colour alone.

import type { Level } from "../priority";

export function PriorityBadge({ level }: { level: Exclude<Level, "routine"> }) {
  return (
    <span class={`priority-badge ${level}`}>
      <span aria-hidden="true">{level === "emergency" ? "‼ " : "⚠ "}</span>
      {level === "emergency" ? "EMERGENCY" : "URGENT"}
    </span>
  );
}
