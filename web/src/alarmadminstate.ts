// The part of the one store about the administrators' alarm screens (issue 15): integration
// accounts, alarm rules, clinical alert topics, the live alarm log and the reports to hospital
// systems that failed or wait for a retry, each as the server last said (null: not asked yet).
// Types only and the initial value: alarmadmin.ts, topics.ts and alarmlog.ts write it.

import type { AlarmKind, AlarmState, Location, Patient } from "./alarms";

export type AdminTab = "integrations" | "rules" | "topics" | "log" | "outbox";

export type Scope = "alarms.write" | "alarms.read" | "webhook.manage" | "hl7.alarms" | "hl7.adt" | "hl7.observations" | "wctp";

export interface IntegrationKey {
  key_id: string;
  label: string | null;
  created_ts: number;
  expires_ts: number | null;
  revoked_ts: number | null;
  last_used_ts: number | null;
}

export interface Hl7Binding {
  sending_application: string;
  sending_facility: string;
  allowed_addresses: string[];
  test: boolean;
  default_kind: AlarmKind;
  r40_ack: string;
}

/** An integration account as administrators see it (`GET /integrations/{id}`). */
export interface Integration {
  integration_id: string;
  name: string;
  kind: string;
  user_id: string | null;
  scopes: Scope[];
  /** Empty: any kind. */
  allowed_kinds: AlarmKind[];
  active: boolean;
  created_ts: number;
  revoked_ts: number | null;
  keys?: IntegrationKey[];
  /** Where its status reports go: the origin only (null: it set no webhook). */
  webhook?: { origin: string } | null;
  /** Its HL7 v2 binding (null: unbound); asked separately. */
  hl7?: Hl7Binding | null;
}

export type Target = { kind: "role"; role: string } | { kind: "user"; user_id: string };

export type StepAction =
  | { action: "renotify" }
  | { action: "add_cover" }
  | { action: "add"; targets: Target[] }
  | { action: "failsafe"; targets: Target[] };

export type PolicyStep = { after_ms: number } & StepAction;

export type SourcePriority = "none" | "low" | "medium" | "high" | "emergency";
export type RuleMode = "conversation" | "incident" | "topic" | "record";

/** How an observation's value is compared with the rule's ("ge": at least). */
export type ObservationOp = "ge" | "gt" | "le" | "lt" | "eq";

/** A result an observation rule matches: its code (and coding system), compared with a value. */
export interface ObservationMatch {
  code: string;
  system?: string;
  op: ObservationOp;
  value: number;
}

export interface AlarmRule {
  id: string;
  name: string;
  enabled: boolean;
  position: number;
  match: {
    kinds?: AlarmKind[];
    integrations?: string[];
    location?: Location;
    min_priority?: SourcePriority;
    observation?: ObservationMatch;
  };
  action: {
    mode: RuleMode;
    targets: Target[];
    level: "urgent" | "emergency";
    policy?: { steps: PolicyStep[] };
    title?: string;
    needed?: number;
    /** A topic rule's topic: its subscribers get each alert, in a conversation of its own. */
    topic?: string;
  };
}

export interface StoredRule {
  rule: AlarmRule;
  version: number;
  updated_by: string | null;
  updated_ts: number;
}

export interface Rules {
  /** In the order they are tried. */
  rules: StoredRule[];
  /** The failsafe rule in force (set, or built in). */
  failsafe: AlarmRule;
}

/**
 * A clinical alert topic as administrators see it (`GET /alert_topics`): who may subscribe
 * (`open_to`, as rule targets), how many have.
 */
/** Who may subscribe to a topic: a role or person, and the scopes they may choose (none: any). */
export type OpenTo = Target & { scopes?: string[] };

export interface AdminTopic {
  id: string;
  name: string;
  description?: string | null;
  open_to: OpenTo[];
  version: number;
  subscribers: number;
}

/** One alarm of the live log (`GET /alarms`). */
export interface LogAlarm {
  seq: number;
  alarm_id: string;
  source_id: string;
  integration: string;
  kind: AlarmKind;
  priority: SourcePriority;
  text: string;
  location: Location;
  patient?: Patient;
  state: AlarmState;
  outcome: string;
  protocol: string;
  received_ts: number;
  updated_ts: number;
  rule_id?: string;
  room_id?: string;
}

/** One alarm with its timeline and status facts (`GET /alarms/{id}`). */
export interface AlarmDetail extends LogAlarm {
  timeline: { kind: string; ts: number; revision: number; detail: unknown }[];
  status: { status: string; ts: number; user_id?: string; detail: unknown }[];
  level?: string;
  ended_ts?: number;
}

export interface LogFilters {
  kind: string;
  state: string;
  outcome: string;
}

export interface AlarmLog {
  /** Newest first. */
  rows: LogAlarm[];
  filters: LogFilters;
  /** The first page has come. */
  loaded: boolean;
  /** There are earlier alarms to load. */
  more: boolean;
  /** The last poll failed: why (what is shown is as of `asOf`). */
  error: string;
  /** When the server last answered. */
  asOf: number | null;
  /** The alarm whose timeline is open. */
  open: string | null;
  /** What the last poll brought, for screen readers ("1 new alarm: Cardiac arrest, Ward 7"). */
  announce: string;
}

/** A report to a hospital system (`GET /integration_outbox`). */
export interface Report {
  report_id: string;
  seq: number;
  integration_id: string;
  alarm_id: string | null;
  channel: string;
  payload: Record<string, unknown> | null;
  attempts: number;
  outcome: "pending" | "sent" | "failed";
  reason: string | null;
  created_ts: number;
  due_ts: number;
  done_ts: number | null;
}

export interface AlarmAdmin {
  tab: AdminTab;
  integrations: Integration[] | null;
  /** The form for a new integration is open. */
  creating: boolean;
  rules: Rules | null;
  /** The rule being edited ("" a new one), or null: the list. */
  editingRule: string | null;
  /** Clinical alert topics, by name. */
  topics: AdminTopic[] | null;
  /** The topic being edited ("" a new one), or null: the list. */
  editingTopic: string | null;
  log: AlarmLog;
  /** Failed and pending reports, newest first. */
  outbox: Report[] | null;
  /** What the server refused, or that it could not be reached, per screen. */
  errors: Partial<Record<AdminTab, string>>;
}

export const initialLog: AlarmLog = {
  rows: [],
  filters: { kind: "", state: "", outcome: "" },
  loaded: false,
  more: false,
  error: "",
  asOf: null,
  open: null,
  announce: "",
};

export const initialAlarmAdmin: AlarmAdmin = {
  tab: "integrations",
  integrations: null,
  creating: false,
  rules: null,
  editingRule: null,
  topics: null,
  editingTopic: null,
  log: initialLog,
  outbox: null,
  errors: {},
};
