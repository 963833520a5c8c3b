// Browser tests of messaging a role (issue 13): a nurse finds "on-call registrar" in New chat
// and messages the role; the registrar on shift answers, shown as "Dr Priya Shah · as Medical
// Registrar On-call", and the nurse sees who received her message as the role; the registrar
// hands the role over to a colleague, who gets the conversation with its history and answers
// the next message, which the first registrar no longer receives; a message to a role nobody
// holds tells the sender at once where it went. Real `wardline` binary, Debian's Chromium;
// phone and desktop.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";

import { REPO_ROOT } from "../../tests/clients/wardline-server.mjs";
import { WAIT, active, bodiesOf, bubble, reading, send, signIn, stopWard, until } from "./support.mjs";
import { DESKTOP, PHONE, addRole, roleNow, setHolders, startRoleWard } from "./roleward.mjs";

const ARTIFACTS = path.join(REPO_ROOT, "web", "test-artifacts");
const ROLE = "Medical Registrar On-call";

let server;
let browser;
const people = {};
/** The nurse's conversation with the on-call registrar (found by test a, used by test b). */
let roleRoom = null;

before(async () => {
  ({ server, browser } = await startRoleWard(people));
  mkdirSync(ARTIFACTS, { recursive: true });
  await addRole(server, people, {
    role_id: "switchboard",
    name: "Switchboard",
    department: "Switchboard",
    bleep: "0",
    eligibility: { users: ["sam"] },
  });
  await addRole(server, people, {
    role_id: "med-reg-oncall",
    name: ROLE,
    department: "Medicine",
    bleep: "1234",
    eligibility: { job_titles: ["Specialty Registrar"] },
    may_be_empty: false,
    fallback: "switchboard",
  });
  await addRole(server, people, {
    role_id: "cardio-reg",
    name: "Cardiology Registrar",
    department: "Cardiology",
    bleep: "4321",
    eligibility: { job_titles: ["Specialty Registrar"] },
    fallback: "switchboard",
  });
  await addRole(server, people, {
    role_id: "haem-reg",
    name: "Haematology Registrar",
    department: "Haematology",
    bleep: "6789",
    eligibility: { job_titles: ["Specialty Registrar"] },
  });
  await setHolders(server, people, "switchboard", ["sam"]);
});

after(() => stopWard({ server, browser }));

/** The sender line of the message with this text. */
function sender(page, text) {
  return bubble(page, text).locator(".who");
}

/** The id of the conversation shown (the timeline's messages carry no room id: the store's). */
async function openRoomId(page) {
  return page.evaluate(() => document.querySelector(".rooms li[aria-current=true]")?.getAttribute("data-room") ?? null);
}

