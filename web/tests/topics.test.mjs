// Browser test of clinical alert topics (issue 15): an administrator makes the topic "NEWS2 ≥ 7"
// on the alert topics screen (first refused by the server: open to nobody; its words shown
// beside the form), limits the nurse in charge to Ward 7 (kept when saved again), and a rule
// sending NEWS2 ≥ 7 results to it; the nurse ticks "Ward 7", the one scope open to her, in her
// settings, and finds it so after a reload; a registrar subscribes for all
// wards; the switchboard operator sees it is not open to him, without controls; a registrar
// whose topic was closed to him meanwhile is told the server's refusal beside Save. The
// electronic patient record sends a NEWS2 of 9 for a Ward 7 patient as HL7 ORU^R01 over MLLP:
// both phones show the alert in a conversation of its own (topic, place, result, "Take"); the
// registrar takes it, the nurse sees "Taken by Dr Priya Shah", and the nurse's reading shows in
// who has seen it. Phone and ward PC sizes. Real `wardline` binary, Debian's Chromium;
// screenshots in web/test-artifacts/.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import net from "node:net";
import path from "node:path";

import { REPO_ROOT } from "../../tests/clients/wardline-server.mjs";
import { WAIT, call, reading, signIn, stopWard, until } from "./support.mjs";
import { DESKTOP, PHONE, addRole, setHolders, startRoleWard } from "./roleward.mjs";

const ARTIFACTS = path.join(REPO_ROOT, "web", "test-artifacts");
const A = "/_wardline/admin/v1";
const C = "/_wardline/client/v1";
const TOPIC = "NEWS2 ≥ 7";
const PLACE = "Main, Ward 7, bed 12";
const ROOM = `${TOPIC} — ${PLACE}`;

let server;
let browser;
const people = {};

before(async () => {
  ({ server, browser } = await startRoleWard(people, { env: { WARDLINE_HL7__LISTEN: "127.0.0.1:0" } }));
  mkdirSync(ARTIFACTS, { recursive: true });
  // Who may take the topic: Ward 7's nurse in charge (Nora) and the medical registrars.
  await addRole(server, people, { role_id: "ward7-nic", name: "Ward 7 nurse in charge", department: "Ward 7", eligibility: { users: [people.nora.userId] } });
  await setHolders(server, people, "ward7-nic", ["nora"]);
  await addRole(server, people, { role_id: "med-reg", name: "Medical registrar", department: "Medicine", eligibility: { users: [people.priya.userId, people.omar.userId] } });
  await setHolders(server, people, "med-reg", ["priya"]);
  // The electronic patient record sends results over HL7 v2 from this machine.
  await admin("POST", "/integrations", { integration_id: "epr", name: "Electronic patient record", kind: "epr", scopes: ["hl7.observations"] });
  await admin("PUT", "/integrations/epr/hl7", { sending_application: "EPR", sending_facility: "MAIN", allowed_addresses: ["127.0.0.0/8"] });
});

after(async () => {
  await stopWard({ server, browser });
});

const admin = (method, p, body) => call(server.baseUrl, method, A + p, body, people.boss.token);

/** The port the server takes HL7 v2 over MLLP on (its "wardline hl7 listening on" line). */
function hl7Port() {
  const line = server.log.map((l) => /wardline hl7 listening on 127\.0\.0\.1:(\d+)/.exec(l)).find(Boolean);
  assert.ok(line, `the server said where it listens for HL7\n${server.logTail()}`);
  return Number(line[1]);
}

