// A role's rota for the next 24 hours: who, from when to when, and whether the shift has
// started; "no shifts" said in words.

import { useStore } from "../state";
import { shiftTime } from "../roles";
import type { Shift } from "../roles";
import { Who } from "./Who";

function state(s: Shift): string {
  if (s.uncovered) return " (not taken up)";
  if (s.started && !s.ended) return " (on shift now)";
  return "";
}

export function RoleRota({ shifts, failed }: { shifts: Shift[] | null; failed: boolean }) {
  // Redrawn as names arrive.
  useStore((s) => s.oncall.names);
  return (
    <section class="rota" aria-label="Rota, next 24 hours">
      <h3>Rota, next 24 hours</h3>
      {failed ? (
        <p class="error">The rota cannot be shown right now.</p>
      ) : !shifts ? (
        <p class="muted">Asking the server…</p>
      ) : !shifts.length ? (
        <p>No rota shifts in the next 24 hours.</p>
      ) : (
        <ol class="shifts">
          {shifts.map((s) => (
            <li key={`${s.user_id} ${s.start_ts}`}>
              <span class="shift-time">
                {shiftTime(s.start_ts)} – {shiftTime(s.end_ts)}
              </span>{" "}
              <strong>
                <Who userId={s.user_id} />
              </strong>
              {state(s)}
              {s.note && <span class="muted"> — {s.note}</span>}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
