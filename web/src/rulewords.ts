// Alarm rules in words, for the administrators' list: what a rule matches ("Cardiac arrest ·
// Ward 7 · at least high priority", "NEWS2 ≥ 7") and what it does ("Incident “Arrest” to Arrest
// team at emergency, until 3 are coming; own escalation: 3 steps"). Pure rules only.

import type { AlarmRule, ObservationMatch, ObservationOp, PolicyStep, SourcePriority, Target } from "./alarmadminstate";
import { KINDS, describeLocation } from "./alarms";
import type { AlarmKind } from "./alarms";

export const PRIORITIES: [SourcePriority, string][] = [
  ["low", "low"],
  ["medium", "medium"],
  ["high", "high"],
  ["emergency", "emergency"],
];

/** Each comparison of an observation rule: its sign, and in words for the form. */
export const OPS: [ObservationOp, string, string][] = [
  ["ge", "≥", "at least (≥)"],
  ["gt", ">", "more than (>)"],
  ["le", "≤", "at most (≤)"],
  ["lt", "<", "less than (<)"],
  ["eq", "=", "equal to (=)"],
];

/** "NEWS2 ≥ 7", "K (LN) > 6.5". */
export function observationWords(o: ObservationMatch): string {
  const sign = OPS.find(([op]) => op === o.op)?.[1] ?? o.op;
  return `${o.code}${o.system ? ` (${o.system})` : ""} ${sign} ${o.value}`;
}

export function kindWord(k: string): string {
  return KINDS[k as AlarmKind]?.word ?? k;
}

/** A target's name: the role's name, or the person's (as `name` knows them). */
export function targetWord(t: Target, roleName: (id: string) => string, personName: (userId: string) => string): string {
  return t.kind === "role" ? roleName(t.role) : personName(t.user_id);
}

export function matchWords(rule: AlarmRule, integrationName: (id: string) => string): string {
  const m = rule.match ?? {};
  const parts: string[] = [];
  parts.push(m.kinds?.length ? m.kinds.map(kindWord).join(" or ") : "Any kind");
  const where = describeLocation(m.location ?? {});
  if (where) parts.push(where);
  if (m.min_priority) parts.push(`at least ${m.min_priority} priority`);
  if (m.observation) parts.push(`result ${observationWords(m.observation)}`);
  if (m.integrations?.length) parts.push(`from ${m.integrations.map(integrationName).join(" or ")}`);
  return parts.join(" · ");
}

function stepWords(s: PolicyStep, target: (t: Target) => string): string {
  const at = `${Math.round(s.after_ms / 60_000 * 10) / 10} min`;
  switch (s.action) {
    case "renotify":
      return `${at}: notify again`;
    case "add_cover":
      return `${at}: bring in cover`;
    case "add":
      return `${at}: add ${s.targets.map(target).join(", ")}`;
    case "failsafe":
      return `${at}: failsafe ${s.targets.map(target).join(", ")}`;
  }
}

export function actionWords(rule: AlarmRule, target: (t: Target) => string, topicName: (id: string) => string = (id) => id): string {
  const a = rule.action;
  const who = a.targets.length ? a.targets.map(target).join(", ") : "nobody";
  if (a.mode === "record") return "Recorded only: nobody is told (the source hears “recorded”)";
  if (a.mode === "topic") {
    const also = a.targets.length ? ` and ${who}` : "";
    return `Clinical alert topic “${topicName(a.topic ?? "")}”: each alert a conversation of its own, to its subscribers${also} at ${a.level}`;
  }
  const what = a.mode === "incident" ? `Incident${a.title ? ` “${a.title}”` : ""}` : "Conversation";
  const needed = a.mode === "incident" && a.needed && a.needed > 1 ? `, until ${a.needed} are coming` : "";
  return `${what} to ${who} at ${a.level}${needed}`;
}

export function policyWords(rule: AlarmRule, target: (t: Target) => string): string {
  const steps = rule.action.policy?.steps;
  if (!steps?.length) return "Escalation: the conversation's policy";
  return `Escalation: ${steps.map((s) => stepWords(s, target)).join("; ")}`;
}
