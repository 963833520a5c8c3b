// Browser tests of priority messages, answers and escalation (issue 14), at desktop and phone
// size: a nurse sends an urgent message to two registrars; the first, in the background, gets
// the urgent notification and sound, then sees the badge (the text without the server's tag and
// reaction list) and declines with a reason; the nurse sees "Declined" with the reason, and the
// server's escalation notice (a decline runs the next step at once); the second acknowledges,
// and the nurse's status says acknowledged and the escalation accepted; the notice leads to the
// message. Quick responses: the options the nurse chose are the registrar's buttons, and the one
// chosen shows in her tally; an emergency asks to confirm, and breaks through do-not-disturb.
// Real `wardline` binary, Debian's Chromium.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";

import { REPO_ROOT } from "../../tests/clients/wardline-server.mjs";
import { WAIT, active, call, conversation, eventsOf, openConversation, signIn, status, stopWard, until } from "./support.mjs";
import { DESKTOP, PHONE, startRoleWard } from "./roleward.mjs";


const ARTIFACTS = path.join(REPO_ROOT, "web", "test-artifacts");

let server;
let browser;
const people = {};

before(async () => {
  ({ server, browser } = await startRoleWard(people));
  mkdirSync(ARTIFACTS, { recursive: true });
  // The organisation's policy for urgent messages: re-notify at 30 min, the failsafe (the
  // switchboard operator) at an hour. Nothing falls due in the test unless a decline hastens it.
  await call(
    server.baseUrl,
    "PUT",
    "/_wardline/admin/v1/escalation_policies/org/urgent",
    {
      steps: [
        { after_ms: 1_800_000, action: "renotify" },
        { after_ms: 3_600_000, action: "failsafe", targets: [{ kind: "user", user_id: people.sam.userId }] },
      ],
    },
    people.boss.token,
  );
});

after(() => stopWard({ server, browser }));

/**
 * A context whose notifications are recorded in `window.__notes` and alert tones in
 * `window.__tones`, and whose tab counts as in the background while `window.__hidden`.
 */
async function context(size) {
  const c = await browser.newContext(size);
  await c.addInitScript(() => {
    window.__notes = [];
    window.__tones = [];
    window.__hidden = false;
    window.Notification = class {
      static permission = "granted";
      static requestPermission() {
        return Promise.resolve("granted");
      }
      constructor(title, options) {
        window.__notes.push({ title, body: options?.body, sticky: Boolean(options?.requireInteraction) });
      }
    };
    window.AudioContext = class {
      currentTime = 0;
      destination = {};
      resume() {
        return Promise.resolve();
      }
      close() {
        return Promise.resolve();
      }
      createGain() {
        return { gain: { value: 1 }, connect: (to) => to };
      }
      createOscillator() {
        const o = {
          type: "",
          frequency: { value: 0 },
          connect: (to) => to,
          start: () => window.__tones.push({ type: o.type, hz: o.frequency.value }),
          stop: () => undefined,
        };
        return o;
      }
    };
    Object.defineProperty(document, "visibilityState", {
      configurable: true,
      get: () => (window.__hidden ? "hidden" : "visible"),
    });
  });
  return c;
}

const notes = (page) => page.evaluate(() => window.__notes);
const tones = (page) => page.evaluate(() => window.__tones);

/** The bubble of the priority message with this text. */
const message = (page, text) => page.locator(".timeline .msg", { has: page.locator(".priority-msg", { hasText: text }) });