/** Sends one HL7 message in an MLLP frame and reads the answer's MSA (code, control id). */
function sendHl7(segments) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(hl7Port(), "127.0.0.1");
    let got = Buffer.alloc(0);
    socket.setTimeout(20_000, () => socket.destroy(new Error("no HL7 answer")));
    socket.on("connect", () => socket.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(`${segments.join("\r")}\r`, "utf8"), Buffer.from([0x1c, 0x0d])])));
    socket.on("data", (d) => {
      got = Buffer.concat([got, d]);
      const end = got.indexOf(0x1c);
      if (end < 0) return;
      socket.end();
      const answer = got.subarray(got.indexOf(0x0b) + 1, end).toString("utf8");
      const msa = answer.split("\r").find((s) => s.startsWith("MSA|"));
      resolve({ answer, msa: msa ? msa.split("|").slice(1, 3) : null });
    });
    socket.on("error", reject);
  });
}

/** The alert's message bubble. */
const alertMsg = (page) => page.locator(".timeline .msg", { has: page.locator(".alarm-msg") });
/** A topic's card on the alert topics screen (settings). */
const topicCard = (page, name) => page.locator(".topic-card", { has: page.getByRole("heading", { name }) });

async function openTopics(page) {
  await page.getByRole("button", { name: "Alert topics" }).click();
  await page.getByRole("region", { name: "Alert topics" }).waitFor(WAIT);
}