test("a nurse messages the on-call registrar from New chat; the registrar on shift answers as the role", async () => {
  const nurse = await browser.newContext(PHONE);
  const registrar = await browser.newContext(DESKTOP);
  const n = await nurse.newPage();
  const r = await registrar.newPage();
  try {
    // Priya starts her shift.
    await signIn(r, server, "priya");
    await r.getByRole("button", { name: "On call" }).click();
    await r
      .getByRole("region", { name: "On call" })
      .getByRole("region", { name: "Medicine" })
      .getByRole("button", { name: `Swipe in to ${ROLE}` })
      .click();
    await r.getByRole("region", { name: "Your roles" }).getByText(ROLE).waitFor(WAIT);

    // The nurse does not know who is on call: she looks for the role.
    await signIn(n, server, "nora");
    await n.getByRole("button", { name: "New chat" }).click();
    await n.getByLabel("Find people or roles").fill("on-call registrar");
    const found = n.getByRole("list", { name: "Roles" }).getByRole("button", { name: new RegExp(ROLE) });
    await found.getByText("Held by Dr Priya Shah").waitFor(WAIT);
    await found.getByText(/bleep 1234/).waitFor(WAIT);
    await n.screenshot({ path: path.join(ARTIFACTS, "phone-new-chat-role.png") });
    await found.click();

    // The conversation is the role's, with who is on shift now.
    const header = n.locator(".conversation header");
    await header.getByRole("heading", { name: new RegExp(ROLE) }).waitFor(WAIT);
    await header.getByText("Dr Priya Shah on shift").waitFor(WAIT);
    const question = "Bed 4: NEWS 7, please review";
    await send(n, question);
    await bubble(n, question).getByRole("button", { name: /^(Sent|Delivered|Read)/ }).waitFor(WAIT);
    roleRoom = await openRoomId(n);
    assert.ok(roleRoom, "the conversation is in the nurse's list");

    // Priya has it, named for the nurse and the role, and answers.
    const item = r.locator(".rooms li", { hasText: `Nora Quinn · for ${ROLE}` });
    await item.waitFor(WAIT);
    await item.click();
    await bubble(r, question).waitFor(WAIT);
    await r.locator(".conversation header").getByText(`You are on shift as ${ROLE}`).waitFor(WAIT);
    const answer = "Coming in 10 minutes";
    await send(r, answer);

    // The nurse sees who answered: the person, as the role; never the role alone.
    await bubble(n, answer).waitFor(WAIT);
    await sender(n, answer).getByText(`· as ${ROLE}`).waitFor(WAIT);
    assert.match(await sender(n, answer).innerText(), new RegExp(`Dr Priya Shah\\s*· as ${ROLE}$`));
    await n.screenshot({ path: path.join(ARTIFACTS, "phone-answer-as-role.png") });

    // Who received her message: Priya, as the role (and whether she read it).
    await reading(r, until(async () => (await bubble(n, question).getByRole("button", { name: /^Read by 1/ }).count()) > 0, "read by Priya"));
    await bubble(n, question).getByRole("button", { name: /show who has read it/ }).click();
    const readers = n.getByRole("dialog", { name: "Who has read this message" });
    await readers.getByText(new RegExp(`Dr Priya Shah, as ${ROLE}`)).waitFor(WAIT);
    await readers.getByRole("button", { name: "Close" }).click();

    // Messaging the role again opens the same conversation.
    await n.getByRole("button", { name: "Back to conversations" }).click();
    await n.getByRole("button", { name: "New chat" }).click();
    await n.getByLabel("Find people or roles").fill("med reg");
    await n.getByRole("list", { name: "Roles" }).getByRole("button", { name: new RegExp(ROLE) }).click();
    await bubble(n, answer).waitFor(WAIT);
    assert.equal(await openRoomId(n), roleRoom, "the existing conversation, not a new one");
  } finally {
    await nurse.close();
    await registrar.close();
  }
});