async function scenario({ size, label }) {
  const shot = (page, name) => page.screenshot({ path: path.join(ARTIFACTS, `priority-${label}-${name}.png`) });
  const name = `Bay 4 ${label}`;
  const text = `K+ 6.9 bed 4 (${label})`;
  const roomId = await conversation(server, people.nora.token, [people.priya, people.omar], { name });
  const [n, p, o] = [await context(size), await context(size), await context(size)];
  const [nora, priya, omar] = [await n.newPage(), await p.newPage(), await o.newPage()];
  try {
    await signIn(nora, server, "nora");
    await signIn(priya, server, "priya");
    await signIn(omar, server, "omar");
    await priya.evaluate(() => (window.__hidden = true));

    // The nurse makes it urgent and sends it.
    await openConversation(nora, name);
    // (On a phone the priority row opens from a button beside Attach.)
    if (label === "phone") await nora.getByRole("button", { name: "Priority and quick responses" }).click();
    await nora.locator("label.priority-choice", { hasText: "Urgent" }).click();
    await nora.getByLabel("Message", { exact: true }).fill(text);
    await shot(nora, "1-composing");
    await nora.getByRole("button", { name: "Send urgent" }).click();
    const mine = message(nora, text);
    await mine.locator(".priority-badge", { hasText: "URGENT" }).waitFor(WAIT);
    // The composer is routine again (on a phone its priority row closed).
    await nora.locator("form.composer.routine").waitFor(WAIT);
    if (label === "desktop") assert.ok(await nora.getByRole("radio", { name: "Routine" }).isChecked());
    const sent = await until(async () => {
      const events = await eventsOf(server, people.nora.token, roomId);
      return events.find((e) => e.content?.["org.wardline.priority"]?.level === "urgent");
    }, "the urgent message on the server");
    assert.ok(sent.content.body.startsWith("[URGENT] "), "the server completes what stock clients show");

    // The registrar, in the background: an urgent notification (no text) and the urgent sound.
    const note = await until(async () => (await notes(priya)).find((x) => x.title.includes("URGENT")), "the urgent notification");
    assert.equal(note.body, `Urgent message from Nora Quinn in ${name}`);
    assert.ok(!note.body.includes("K+"), "never the text");
    assert.ok((await tones(priya)).length >= 3, "the urgent alert sounds");

    // Wherever she is, the amber banner says it waits for her answer (not on the nurse's screen).
    const banner = priya.getByRole("alert", { name: "Waiting for your answer" });
    await banner.getByText(new RegExp(`URGENT from Nora Quinn in ${name} at \\d\\d:\\d\\d: waiting for your answer`)).waitFor(WAIT);
    assert.match(await banner.getAttribute("class"), /urgent/);
    assert.equal(await nora.getByRole("alert", { name: "Waiting for your answer" }).count(), 0, "not for its sender");
    // She opens it: the badge, the text alone, and the answers.
    await priya.evaluate(() => (window.__hidden = false));
    await openConversation(priya, name);
    const hers = message(priya, text);
    await hers.locator(".priority-badge", { hasText: "URGENT" }).waitFor(WAIT);
    assert.equal(await hers.locator(".priority-msg > .text").innerText(), text, "no [URGENT] tag, no reaction list");
    await hers.getByRole("button", { name: "Acknowledge" }).waitFor(WAIT);
    await shot(priya, "2-received");
    // She declines, with a reason.
    await hers.getByRole("button", { name: "Decline" }).click();
    await hers.getByLabel("Reason (optional)").fill("In theatre");
    await hers.getByRole("button", { name: "Send: Decline" }).click();
    await hers.getByText(/You declined at \d\d:\d\d: In theatre/).waitFor(WAIT);
    // Answered: the banner goes (it is the server's list, asked again as her answer arrives).
    await banner.waitFor({ ...WAIT, state: "detached" });
    await hers.getByRole("button", { name: "Change answer" }).waitFor(WAIT);

    // The nurse sees the decline with its reason, and the escalation's next step, run at once.
    const priyaRow = mine.locator(".ask-recipients li", { hasText: "Dr Priya Shah" });
    await priyaRow.getByText(/Declined at \d\d:\d\d: In theatre/).waitFor(WAIT);
    await mine.getByText("1 declined").waitFor(WAIT);
    const notice = nora.locator(".timeline .escalation-line", { hasText: "notifying again" });
    await notice.waitFor(WAIT);
    assert.match(await notice.innerText(), /No answer after \d+ min — notifying again: Dr Omar Farouk/);
    await mine.getByText(/Escalating — step 2 at \d\d:\d\d/).waitFor(WAIT);
    await shot(nora, "3-declined");

    // The second registrar acknowledges, from the banner's button.
    const hisBanner = omar.getByRole("alert", { name: "Waiting for your answer" });
    await hisBanner.getByRole("button", { name: "Open" }).click();
    const his = message(omar, text);
    await his.getByRole("button", { name: "Acknowledge" }).click();
    await his.getByText(/You acknowledged at \d\d:\d\d/).waitFor(WAIT);
    await hisBanner.waitFor({ ...WAIT, state: "detached" });

    // The nurse: acknowledged, the escalation accepted, and the server's notice of it.
    await mine.getByText("Acknowledged by 1 of 2").waitFor(WAIT);
    await mine.locator(".ask-recipients li", { hasText: "Dr Omar Farouk" }).getByText(/Acknowledged at \d\d:\d\d/).waitFor(WAIT);
    await mine.getByText(/Accepted by Dr Omar Farouk at \d\d:\d\d — escalation stopped/).waitFor(WAIT);
    const accepted = nora.locator(".timeline .escalation-line.accepted");
    await accepted.getByText(/Dr Omar Farouk accepted \(Acknowledge\)/).waitFor(WAIT);
    await shot(nora, "4-accepted");
    const st = await status(server, people.nora.token, roomId, sent.event_id);
    assert.equal(st.escalation.state, "accepted");
    assert.equal(st.counts.accepted, 1);
    assert.equal(st.counts.declined, 1);

    // The notice leads to the message: brought into view and pointed out.
    await accepted.getByRole("button", { name: "Show the message" }).click();
    await until(() => mine.evaluate((el) => document.activeElement === el), "the message brought into view and focused");
  } finally {
    await n.close();
    await p.close();
    await o.close();
  }
}