test("an administrator makes the topic and the rule that sends NEWS2 ≥ 7 results to it (ward PC)", async () => {
  const context = await browser.newContext(DESKTOP);
  const page = await context.newPage();
  const shot = (name) => page.screenshot({ path: path.join(ARTIFACTS, `topics-admin-desktop-${name}.png`), fullPage: true });
  try {
    await signIn(page, server, "boss");
    await page.getByRole("button", { name: "Alarms admin" }).click();
    await page.getByRole("tab", { name: "Alert topics" }).click();
    await page.getByText("No alert topics yet.", { exact: false }).waitFor(WAIT);

    // Open to nobody: the server refuses it, in its words, beside the form.
    await page.getByRole("button", { name: "New topic" }).click();
    const form = page.getByRole("form", { name: "New topic" });
    await form.getByLabel("Topic id").fill("news2-high");
    await form.getByLabel("Name", { exact: true }).fill(TOPIC);
    await form.getByLabel("Description (optional)").fill("A NEWS2 score of 7 or more: urgent review by a clinician with critical care skills.");
    await form.getByRole("button", { name: "Create topic" }).click();
    await form.locator(".rule-refusal").getByText("Not saved: ", { exact: false }).waitFor(WAIT);
    assert.match(await form.locator(".rule-refusal").innerText(), /open_to/, "the server says what is wrong");
    await shot("1-topic-refused");

    // Open to the nurse in charge and the registrars: created.
    for (const role of ["Ward 7 nurse in charge", "Medical registrar"]) {
      await form.getByLabel("Add a role").selectOption({ label: role });
      await form.getByRole("button", { name: "Add role" }).click();
      await form.getByRole("list", { name: "Who may subscribe: chosen" }).getByText(role).waitFor(WAIT);
    }
    await form.getByRole("button", { name: "Create topic" }).click();
    await form.waitFor({ state: "detached", ...WAIT });
    const card = page.locator(".topic-admin-card", { hasText: TOPIC });
    await card.waitFor(WAIT);
    assert.match(await card.locator("h3").innerText(), /NEWS2 ≥ 7 \(news2-high\)/);
    assert.match(await card.innerText(), /Open to: Ward 7 nurse in charge, Medical registrar/);
    assert.match(await card.innerText(), /Subscribers: 0/);
    const stored = (await admin("GET", "/alert_topics")).topics.find((t) => t.id === "news2-high");
    assert.equal(stored.name, TOPIC);
    assert.deepEqual(stored.open_to, [
      { kind: "role", role: "ward7-nic" },
      { kind: "role", role: "med-reg" },
    ]);
    await shot("2-topic");

    // Editing it: the nurse in charge limited to Ward 7 (a ward's nurse to her ward); the limit
    // is kept when the topic is saved again for its description alone.
    await card.getByRole("button", { name: `Edit ${TOPIC}` }).click();
    const editing = page.getByRole("form", { name: `Edit ${TOPIC}` });
    await editing.getByLabel("Ward 7 nurse in charge: only").fill("Ward 7");
    await editing.getByRole("button", { name: "Save topic" }).click();
    await editing.waitFor({ state: "detached", ...WAIT });
    const limited = (await admin("GET", "/alert_topics")).topics.find((t) => t.id === "news2-high");
    assert.deepEqual(limited.open_to, [
      { kind: "role", role: "ward7-nic", scopes: ["ward:Ward 7"] },
      { kind: "role", role: "med-reg" },
    ]);
    await card.getByRole("button", { name: `Edit ${TOPIC}` }).click();
    assert.equal(await editing.getByLabel("Ward 7 nurse in charge: only").inputValue(), "Ward 7", "shown as saved");
    await editing.getByLabel("Description (optional)").fill("A NEWS2 score of 7 or more: urgent review.");
    await editing.getByRole("button", { name: "Save topic" }).click();
    await editing.waitFor({ state: "detached", ...WAIT });
    const kept = (await admin("GET", "/alert_topics")).topics.find((t) => t.id === "news2-high");
    assert.deepEqual(kept.open_to, limited.open_to, "never dropped by saving something else");

    // The rule: a NEWS2 of 7 or more from the patient record, to the topic.
    await page.getByRole("tab", { name: "Alarm rules" }).click();
    await page.getByRole("button", { name: "New rule" }).click();
    const rule = page.getByRole("form", { name: "New rule" });
    await rule.getByLabel("Rule id").fill("news2");
    await rule.getByLabel("Name", { exact: true }).fill("NEWS2 alerts");
    await rule.getByLabel("Observation code").fill("NEWS2");
    await rule.getByLabel("Comparison").selectOption({ label: "at least (≥)" });
    await rule.getByLabel("Value", { exact: true }).fill("7");
    await rule.getByLabel("Clinical alert topic", { exact: false }).check();
    await rule.getByLabel("Topic", { exact: true }).selectOption({ label: TOPIC });
    await rule.getByLabel("⚠ Urgent").check();
    // (Subscribers are its recipients: nobody else need be chosen.)
    await rule.getByText("Nobody chosen yet.").waitFor(WAIT);
    await shot("3-rule-form");
    await rule.getByRole("button", { name: "Create rule" }).click();
    await rule.waitFor({ state: "detached", ...WAIT });
    const ruleCard = page.locator(".rule-card", { hasText: "NEWS2 alerts" });
    await ruleCard.waitFor(WAIT);
    assert.match(await ruleCard.innerText(), /Matches: .*result NEWS2 ≥ 7/);
    assert.match(await ruleCard.innerText(), /Does: Clinical alert topic “NEWS2 ≥ 7”: each alert a conversation of its own, to its subscribers at urgent/);
    const saved = (await admin("GET", "/alarm_rules")).rules.find((r) => r.rule.id === "news2").rule;
    assert.deepEqual(saved.match.observation, { code: "NEWS2", op: "ge", value: 7 });
    assert.equal(saved.action.mode, "topic");
    assert.equal(saved.action.topic, "news2-high");
    assert.deepEqual(saved.action.targets, []);
    await shot("4-rules");

    // The rule's form shows what was saved when opened again.
    await ruleCard.getByRole("button", { name: "Edit NEWS2 alerts" }).click();
    const edit = page.getByRole("form", { name: "Edit NEWS2 alerts" });
    assert.equal(await edit.getByLabel("Observation code").inputValue(), "NEWS2");
    assert.equal(await edit.getByLabel("Value", { exact: true }).inputValue(), "7");
    assert.ok(await edit.getByLabel("Clinical alert topic", { exact: false }).isChecked());
    assert.equal(await edit.getByLabel("Topic", { exact: true }).inputValue(), "news2-high");
    await edit.getByRole("button", { name: "Cancel" }).click();
  } finally {
    await context.close();
  }
});

