// The administrators' alarm screens, as tabs: integration accounts (hospital systems and their
// keys), alarm rules, clinical alert topics, the live alarm log, and reports to systems that
// failed or wait for a retry. Shown to administrators only (whoami says so); the server checks every call, and a
// refusal is shown in its words, never hidden.

import { useRef } from "preact/hooks";

import { updateAlarmAdmin } from "../alarmadmin";
import type { AdminTab } from "../alarmadminstate";
import { closeRoom } from "../conversation";
import { useStore } from "../state";
import { AlarmLog } from "./AlarmLog";
import { AlarmRules } from "./AlarmRules";
import { AlertTopics } from "./AlertTopics";
import { IntegrationList } from "./IntegrationList";
import { OutboxFailures } from "./OutboxFailures";

const TABS: [AdminTab, string][] = [
  ["integrations", "Integrations"],
  ["rules", "Alarm rules"],
  ["topics", "Alert topics"],
  ["log", "Live log"],
  ["outbox", "Reports"],
];

export function AlarmAdmin() {
  const tab = useStore((s) => s.alarmAdmin.tab);
  const admin = useStore((s) => s.oncall.admin);
  const list = useRef<HTMLDivElement>(null);
  // Arrow keys move along the tabs (and choose), as a tab list does.
  const keydown = (ev: KeyboardEvent) => {
    const at = TABS.findIndex(([t]) => t === tab);
    const to =
      ev.key === "ArrowRight" ? (at + 1) % TABS.length : ev.key === "ArrowLeft" ? (at + TABS.length - 1) % TABS.length : ev.key === "Home" ? 0 : ev.key === "End" ? TABS.length - 1 : -1;
    if (to < 0) return;
    ev.preventDefault();
    updateAlarmAdmin({ tab: TABS[to][0] });
    list.current?.querySelectorAll<HTMLElement>("[role=tab]")[to]?.focus();
  };
  return (
    <>
      <header>
        <button class="plain back" onClick={closeRoom} aria-label="Back to conversations">
          Back
        </button>
        <h2>Alarms and integrations</h2>
      </header>
      {!admin ? (
        <div class="oncall">
          <p>These screens are for administrators.</p>
        </div>
      ) : (
        <div class="oncall alarm-admin">
          <div class="admin-tabs" role="tablist" aria-label="Alarm administration" ref={list} onKeyDown={keydown}>
            {TABS.map(([t, label]) => (
              <button
                key={t}
                type="button"
                role="tab"
                id={`admin-tab-${t}`}
                aria-selected={t === tab}
                aria-controls={t === tab ? `admin-panel-${t}` : undefined}
                tabIndex={t === tab ? 0 : -1}
                class={`admin-tab${t === tab ? " chosen" : ""}`}
                onClick={() => updateAlarmAdmin({ tab: t })}
              >
                {label}
              </button>
            ))}
          </div>
          <div role="tabpanel" id={`admin-panel-${tab}`} aria-labelledby={`admin-tab-${tab}`} class="admin-panel">
            {tab === "integrations" && <IntegrationList />}
            {tab === "rules" && <AlarmRules />}
            {tab === "topics" && <AlertTopics />}
            {tab === "log" && <AlarmLog />}
            {tab === "outbox" && <OutboxFailures />}
          </div>
        </div>
      )}
    </>
  );
}
