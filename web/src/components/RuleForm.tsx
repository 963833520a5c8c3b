// An administrator's form for one alarm rule: its id (new rules only), name, whether it is on,
// its place in the order; which alarms it covers (kinds, systems, place, least priority, a
// result's observation compared with a value); what it does (a conversation, an incident, a
// clinical alert topic or a record only; who; at what level; an incident's title and how many
// must come; the topic) and how it escalates (the conversation's policy, or steps of its own). The server checks it when saved: its refusal is shown beside the buttons, and a
// change by someone else since the form was opened is explained, with a way to reload.

import { useState } from "preact/hooks";

import { RULE_CONFLICT, ruleRefusal, saveRule } from "../alarmadmin";
import type { AdminTopic, AlarmRule, Integration, ObservationOp, PolicyStep, RuleMode, SourcePriority, StoredRule, Target } from "../alarmadminstate";
import type { AlarmKind } from "../alarms";
import { KINDS } from "../alarms";
import { Refused } from "../roles";
import type { RoleView } from "../roles";
import { KIND_LIST } from "./IntegrationForm";
import { OPS, PRIORITIES } from "../rulewords";
import { FormFoot } from "./FormFoot";
import { TargetPicker } from "./TargetPicker";

type StepKind = PolicyStep["action"];

interface StepDraft {
  minutes: string;
  action: StepKind;
  targets: Target[];
}

interface Draft {
  id: string;
  name: string;
  enabled: boolean;
  position: string;
  kinds: AlarmKind[];
  integrations: string[];
  site: string;
  ward: string;
  room: string;
  bed: string;
  min_priority: SourcePriority | "";
  obsCode: string;
  obsSystem: string;
  obsOp: ObservationOp;
  obsValue: string;
  mode: RuleMode;
  level: "urgent" | "emergency";
  targets: Target[];
  title: string;
  needed: string;
  topic: string;
  ownPolicy: boolean;
  steps: StepDraft[];
}

function draftOf(stored: StoredRule | null, failsafe: AlarmRule | null): Draft {
  const r = stored?.rule ?? failsafe;
  const m = r?.match ?? {};
  const a = r?.action;
  return {
    id: r?.id ?? "",
    name: r?.name ?? "",
    enabled: r?.enabled ?? true,
    position: String(r?.position ?? 0),
    kinds: m.kinds ?? [],
    integrations: m.integrations ?? [],
    site: m.location?.site ?? "",
    ward: m.location?.ward ?? "",
    room: m.location?.room ?? "",
    bed: m.location?.bed ?? "",
    min_priority: m.min_priority ?? "",
    obsCode: m.observation?.code ?? "",
    obsSystem: m.observation?.system ?? "",
    obsOp: m.observation?.op ?? "ge",
    obsValue: m.observation ? String(m.observation.value) : "",
    mode: a?.mode ?? "conversation",
    level: a?.level ?? "urgent",
    targets: a?.targets ?? [],
    title: a?.title ?? "",
    needed: a?.needed ? String(a.needed) : "1",
    topic: a?.topic ?? "",
    ownPolicy: !!a?.policy?.steps?.length,
    steps: (a?.policy?.steps ?? []).map((s) => ({
      minutes: String(s.after_ms / 60_000),
      action: s.action,
      targets: s.action === "add" || s.action === "failsafe" ? s.targets : [],
    })),
  };
}

function ruleOf(d: Draft): AlarmRule {
  const location = Object.fromEntries(
    (["site", "ward", "room", "bed"] as const).filter((k) => d[k].trim()).map((k) => [k, d[k].trim()]),
  );
  const rule: AlarmRule = {
    id: d.id.trim(),
    name: d.name.trim(),
    enabled: d.enabled,
    position: Number.parseInt(d.position, 10) || 0,
    match: {
      ...(d.kinds.length ? { kinds: d.kinds } : {}),
      ...(d.integrations.length ? { integrations: d.integrations } : {}),
      location,
      ...(d.min_priority ? { min_priority: d.min_priority } : {}),
      // (Without a code there is no observation to compare: the rest is dropped.)
      ...(d.obsCode.trim()
        ? { observation: { code: d.obsCode.trim(), ...(d.obsSystem.trim() ? { system: d.obsSystem.trim() } : {}), op: d.obsOp, value: Number.parseFloat(d.obsValue) } }
        : {}),
    },
    // (A record-only rule tells nobody: targets chosen before switching to it are dropped.)
    action: { mode: d.mode, targets: d.mode === "record" ? [] : d.targets, level: d.level },
  };
  if (d.mode === "incident") {
    if (d.title.trim()) rule.action.title = d.title.trim();
    rule.action.needed = Number.parseInt(d.needed, 10) || 1;
  }
  if (d.mode === "topic") rule.action.topic = d.topic;
  if (d.ownPolicy && d.mode !== "record") {
    rule.action.policy = {
      steps: d.steps.map((s): PolicyStep => {
        const after_ms = Math.round(Number.parseFloat(s.minutes) * 60_000) || 0;
        return s.action === "add" || s.action === "failsafe" ? { after_ms, action: s.action, targets: s.targets } : { after_ms, action: s.action };
      }),
    };
  }
  return rule;
}

