// What administrators do about alarms and hospital systems (/_wardline/admin/v1/): integration
// accounts and their keys, the alarm rules, and the reports to systems that failed or wait for a
// retry. What the server answers is kept in the store (state.alarmAdmin); a refusal is shown in
// the server's words. The server checks every call: a screen shown to someone who is not an
// administrator only ever gets 403, and says so.

import { Refused, failure, wardline } from "./roles";
import type { AdminTab, AlarmAdmin, Hl7Binding, Integration, IntegrationKey, Report, Rules, Scope } from "./alarmadminstate";
import type { AlarmRule } from "./alarmadminstate";
import type { AlarmKind } from "./alarms";
import { showPanel } from "./conversation";
import { store } from "./state";

export const RULE_CONFLICT = "ORG.WARDLINE.RULE_CONFLICT";
const A = "/_wardline/admin/v1";
const enc = encodeURIComponent;

export function updateAlarmAdmin(change: Partial<AlarmAdmin> | ((a: AlarmAdmin) => Partial<AlarmAdmin>)): void {
  store.update((s) => ({ alarmAdmin: { ...s.alarmAdmin, ...(typeof change === "function" ? change(s.alarmAdmin) : change) } }));
}

function setError(tab: AdminTab, text: string): void {
  updateAlarmAdmin((a) => ({ errors: { ...a.errors, [tab]: text } }));
}

/** Opens the administrators' alarm screens at a tab. */
export function openAlarmAdmin(tab?: AdminTab): void {
  showPanel("alarm-admin");
  if (tab) updateAlarmAdmin({ tab });
}

/** Runs a read for a screen: its error line says why it failed, or is cleared. */
async function reading<T>(tab: AdminTab, what: string, read: () => Promise<T>): Promise<T | null> {
  try {
    const v = await read();
    setError(tab, "");
    return v;
  } catch (e) {
    setError(tab, failure(e, what));
    return null;
  }
}

// ---- integrations ----------------------------------------------------------------------------

/** Every integration with its keys, webhook and HL7 binding. */
export async function loadIntegrations(): Promise<void> {
  const list = await reading("integrations", "The integrations cannot be shown", async () => {
    const { integrations } = await wardline<{ integrations: Integration[] }>("GET", `${A}/integrations`);
    return Promise.all(integrations.map((i) => integrationDetail(i.integration_id)));
  });
  if (list) updateAlarmAdmin({ integrations: list });
}

async function integrationDetail(id: string): Promise<Integration> {
  const [one, hl7] = await Promise.all([
    wardline<Integration>("GET", `${A}/integrations/${enc(id)}`),
    wardline<{ hl7: Hl7Binding | null }>("GET", `${A}/integrations/${enc(id)}/hl7`),
  ]);
  return { ...one, hl7: hl7.hl7 };
}

/** Reads one integration again after a change (the list keeps its order). */
async function refreshIntegration(id: string): Promise<void> {
  const one = await integrationDetail(id);
  updateAlarmAdmin((a) => {
    const list = a.integrations ?? [];
    const known = list.some((i) => i.integration_id === id);
    return {
      integrations: known ? list.map((i) => (i.integration_id === id ? one : i)) : [...list, one].sort((x, y) => x.integration_id.localeCompare(y.integration_id)),
    };
  });
}

export interface NewIntegration {
  integration_id: string;
  name: string;
  kind: string;
  scopes: Scope[];
  allowed_kinds: AlarmKind[];
}

export async function createIntegration(fields: NewIntegration): Promise<void> {
  await wardline("POST", `${A}/integrations`, fields);
  await refreshIntegration(fields.integration_id);
}

/** A new key: its secret, which the server answers this once. */
export async function addKey(id: string, label: string): Promise<IntegrationKey & { key: string }> {
  const made = await wardline<IntegrationKey & { key: string }>("POST", `${A}/integrations/${enc(id)}/keys`, label ? { label } : {});
  await refreshIntegration(id).catch(() => undefined);
  return made;
}

export async function revokeKey(id: string, keyId: string): Promise<void> {
  await wardline("DELETE", `${A}/integrations/${enc(id)}/keys/${enc(keyId)}`);
  await refreshIntegration(id);
}

/** Revokes the account and every key of it (kept, so its alarms still name it). */
export async function revokeIntegration(id: string): Promise<void> {
  await wardline("DELETE", `${A}/integrations/${enc(id)}`);
  await refreshIntegration(id);
}

/** Queues a test report to the system's webhook. */
export async function testWebhook(id: string): Promise<void> {
  await wardline("POST", `${A}/integrations/${enc(id)}/test_webhook`, {});
}

// ---- rules -----------------------------------------------------------------------------------

export async function loadRules(): Promise<void> {
  const rules = await reading("rules", "The rules cannot be shown", () => wardline<Rules>("GET", `${A}/alarm_rules`));
  if (rules) updateAlarmAdmin({ rules });
}

/**
 * Saves a rule: `version` the one read to replace it, null to create it. Refused with the
 * server's words (a broken check: 400 naming it; changed by someone else: 409 RULE_CONFLICT).
 */
export async function saveRule(rule: AlarmRule, version: number | null): Promise<void> {
  const { id, ...rest } = rule;
  await wardline("PUT", `${A}/alarm_rules/${enc(id)}`, version === null ? rest : { ...rest, version });
  await loadRules();
}

export async function removeRule(id: string): Promise<void> {
  await wardline("DELETE", `${A}/alarm_rules/${enc(id)}`);
  await loadRules();
}

/** Why a rule was not saved, in words for the administrator. */
export function ruleRefusal(e: unknown): string {
  if (e instanceof Refused && e.errcode === RULE_CONFLICT) {
    return "Not saved: someone else changed this rule since you opened it. Reload it to see their change, then make yours again.";
  }
  if (e instanceof Refused) return `Not saved: ${e.message}`;
  return failure(e, "Not saved");
}

// ---- the outbox ------------------------------------------------------------------------------

/** Reports that failed for good, and those waiting to be sent or retried, newest first. */
export async function loadOutbox(): Promise<void> {
  const reports = await reading("outbox", "The reports cannot be shown", async () => {
    const [failed, pending] = await Promise.all([
      wardline<{ reports: Report[] }>("GET", `${A}/integration_outbox?outcome=failed&limit=200`),
      wardline<{ reports: Report[] }>("GET", `${A}/integration_outbox?outcome=pending&limit=200`),
    ]);
    return [...failed.reports, ...pending.reports].sort((x, y) => y.seq - x.seq);
  });
  if (reports) updateAlarmAdmin({ outbox: reports });
}
