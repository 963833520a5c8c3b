// Browser test of the administrators' alarm screens (issue 15): an administrator creates an
// integration and sees its key once (copied, then never shown again); creates a rule, first
// refused by the server (a role retired meanwhile: its words shown beside the form), then
// saved; a change by someone else meanwhile is explained with a way to reload; an alarm raised
// through the integration API with that key appears in the live log by its poll, changes there
// when its source resets it, and opens its timeline; a report the system could not receive
// waits for a retry, then fails for good, with its reason; all on a ward PC and on a phone. A
// nurse sees none of it, and the server refuses her. Real `wardline` binary, Debian's Chromium;
// screenshots in web/test-artifacts/.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";

import { REPO_ROOT } from "../../tests/clients/wardline-server.mjs";
import { WAIT, call, signIn, stopWard } from "./support.mjs";
import { DESKTOP, PHONE, addRole, setHolders, startRoleWard } from "./roleward.mjs";

const ARTIFACTS = path.join(REPO_ROOT, "web", "test-artifacts");
const A = "/_wardline/admin/v1";
const I = "/_wardline/integration/v1";
const PLACE = "Main, Ward 7, room 3, bed 12";

let server;
let browser;
const people = {};

before(async () => {
  ({ server, browser } = await startRoleWard(people, {
    env: { WARDLINE_INTEGRATIONS__WEBHOOK_HOSTS: "127.0.0.1", WARDLINE_INTEGRATIONS__ALLOW_LOOPBACK_HTTP: "true" },
  }));
  mkdirSync(ARTIFACTS, { recursive: true });
  for (const [role_id, name] of [
    ["arrest-team", "Arrest team"],
    ["fire-team", "Fire team"],
  ]) {
    await addRole(server, people, { role_id, name, department: "Medicine", eligibility: { users: [people.priya.userId, people.omar.userId] } });
    await setHolders(server, people, role_id, ["priya", "omar"]);
  }
});

after(async () => {
  await stopWard({ server, browser });
});

const admin = (method, p, body) => call(server.baseUrl, method, A + p, body, people.boss.token);

