// Reports to hospital systems that did not get through: those that failed for good (and why),
// and those waiting to be sent or retried (how many tries so far, when the next is due, the
// last reason). Newest first; read again on request.

import { useEffect } from "preact/hooks";

import { loadOutbox } from "../alarmadmin";
import type { Report } from "../alarmadminstate";
import { useStore } from "../state";
import { logTime } from "../time";
import { memo } from "./memo";

function what(r: Report): string {
  const p = r.payload ?? {};
  const type = typeof p.type === "string" ? p.type : "";
  if (type === "webhook.test") return "Test report";
  const status = typeof p.status === "string" ? p.status : "";
  return status ? `Status “${status}”` : type || "Report";
}

const Item = memo(function Item({ report: r, source }: { report: Report; source: string }) {
  const failed = r.outcome === "failed";
  return (
    <li class={`report-card${failed ? " failed" : " pending"}`}>
      <p class="report-head">
        <span class={`state-badge ${failed ? "revoked" : "waiting"}`}>
          <span aria-hidden="true">{failed ? "✕ " : "↻ "}</span>
          {failed ? "Failed for good" : r.attempts ? "Waiting to retry" : "Waiting to be sent"}
        </span>{" "}
        <strong>{what(r)}</strong> to {source} <span class="muted">over {r.channel}</span>
      </p>
      <p class="muted">
        {r.alarm_id ? `Alarm ${r.alarm_id} · ` : ""}
        {r.attempts} {r.attempts === 1 ? "try" : "tries"} · queued {logTime(r.created_ts)}
        {failed ? (r.done_ts ? ` · given up ${logTime(r.done_ts)}` : "") : ` · next ${logTime(r.due_ts)}`}
      </p>
      {r.reason && (
        <p>
          <span class="alarm-label">Why: </span>
          {r.reason}
        </p>
      )}
    </li>
  );
});

export function OutboxFailures() {
  const reports = useStore((s) => s.alarmAdmin.outbox);
  const integrations = useStore((s) => s.alarmAdmin.integrations);
  const error = useStore((s) => s.alarmAdmin.errors.outbox ?? "");
  useEffect(() => void loadOutbox(), []);
  const source = (id: string) => integrations?.find((i) => i.integration_id === id)?.name ?? id;
  const failed = reports?.filter((r) => r.outcome === "failed").length ?? 0;
  return (
    <section aria-label="Reports to systems">
      <div class="admin-bar">
        <p class="muted">Status reports to hospital systems that failed, or wait for a retry.</p>
        <button type="button" class="plain" onClick={() => void loadOutbox()}>
          Check again
        </button>
      </div>
      <p class="error" role="alert">
        {error}
      </p>
      {reports === null ? (
        !error && <p class="muted">Asking the server…</p>
      ) : !reports.length ? (
        <p>Every report got through: none failed, none waiting.</p>
      ) : (
        <>
          <p>
            {failed} failed for good · {reports.length - failed} waiting
          </p>
          <ul class="report-list" aria-label="Reports">
            {reports.map((r) => (
              <Item key={r.report_id} report={r} source={source(r.integration_id)} />
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