test("urgent: declined with a reason, escalated, acknowledged, accepted (desktop)", () => scenario({ size: DESKTOP, label: "desktop" }));

test("urgent: declined with a reason, escalated, acknowledged, accepted (phone)", () => scenario({ size: PHONE, label: "phone" }));

test("quick responses, emergency confirmation and do-not-disturb", async () => {
  const name = "Ward 7 referrals";
  const roomId = await conversation(server, people.nora.token, [people.priya], { name });
  const [n, p] = [await context(DESKTOP), await context(DESKTOP)];
  const [nora, priya] = [await n.newPage(), await p.newPage()];
  try {
    await signIn(nora, server, "nora");
    await signIn(priya, server, "priya");
    await openConversation(nora, name);
    await openConversation(priya, name);

    // Emergency asks first; cancelled, the message stays routine.
    await nora.locator("label.priority-choice", { hasText: "Emergency" }).click();
    const confirm = nora.getByRole("alertdialog", { name: "Send as an emergency?" });
    await confirm.waitFor(WAIT);
    await confirm.getByRole("button", { name: "Cancel" }).click();
    assert.ok(await nora.getByRole("radio", { name: "Routine" }).isChecked());

    // Quick responses, from the ready-made ones; first to accept takes it.
    await nora.getByRole("button", { name: "Quick responses" }).click();
    await nora.getByRole("button", { name: "+ Accept patient" }).click();
    await nora.getByRole("button", { name: "+ On my way 5 min" }).click();
    await nora.getByRole("button", { name: "+ Decline" }).click();
    await nora.getByLabel("First to accept takes it").check();
    await nora.getByLabel("Tell me if nobody accepts in").selectOption("10");
    await nora.getByLabel("Message", { exact: true }).fill("Referral: chest pain bed 9");
    await nora.screenshot({ path: path.join(ARTIFACTS, "priority-quick-composing.png") });
    await nora.getByRole("button", { name: "Send", exact: true }).click();
    const sent = await until(async () => {
      const events = await eventsOf(server, people.nora.token, roomId);
      return events.find((e) => e.content?.["org.wardline.ask"] && e.content.body.startsWith("Referral"));
    }, "the message asking on the server");
    const ask = sent.content["org.wardline.ask"];
    assert.deepEqual(
      ask.options.map((o) => [o.label, o.means]),
      [
        ["Accept patient", "accept"],
        ["On my way 5 min", "accept"],
        ["Decline", "decline"],
      ],
    );
    assert.equal(ask.first_accept, true);
    assert.equal(ask.deadline_ms, 600_000, "told if nobody accepts in 10 minutes");
    assert.equal(sent.content["org.wardline.priority"], undefined, "routine");
    // Until someone accepts, the nurse sees when she will be told.
    await message(nora, "Referral: chest pain bed 9").getByText(/You will be told if nobody has accepted by \d\d:\d\d/).waitFor(WAIT);

    // The registrar's buttons are the nurse's options; she is on her way.
    const hers = message(priya, "Referral: chest pain bed 9");
    await hers.getByRole("button", { name: "Accept patient" }).waitFor(WAIT);
    await hers.getByRole("button", { name: "Decline" }).waitFor(WAIT);
    assert.equal(await hers.locator(".priority-badge").count(), 0, "no badge on a routine message");
    await hers.getByRole("button", { name: "On my way 5 min" }).click();
    await hers.getByText(/You answered “On my way 5 min” at \d\d:\d\d/).waitFor(WAIT);
    await priya.screenshot({ path: path.join(ARTIFACTS, "priority-quick-answered.png") });

    // The nurse's tally shows the label chosen.
    const mine = message(nora, "Referral: chest pain bed 9");
    await mine.locator(".ask-recipients li", { hasText: "Dr Priya Shah" }).getByText(/On my way 5 min at \d\d:\d\d/).waitFor(WAIT);
    await mine.getByText("On my way 5 min: 1").waitFor(WAIT);
    await mine.getByText("Accepted by 1 of 1").waitFor(WAIT);
    assert.equal(await mine.getByText(/You will be told/).count(), 0, "nothing to be told once accepted");

    // On do-not-disturb, a routine message makes no notification, an emergency does (and sounds).
    await call(server.baseUrl, "PUT", "/_wardline/client/v1/dnd", { until_ts: Date.now() + 3_600_000 }, people.priya.token);
    await priya.getByText(/Do not disturb until .*\d\d:\d\d/).first().waitFor(WAIT);
    await priya.evaluate(() => {
      window.__hidden = true;
      window.__notes.length = 0;
      window.__tones.length = 0;
    });
    await nora.getByLabel("Message", { exact: true }).fill("Routine: bloods back");
    await nora.getByRole("button", { name: "Send", exact: true }).click();
    await nora.locator("label.priority-choice", { hasText: "Emergency" }).click();
    await nora.getByRole("alertdialog", { name: "Send as an emergency?" }).getByRole("button", { name: "Yes, emergency" }).click();
    assert.ok(await nora.getByRole("radio", { name: "Emergency" }).isChecked());
    await nora.getByLabel("Message", { exact: true }).fill("Arrest bed 9");
    await nora.getByRole("button", { name: "Send emergency" }).click();
    await message(nora, "Arrest bed 9").locator(".priority-badge", { hasText: "EMERGENCY" }).waitFor(WAIT);
    const note = await until(async () => (await notes(priya)).find((x) => x.title.includes("EMERGENCY")), "the emergency notification");
    assert.equal(note.body, `EMERGENCY from Nora Quinn in ${name}`);
    assert.ok(note.sticky, "an emergency notification stays until dismissed");
    // The routine message arrived before it, and made none.
    await until(() => priya.locator(".timeline .msg", { hasText: "Routine: bloods back" }).count(), "the routine message arrived");
    assert.deepEqual(
      (await notes(priya)).map((x) => x.title),
      ["Wardline — EMERGENCY"],
      "do-not-disturb silences all but the emergency",
    );
    const sounds = await tones(priya);
    assert.ok(sounds.length >= 6 && sounds.every((t) => t.type === "square"), "the emergency alert, not the urgent one");
    await priya.evaluate(() => (window.__hidden = false));
    await active(priya);
    await message(priya, "Arrest bed 9").locator(".priority-badge", { hasText: "EMERGENCY" }).waitFor(WAIT);
    await priya.screenshot({ path: path.join(ARTIFACTS, "priority-emergency-desktop.png") });
  } finally {
    await n.close();
    await p.close();
  }
});