const STEP_WORDS: [StepKind, string][] = [
  ["renotify", "Notify again those who have not answered"],
  ["add_cover", "Bring in the cover of those on do-not-disturb"],
  ["add", "Add people or roles"],
  ["failsafe", "Failsafe (the last step)"],
];

export function RuleForm(props: {
  stored: StoredRule | null;
  /** Editing the failsafe rule not yet set (the built-in one shown as a start). */
  failsafe: AlarmRule | null;
  roles: RoleView[];
  integrations: Integration[];
  /** The alert topics a topic rule may send to. */
  topics: AdminTopic[];
  onSaved: (id: string) => void;
  onCancel: () => void;
  onReload: () => void;
}) {
  const { stored } = props;
  const editingFailsafe = stored?.rule.id === "failsafe" || !!props.failsafe;
  const isNew = !stored;
  const [d, setDraft] = useState<Draft>(() => draftOf(stored, props.failsafe));
  const [error, setError] = useState("");
  const [conflict, setConflict] = useState(false);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((old) => ({ ...old, [key]: value }));
  const text = (key: "id" | "name" | "position" | "site" | "ward" | "room" | "bed" | "title" | "needed" | "obsCode" | "obsSystem", label: string, opts: { type?: "text" | "number"; hint?: string; required?: boolean } = {}) => (
    <div class="field">
      <label for={`rule-${key}`}>{label}</label>
      {opts.type === "number" ? (
        <input
          id={`rule-${key}`}
          type="number"
          required={opts.required}
          value={d[key]}
          aria-describedby={opts.hint ? `rule-${key}-hint` : undefined}
          onInput={(ev) => set(key, (ev.currentTarget as HTMLInputElement).value)}
        />
      ) : (
        <input
          id={`rule-${key}`}
          type="text"
          required={opts.required}
          value={d[key]}
          aria-describedby={opts.hint ? `rule-${key}-hint` : undefined}
          onInput={(ev) => set(key, (ev.currentTarget as HTMLInputElement).value)}
        />
      )}
      {opts.hint && (
        <p class="muted" id={`rule-${key}-hint`}>
          {opts.hint}
        </p>
      )}
    </div>
  );
  const toggle = <T,>(list: T[], v: T, on: boolean) => (on ? [...list.filter((x) => x !== v), v] : list.filter((x) => x !== v));
  const setStep = (i: number, change: Partial<StepDraft>) => set("steps", d.steps.map((s, j) => (j === i ? { ...s, ...change } : s)));
  const submit = async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    setError("");
    setConflict(false);
    try {
      const rule = ruleOf(d);
      await saveRule(rule, stored ? stored.version : null);
      props.onSaved(rule.id);
    } catch (e) {
      setConflict(e instanceof Refused && e.errcode === RULE_CONFLICT);
      setError(ruleRefusal(e));
      setBusy(false);
    }
  };
  // (Named as it was opened: the name being typed does not rename the form.)
  const title = isNew && !editingFailsafe ? "New rule" : `Edit ${stored?.rule.name ?? props.failsafe?.name ?? d.id}`;
  return (
    <form class={`role-form admin-form rule-form${editingFailsafe ? " failsafe" : ""}`} aria-label={title} onSubmit={(ev) => void submit(ev)}>
      <h3>{title}</h3>
      {editingFailsafe && <p class="failsafe-note">The failsafe rule: what no other rule covers, and what reaches nobody, goes here. It must reach someone.</p>}
      {isNew && !editingFailsafe ? text("id", "Rule id", { required: true, hint: "Lowercase letters, digits, - and _, such as ward7-calls. It cannot change later." }) : <p class="muted">Id: {d.id}</p>}
      {text("name", "Name", { required: true })}
      {!editingFailsafe && (
        <>
          <label class="check">
            <input type="checkbox" checked={d.enabled} onChange={(ev) => set("enabled", (ev.currentTarget as HTMLInputElement).checked)} /> On (only rules that are on match)
          </label>
          {text("position", "Order", { type: "number", hint: "Rules are tried lowest first; the first that covers an alarm applies." })}
          <fieldset>
            <legend>Which alarms (nothing chosen: any)</legend>
            <p class="legend-sub">Kinds</p>
            <div class="check-grid">
              {KIND_LIST.map((k) => (
                <label class="check" key={k}>
                  <input type="checkbox" checked={d.kinds.includes(k)} onChange={(ev) => set("kinds", toggle(d.kinds, k, (ev.currentTarget as HTMLInputElement).checked))} /> {KINDS[k].word}
                </label>
              ))}
            </div>
            {props.integrations.length > 0 && (
              <>
                <p class="legend-sub">From these systems</p>
                <div class="check-grid">
                  {props.integrations.map((i) => (
                    <label class="check" key={i.integration_id}>
                      <input
                        type="checkbox"
                        checked={d.integrations.includes(i.integration_id)}
                        onChange={(ev) => set("integrations", toggle(d.integrations, i.integration_id, (ev.currentTarget as HTMLInputElement).checked))}
                      />{" "}
                      {i.name}
                    </label>
                  ))}
                </div>
              </>
            )}
            <p class="legend-sub">At this place (each part given must match)</p>
            <div class="place-grid">
              {text("site", "Site")}
              {text("ward", "Ward")}
              {text("room", "Room")}
              {text("bed", "Bed")}
            </div>
            <label for="rule-min-priority">At least this priority (as the source says)</label>
            <select id="rule-min-priority" value={d.min_priority} onChange={(ev) => set("min_priority", (ev.currentTarget as HTMLSelectElement).value as SourcePriority | "")}>
              <option value="">Any priority</option>
              {PRIORITIES.map(([p, w]) => (
                <option key={p} value={p}>
                  {w}
                </option>
              ))}
            </select>
            <p class="legend-sub">A result (an HL7 ORU^R01 observation) compared with a value</p>
            <div class="place-grid">
              {text("obsCode", "Observation code", { hint: "As the sending system codes it, such as NEWS2. Left empty: no result is compared." })}
              {text("obsSystem", "Coding system (optional)")}
              <div class="field">
                <label for="rule-obs-op">Comparison</label>
                <select id="rule-obs-op" value={d.obsOp} onChange={(ev) => set("obsOp", (ev.currentTarget as HTMLSelectElement).value as ObservationOp)}>
                  {OPS.map(([op, , w]) => (
                    <option key={op} value={op}>
                      {w}
                    </option>
                  ))}
                </select>
              </div>
              <div class="field">
                <label for="rule-obs-value">Value</label>
                <input
                  id="rule-obs-value"
                  type="number"
                  step="any"
                  required={!!d.obsCode.trim()}
                  value={d.obsValue}
                  onInput={(ev) => set("obsValue", (ev.currentTarget as HTMLInputElement).value)}
                />
              </div>
            </div>
          </fieldset>
        </>
      )}
      <fieldset>
        <legend>What it does</legend>
        <div class="radio-row" role="radiogroup" aria-label="Where the alarm goes">
          {(
            [
              ["conversation", "A message in the rule's conversation"],
              ["incident", "An incident of its own (code calls, fire)"],
              ...(editingFailsafe
                ? []
                : [
                    ["topic", "Clinical alert topic: its subscribers, each alert a conversation of its own"],
                    ["record", "Record only: nobody is told"],
                  ]),
            ] as [RuleMode, string][]
          ).map(([m, w]) => (
            <label class="check" key={m}>
              <input type="radio" name="rule-mode" checked={d.mode === m} onChange={() => set("mode", m)} /> {w}
            </label>
          ))}
        </div>
        {d.mode !== "record" && (
          <div class="radio-row" role="radiogroup" aria-label="Priority it is sent at">
            {(
              [
                ["urgent", "⚠ Urgent"],
                ["emergency", "‼ Emergency"],
              ] as ["urgent" | "emergency", string][]
            ).map(([l, w]) => (
              <label class={`check level-${l}`} key={l}>
                <input type="radio" name="rule-level" checked={d.level === l} onChange={() => set("level", l)} /> {w}
              </label>
            ))}
          </div>
        )}
        {d.mode === "topic" && (
          <div class="field">
            <label for="rule-topic">Topic</label>
            <select id="rule-topic" required value={d.topic} aria-describedby="rule-topic-hint" onChange={(ev) => set("topic", (ev.currentTarget as HTMLSelectElement).value)}>
              <option value="">Choose a topic…</option>
              {props.topics.map((t) => (
                <option key={t.id} value={t.id}>
                  {t.name}
                </option>
              ))}
              {d.topic && !props.topics.some((t) => t.id === d.topic) && <option value={d.topic}>{d.topic} (not found)</option>}
            </select>
            <p class="muted" id="rule-topic-hint">
              {props.topics.length
                ? "Its subscribers whose ward or specialty fits the alert get it; nobody subscribed: the failsafe rule."
                : "No topics yet: make one under Alert topics first."}
            </p>
          </div>
        )}
        {d.mode !== "record" && (
          <TargetPicker label={d.mode === "topic" ? "Also these, every time (optional)" : "Who gets it"} targets={d.targets} roles={props.roles} onChange={(t) => set("targets", t)} />
        )}
        {d.mode === "incident" && (
          <div class="place-grid">
            {text("title", "Incident title (optional)", { hint: "Left empty, the alarm's kind names it." })}
            {text("needed", "Responders needed", { type: "number", hint: "Its escalation goes on until this many are coming (1 to 20)." })}
          </div>
        )}
      </fieldset>
      {d.mode !== "record" && (
        <fieldset>
          <legend>How it escalates</legend>
          <label class="check">
            <input type="radio" name="rule-policy" checked={!d.ownPolicy} onChange={() => set("ownPolicy", false)} /> The conversation's escalation policy (always ends at a failsafe)
          </label>
          <label class="check">
            <input
              type="radio"
              name="rule-policy"
              checked={d.ownPolicy}
              onChange={() => setDraft((old) => ({ ...old, ownPolicy: true, steps: old.steps.length ? old.steps : [{ minutes: "2", action: "renotify", targets: [] }, { minutes: "5", action: "failsafe", targets: [] }] }))}
            />{" "}
            Steps of its own
          </label>
          {d.ownPolicy && (
            <ol class="policy-steps">
              {d.steps.map((s, i) => (
                <li key={i} aria-label={`Step ${i + 1}`}>
                  <div class="place-grid">
                    <div class="field">
                      <label for={`step-${i}-min`}>Step {i + 1}: minutes after it was sent</label>
                      <input id={`step-${i}-min`} type="number" min="0.5" step="0.5" value={s.minutes} onInput={(ev) => setStep(i, { minutes: (ev.currentTarget as HTMLInputElement).value })} />
                    </div>
                    <div class="field">
                      <label for={`step-${i}-action`}>Step {i + 1}: what it does</label>
                      <select id={`step-${i}-action`} value={s.action} onChange={(ev) => setStep(i, { action: (ev.currentTarget as HTMLSelectElement).value as StepKind })}>
                        {STEP_WORDS.map(([a, w]) => (
                          <option key={a} value={a}>
                            {w}
                          </option>
                        ))}
                      </select>
                    </div>
                  </div>
                  {(s.action === "add" || s.action === "failsafe") && (
                    <TargetPicker label={`Step ${i + 1}: who`} targets={s.targets} roles={props.roles} onChange={(t) => setStep(i, { targets: t })} />
                  )}
                  <button type="button" class="plain" onClick={() => set("steps", d.steps.filter((_, j) => j !== i))}>
                    Remove step {i + 1}
                  </button>
                </li>
              ))}
              <li class="add-step">
                <button type="button" class="plain" onClick={() => set("steps", [...d.steps, { minutes: "", action: "add", targets: [] }])}>
                  Add a step
                </button>
              </li>
            </ol>
          )}
        </fieldset>
      )}
      <FormFoot
        error={error}
        conflict={conflict}
        reloadLabel="Reload the rule"
        onReload={props.onReload}
        onCancel={props.onCancel}
        busy={busy}
        saveLabel={isNew && !editingFailsafe ? "Create rule" : "Save rule"}
      />
    </form>
  );
}
