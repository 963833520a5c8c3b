// Browser test of an alarm from a hospital system opening an incident (issue 15, phase 2): an
// administrator makes an arrest team (Priya and Omar), an integration with a key and a rule
// sending cardiac arrests to the team as an incident; the arrest system raises an arrest over the
// integration API. Priya (phone and ward PC) and Omar (phone) see the red emergency banner and
// the alarm (kind, place, patient, source, "Coming" / "Can't come"); Omar watches the incident
// list while Priya taps "Coming"; Omar can't come, with a reason; the incident header shows who
// answered on every page; Omar closes the incident with a reason while Priya's close dialog is
// open, and Priya is told the server's refusal; every page shows it closed. Real `wardline`
// binary, Debian's Chromium; screenshots of phone and desktop in web/test-artifacts/.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";

import { REPO_ROOT } from "../../tests/clients/wardline-server.mjs";
import { WAIT, call, signIn, stopWard } from "./support.mjs";
import { DESKTOP, PHONE, addRole, setHolders, startRoleWard } from "./roleward.mjs";

const ARTIFACTS = path.join(REPO_ROOT, "web", "test-artifacts");
const A = "/_wardline/admin/v1";
const TITLE = "Cardiac arrest — Main, Ward 7, room 3, bed 12";
const PLACE = "Main, Ward 7, room 3, bed 12";

let server;
let browser;
const people = {};
/** The arrest and nurse call system's key (integration API). */
let key;

before(async () => {
  ({ server, browser } = await startRoleWard(people));
  mkdirSync(ARTIFACTS, { recursive: true });
  await admin("POST", "/integrations", {
    integration_id: "arrests",
    name: "Arrest call system",
    kind: "arrest call",
    scopes: ["alarms.write", "alarms.read"],
  });
  ({ key } = await admin("POST", "/integrations/arrests/keys", { label: "primary" }));
  assert.ok(typeof key === "string" && key.length > 10, "the key is shown once");
});

after(async () => {
  await stopWard({ server, browser });
});

const admin = (method, p, body) => call(server.baseUrl, method, A + p, body, people.boss.token);

/** The arrest team (Priya and Omar), and the rule sending them cardiac arrests as incidents. */
async function arrangeArrests() {
  await addRole(server, people, {
    role_id: "arrest-team",
    name: "Arrest team",
    department: "Medicine",
    eligibility: { users: [people.priya.userId, people.omar.userId] },
  });
  await setHolders(server, people, "arrest-team", ["priya", "omar"]);
  await admin("PUT", "/alarm_rules/arrests", {
    name: "Cardiac arrests",
    match: { kinds: ["cardiac_arrest"] },
    action: { mode: "incident", targets: [{ kind: "role", role: "arrest-team" }], level: "emergency" },
  });
}

/** The arrest system raises an alarm (integration API): its id. */
async function raise(alarm) {
  const r = await call(server.baseUrl, "POST", "/_wardline/integration/v1/alarms", alarm, key);
  assert.match(r.alarm_id, /^al_/);
  return r.alarm_id;
}

/** The alarm's message bubble. */
const alarmMsg = (page) => page.locator(".timeline .msg", { has: page.locator(".alarm-msg") });
/** The incident header of the open conversation. */
const header = (page) => page.getByRole("region", { name: "Incident" });