test("the registrar swipes out to a colleague, who has the conversation with its history and answers; the first no longer receives it", async () => {
  assert.ok(roleRoom, "needs the conversation of the previous test");
  const nurse = await browser.newContext(DESKTOP);
  const first = await browser.newContext(PHONE);
  const second = await browser.newContext(PHONE);
  const n = await nurse.newPage();
  const p = await first.newPage();
  const o = await second.newPage();
  try {
    await signIn(o, server, "omar");
    await signIn(n, server, "nora");
    await n.locator(`.rooms li[data-room="${roleRoom}"]`).click();
    await n.locator(".conversation header").getByText("Dr Priya Shah on shift").waitFor(WAIT);

    // Priya's shift ends: the role must not be left empty, so she names Omar.
    await signIn(p, server, "priya");
    await p.getByRole("button", { name: "On call" }).click();
    await p.getByRole("region", { name: "Your roles" }).getByRole("button", { name: `Swipe out of ${ROLE}` }).click();
    const dialog = p.getByRole("dialog", { name: `Hand over ${ROLE}` });
    await dialog.getByText(/must not be left empty/).waitFor(WAIT);
    await dialog.getByLabel("Who takes over").fill("Omar");
    await dialog.getByRole("button", { name: /Dr Omar Farouk/ }).click();
    await dialog.getByRole("button", { name: "Hand over to Dr Omar Farouk" }).click();
    await dialog.waitFor({ state: "detached", ...WAIT });
    assert.deepEqual((await roleNow(server, people.nora.token, "med-reg-oncall")).holders.map((h) => h.user_id), [people.omar.userId]);

    // Omar has the conversation, with what was said before he took over.
    const item = o.locator(".rooms li", { hasText: `Nora Quinn · for ${ROLE}` });
    await item.waitFor(WAIT);
    await item.click();
    await bubble(o, "Bed 4: NEWS 7, please review").waitFor(WAIT);
    await bubble(o, "Coming in 10 minutes").waitFor(WAIT);
    assert.match(await sender(o, "Coming in 10 minutes").innerText(), new RegExp(`Dr Priya Shah\\s*· as ${ROLE}`));

    // The nurse's header follows the change of hands; her next message reaches Omar, who answers.
    await n.locator(".conversation header").getByText("Dr Omar Farouk on shift").waitFor(WAIT);
    const next = "Bed 4 now NEWS 9";
    await send(n, next);
    await bubble(o, next).waitFor(WAIT);
    await send(o, "On my way");
    await bubble(n, "On my way").waitFor(WAIT);
    assert.match(await sender(n, "On my way").innerText(), new RegExp(`Dr Omar Farouk\\s*· as ${ROLE}$`));
    assert.match(await sender(n, "Coming in 10 minutes").innerText(), new RegExp(`Dr Priya Shah\\s*· as ${ROLE}$`));
    await n.screenshot({ path: path.join(ARTIFACTS, "desktop-after-handover.png") });

    // Priya no longer receives the conversation's new messages: not on her screen, not from the server.
    await active(p);
    assert.equal(await p.getByText(next, { exact: true }).count(), 0, "not on the first registrar's screen");
    const r = await fetch(
      `${server.baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(roleRoom)}/messages?dir=b&limit=200`,
      { headers: { authorization: `Bearer ${people.priya.token}` } },
    );
    if (r.ok) {
      const { chunk } = await r.json();
      assert.ok(!chunk.some((e) => e.content?.body === next), "the server does not give her the message after she left");
      assert.ok(chunk.some((e) => e.content?.body === "Bed 4: NEWS 7, please review"), "she keeps what she had");
    } else {
      assert.equal(r.status, 403);
    }
  } finally {
    await nurse.close();
    await first.close();
    await second.close();
  }
});

test("a message to a role nobody holds: the sender is told at once where it went, or that nobody has it", async () => {
  const context = await browser.newContext(DESKTOP);
  const n = await context.newPage();
  try {
    await signIn(n, server, "nora");
    await n.getByRole("button", { name: "New chat" }).click();
    await n.getByLabel("Find people or roles").fill("cardiology registrar");
    const found = n.getByRole("list", { name: "Roles" }).getByRole("button", { name: /Cardiology Registrar/ });
    await found.getByText(/Nobody on shift\s*— goes to Switchboard/).waitFor(WAIT);
    await found.click();
    await n.locator(".conversation header").getByText(/Nobody on shift/).waitFor(WAIT);
    const text = "ECG query, bed 2";
    await send(n, text);
    await n.getByRole("alert").getByText("Nobody is on Cardiology Registrar now — sent to Switchboard").waitFor(WAIT);
    await bubble(n, text).getByText(/sent to Switchboard/).waitFor(WAIT);
    // The role's notice in the conversation, for everyone in it.
    await n.locator(".timeline .role-notice").getByText("Nobody on shift — Cardiology Registrar").waitFor(WAIT);
    await n.screenshot({ path: path.join(ARTIFACTS, "desktop-unheld-fallback.png") });
    // Switchboard (Sam) has it.
    const room = await openRoomId(n);
    await until(async () => (await bodiesOf(server, people.sam.token, room, text).catch(() => [])).length === 1, "Sam has the message");

    // No fallback and nobody on shift: nobody has it, and the bleep to use instead.
    await n.getByRole("button", { name: "New chat" }).click();
    await n.getByLabel("Find people or roles").fill("haematology");
    await n.getByRole("list", { name: "Roles" }).getByRole("button", { name: /Haematology Registrar/ }).click();
    await send(n, "Platelets 9, bed 6");
    await n.getByRole("alert").getByText("Nobody is on Haematology Registrar now — nobody has received it: bleep 6789").waitFor(WAIT);
    await n.getByRole("button", { name: "OK" }).click();
    assert.equal(await n.getByRole("alert").filter({ hasText: "Nobody is on" }).count(), 0, "dismissed");
  } finally {
    await context.close();
  }
});
