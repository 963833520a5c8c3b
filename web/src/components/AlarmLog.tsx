// The live alarm log: every alarm from every system, newest first, kept current every 2 s
// while it is on screen (alarmlog.ts). Each row: when, the kind (sign, word, colour), the
// place, the source, the source's state and what became of it (a failsafe or an undeliverable
// alarm stands out); filters by kind, state and outcome; a row opens the alarm's timeline.

import { useEffect } from "preact/hooks";

import { loadIntegrations } from "../alarmadmin";
import type { LogAlarm, LogFilters } from "../alarmadminstate";
import { OUTCOMES, STATES, badOutcome, followLog, loadEarlierAlarms, openAlarm, outcomeWord, setLogFilter } from "../alarmlog";
import { KINDS, describeLocation } from "../alarms";
import { useStore } from "../state";
import { logTime } from "../time";
import { AlarmIcon } from "./AlarmIcon";
import { AlarmTimeline } from "./AlarmTimeline";
import { KIND_LIST } from "./IntegrationForm";
import { memo } from "./memo";

const Row = memo(function Row({ alarm: a, source }: { alarm: LogAlarm; source: string }) {
  const kind = a.kind in KINDS ? a.kind : "other";
  const where = describeLocation(a.location ?? {}) || "no place given";
  const state = STATES.find(([k]) => k === a.state)?.[1] ?? a.state;
  return (
    <li class={`log-row tone-${KINDS[kind].tone}${badOutcome(a.outcome) ? " bad" : ""}`} data-alarm={a.alarm_id}>
      <button type="button" class="log-open" aria-haspopup="dialog" onClick={() => openAlarm(a.alarm_id)}>
        <span class="log-time">{logTime(a.received_ts)}</span>
        <span class="alarm-kind log-kind">
          <AlarmIcon kind={kind} />
          {KINDS[kind].word}
        </span>
        <span class="log-where">{where}</span>
        <span class="log-source">
          <span class="sr-only">from </span>
          {source}
        </span>
        <span class={`log-state ${a.state}`}>{state}</span>
        <span class={`log-outcome ${a.outcome}`}>
          {badOutcome(a.outcome) && <span aria-hidden="true">⚠ </span>}
          {outcomeWord(a.outcome)}
        </span>
      </button>
    </li>
  );
});

function Filter(props: { id: keyof LogFilters; label: string; any: string; options: [string, string][] }) {
  const value = useStore((s) => s.alarmAdmin.log.filters[props.id]);
  return (
    <div class="field">
      <label for={`log-${props.id}`}>{props.label}</label>
      <select id={`log-${props.id}`} value={value} onChange={(ev) => setLogFilter({ [props.id]: (ev.currentTarget as HTMLSelectElement).value })}>
        <option value="">{props.any}</option>
        {props.options.map(([k, w]) => (
          <option key={k} value={k}>
            {w}
          </option>
        ))}
      </select>
    </div>
  );
}

export function AlarmLog() {
  const log = useStore((s) => s.alarmAdmin.log);
  const integrations = useStore((s) => s.alarmAdmin.integrations);
  useEffect(() => followLog(), []);
  useEffect(() => {
    if (integrations === null) void loadIntegrations();
  }, []);
  const source = (id: string) => integrations?.find((i) => i.integration_id === id)?.name ?? id;
  return (
    <section aria-label="Live alarm log">
      <div class="log-filters">
        <Filter id="kind" label="Kind" any="Any kind" options={KIND_LIST.map((k) => [k, KINDS[k].word])} />
        <Filter id="state" label="State" any="Any state" options={STATES} />
        <Filter id="outcome" label="Outcome" any="Any outcome" options={OUTCOMES} />
      </div>
      <p class="log-status muted">
        {log.asOf ? `Live: checked ${logTime(log.asOf)}, every 2 seconds` : "Asking the server…"}
      </p>
      <p class="error" role="alert">
        {log.error}
      </p>
      <p class="sr-only" aria-live="polite">
        {log.announce}
      </p>
      {log.loaded && !log.rows.length ? (
        <p>No alarms{log.filters.kind || log.filters.state || log.filters.outcome ? " match these filters" : " yet"}.</p>
      ) : (
        <ul class="alarm-log" aria-label="Alarms, newest first">
          {log.rows.map((a) => (
            <Row key={a.alarm_id} alarm={a} source={source(a.integration)} />
          ))}
        </ul>
      )}
      {log.more && (
        <button type="button" class="plain" onClick={() => void loadEarlierAlarms()}>
          Load earlier alarms
        </button>
      )}
      {log.open && <AlarmTimeline key={log.open} alarmId={log.open} source={source} />}
    </section>
  );
}
