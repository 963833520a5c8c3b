// The alarm rules in the order they are tried, each with what it matches and what it does (and
// how it escalates; a topic rule names its topic), to edit or delete (asked first); a new rule; and the failsafe rule, drawn
// apart: what no rule covers, and what reaches nobody, goes there.

import { useEffect, useState } from "preact/hooks";

import { adminRoles } from "../admin";
import { loadIntegrations, loadRules, removeRule, updateAlarmAdmin } from "../alarmadmin";
import type { AlarmRule, StoredRule, Target } from "../alarmadminstate";
import { failure, personName } from "../roles";
import { loadTopics } from "../topics";
import type { RoleView } from "../roles";
import { actionWords, matchWords, policyWords, targetWord } from "../rulewords";
import { useStore } from "../state";
import { logTime } from "../time";
import { RuleForm } from "./RuleForm";
import { showToast } from "./Toast";

function RuleCard(props: {
  rule: AlarmRule;
  stored: StoredRule | null;
  order: number | null;
  target: (t: Target) => string;
  integrationName: (id: string) => string;
  topicName: (id: string) => string;
  onError: (e: string) => void;
}) {
  const { rule, stored } = props;
  const failsafe = rule.id === "failsafe";
  const remove = async () => {
    const what = failsafe ? "the failsafe rule you set (the built-in one applies again)" : `the rule ${rule.name}`;
    if (!window.confirm(`Delete ${what}? Alarms it covered go by the other rules, or to the failsafe.`)) return;
    try {
      await removeRule(rule.id);
      showToast(`Deleted ${rule.name}`);
    } catch (e) {
      props.onError(failure(e, "The rule was not deleted"));
    }
  };
  return (
    <li class={`rule-card${failsafe ? " failsafe" : ""}${rule.enabled ? "" : " off"}`} aria-labelledby={`rule-${rule.id}`}>
      <h3 id={`rule-${rule.id}`}>
        {props.order !== null && <span class="rule-order">{props.order}.</span>}
        {failsafe && (
          <span class="state-badge failsafe-badge">
            <span aria-hidden="true">⚠ </span>Failsafe
          </span>
        )}
        {rule.name} <span class="muted">({rule.id})</span>
        {!rule.enabled && <span class="state-badge off">Off</span>}
      </h3>
      <p>
        <span class="alarm-label">Matches: </span>
        {failsafe ? "Every alarm no other rule covers, and any that reaches nobody" : matchWords(rule, props.integrationName)}
      </p>
      <p>
        <span class="alarm-label">Does: </span>
        {actionWords(rule, props.target, props.topicName)}
      </p>
      {rule.action.mode !== "record" && <p class="muted">{policyWords(rule, props.target)}</p>}
      {stored ? (
        <p class="muted">
          Version {stored.version} · changed {logTime(stored.updated_ts)}
          {stored.updated_by ? ` by ${personName(stored.updated_by)}` : ""}
        </p>
      ) : (
        <p class="muted">Built in: the organisation's administrators, until you set your own.</p>
      )}
      <div class="role-actions">
        <button type="button" class="plain" aria-label={`Edit ${rule.name}`} onClick={() => updateAlarmAdmin({ editingRule: rule.id })}>
          {stored ? "Edit" : "Set a failsafe rule"}
        </button>
        {stored && (
          <button type="button" class="plain" aria-label={`Delete ${rule.name}`} onClick={() => void remove()}>
            Delete
          </button>
        )}
      </div>
    </li>
  );
}

export function AlarmRules() {
  const rules = useStore((s) => s.alarmAdmin.rules);
  const editing = useStore((s) => s.alarmAdmin.editingRule);
  const integrations = useStore((s) => s.alarmAdmin.integrations);
  const topics = useStore((s) => s.alarmAdmin.topics);
  const error = useStore((s) => s.alarmAdmin.errors.rules ?? "");
  const [roles, setRoles] = useState<RoleView[]>([]);
  const [local, setLocal] = useState("");
  /** Bumped by "Reload the rule": the form starts again from what the server has now. */
  const [round, setRound] = useState(0);
  useEffect(() => {
    void loadRules();
    if (integrations === null) void loadIntegrations();
    if (topics === null) void loadTopics();
    adminRoles()
      .then(setRoles)
      .catch((e) => setLocal(failure(e, "The roles cannot be listed")));
  }, []);
  const roleName = (id: string) => roles.find((r) => r.role_id === id)?.name ?? id;
  const target = (t: Target) => targetWord(t, roleName, (u) => personName(u));
  const integrationName = (id: string) => integrations?.find((i) => i.integration_id === id)?.name ?? id;
  const topicName = (id: string) => topics?.find((t) => t.id === id)?.name ?? id;
  const ordinary = rules?.rules.filter((r) => r.rule.id !== "failsafe") ?? [];
  const storedFailsafe = rules?.rules.find((r) => r.rule.id === "failsafe") ?? null;
  if (editing !== null && rules) {
    const stored = rules.rules.find((r) => r.rule.id === editing) ?? null;
    const builtIn = editing === "failsafe" && !stored ? rules.failsafe : null;
    if (editing && !stored && !builtIn) {
      return (
        <section aria-label="Alarm rules">
          <p>That rule is gone: someone deleted it.</p>
          <button type="button" onClick={() => updateAlarmAdmin({ editingRule: null })}>
            Back to the rules
          </button>
        </section>
      );
    }
    return (
      <section aria-label="Alarm rules">
        <RuleForm
          key={`${editing} ${stored?.version ?? 0} ${round}`}
          stored={stored}
          failsafe={builtIn}
          roles={roles}
          integrations={integrations ?? []}
          topics={topics ?? []}
          onSaved={(id) => {
            showToast(`Saved the rule ${id}`);
            updateAlarmAdmin({ editingRule: null });
          }}
          onCancel={() => updateAlarmAdmin({ editingRule: null })}
          onReload={() => {
            void loadRules().then(() => setRound((n) => n + 1));
          }}
        />
      </section>
    );
  }
  return (
    <section aria-label="Alarm rules">
      <div class="admin-bar">
        <p class="muted">Tried in this order: the first rule that is on and covers an alarm applies.</p>
        <button type="button" onClick={() => updateAlarmAdmin({ editingRule: "" })}>
          New rule
        </button>
      </div>
      <p class="error" role="alert">
        {error || local}
      </p>
      {rules === null ? (
        !error && <p class="muted">Asking the server…</p>
      ) : (
        <>
          {ordinary.length ? (
            <ol class="rule-list" aria-label="Rules">
              {ordinary.map((r, i) => (
                <RuleCard key={r.rule.id} rule={r.rule} stored={r} order={i + 1} target={target} integrationName={integrationName} topicName={topicName} onError={setLocal} />
              ))}
            </ol>
          ) : (
            <p>No rules yet: every alarm goes to the failsafe. Create one with New rule.</p>
          )}
          <h3 class="failsafe-heading">When no rule covers an alarm</h3>
          <ul class="rule-list" aria-label="Failsafe rule">
            <RuleCard rule={storedFailsafe?.rule ?? rules.failsafe} stored={storedFailsafe} order={null} target={target} integrationName={integrationName} topicName={topicName} onError={setLocal} />
          </ul>
        </>
      )}
    </section>
  );
}
