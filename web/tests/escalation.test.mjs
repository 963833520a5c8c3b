// Browser test of an escalation from start to end (issue 14): a nurse sends an urgent message to
// the on-call registrar role; nobody answers; the server, on a test clock moved forward by the
// test, re-notifies at 2 minutes and brings in the consultant at 5; the consultant (a second
// browser) sees the message and acknowledges; the nurse sees every step, and the escalation
// ending accepted. The policy is the role's, set through the administration API. Real
// `wardline` binary, Debian's Chromium; phone and desktop size.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";

import { REPO_ROOT } from "../../tests/clients/wardline-server.mjs";
import { COMING_TIME, WAIT, call, signIn, status, stopWard, testClock, until } from "./support.mjs";
import { DESKTOP, PHONE, addRole, setHolders, startRoleWard } from "./roleward.mjs";

const ARTIFACTS = path.join(REPO_ROOT, "web", "test-artifacts");
const MIN = 60_000;

let server;
let browser;
const people = {};
const clock = testClock();

/** An on-call registrar role held by Priya, with its urgent policy: 2 min, 5 min, 10 min. */
async function onCallRole(roleId, name) {
  await addRole(server, people, {
    role_id: roleId,
    name,
    department: "Medicine",
    bleep: "1234",
    eligibility: { job_titles: ["Specialty Registrar"] },
    fallback: "switchboard",
  });
  await setHolders(server, people, roleId, ["priya"]);
  await call(
    server.baseUrl,
    "PUT",
    `/_wardline/admin/v1/escalation_policies/role:${roleId}/urgent`,
    {
      steps: [
        { after_ms: 2 * MIN, action: "renotify" },
        { after_ms: 5 * MIN, action: "add", targets: [{ kind: "user", user_id: people.cora.userId }] },
        { after_ms: 10 * MIN, action: "failsafe", targets: [{ kind: "user", user_id: people.sam.userId }] },
      ],
    },
    people.boss.token,
  );
}

before(async () => {
  ({ server, browser } = await startRoleWard(people, {
    staff: [["cora", "Dr Cora Hale", ["--job-title", "Consultant Physician", "--department", "Medicine"]]],
    env: clock.env,
  }));
  mkdirSync(ARTIFACTS, { recursive: true });
  await addRole(server, people, {
    role_id: "switchboard",
    name: "Switchboard",
    department: "Switchboard",
    bleep: "0",
    eligibility: { users: ["sam"] },
  });
  await setHolders(server, people, "switchboard", ["sam"]);
});

after(async () => {
  await stopWard({ server, browser });
  clock.done();
});

/** The bubble of the priority message with this text. */
const message = (page, text) => page.locator(".timeline .msg", { has: page.locator(".priority-msg", { hasText: text }) });

async function scenario({ size, label, roleId, role }) {
  await onCallRole(roleId, role);
  const shot = (page, name) => page.screenshot({ path: path.join(ARTIFACTS, `escalation-${label}-${name}.png`) });
  const text = `Bed 12: new AF, HR 160, BP 88/50 (${label})`;
  const [nurse, consultant] = [await browser.newContext(size), await browser.newContext(size)];
  const [n, c] = [await nurse.newPage(), await consultant.newPage()];
  try {
    // The nurse messages the role, urgent.
    await signIn(n, server, "nora");
    await n.getByRole("button", { name: "New chat" }).click();
    await n.getByLabel("Find people or roles").fill(role);
    await n.getByRole("list", { name: "Roles" }).getByRole("button", { name: new RegExp(role) }).click();
    await n.locator(".conversation header").getByText("Dr Priya Shah on shift").waitFor(WAIT);
    if (label === "phone") await n.getByRole("button", { name: "Priority and quick responses" }).click();
    await n.locator("label.priority-choice", { hasText: "Urgent" }).click();
    await n.getByLabel("Message", { exact: true }).fill(text);
    await n.getByRole("button", { name: "Send urgent" }).click();
    const mine = message(n, text);
    await mine.locator(".priority-badge", { hasText: "URGENT" }).waitFor(WAIT);
    const roomId = await until(
      () => n.evaluate(() => document.querySelector(".rooms li[aria-current=true]")?.getAttribute("data-room") ?? null),
      "the role's conversation in the list",
    );
    const eventId = await until(async () => (await mine.getAttribute("data-event")) || null, "the message at the server");
    // Escalating, its first step due 2 minutes after it was sent.
    await mine.getByText(new RegExp(`Escalating — step 1 at ${COMING_TIME}`)).waitFor(WAIT);

    // Nobody answers. Two minutes pass (on the server's clock): notified again.
    clock.advance(2 * MIN);
    const again = n.locator(".timeline .escalation-line", { hasText: "notifying again" });
    await again.waitFor(WAIT);
    assert.match(await again.innerText(), /No answer after 2 min — notifying again: Dr Priya Shah/);
    await mine.getByText(new RegExp(`Escalating — step 2 at ${COMING_TIME}`)).waitFor(WAIT);
    await shot(n, "1-renotified");

    // Five minutes: the consultant is brought in.
    clock.advance(3 * MIN);
    const brought = n.locator(".timeline .escalation-line", { hasText: "brought in" });
    await brought.waitFor(WAIT);
    assert.match(await brought.innerText(), /No answer after 5 min — brought in: Dr Cora Hale/);
    await mine.getByText(new RegExp(`Escalating — step 3 at ${COMING_TIME}`)).waitFor(WAIT);
    // Every step so far, in the message's status.
    await mine.getByText("Escalation steps (2)").click();
    const steps = mine.locator(".escalation-steps li");
    await until(async () => (await steps.count()) === 2, "two steps listed");
    assert.match(await steps.nth(0).innerText(), /notifying again/);
    assert.match(await steps.nth(1).innerText(), /brought in: Dr Cora Hale/);
    await shot(n, "2-consultant-brought-in");

    // The consultant has the conversation (brought in by the server) and acknowledges.
    await signIn(c, server, "cora");
    const item = c.locator(`.rooms li[data-room="${roomId}"]`);
    await item.waitFor(WAIT);
    await item.click();
    const hers = message(c, text);
    await hers.locator(".priority-badge", { hasText: "URGENT" }).waitFor(WAIT);
    await hers.getByRole("button", { name: "Acknowledge" }).click();
    await hers.getByText(/You acknowledged at \d\d:\d\d/).waitFor(WAIT);
    await shot(c, "3-consultant-acknowledged");

    // The nurse: accepted, and the escalation ended.
    await mine.getByText(/Accepted by Dr Cora Hale at \d\d:\d\d — escalation stopped/).waitFor(WAIT);
    await n.locator(".timeline .escalation-line.accepted").getByText(/Dr Cora Hale accepted \(Acknowledge\)/).waitFor(WAIT);
    await shot(n, "4-accepted");
    const st = await status(server, people.nora.token, roomId, eventId);
    assert.equal(st.escalation.state, "accepted");
    assert.equal(st.escalation.steps.length, 2, "the failsafe never ran");
  } finally {
    await nurse.close();
    await consultant.close();
  }
}

test("urgent to the on-call registrar: nobody answers, it escalates on the clock to the consultant, who accepts (desktop)", () =>
  scenario({ size: DESKTOP, label: "desktop", roleId: "med-reg-oncall", role: "Medical Registrar On-call" }));

test("urgent to the on-call registrar: nobody answers, it escalates on the clock to the consultant, who accepts (phone)", () =>
  scenario({ size: PHONE, label: "phone", roleId: "acute-reg-oncall", role: "Acute Medicine Registrar On-call" }));
