// One alarm of the live log in a dialog: what it is (kind, place, source, priority, patient,
// the source's text), what became of it (state, outcome, the rule that routed it) and its
// timeline (received, dispatched, escalated, reset…) with the status facts reported back to
// its source and who they name. Read again when the log sees the alarm change.

import { useEffect, useState } from "preact/hooks";

import type { AlarmDetail } from "../alarmadminstate";
import { alarmDetail, badOutcome, openAlarm, outcomeWord } from "../alarmlog";
import { KINDS, describeLocation, describePatient } from "../alarms";
import { failure, personName } from "../roles";
import { useStore } from "../state";
import { logTime } from "../time";
import { AlarmIcon } from "./AlarmIcon";
import { Dialog } from "./Dialog";

function words(kind: string): string {
  const w = kind.replace(/[_.]/g, " ");
  return w.charAt(0).toUpperCase() + w.slice(1);
}

/** A timeline entry's facts, in a line ("rule: arrests · level: emergency"). */
function detailWords(detail: unknown): string {
  if (typeof detail !== "object" || detail === null || Array.isArray(detail)) return "";
  return Object.entries(detail as Record<string, unknown>)
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== "object")
    .map(([k, v]) => `${k.replace(/_/g, " ")}: ${String(v)}`)
    .join(" · ");
}

export function AlarmTimeline(props: { alarmId: string; source: (id: string) => string }) {
  const changed = useStore((s) => s.alarmAdmin.log.rows.find((r) => r.alarm_id === props.alarmId)?.updated_ts ?? 0);
  const [alarm, setAlarm] = useState<AlarmDetail | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    let gone = false;
    alarmDetail(props.alarmId)
      .then((a) => gone || (setAlarm(a), setError("")))
      .catch((e) => gone || setError(failure(e, "The alarm cannot be shown")));
    return () => {
      gone = true;
    };
  }, [props.alarmId, changed]);
  const close = () => openAlarm(null);
  const kind = alarm && alarm.kind in KINDS ? alarm.kind : "other";
  return (
    <Dialog label="Alarm timeline" onClose={close} class="alarm-timeline">
      {!alarm ? (
        <p class={error ? "error" : "muted"} role={error ? "alert" : undefined}>
          {error || "Asking the server…"}
        </p>
      ) : (
        <>
          <h2 class={`tone-${KINDS[kind].tone}`}>
            <span class="alarm-kind">
              <AlarmIcon kind={kind} />
              {KINDS[kind].word}
            </span>
          </h2>
          <p class="alarm-location">{describeLocation(alarm.location ?? {}) || "No place given"}</p>
          <dl class="facts">
            <dt>From</dt>
            <dd>
              {props.source(alarm.integration)} <span class="muted">(its id {alarm.source_id}, over {alarm.protocol})</span>
            </dd>
            <dt>Received</dt>
            <dd>{logTime(alarm.received_ts)}</dd>
            <dt>Priority</dt>
            <dd>
              {alarm.priority}
              {alarm.level ? ` · sent as ${alarm.level}` : ""}
            </dd>
            {alarm.patient?.id && (
              <>
                <dt>Patient</dt>
                <dd>{describePatient(alarm.patient)}</dd>
              </>
            )}
            <dt>Text</dt>
            <dd class="alarm-text">{alarm.text}</dd>
            <dt>State</dt>
            <dd>
              {words(alarm.state)}
              {alarm.ended_ts ? ` · ended ${logTime(alarm.ended_ts)}` : ""}
            </dd>
            <dt>Outcome</dt>
            <dd class={`outcome-word ${alarm.outcome}`}>
              {badOutcome(alarm.outcome) && <span aria-hidden="true">⚠ </span>}
              {outcomeWord(alarm.outcome)}
            </dd>
            <dt>Rule</dt>
            <dd>{alarm.rule_id ?? "not routed yet"}</dd>
          </dl>
          <h3>Timeline</h3>
          <ol class="alarm-events" aria-label="Timeline">
            {alarm.timeline.map((e, i) => (
              <li key={i}>
                <span class="log-time">{logTime(e.ts)}</span> <strong>{words(e.kind)}</strong>
                {detailWords(e.detail) && <span class="muted"> — {detailWords(e.detail)}</span>}
              </li>
            ))}
          </ol>
          <h3>Reported to the source</h3>
          {alarm.status.length ? (
            <ol class="alarm-events" aria-label="Status reported">
              {alarm.status.map((f, i) => (
                <li key={i}>
                  <span class="log-time">{logTime(f.ts)}</span> <strong>{words(f.status)}</strong>
                  {f.user_id && <> by {personName(f.user_id)}</>}
                  {detailWords(f.detail) && <span class="muted"> — {detailWords(f.detail)}</span>}
                </li>
              ))}
            </ol>
          ) : (
            <p class="muted">Nothing yet.</p>
          )}
        </>
      )}
      <div class="dialog-actions">
        <button type="button" onClick={close}>
          Close
        </button>
      </div>
    </Dialog>
  );
}
