// The sign of an alarm's kind, drawn (a ward PC may have no emoji font): a heart with a pulse
// for a cardiac arrest, a flame for fire, a bell for a nurse call, a raised hand for staff
// assist, a trace for a monitor, a triangle for an alert. Decorative: the word is always beside it.

import type { AlarmKind } from "../alarms";

const common = {
  width: 24,
  height: 24,
  viewBox: "0 0 24 24",
  fill: "none",
  stroke: "currentColor",
  "stroke-width": 2,
  "stroke-linecap": "round",
  "stroke-linejoin": "round",
  "aria-hidden": "true",
  class: "alarm-icon",
} as const;

const PATHS: Record<AlarmKind, string> = {
  cardiac_arrest: "M12 20s-7.5-4.6-9-9.3C1.8 7 4 4 7.2 4c2 0 3.6 1.1 4.8 2.8C13.2 5.1 14.8 4 16.8 4 20 4 22.2 7 21 10.7 19.5 15.4 12 20 12 20ZM5 12h3.5l1.5-3 2.5 6 1.5-3H19",
  fire: "M12 22c4 0 7-2.8 7-6.8 0-3.7-2.6-5.9-4.1-8.7-.5 2-1.6 3.1-2.9 3.7C12 7 11 4.3 8.5 2 8.6 5.8 5 8.5 5 13.7 5 18.9 8 22 12 22Zm0 0c-1.7 0-3-1.2-3-3 0-2 1.6-2.8 2.3-4.5.9 1 1.6 1.4 2.2 1.7.9.6 1.5 1.5 1.5 2.8 0 1.8-1.3 3-3 3Z",
  nurse_call: "M6 16V11a6 6 0 0 1 12 0v5l1.5 2h-15L6 16ZM10 21h4",
  staff_assist: "M8 13V5.5a1.5 1.5 0 0 1 3 0V11m0-6.5V3.5a1.5 1.5 0 0 1 3 0V11m0-6a1.5 1.5 0 0 1 3 0v6m0-3a1.5 1.5 0 0 1 3 0v6c0 4-3 7-7 7h-1c-3 0-4.5-1.5-6.5-4.5L3.5 13a1.6 1.6 0 0 1 2.6-1.8L8 13",
  monitor: "M3 4h18v13H3zM8 21h8M12 17v4M5 11h3l2-4 3 7 2-3h4",
  clinical_alert: "M12 3 2 20h20L12 3ZM12 10v4M12 17.5v.01",
  other: "M12 3 2 20h20L12 3ZM12 10v4M12 17.5v.01",
};

export function AlarmIcon({ kind }: { kind: AlarmKind }) {
  return (
    <svg {...common}>
      <path d={PATHS[kind]} />
    </svg>
  );
}
