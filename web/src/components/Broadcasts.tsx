// The broadcasts panel: my broadcasts (newest first) with "New broadcast", the composer, or
// one broadcast's report.

import { useEffect, useState } from "preact/hooks";

import { describeAudience, myBroadcasts, openBroadcasts } from "../broadcasts";
import type { Mine } from "../broadcasts";
import { closeRoom } from "../conversation";
import { failure } from "../roles";
import { useStore } from "../state";
import { BroadcastComposer } from "./BroadcastComposer";
import { BroadcastReportView } from "./BroadcastReport";

export function Broadcasts() {
  const view = useStore((s) => s.broadcastView);
  const [mine, setMine] = useState<Mine | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    myBroadcasts()
      .then((m) => {
        setMine(m);
        setError("");
      })
      .catch((e) => setError(failure(e, "Your broadcasts cannot be shown")));
  }, [view]);
  const title = view === "" ? "New broadcast" : view ? "Broadcast report" : "Broadcasts";
  return (
    <>
      <header>
        <button class="plain back" onClick={view === null ? closeRoom : () => openBroadcasts(null)} aria-label="Back">
          Back
        </button>
        <h2>{title}</h2>
        {view === null && mine?.may_broadcast && (
          <button type="button" onClick={() => openBroadcasts("")}>
            New broadcast
          </button>
        )}
      </header>
      <div class="oncall" role="region" aria-label={title}>
        <p class="error" role="alert">
          {error}
        </p>
        {view === "" ? (
          mine ? (
            <BroadcastComposer departments={mine.departments} />
          ) : (
            <p class="muted">Asking the server…</p>
          )
        ) : view ? (
          <BroadcastReportView key={view} roomId={view} />
        ) : !mine ? (
          <p class="muted">Asking the server…</p>
        ) : !mine.broadcasts.length ? (
          <p>You have not sent a broadcast yet.</p>
        ) : (
          <ul class="role-list" aria-label="My broadcasts">
            {mine.broadcasts.map((b) => (
              <li key={b.broadcast_id} class="role-card">
                <button type="button" class="role-title" onClick={() => openBroadcasts(b.broadcast_id)}>
                  {b.title}
                </button>
                <span class="muted">
                  {" "}
                  to {describeAudience(b.audience)} · {b.recipients} people · {new Date(b.sent_ts).toLocaleString()}
                </span>
              </li>
            ))}
          </ul>
        )}
      </div>
    </>
  );
}
