// A role's handover history, newest first: who took it, who left it, who handed it to whom,
// the rota, an administrator; with the note given.

import { shiftTime } from "../roles";
import type { HistoryEntry } from "../roles";
import { Who } from "./Who";

function Change({ c }: { c: HistoryEntry }) {
  const from = c.from ? <Who userId={c.from} /> : null;
  const to = c.to ? <Who userId={c.to} /> : null;
  switch (c.reason) {
    case "swipe_in":
      return <>{to} swiped in</>;
    case "swipe_out":
      return <>{from} swiped out</>;
    case "handover":
      return (
        <>
          {from} handed over to {to}
        </>
      );
    case "rota":
      return to ? <>Rota: {to} started a shift</> : <>Rota: {from}'s shift ended</>;
    case "deactivated":
      return <>{from} no longer holds it (account deactivated)</>;
    case "admin":
      return (
        <>
          An administrator {to ? <>gave it to {to}</> : <>took it from {from}</>}
        </>
      );
    default:
      return (
        <>
          {c.reason}: {from} {to}
        </>
      );
  }
}

export function RoleHistory({ history }: { history: HistoryEntry[] | null }) {
  return (
    <section class="role-history" aria-label="Handover history">
      <h3>Handover history</h3>
      {!history ? (
        <p class="muted">Asking the server…</p>
      ) : !history.length ? (
        <p>Nobody has held this role yet.</p>
      ) : (
        <ol class="history">
          {history.map((c) => (
            <li key={c.seq}>
              <span class="shift-time">{shiftTime(c.ts)}</span> <Change c={c} />
              {c.note && <span class="muted"> — “{c.note}”</span>}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