test("an arrest opens an incident: responders see it, one is coming, one can't, and it is closed with a reason", async () => {
  await arrangeArrests();
  const contexts = [await browser.newContext(PHONE), await browser.newContext(PHONE), await browser.newContext(DESKTOP)];
  const [priya, omar, desk] = await Promise.all(contexts.map((c) => c.newPage()));
  const shot = (page, name) => page.screenshot({ path: path.join(ARTIFACTS, `incident-${name}.png`) });
  try {
    await signIn(priya, server, "priya");
    await signIn(omar, server, "omar");
    await signIn(desk, server, "priya");
    // Nobody is in an incident yet.
    for (const page of [priya, omar, desk]) {
      const nav = page.getByRole("button", { name: /^Incidents/ });
      await nav.waitFor(WAIT);
      assert.equal(await nav.innerText(), "Incidents", "no open incident to count");
    }

    // The arrest system raises an arrest.
    await raise({
      source_id: "arrest-1",
      kind: "cardiac_arrest",
      priority: "emergency",
      location: { site: "Main", ward: "Ward 7", room: "3", bed: "12" },
      patient: { id: "H123456", system: "mrn" },
      text: "Adult arrest, crash team to bed 12",
    });

    // Every page: the red emergency banner (from the arrest system, in the incident), and the
    // incident counted in the sidebar.
    for (const page of [priya, omar, desk]) {
      const banner = page.locator(".waiting-banner.emergency");
      await banner.getByText("EMERGENCY").waitFor(WAIT);
      assert.match(await banner.innerText(), /EMERGENCY from Arrest call system in Cardiac arrest — Main, Ward 7, room 3, bed 12 at \d\d:\d\d/);
      await page.getByRole("button", { name: "Incidents 1 open" }).waitFor(WAIT);
    }

    // Priya (phone) opens it from the banner: the alarm, drawn as one.
    await priya.locator(".waiting-banner").getByRole("button", { name: "Open" }).click();
    const alarm = alarmMsg(priya);
    await alarm.waitFor(WAIT);
    const card = alarm.locator(".alarm-msg");
    assert.ok(await card.evaluate((el) => el.classList.contains("tone-red")), "a cardiac arrest is red");
    assert.equal(await card.locator(".alarm-kind").innerText(), "CARDIAC ARREST");
    assert.equal(await card.locator(".priority-badge").innerText(), "‼ EMERGENCY");
    assert.equal(await card.locator(".alarm-location").innerText(), PLACE);
    assert.equal(await card.locator(".alarm-patient").innerText(), "Patient H123456 (mrn)");
    assert.equal(await card.locator(".alarm-text").innerText(), "Adult arrest, crash team to bed 12", "the source's text, without the server's prefix and answer list");
    assert.equal(await card.locator(".alarm-source").innerText(), "From Arrest call system");
    const place = await card.locator(".alarm-location").evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
    assert.ok(place >= 20, `the place in large type (${place}px)`);
    const coming = card.getByRole("button", { name: "Coming" });
    const cannot = card.getByRole("button", { name: "Can't come" });
    for (const b of [coming, cannot]) {
      const box = await b.boundingBox();
      assert.ok(box && box.height >= 44 && box.width >= 44, "a big touch target");
    }
    await header(priya).locator(".incident-count").getByText("Nobody coming yet · 2 alerted").waitFor(WAIT);
    assert.equal(await priya.locator(".conversation header h2 .incident-title").innerText(), "Cardiac arrest", "its name: what, not where");
    await shot(priya, "phone-1-alarm");

    // Omar (phone) watches the incident list.
    await omar.getByRole("button", { name: "Incidents 1 open" }).click();
    const item = omar.locator(".incident-card", { hasText: PLACE });
    await item.waitFor(WAIT);
    assert.match(await item.innerText(), /OPEN\s+since \d\d:\d\d/);
    assert.match(await item.locator(".incident-count").innerText(), /^! Nobody coming yet · 2 alerted$/);
    await shot(omar, "phone-2-list-open");

    // Priya is coming: her answer, her banner gone; Omar's list says so (the sync brought it).
    await coming.click();
    await card.getByText(/You answered “Coming” at \d\d:\d\d/).waitFor(WAIT);
    await priya.locator(".waiting-banner").waitFor({ state: "detached", ...WAIT });
    await item.locator(".incident-count").getByText("1 coming · 2 alerted").waitFor(WAIT);
    // (One acceptance ends the alarm's escalation, so Omar is no longer waited for either.)
    await omar.locator(".waiting-banner").waitFor({ state: "detached", ...WAIT });
    assert.match(await item.locator(".incident-coming").innerText(), /Coming: Dr Priya Shah \(\d\d:\d\d\)/);
    await shot(omar, "phone-3-list-coming");

    // Omar opens it from the list: the incident's header says who is coming; he can't come.
    await item.getByRole("button", { name: new RegExp(PLACE) }).click();
    await header(omar).locator(".incident-coming").getByText("Dr Priya Shah").waitFor(WAIT);
    const his = alarmMsg(omar).locator(".alarm-msg");
    await his.getByRole("button", { name: "Can't come" }).click();
    await his.getByLabel("Reason (optional)").fill("In theatre");
    await his.getByRole("button", { name: "Send: Can't come" }).click();
    await his.getByText(/You answered “Can't come” at \d\d:\d\d: In theatre/).waitFor(WAIT);
    await header(omar).locator(".incident-not-coming").getByText("Dr Omar Farouk").waitFor(WAIT);
    await header(omar).getByText("1 coming · 1 can't come · 2 alerted").waitFor(WAIT);
    await shot(omar, "phone-4-header-answered");

    // Priya's ward PC: the same header, and her answer on the alarm.
    await desk.getByRole("button", { name: "Incidents 1 open" }).click();
    await desk.locator(".incident-card", { hasText: PLACE }).getByRole("button", { name: new RegExp(PLACE) }).click();
    const deskHeader = header(desk);
    await deskHeader.getByText("1 coming · 1 can't come · 2 alerted").waitFor(WAIT);
    assert.match(await deskHeader.locator(".incident-coming").innerText(), /Coming: Dr Priya Shah \(\d\d:\d\d\)/);
    assert.match(await deskHeader.locator(".incident-not-coming").innerText(), /Can't come: Dr Omar Farouk \(\d\d:\d\d\)/);
    assert.equal(await deskHeader.locator(".incident-patient").innerText(), "Patient H123456 (mrn)");
    await alarmMsg(desk).getByText(/You answered “Coming” at \d\d:\d\d/).waitFor(WAIT);
    await shot(desk, "desktop-1-header");

    // Priya starts closing it on the PC; meanwhile Omar closes it, with a reason.
    await deskHeader.getByRole("button", { name: "Close incident" }).click();
    const deskDialog = desk.getByRole("dialog", { name: "Close incident" });
    await deskDialog.getByLabel("Reason (optional)").fill("Stood down");
    await header(omar).getByRole("button", { name: "Close incident" }).click();
    const dialog = omar.getByRole("dialog", { name: "Close incident" });
    await dialog.getByLabel("Reason (optional)").fill("ROSC achieved");
    await shot(omar, "phone-5-close-dialog");
    await dialog.getByRole("button", { name: "Close incident" }).click();
    await dialog.waitFor({ state: "detached", ...WAIT });
    await header(omar).getByText(/CLOSED\s+at \d\d:\d\d by Dr Omar Farouk: ROSC achieved/).waitFor(WAIT);
    assert.equal(await header(omar).getByRole("button", { name: "Close incident" }).count(), 0, "nothing left to close");
    await alarmMsg(omar).getByText("Incident closed").waitFor(WAIT);
    await shot(omar, "phone-6-closed");

    // Priya's close comes too late: the server's refusal, in its words.
    await deskDialog.getByRole("button", { name: "Close incident" }).click();
    await deskDialog.getByRole("alert").getByText("Not closed: the incident is already closed").waitFor(WAIT);
    await deskDialog.getByRole("button", { name: "Cancel" }).click();
    await deskDialog.waitFor({ state: "detached", ...WAIT });

    // Both of Priya's pages see it closed, by Omar, and why; the count of open ones is gone.
    for (const page of [desk, priya]) {
      await header(page).getByText(/CLOSED\s+at \d\d:\d\d by Dr Omar Farouk: ROSC achieved/).waitFor(WAIT);
      await alarmMsg(page).getByText("Incident closed").waitFor(WAIT);
    }
    await desk.getByRole("button", { name: "Incidents", exact: true }).waitFor(WAIT);
    await shot(desk, "desktop-2-closed");
    // Night shift: the same in dark mode.
    await desk.emulateMedia({ colorScheme: "dark" });
    await shot(desk, "desktop-3-closed-dark");
    await desk.getByRole("button", { name: "Incidents", exact: true }).click();
    await desk.locator(".incident-card.closed", { hasText: PLACE }).waitFor(WAIT);
    await shot(desk, "desktop-4-list-dark");
    await shot(priya, "phone-7-closed");
    await priya.getByRole("button", { name: "Back to conversations" }).click();
    await priya.getByRole("button", { name: "Incidents", exact: true }).click();
    const closed = priya.locator(".incident-card.closed", { hasText: PLACE });
    await closed.waitFor(WAIT);
    assert.match(await closed.innerText(), /CLOSED\s+at \d\d:\d\d by Dr Omar Farouk: ROSC achieved/);
    await shot(priya, "phone-8-list-closed");

    // The server agrees: closed by Omar with his reason, Priya coming, Omar not.
    const list = await call(server.baseUrl, "GET", "/_wardline/client/v1/incidents", undefined, people.priya.token);
    const it = list.incidents.find((i) => i.title === TITLE);
    assert.equal(it.state, "closed");
    assert.equal(it.closed_by, people.omar.userId);
    assert.equal(it.reason, "ROSC achieved");
    assert.deepEqual(it.coming.map((c) => c.user_id), [people.priya.userId]);
    assert.deepEqual(it.not_coming.map((c) => c.user_id), [people.omar.userId]);
  } finally {
    for (const c of contexts) await c.close();
  }
});

test("a nurse call to a conversation, amber, then reset by its source: the alarm says so and asks nothing more (phone)", async () => {
  await admin("PUT", "/alarm_rules/calls", {
    name: "Ward 7 nurse calls",
    match: { kinds: ["nurse_call"] },
    action: { mode: "conversation", targets: [{ kind: "user", user_id: people.nora.userId }], level: "urgent" },
  });
  const context = await browser.newContext(PHONE);
  const nora = await context.newPage();
  try {
    await signIn(nora, server, "nora");
    const id = await raise({
      source_id: "call-4",
      kind: "nurse_call",
      priority: "high",
      location: { ward: "Ward 7", bed: "4" },
      text: "Patient call",
    });
    const banner = nora.locator(".waiting-banner.urgent");
    await banner.getByText("URGENT").waitFor(WAIT);
    await banner.getByRole("button", { name: "Open" }).click();
    const card = alarmMsg(nora).locator(".alarm-msg");
    await card.waitFor(WAIT);
    assert.ok(await card.evaluate((el) => el.classList.contains("tone-amber")), "a nurse call is amber");
    assert.equal(await card.locator(".alarm-kind").innerText(), "NURSE CALL");
    assert.equal(await card.locator(".priority-badge").innerText(), "⚠ URGENT");
    assert.equal(await card.locator(".alarm-location").innerText(), "Ward 7, bed 4");
    assert.equal(await card.locator(".alarm-patient").count(), 0, "no patient named");
    assert.equal(await card.locator(".alarm-text").innerText(), "Patient call");
    await card.getByRole("button", { name: "Accept" }).waitFor(WAIT);
    await card.getByRole("button", { name: "Decline" }).waitFor(WAIT);
    // A conversation, not an incident: no incident header.
    assert.equal(await nora.getByRole("region", { name: "Incident" }).count(), 0);
    await nora.screenshot({ path: path.join(ARTIFACTS, "incident-phone-9-nurse-call.png") });

    // The source resets it: the notice, and the alarm no longer asks.
    await call(server.baseUrl, "POST", `/_wardline/integration/v1/alarms/${id}/reset`, { reason: "answered at the bedside" }, key);
    const notice = nora.locator(".timeline .alarm-ended-line");
    await notice.getByText("Nurse call — Ward 7, bed 4 reset by the source: answered at the bedside").waitFor(WAIT);
    await card.getByText(/Reset by the source at \d\d:\d\d/).waitFor(WAIT);
    assert.equal(await card.getByRole("button", { name: "Accept" }).count(), 0, "nothing to answer once reset");
    await banner.waitFor({ state: "detached", ...WAIT });
    await nora.screenshot({ path: path.join(ARTIFACTS, "incident-phone-10-nurse-call-reset.png") });

    // Nora is in no incident.
    await nora.getByRole("button", { name: "Back to conversations" }).click();
    await nora.getByRole("button", { name: "Incidents", exact: true }).click();
    await nora.getByText("You are in no incident.", { exact: false }).waitFor(WAIT);
  } finally {
    await context.close();
  }
});