test("on a phone: the topics screen fits, and a new topic's form opens", async () => {
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  try {
    await signIn(page, server, "boss");
    await page.getByRole("button", { name: "Alarms admin" }).click();
    await page.getByRole("tab", { name: "Alert topics" }).click();
    const card = page.locator(".topic-admin-card", { hasText: TOPIC });
    await card.waitFor(WAIT);
    const box = await card.boundingBox();
    assert.ok(box && box.width <= 390, `the card fits the phone (${JSON.stringify(box)})`);
    assert.ok(!(await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth)), "nothing wider than the phone");
    await page.screenshot({ path: path.join(ARTIFACTS, "topics-admin-phone-1-topics.png") });
    await card.getByRole("button", { name: `Edit ${TOPIC}` }).click();
    await page.getByRole("form", { name: `Edit ${TOPIC}` }).getByRole("list", { name: "Who may subscribe: chosen" }).getByText("Medical registrar").waitFor(WAIT);
    await page.screenshot({ path: path.join(ARTIFACTS, "topics-admin-phone-2-topic-form.png") });
  } finally {
    await context.close();
  }
});

test("staff subscribe in their settings; a result raises an alert both phones show; the registrar takes it; the nurse sees who took it", async () => {
  const contexts = [await browser.newContext(PHONE), await browser.newContext(PHONE), await browser.newContext(PHONE), await browser.newContext(DESKTOP)];
  const [nora, priya, sam, omar] = await Promise.all(contexts.map((c) => c.newPage()));
  const shot = (page, name) => page.screenshot({ path: path.join(ARTIFACTS, `topics-${name}.png`) });
  try {
    await Promise.all([signIn(nora, server, "nora"), signIn(priya, server, "priya"), signIn(sam, server, "sam"), signIn(omar, server, "omar")]);

    // Nora (phone) takes NEWS2 ≥ 7 for Ward 7.
    await openTopics(nora);
    const hers = topicCard(nora, TOPIC);
    await hers.getByText("You do not get its alerts.").waitFor(WAIT);
    // The topic is open to her for her ward alone: that is what she may tick.
    await hers.getByRole("group", { name: "Where it is open to you" }).waitFor(WAIT);
    assert.equal(await hers.getByLabel("All wards").count(), 0, "not every ward's");
    assert.equal(await hers.getByRole("textbox").count(), 0, "no other ward by name");
    await hers.getByLabel("Ward 7").check();
    await hers.getByText("Not saved yet.").waitFor(WAIT);
    await hers.getByRole("button", { name: "Save", exact: true }).click();
    await hers.getByText("You get its alerts for: Ward 7").waitFor(WAIT);
    await hers.getByRole("status").getByText("Saved.").waitFor(WAIT);
    await shot(nora, "phone-1-nurse-subscribed");
    const mine = (await call(server.baseUrl, "GET", `${C}/alert_topics`, undefined, people.nora.token)).topics.find((t) => t.id === "news2-high");
    assert.deepEqual(mine.scopes, ["ward:Ward 7"], "the server keeps her scope");
    // After a reload: as saved.
    await nora.reload();
    await nora.getByRole("button", { name: "New chat" }).waitFor(WAIT);
    await openTopics(nora);
    const again = topicCard(nora, TOPIC);
    await again.getByText("You get its alerts for: Ward 7").waitFor(WAIT);
    assert.ok(await again.getByLabel("Ward 7").isChecked(), "as saved");

    // Priya (phone) takes it for all wards.
    await openTopics(priya);
    const reg = topicCard(priya, TOPIC);
    await reg.getByLabel("All wards").check();
    await reg.getByRole("button", { name: "Save", exact: true }).click();
    await reg.getByText("You get its alerts for: All wards").waitFor(WAIT);
    await shot(priya, "phone-2-registrar-subscribed");

    // Sam (phone): listed, not open to him, nothing to change.
    await openTopics(sam);
    const his = topicCard(sam, TOPIC);
    await his.getByText("Not open to you").waitFor(WAIT);
    for (const role of ["checkbox", "button", "textbox", "combobox"]) {
      assert.equal(await his.getByRole(role).count(), 0, `no ${role} on a topic not open to him`);
    }
    await shot(sam, "phone-3-not-open");

    // Omar (ward PC): a topic open to him only, closed to him while his screen is open: Save is
    // refused, in the server's words.
    await admin("PUT", "/alert_topics/sepsis", { name: "Sepsis screen positive", open_to: [{ kind: "user", user_id: people.omar.userId }] });
    await openTopics(omar);
    const sepsis = topicCard(omar, "Sepsis screen positive");
    await sepsis.getByLabel("All wards").waitFor(WAIT);
    const { version } = (await admin("GET", "/alert_topics")).topics.find((t) => t.id === "sepsis");
    await admin("PUT", "/alert_topics/sepsis", { name: "Sepsis screen positive", open_to: [{ kind: "user", user_id: people.priya.userId }], version });
    await sepsis.getByLabel("All wards").check();
    await sepsis.getByRole("button", { name: "Save", exact: true }).click();
    const refusal = sepsis.getByRole("alert");
    await refusal.getByText("Not saved: ", { exact: false }).waitFor(WAIT);
    assert.match(await refusal.innerText(), /not open to you/, "the server's words");
    await sepsis.getByText("You do not get its alerts.").waitFor(WAIT);
    await shot(omar, "desktop-1-refused");

    // A topic open to him for two wards only: those to tick, nothing else to choose.
    await admin("PUT", "/alert_topics/aki", {
      name: "AKI stage 3",
      open_to: [{ kind: "user", user_id: people.omar.userId, scopes: ["ward:Ward 7", "ward:Ward 8"] }],
    });
    await omar.reload();
    await omar.getByRole("button", { name: "New chat" }).waitFor(WAIT);
    await openTopics(omar);
    const aki = topicCard(omar, "AKI stage 3");
    await aki.getByRole("group", { name: "Where it is open to you" }).waitFor(WAIT);
    assert.equal(await aki.getByLabel("All wards").count(), 0, "not all wards");
    assert.equal(await aki.getByRole("textbox").count(), 0, "no ward by name");
    await aki.getByLabel("Ward 8").check();
    await aki.getByRole("button", { name: "Save", exact: true }).click();
    await aki.getByText("You get its alerts for: Ward 8").waitFor(WAIT);
    const akiMine = (await call(server.baseUrl, "GET", `${C}/alert_topics`, undefined, people.omar.token)).topics.find((t) => t.id === "aki");
    assert.deepEqual([akiMine.scopes, akiMine.allowed_scopes], [["ward:Ward 8"], ["ward:Ward 7", "ward:Ward 8"]]);

    // The patient record sends a NEWS2 of 9 for a Ward 7 patient (original mode: AA once stored).
    const { msa, answer } = await sendHl7([
      "MSH|^~\\&|EPR|MAIN|WARDLINE|HOSP|20261201101500||ORU^R01^ORU_R01|news2-0001|P|2.5",
      "PID|||H123456^^^HOSP^MR||Hon^Albert||19610101|M",
      "PV1||I|Ward 7^^12^Main|||||||MED",
      "OBR|1||LAB1|NEWS2^NEWS2 assessment^L|||20261201101400",
      "OBX|1|NM|NEWS2^NEWS2 score^L||9|score|||||F|||20261201101400",
    ]);
    assert.deepEqual(msa, ["AA", "news2-0001"], `the record's result is taken: ${answer}`);

    // Both phones: the alert, in a conversation of its own.
    for (const page of [nora, priya]) {
      await page.getByRole("region", { name: "Alert topics" }).getByRole("button", { name: "Close" }).click();
      const item = page.locator(".rooms li", { hasText: ROOM });
      await item.waitFor(WAIT);
      await item.click();
      const card = alertMsg(page).locator(".alarm-msg");
      await card.waitFor(WAIT);
      assert.ok(await card.evaluate((el) => el.classList.contains("tone-blue")), "a clinical alert is blue");
      assert.equal(await card.locator(".alarm-kind").innerText(), "CLINICAL ALERT");
      assert.equal(await card.locator(".priority-badge").innerText(), "⚠ URGENT");
      assert.equal(await card.locator(".alarm-topic").innerText(), `Topic ${TOPIC}`);
      assert.equal(await card.locator(".alarm-location").innerText(), PLACE);
      assert.equal(await card.locator(".alarm-observation").innerText(), "NEWS2 score 9 score");
      assert.equal(await card.getByText("NEWS2 score 9 score", { exact: true }).count(), 1, "the result said once");
      assert.match(await card.locator(".alarm-patient").innerText(), /H123456/);
      const take = card.getByRole("button", { name: "Take", exact: true });
      await take.waitFor(WAIT);
      const box = await take.boundingBox();
      assert.ok(box && box.height >= 44 && box.width >= 44, "a big touch target");
      assert.equal(await card.getByRole("button").filter({ hasText: /Decline|Can't/ }).count(), 0, "one answer: Take");
    }
    await shot(nora, "phone-4-nurse-alert");

    // Nora reads it (the server records her read receipt).
    const alertId = await alertMsg(nora).getAttribute("data-event");
    const { joined_rooms: rooms } = await call(server.baseUrl, "GET", "/_matrix/client/v3/joined_rooms", undefined, people.priya.token);
    /** The alert's status as the server has it (asked in each of Priya's rooms: its own answers). */
    const statusOf = async () => {
      for (const r of rooms) {
        const res = await fetch(`${server.baseUrl}${C}/rooms/${encodeURIComponent(r)}/status/${encodeURIComponent(alertId)}`, {
          headers: { authorization: `Bearer ${people.priya.token}` },
        });
        if (res.ok) return res.json();
      }
      return null;
    };
    await reading(
      nora,
      until(async () => (await statusOf())?.recipients.find((x) => x.user_id === people.nora.userId)?.read_ts, "Nora's read receipt"),
    );

    // Priya takes it: hers says so; Nora's says who took it.
    const priyaCard = alertMsg(priya).locator(".alarm-msg");
    await priyaCard.getByRole("button", { name: "Take", exact: true }).click();
    await priyaCard.getByText(/You answered “Take” at \d\d:\d\d/).waitFor(WAIT);
    await shot(priya, "phone-5-registrar-took");
    const noraCard = alertMsg(nora).locator(".alarm-msg");
    await noraCard.getByText(/Taken by Dr Priya Shah at \d\d:\d\d/).waitFor(WAIT);
    await shot(nora, "phone-6-nurse-taken-by");

    // Who has seen it: Nora's reading, on Priya's phone.
    const seen = priyaCard.locator(".alarm-seen");
    await seen.getByText("Nora Quinn", { exact: false }).waitFor(WAIT);
    await seen.getByRole("button", { name: /^Seen by \d of 2: show who has seen it$/ }).click();
    const dialog = priya.getByRole("dialog", { name: "Who has read this message" });
    await dialog.locator(".read-list li", { hasText: "Nora Quinn" }).waitFor(WAIT);
    assert.match(await dialog.locator(".read-list").innerText(), /Nora Quinn at \d\d:\d\d/);
    await shot(priya, "phone-7-seen-by");
    await dialog.getByRole("button", { name: "Close" }).click();

    // The server agrees: Priya took it.
    const st = await statusOf();
    assert.equal(st.recipients.find((x) => x.user_id === people.priya.userId)?.answer?.option, "accept");
    // Its subscribers whose scope fits, no one else (not Omar, not Sam).
    assert.deepEqual(st.recipients.map((x) => x.user_id).sort(), [people.nora.userId, people.priya.userId].sort());
  } finally {
    for (const c of contexts) await c.close();
  }
});