/** The status of a call as `token`'s user, and its body. */
async function raw(method, p, token, body) {
  const r = await fetch(server.baseUrl + p, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return [r.status, await r.json().catch(() => ({}))];
}

test("an administrator makes an integration and a rule, watches its alarm in the live log and its failed reports", async () => {
  const context = await browser.newContext({ ...DESKTOP, permissions: ["clipboard-read", "clipboard-write"] });
  const page = await context.newPage();
  const shot = (name) => page.screenshot({ path: path.join(ARTIFACTS, `admin-alarms-desktop-${name}.png`), fullPage: true });
  try {
    await signIn(page, server, "boss");
    await page.getByRole("button", { name: "Alarms admin" }).click();
    const tabs = page.getByRole("tablist", { name: "Alarm administration" });
    await tabs.waitFor(WAIT);
    assert.equal(await page.getByRole("tab", { selected: true }).innerText(), "Integrations");
    await page.getByText("No integrations yet.", { exact: false }).waitFor(WAIT);

    // A new integration: the arrest call system.
    await page.getByRole("button", { name: "New integration" }).click();
    const form = page.getByRole("form", { name: "New integration" });
    await form.getByLabel("Integration id").fill("arrests");
    await form.getByLabel("Name").fill("Arrest call system");
    await form.getByLabel("Kind of system").fill("arrest call");
    assert.ok(await form.getByLabel("Raise, update, cancel and reset alarms (HTTP)").isChecked(), "raising alarms is ticked");
    await form.getByLabel("Cardiac arrest").check();
    await form.getByRole("button", { name: "Create integration" }).click();
    const card = page.locator(".integration-card", { hasText: "Arrest call system" });
    await card.waitFor(WAIT);
    assert.match(await card.locator("h3").innerText(), /Arrest call system \(arrests\)\s*Active/);
    await card.getByText("No key yet", { exact: false }).waitFor(WAIT);
    assert.match(await card.locator(".facts").innerText(), /Alarm kinds\s+Cardiac arrest/);

    // A key: shown once, in a dialog that says so, with a copy button.
    await card.getByLabel("Label of a new key (optional)").fill("primary");
    await card.getByRole("button", { name: "Add key" }).click();
    const dialog = page.getByRole("dialog", { name: "New key" });
    await dialog.waitFor(WAIT);
    await dialog.getByText("You will not see it again", { exact: false }).waitFor(WAIT);
    const key = await dialog.locator("input.secret").inputValue();
    assert.ok(key.length >= 40, `a whole key (${key.length} characters)`);
    await dialog.getByRole("button", { name: "Copy key" }).click();
    await dialog.getByText("Copied.").waitFor(WAIT);
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key, "the key is on the clipboard");
    await shot("1-key-once");
    await dialog.getByRole("button", { name: "Done" }).click();
    await dialog.waitFor({ state: "detached", ...WAIT });
    const keyRow = card.locator(".key-row", { hasText: "primary" });
    assert.match(await keyRow.innerText(), /active · never used/);
    assert.ok(!(await page.content()).includes(key), "the key is nowhere on the page any more");
    await shot("2-integration");

    // The system sets a webhook nothing listens on (port 9): its reports will need retrying.
    const [st, hook] = await raw("PUT", `${I}/webhook`, key, { url: "http://127.0.0.1:9/hooks/wardline" });
    assert.equal(st, 200, JSON.stringify(hook));

    // The keyboard moves along the tabs.
    await page.getByRole("tab", { name: "Integrations" }).focus();
    await page.keyboard.press("ArrowRight");
    assert.equal(await page.getByRole("tab", { selected: true }).innerText(), "Alarm rules");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Alarm rules", "the focus follows");

    // Rules: none yet; the built-in failsafe rule, drawn apart.
    await page.getByText("No rules yet", { exact: false }).waitFor(WAIT);
    const failsafe = page.locator(".rule-card.failsafe");
    assert.match(await failsafe.innerText(), /Failsafe\s*Alarms no rule covers/);
    await failsafe.getByText("Built in", { exact: false }).waitFor(WAIT);

    // A new rule, to a team retired while the form is open: the server's refusal, beside it.
    await page.getByRole("button", { name: "New rule" }).click();
    const ruleForm = page.getByRole("form", { name: "New rule" });
    await ruleForm.getByLabel("Rule id").fill("arrests");
    await ruleForm.getByLabel("Name", { exact: true }).fill("Cardiac arrests");
    await ruleForm.getByLabel("Cardiac arrest").check();
    await ruleForm.getByLabel("Ward", { exact: true }).fill("Ward 7");
    await ruleForm.getByLabel("An incident of its own (code calls, fire)").check();
    await ruleForm.getByLabel("‼ Emergency").check();
    await ruleForm.getByLabel("Add a role").selectOption({ label: "Fire team" });
    await ruleForm.getByRole("button", { name: "Add role" }).click();
    await ruleForm.getByRole("list", { name: "Who gets it: chosen" }).getByText("Fire team").waitFor(WAIT);
    await admin("DELETE", "/roles/fire-team");
    await ruleForm.getByRole("button", { name: "Create rule" }).click();
    const refusal = ruleForm.locator(".rule-refusal");
    await refusal.getByText("Not saved: rule arrests: there is no role fire-team").waitFor(WAIT);
    await shot("3-rule-refused");
    await ruleForm.getByRole("button", { name: "Remove Fire team" }).click();
    await ruleForm.getByLabel("Add a role").selectOption({ label: "Arrest team" });
    await ruleForm.getByRole("button", { name: "Add role" }).click();
    await ruleForm.getByLabel("Responders needed").fill("2");
    await ruleForm.getByRole("button", { name: "Create rule" }).click();
    await ruleForm.waitFor({ state: "detached", ...WAIT });
    const rule = page.locator(".rule-card", { hasText: "Cardiac arrests" });
    await rule.waitFor(WAIT);
    assert.match(await rule.innerText(), /1\.\s*Cardiac arrests \(arrests\)/);
    assert.match(await rule.innerText(), /Matches: Cardiac arrest · Ward 7/);
    assert.match(await rule.innerText(), /Does: Incident to Arrest team at emergency, until 2 are coming/);
    const stored = (await admin("GET", "/alarm_rules")).rules.find((r) => r.rule.id === "arrests");
    assert.deepEqual(stored.rule.action.targets, [{ kind: "role", role: "arrest-team" }]);
    assert.equal(stored.rule.action.needed, 2);
    await shot("4-rules");

    // Someone else changes the rule while it is being edited: explained, and reloaded.
    await rule.getByRole("button", { name: "Edit Cardiac arrests" }).click();
    const edit = page.getByRole("form", { name: "Edit Cardiac arrests" });
    await edit.getByLabel("Name", { exact: true }).fill("Arrest calls");
    await admin("PUT", "/alarm_rules/arrests", { ...stored.rule, id: undefined, name: "Arrests (all wards)", version: stored.version });
    await edit.getByRole("button", { name: "Save rule" }).click();
    await edit.getByText("someone else changed this rule since you opened it", { exact: false }).waitFor(WAIT);
    await shot("5-rule-conflict");
    await edit.getByRole("button", { name: "Reload the rule" }).click();
    const reloaded = page.getByRole("form", { name: "Edit Arrests (all wards)" });
    await reloaded.waitFor(WAIT);
    assert.equal(await reloaded.getByLabel("Name", { exact: true }).inputValue(), "Arrests (all wards)");
    await reloaded.getByRole("button", { name: "Cancel" }).click();

    // The live log: nothing yet; the arrest system raises an arrest with its key.
    await page.getByRole("tab", { name: "Live log" }).click();
    await page.getByText("No alarms yet.").waitFor(WAIT);
    const [raised, body] = await raw("POST", `${I}/alarms`, key, {
      source_id: "arrest-1",
      kind: "cardiac_arrest",
      priority: "emergency",
      location: { site: "Main", ward: "Ward 7", room: "3", bed: "12" },
      text: "Adult arrest",
    });
    assert.equal(raised, 202, JSON.stringify(body));
    const row = page.locator(".log-row", { hasText: PLACE });
    await row.waitFor(WAIT);
    assert.ok(await row.evaluate((el) => el.classList.contains("tone-red")), "an arrest is red");
    assert.equal(await row.locator(".log-kind").innerText(), "Cardiac arrest");
    assert.match(await row.locator(".log-source").innerText(), /Arrest call system/);
    assert.equal(await row.locator(".log-state").innerText(), "Active");
    await row.locator(".log-outcome").getByText("Notified").waitFor(WAIT);
    await shot("6-live-log");

    // Filters are the server's: a fire alarm filter shows none; any kind shows it again.
    await page.getByLabel("Kind", { exact: true }).selectOption({ label: "Fire alarm" });
    await page.getByText("No alarms match these filters.").waitFor(WAIT);
    await page.getByLabel("Kind", { exact: true }).selectOption({ label: "Any kind" });
    await row.waitFor(WAIT);

    // The source resets it: the row says so at the next poll.
    await raw("POST", `${I}/alarms/${body.alarm_id}/reset`, key, { reason: "stood down" });
    await row.locator(".log-state").getByText("Reset").waitFor(WAIT);

    // The row opens the alarm's timeline.
    await row.getByRole("button").click();
    const timeline = page.getByRole("dialog", { name: "Alarm timeline" });
    await timeline.getByRole("list", { name: "Timeline" }).waitFor(WAIT);
    const entries = await timeline.getByRole("list", { name: "Timeline" }).innerText();
    assert.match(entries, /Received/);
    assert.match(entries, /Dispatched/);
    assert.match(entries, /Reset/);
    assert.match(await timeline.locator(".facts").innerText(), /Rule\s+arrests/);
    await shot("7-timeline");
    await timeline.getByRole("button", { name: "Close" }).click();
    await timeline.waitFor({ state: "detached", ...WAIT });

    // Reports: the system's webhook did not answer: waiting to retry, with the reason.
    await page.getByRole("tab", { name: "Reports" }).click();
    const waiting = page.locator(".report-card.pending", { hasText: "Waiting to retry" }).first();
    for (let i = 0; i < 300 && !(await waiting.count()); i++) {
      await page.getByRole("button", { name: "Check again" }).click();
      await page.waitForTimeout(200);
    }
    assert.match(await waiting.innerText(), /to Arrest call system over webhook/);
    assert.match(await waiting.innerText(), /Why: /);
    await shot("8-reports-waiting");
    // The system removes its webhook: what waited for it fails for good at its next try.
    const [gone] = await raw("DELETE", `${I}/webhook`, key);
    assert.equal(gone, 200);
    const failed = page.locator(".report-card.failed").first();
    for (let i = 0; i < 300 && !(await failed.count()); i++) {
      await page.getByRole("button", { name: "Check again" }).click();
      await page.waitForTimeout(200);
    }
    assert.match(await failed.innerText(), /Failed for good/);
    assert.match(await failed.innerText(), /Why: .+/);
    await shot("9-reports-failed");
    // Night shift: the same in dark mode.
    await page.emulateMedia({ colorScheme: "dark" });
    await page.getByRole("tab", { name: "Live log" }).click();
    await row.waitFor(WAIT);
    await shot("10-live-log-dark");
  } finally {
    await context.close();
  }
});

