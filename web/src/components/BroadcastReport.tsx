// A broadcast's report for its sender: "Read by 412 of 530, acknowledged by 390 of 530", who
// has not read and who has not acknowledged (the server names at most 500 of each; the totals
// are exact), a Remind button (the server allows one reminder every five minutes and says how
// long to wait), and the way into the broadcast's conversation.

import { useCallback, useEffect, useState } from "preact/hooks";

import { broadcastReport, describeAudience, remind, reportLine } from "../broadcasts";
import type { BroadcastReport, ReportPerson } from "../broadcasts";
import { openRoom } from "../conversation";
import { Refused, failure } from "../roles";
import { showToast } from "./Toast";

function People({ label, people, total }: { label: string; people: ReportPerson[]; total: number }) {
  if (!total) return null;
  return (
    <section aria-label={label}>
      <h3>
        {label} ({total})
      </h3>
      <ul class="people">
        {people.map((p) => (
          <li key={p.user_id}>
            <span class="person">{p.display_name ?? p.user_id}</span>
            {p.department && <span class="role">{p.department}</span>}
          </li>
        ))}
      </ul>
      {total > people.length && <p class="muted">and {total - people.length} more</p>}
    </section>
  );
}

export function BroadcastReportView({ roomId }: { roomId: string }) {
  const [r, setReport] = useState<BroadcastReport | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const load = useCallback(() => {
    broadcastReport(roomId)
      .then((rep) => {
        setReport(rep);
        setError("");
      })
      .catch((e) => setError(failure(e, "The report cannot be shown")));
  }, [roomId]);
  useEffect(load, [roomId]);
  const doRemind = async () => {
    setBusy(true);
    setError("");
    try {
      const n = await remind(roomId);
      showToast(n ? `Reminded ${n} ${n === 1 ? "person" : "people"}` : "Everyone has already done so");
      load();
    } catch (e) {
      if (e instanceof Refused && e.status === 429) setError("A reminder was sent less than five minutes ago. Try again later.");
      else setError(failure(e, "The reminder was not sent"));
    } finally {
      setBusy(false);
    }
  };
  if (!r) {
    return (
      <>
        <p class="error" role="alert">
          {error}
        </p>
        {!error && <p class="muted">Asking the server…</p>}
      </>
    );
  }
  const outstanding = r.acknowledge ? r.not_acknowledged_total : r.not_read_total;
  return (
    <section class="broadcast-report" aria-label={`Report on ${r.title}`}>
      <h3>{r.title}</h3>
      <p class="muted">
        To {describeAudience(r.audience)} · sent {new Date(r.sent_ts).toLocaleString()}
      </p>
      <p class="broadcast-count" aria-live="polite">
        {reportLine(r)}
      </p>
      <p class="muted">Delivered to {r.delivered} of {r.recipients}</p>
      <p class="error" role="alert">
        {error}
      </p>
      <div class="role-actions">
        <button type="button" disabled={busy || outstanding === 0} onClick={() => void doRemind()}>
          Remind {outstanding} {outstanding === 1 ? "person" : "people"}
        </button>
        <button type="button" class="plain" onClick={load}>
          Refresh
        </button>
        <button type="button" class="plain" onClick={() => openRoom(r.room_id)}>
          Open the conversation
        </button>
      </div>
      <People label="Not read yet" people={r.not_read} total={r.not_read_total} />
      {r.acknowledge && <People label="Not acknowledged yet" people={r.not_acknowledged} total={r.not_acknowledged_total} />}
    </section>
  );
}