test("on a phone: the live log, a timeline and the rules fit and work", async () => {
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  const shot = (name) => page.screenshot({ path: path.join(ARTIFACTS, `admin-alarms-phone-${name}.png`) });
  try {
    await signIn(page, server, "boss");
    await page.getByRole("button", { name: "Alarms admin" }).click();
    await page.locator(".integration-card", { hasText: "Arrest call system" }).waitFor(WAIT);
    await shot("1-integrations");
    await page.getByRole("tab", { name: "Live log" }).click();
    const row = page.locator(".log-row", { hasText: PLACE });
    await row.waitFor(WAIT);
    const box = await row.boundingBox();
    assert.ok(box && box.width <= 390 && box.height >= 44, `the row fits the phone (${JSON.stringify(box)})`);
    const scrolls = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    assert.ok(!scrolls, "nothing wider than the phone");
    await shot("2-live-log");
    await row.getByRole("button").click();
    const timeline = page.getByRole("dialog", { name: "Alarm timeline" });
    await timeline.getByRole("list", { name: "Timeline" }).waitFor(WAIT);
    await shot("3-timeline");
    await page.keyboard.press("Escape");
    await timeline.waitFor({ state: "detached", ...WAIT });
    await page.getByRole("tab", { name: "Alarm rules" }).click();
    await page.locator(".rule-card", { hasText: "Arrests (all wards)" }).waitFor(WAIT);
    await shot("4-rules");
    await page.getByRole("button", { name: "New rule" }).click();
    await page.getByRole("form", { name: "New rule" }).waitFor(WAIT);
    await shot("5-rule-form");
  } finally {
    await context.close();
  }
});

test("a nurse sees no alarm administration, and the server refuses her", async () => {
  for (const size of [DESKTOP, PHONE]) {
    const context = await browser.newContext(size);
    const page = await context.newPage();
    try {
      await signIn(page, server, "nora");
      await page.getByRole("button", { name: "On call" }).waitFor(WAIT);
      assert.equal(await page.getByRole("button", { name: "Alarms admin" }).count(), 0, "no way in");
      assert.equal(await page.getByRole("button", { name: "Manage roles" }).count(), 0);
    } finally {
      await context.close();
    }
  }
  for (const p of ["/integrations", "/alarm_rules", "/alarms?dir=b", "/integration_outbox?outcome=failed"]) {
    const [st, b] = await raw("GET", A + p, people.nora.token);
    assert.equal(st, 403, `${p}: ${JSON.stringify(b)}`);
    assert.equal(b.errcode, "M_FORBIDDEN");
  }
  const [st] = await raw("PUT", `${A}/alarm_rules/sneaky`, people.nora.token, {
    name: "Mine",
    action: { mode: "record", targets: [], level: "urgent" },
  });
  assert.equal(st, 403);
});
