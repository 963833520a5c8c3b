// Browser tests of the everyday messaging people know from WhatsApp, in standard Matrix:
// forwarding (text and files, readable by the new conversation), mentions ("@" completion,
// m.mentions, highlighted for the person mentioned), messages of several lines, photos at full
// size, message search, and a conversation's details (name, topic, members, adding, removing,
// leaving). Real `wardline` binary, Debian's Chromium; phone and desktop sizes.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";

import { REPO_ROOT } from "../../tests/clients/wardline-server.mjs";
import {
  WAIT,
 
  bubble,
  call,
  conversation,
  downloadStatus,
  eventsOf,
  inView,
  openConversation,
  png,
  send,
  sendContent,
  sendText,
  signIn,
  until,
  upload,
  startWard,
  stopWard,
} from "./support.mjs";

const ARTIFACTS = path.join(REPO_ROOT, "web", "test-artifacts");
const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

let server;
let browser;
const people = {};

before(async () => {
  ({ server, browser } = await startWard(people, [
    ["ada", "Ada Lovelace", ["--job-title", "Medical Registrar", "--department", "Acute Medicine"]],
    ["ben", "Ben Carter", ["--job-title", "Staff Nurse", "--department", "Ward 7"]],
    ["cy", "Cy Okafor", ["--job-title", "Pharmacist", "--department", "Pharmacy"]],
    ["dan", "Dan Reyes", ["--job-title", "Physiotherapist", "--department", "Therapies"]],
    ["eli", "Eli Moss", ["--job-title", "Healthcare Assistant", "--department", "Ward 7"]],
  ]));
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(() => stopWard({ server, browser }));

const enc = encodeURIComponent;

/** Opens the "⋯" actions of a message and chooses one. */
async function act(page, message, who, action) {
  await message.getByRole("button", { name: `Actions for the message from ${who}` }).click();
  await page.getByRole("toolbar", { name: "Message actions" }).getByRole("button", { name: action, exact: true }).click();
}

/** Is the focus inside this element? (A dialog takes the focus as it appears, after its first
 * paint on a busy machine: the tests wait for it to arrive, within WAIT.) */
function hasFocus(locator) {
  return locator.evaluate((el) => el.contains(document.activeElement));
}

test("forward a text and a photo to another conversation, once confirmed: marked Forwarded (from where, for those who know it), and the photo readable there", async () => {
  const ward = await conversation(server, people.cy.token, [people.ada], { name: "Ward 7 pharmacy" });
  const dm = await conversation(server, people.ada.token, [people.ben]);
  const text = "Bed 4: warfarin held tonight";
  const textId = await sendText(server, people.cy.token, ward, text);
  const desk = await browser.newContext(DESKTOP);
  const phone = await browser.newContext(PHONE);
  const ada = await desk.newPage();
  const ben = await phone.newPage();
  try {
    // Cy's photo of the chart, in a conversation Ben is not in: Ben cannot open it.
    const mxc = await upload(server, people.cy.token, await png(ada, 2, 2), "image/png", "drug-chart.png");
    const photoId = await sendContent(server, people.cy.token, ward, {
      msgtype: "m.image",
      body: "drug-chart.png",
      url: mxc,
      info: { mimetype: "image/png", w: 2, h: 2, size: 70 },
    });
    assert.equal(await downloadStatus(server, people.ben.token, mxc), 404, "not Ben's to see yet");

    await signIn(ada, server, "ada");
    await openConversation(ada, "Ward 7 pharmacy");
    // The text, forwarded to Ben: the picker takes the focus, one tap sends.
    await act(ada, bubble(ada, text), "Cy Okafor", "Forward");
    const picker = ada.getByRole("dialog", { name: "Forward to" });
    await picker.waitFor(WAIT);
    await until(() => hasFocus(picker), "the picker took the focus", WAIT.timeout);
    assert.equal(await picker.getByRole("button", { name: "Ward 7 pharmacy" }).count(), 0, "not to the same conversation");
    // Escape closes it without sending; a second try sends.
    await ada.keyboard.press("Escape");
    await picker.waitFor({ state: "detached", ...WAIT });
    await act(ada, bubble(ada, text), "Cy Okafor", "Forward");
    await picker.getByRole("button", { name: "Ben Carter" }).click();
    // Nothing is sent before Ada confirms: the step names where it goes and shows what.
    await picker.getByRole("heading", { name: "Forward to Ben Carter?" }).waitFor(WAIT);
    assert.equal(await picker.locator(".forward-preview").innerText(), text);
    // The focus moves to Forward as the step appears (after its first paint, on a busy machine).
    const confirm = picker.getByRole("button", { name: "Forward", exact: true });
    await until(() => confirm.evaluate((b) => b === document.activeElement), "the focus on Forward", WAIT.timeout);
    // Back to the list, and choosing again.
    await picker.getByRole("button", { name: "Back" }).click();
    await picker.getByRole("button", { name: "Ben Carter" }).click();
    assert.equal(
      (await eventsOf(server, people.ada.token, dm)).filter((e) => e.content?.["org.wardline.forwarded"]).length,
      0,
      "not sent before it is confirmed",
    );
    await picker.getByRole("button", { name: "Forward", exact: true }).click();
    await ada.getByText("Forwarded to Ben Carter").waitFor(WAIT);
    await picker.waitFor({ state: "detached", ...WAIT });

    // The photo: found with the picker's filter, by keyboard, and confirmed by keyboard.
    const photo = ada.locator(".timeline .msg", { has: ada.locator("img[alt='drug-chart.png']") });
    await act(ada, photo, "Cy Okafor", "Forward");
    await picker.getByLabel("Find a conversation").fill("ben");
    await picker.getByRole("button", { name: "Ben Carter" }).focus();
    await ada.keyboard.press("Enter");
    await picker.getByRole("heading", { name: "Forward to Ben Carter?" }).waitFor(WAIT);
    await picker.locator(".forward-preview img[alt='drug-chart.png']").waitFor(WAIT);
    // (Enter confirms once the confirmation has focus: on a loaded machine that takes a moment.)
    await until(
      () => ada.evaluate(() => document.activeElement?.textContent?.trim() === "Forward"),
      "the confirmation has focus",
    );
    await ada.keyboard.press("Enter");
    await picker.waitFor({ state: "detached", ...WAIT });

    // The server has both in Ben's conversation, marked with where they came from.
    const forwarded = await until(async () => {
      const events = (await eventsOf(server, people.ben.token, dm)).filter((e) => e.content?.["org.wardline.forwarded"]);
      return events.length === 2 ? events : null;
    }, "both forwarded messages");
    assert.deepEqual(forwarded[0].content["org.wardline.forwarded"], { room_id: ward, event_id: textId });
    assert.equal(forwarded[0].content.body, text);
    assert.equal(forwarded[0].sender, people.ada.userId);
    assert.deepEqual(forwarded[1].content["org.wardline.forwarded"], { room_id: ward, event_id: photoId });
    assert.equal(forwarded[1].content.url, mxc, "the same file, not a copy");
    assert.equal(forwarded[1].content.msgtype, "m.image");
    assert.deepEqual(forwarded[1].content["m.mentions"], {}, "a forward mentions no one");
    assert.equal(await downloadStatus(server, people.ben.token, mxc), 200, "Ben can open the forwarded photo");

    // Ada, who is in the conversation it came from, sees its name on the copy.
    await openConversation(ada, "Ben Carter");
    await bubble(ada, text).locator(".forwarded").waitFor(WAIT);
    assert.equal(await bubble(ada, text).locator(".forwarded").innerText(), "↪ Forwarded from Ward 7 pharmacy");

    // Ben, on his phone, sees both marked "Forwarded" (he is not in Ward 7 pharmacy: not its
    // name, nor anything else about it), and the photo.
    await signIn(ben, server, "ben");
    await openConversation(ben, "Ada Lovelace");
    await bubble(ben, text).locator(".forwarded").waitFor(WAIT);
    assert.equal(await bubble(ben, text).locator(".forwarded").innerText(), "↪ Forwarded");
    const benPhoto = ben.locator(".timeline .msg", { has: ben.locator("img[alt='drug-chart.png']") });
    assert.equal(await benPhoto.locator(".forwarded").innerText(), "↪ Forwarded");
    await ben.waitForFunction(
      () => [...document.querySelectorAll(".timeline img[alt='drug-chart.png']")].some((i) => i.complete && i.naturalWidth > 0),
      null,
      WAIT,
    );
    await ben.screenshot({ path: path.join(ARTIFACTS, "phone-forwarded.png") });
  } finally {
    await desk.close();
    await phone.close();
  }
});

/** Records the page's notifications (as if allowed) in window.notes. */
async function recordNotifications(context) {
  await context.addInitScript(() => {
    window.notes = [];
    window.Notification = class {
      static permission = "granted";
      static requestPermission() {
        return Promise.resolve("granted");
      }
      constructor(title, options) {
        window.notes.push({ title, ...options });
      }
    };
  });
}

test("mention someone with @: completed from the members by keyboard and by touch, sent as m.mentions, highlighted for them", async () => {
  const roomId = await conversation(server, people.ada.token, [people.ben, people.cy], { name: "Theatre list" });
  const desk = await browser.newContext(DESKTOP);
  const phone = await browser.newContext(PHONE);
  await recordNotifications(phone);
  const ada = await desk.newPage();
  const ben = await phone.newPage();
  try {
    await signIn(ada, server, "ada");
    await signIn(ben, server, "ben");
    await openConversation(ada, "Theatre list");
    const box = ada.getByLabel("Message", { exact: true });
    const options = ada.getByRole("listbox", { name: "Mention someone" });

    // "@c", then Escape: the list closes, the text stays.
    await box.pressSequentially("@c");
    await options.getByRole("option", { name: /Cy Okafor/ }).waitFor(WAIT);
    await ada.keyboard.press("Escape");
    await options.waitFor({ state: "detached", ...WAIT });
    assert.equal(await box.inputValue(), "@c");
    await box.fill("");

    // "Can @" lists the others; the arrows move, Enter chooses.
    await box.pressSequentially("Can @");
    await options.getByRole("option").nth(1).waitFor(WAIT);
    assert.deepEqual(
      (await options.getByRole("option").allInnerTexts()).map((t) => t.replace(/^\W+/, "").trim()),
      ["Ben Carter", "Cy Okafor"],
      "everyone but me",
    );
    await ada.keyboard.press("ArrowDown");
    await options.getByRole("option", { name: /Cy Okafor/, selected: true }).waitFor(WAIT);
    await ada.keyboard.press("ArrowUp");
    await options.getByRole("option", { name: /Ben Carter/, selected: true }).waitFor(WAIT);
    assert.equal(await box.getAttribute("aria-activedescendant"), await options.getByRole("option", { selected: true }).getAttribute("id"));
    await ada.keyboard.press("Enter");
    await options.waitFor({ state: "detached", ...WAIT });
    assert.equal(await box.inputValue(), "Can Ben Carter ", "the name in place of @");
    await box.pressSequentially("check bed 2?");
    // Ben is looking at his conversation list: the notification says who mentioned him, not what.
    await ada.keyboard.press("Enter");

    const sent = await until(async () => {
      const events = await eventsOf(server, people.ada.token, roomId);
      return events.find((e) => e.content?.body === "Can Ben Carter check bed 2?");
    }, "the message on the server");
    assert.deepEqual(sent.content["m.mentions"], { user_ids: [people.ben.userId] });
    assert.equal(sent.content.format, "org.matrix.custom.html");
    assert.equal(sent.content.formatted_body, 'Can <a href="https://matrix.to/#/@ben:localhost">Ben Carter</a> check bed 2?');

    await ben.waitForFunction(() => window.notes.length > 0, null, WAIT);
    const notes = await ben.evaluate(() => window.notes);
    assert.deepEqual(
      notes.map((n) => n.body),
      ["Ada Lovelace mentioned you in Theatre list"],
      "one notification, without the text",
    );

    // Ben sees it highlighted: the message mentions him.
    await openConversation(ben, "Theatre list");
    const forBen = ben.locator(".timeline .msg.mentions-me");
    await forBen.getByText("Mentions you").waitFor(WAIT);
    assert.equal(await forBen.locator(".mention.me").innerText(), "Ben Carter");
    // Ada's own copy is not highlighted as mentioning her.
    assert.equal(await ada.locator(".timeline .msg.mentions-me").count(), 0);

    // Ben answers on his phone: "@ad", a tap on Ada.
    const benBox = ben.getByLabel("Message", { exact: true });
    await benBox.tap();
    await benBox.pressSequentially("Yes @ad");
    const benOptions = ben.getByRole("listbox", { name: "Mention someone" });
    await benOptions.getByRole("option", { name: /Ada Lovelace/ }).waitFor(WAIT);
    await ben.screenshot({ path: path.join(ARTIFACTS, "phone-mention-options.png") });
    await benOptions.getByRole("option", { name: /Ada Lovelace/ }).tap();
    await benOptions.waitFor({ state: "detached", ...WAIT });
    assert.equal(await benBox.inputValue(), "Yes Ada Lovelace ");
    assert.ok(await benBox.evaluate((el) => el === document.activeElement), "the text box kept the focus");
    await benBox.pressSequentially("done");
    await ben.getByRole("button", { name: "Send", exact: true }).tap();
    await ada.locator(".timeline .msg.mentions-me").getByText("Mentions you").waitFor(WAIT);
    const answer = await until(async () => {
      const events = await eventsOf(server, people.ada.token, roomId);
      return events.find((e) => e.content?.body === "Yes Ada Lovelace done");
    }, "Ben's answer on the server");
    assert.deepEqual(answer.content["m.mentions"], { user_ids: [people.ada.userId] });
    await ben.screenshot({ path: path.join(ARTIFACTS, "phone-mention.png") });
  } finally {
    await desk.close();
    await phone.close();
  }
});

test("several lines: Shift+Enter on a desktop, Enter on a phone (Send sends); line breaks show", async () => {
  const roomId = await conversation(server, people.ada.token, [people.dan]);
  const desk = await browser.newContext(DESKTOP);
  const phone = await browser.newContext(PHONE);
  const ada = await desk.newPage();
  const dan = await phone.newPage();
  try {
    await signIn(ada, server, "ada");
    await signIn(dan, server, "dan");
    await openConversation(ada, "Dan Reyes");
    await openConversation(dan, "Ada Lovelace");

    // Desktop: Shift+Enter starts a line, Enter sends.
    const box = ada.getByLabel("Message", { exact: true });
    await box.pressSequentially("Bed 3: mobilised");
    await ada.keyboard.press("Shift+Enter");
    await box.pressSequentially("Bed 5: needs a frame");
    assert.equal(await box.inputValue(), "Bed 3: mobilised\nBed 5: needs a frame");
    await ada.keyboard.press("Enter");
    await until(async () => (await box.inputValue()) === "", "the text box emptied by sending");
    const lines = await until(
      async () => (await eventsOf(server, people.ada.token, roomId)).find((e) => e.content?.body?.startsWith("Bed 3")),
      "the message on the server",
    );
    assert.equal(lines.content.body, "Bed 3: mobilised\nBed 5: needs a frame");

    // Dan sees two lines.
    const shown = dan.locator(".timeline .msg .text", { hasText: "Bed 3: mobilised" });
    await shown.waitFor(WAIT);
    assert.equal(await shown.innerText(), "Bed 3: mobilised\nBed 5: needs a frame");
    const lineHeight = await shown.evaluate((el) => parseFloat(getComputedStyle(el).lineHeight) || 20);
    assert.ok((await shown.evaluate((el) => el.getBoundingClientRect().height)) >= lineHeight * 1.9, "drawn on two lines");

    // Phone: Enter starts a line; only Send sends.
    const danBox = dan.getByLabel("Message", { exact: true });
    await danBox.tap();
    await danBox.pressSequentially("Frame ordered");
    await dan.keyboard.press("Enter");
    await danBox.pressSequentially("Fitting at 3");
    assert.equal(await danBox.inputValue(), "Frame ordered\nFitting at 3", "Enter did not send");
    await dan.getByRole("button", { name: "Send", exact: true }).tap();
    await ada.locator(".timeline .msg .text", { hasText: "Fitting at 3" }).waitFor(WAIT);
    const events = await eventsOf(server, people.ada.token, roomId);
    assert.deepEqual(
      events.filter((e) => e.content?.body?.startsWith("Frame ordered")).map((e) => e.content.body),
      ["Frame ordered\nFitting at 3"],
      "sent once, as one message of two lines",
    );
  } finally {
    await desk.close();
    await phone.close();
  }
});

test("a photo opens at full size: from the server's file, focus kept in the viewer, Escape or Close to leave, pinch-zoom allowed", async () => {
  const roomId = await conversation(server, people.ada.token, [people.eli]);
  const desk = await browser.newContext(DESKTOP);
  const phone = await browser.newContext(PHONE);
  const ada = await desk.newPage();
  const eli = await phone.newPage();
  try {
    const mxc = await upload(server, people.ada.token, await png(ada, 900, 600), "image/png", "pressure-area.png");
    await sendContent(server, people.ada.token, roomId, {
      msgtype: "m.image",
      body: "pressure-area.png",
      url: mxc,
      info: { mimetype: "image/png", w: 900, h: 600 },
    });
    const downloads = [];
    eli.on("request", (r) => r.url().includes("/media/download/") && downloads.push(r.url()));
    await signIn(eli, server, "eli");
    await openConversation(eli, "Ada Lovelace");

    // The page may be pinch-zoomed.
    const viewport = await eli.locator("meta[name=viewport]").getAttribute("content");
    assert.doesNotMatch(viewport, /user-scalable\s*=\s*(no|0)|maximum-scale\s*=\s*1(\.0)?\b/);

    const open = eli.getByRole("button", { name: "Open photo pressure-area.png" });
    await eli.waitForFunction(() => document.querySelector(".timeline img[alt='pressure-area.png']")?.complete, null, WAIT);
    assert.ok(
      (await eli.locator(".timeline img[alt='pressure-area.png']").evaluate((i) => i.naturalWidth)) < 900,
      "the timeline shows a thumbnail",
    );
    assert.equal(downloads.length, 0);
    await open.tap();
    const viewer = eli.getByRole("dialog", { name: "Photo: pressure-area.png" });
    await viewer.waitFor(WAIT);
    const full = viewer.locator("img[alt='pressure-area.png']");
    await eli.waitForFunction(() => document.querySelector("dialog img")?.naturalWidth > 0, null, WAIT);
    assert.equal(await full.evaluate((i) => i.naturalWidth), 900, "the photo at full size");
    assert.equal(downloads.length, 1, "fetched from the authenticated download");
    // Pinching is left to the browser ("manipulation" is panning and pinch-zoom).
    assert.match(await full.evaluate((i) => getComputedStyle(i).touchAction), /^(auto|manipulation|.*pinch-zoom.*)$/);
    // The focus stays in the viewer.
    await until(() => hasFocus(viewer), "the viewer took the focus", WAIT.timeout);
    for (let i = 0; i < 5; i++) {
      await eli.keyboard.press("Tab");
      assert.ok(await hasFocus(viewer), "Tab stays in the viewer");
    }
    await eli.keyboard.press("Shift+Tab");
    assert.ok(await hasFocus(viewer), "Shift+Tab stays in the viewer");
    await eli.screenshot({ path: path.join(ARTIFACTS, "phone-photo-viewer.png") });
    await eli.keyboard.press("Escape");
    await viewer.waitFor({ state: "detached", ...WAIT });
    assert.ok(await open.evaluate((el) => el === document.activeElement), "the focus is back on the photo");

    // Desktop: Enter on the photo opens it, the Close button closes it.
    await signIn(ada, server, "ada");
    await openConversation(ada, "Eli Moss");
    const adaOpen = ada.getByRole("button", { name: "Open photo pressure-area.png" });
    await adaOpen.focus();
    await ada.keyboard.press("Enter");
    const adaViewer = ada.getByRole("dialog", { name: "Photo: pressure-area.png" });
    await ada.waitForFunction(() => document.querySelector("dialog img")?.naturalWidth === 900, null, WAIT);
    await adaViewer.getByRole("button", { name: "Close" }).click();
    await adaViewer.waitFor({ state: "detached", ...WAIT });
  } finally {
    await desk.close();
    await phone.close();
  }
});

/** The membership of a user in a room, as the server has it. */
async function membership(token, roomId, userId) {
  const r = await fetch(`${server.baseUrl}/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.member/${enc(userId)}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return r.ok ? (await r.json()).membership : null;
}

test("conversation details: rename, topic, members with job titles, add, remove (with the power to), leave", async () => {
  const roomId = await conversation(server, people.ada.token, [people.ben, people.cy], { name: "Night team" });
  const desk = await browser.newContext(DESKTOP);
  const phone = await browser.newContext(PHONE);
  const other = await browser.newContext(DESKTOP);
  const ada = await desk.newPage();
  const ben = await phone.newPage();
  const cy = await other.newPage();
  try {
    await signIn(cy, server, "cy");
    await openConversation(cy, "Night team");
    await signIn(ada, server, "ada");
    await openConversation(ada, "Night team");
    await ada.getByRole("button", { name: "Details" }).click();
    const details = ada.getByRole("dialog", { name: "Conversation details" });
    await details.waitFor(WAIT);
    await until(() => hasFocus(details), "the dialog took the focus", WAIT.timeout);
    const members = details.getByRole("list", { name: "Members" });
    await members.getByText("Ben Carter · Staff Nurse, Ward 7").waitFor(WAIT);
    await members.getByText("Cy Okafor · Pharmacist, Pharmacy").waitFor(WAIT);

    // Ada created it: she renames it and gives it a topic.
    await details.getByRole("textbox", { name: "Name" }).fill("Night team, Ward 7");
    await details.getByRole("textbox", { name: "Name" }).press("Enter");
    await details.getByRole("textbox", { name: "Topic" }).fill("Handover at 20:00");
    await details.getByRole("button", { name: "Save the topic" }).click();
    await until(async () => {
      const r = await call(server.baseUrl, "GET", `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.topic/`, undefined, people.ada.token).catch(() => null);
      return r?.topic === "Handover at 20:00";
    }, "the topic on the server");
    const name = await call(server.baseUrl, "GET", `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.name/`, undefined, people.ada.token);
    assert.equal(name.name, "Night team, Ward 7");
    await ada.locator(".conversation header h2", { hasText: "Night team, Ward 7" }).waitFor(WAIT);

    // She adds Dan from the directory.
    await details.getByLabel("Add people").fill("physio");
    await details.getByRole("button", { name: "Add Dan Reyes" }).click();
    await until(async () => (await membership(people.ada.token, roomId, people.dan.userId)) === "invite", "Dan invited");
    await members.getByText(/Dan Reyes · Physiotherapist, Therapies/).waitFor(WAIT);

    // She removes Cy, after confirming.
    await details.getByRole("button", { name: "Remove Cy Okafor" }).click();
    const confirm = details.getByRole("group", { name: "Remove Cy Okafor from this conversation?" });
    await confirm.waitFor(WAIT);
    await until(() => hasFocus(confirm), "the confirmation has the focus", WAIT.timeout);
    await confirm.getByRole("button", { name: "Cancel" }).click();
    await confirm.waitFor({ state: "detached", ...WAIT });
    assert.equal(await membership(people.ada.token, roomId, people.cy.userId), "join", "nothing happened on Cancel");
    await details.getByRole("button", { name: "Remove Cy Okafor" }).click();
    await confirm.getByRole("button", { name: "Remove" }).click();
    await until(async () => (await membership(people.ada.token, roomId, people.cy.userId)) === "leave", "Cy removed");
    await members.getByText(/Cy Okafor/).waitFor({ state: "detached", ...WAIT });
    // Cy had it open: it closes, saying why.
    await cy.getByText("You are no longer in Night team, Ward 7").waitFor(WAIT);
    await cy.getByText("Choose a conversation.").waitFor(WAIT);
    assert.equal(await cy.locator(".rooms li", { hasText: "Night team" }).count(), 0);
    await ada.screenshot({ path: path.join(ARTIFACTS, "desktop-details.png") });
    await ada.keyboard.press("Escape");
    await details.waitFor({ state: "detached", ...WAIT });

    // Ben may not rename it or remove anyone: he sees them read-only. He leaves.
    await signIn(ben, server, "ben");
    await openConversation(ben, "Night team, Ward 7");
    await ben.getByRole("button", { name: "Details" }).tap();
    const benDetails = ben.getByRole("dialog", { name: "Conversation details" });
    await benDetails.getByText("Handover at 20:00").waitFor(WAIT);
    assert.equal(await benDetails.getByRole("textbox", { name: "Name" }).count(), 0, "no name to change");
    assert.equal(await benDetails.getByRole("textbox", { name: "Topic" }).count(), 0, "no topic to change");
    assert.equal(await benDetails.getByRole("button", { name: /^Remove/ }).count(), 0, "no one to remove");
    await benDetails.getByRole("list", { name: "Members" }).getByText("Ada Lovelace · Medical Registrar, Acute Medicine").waitFor(WAIT);
    const sizes = await benDetails.getByRole("button").evaluateAll((els) =>
      els.filter((el) => el.offsetParent).map((el) => [el.textContent, el.getBoundingClientRect().height]),
    );
    for (const [label, height] of sizes) assert.ok(height >= 44, `"${label}" is a 44 px target (${height})`);
    await ben.screenshot({ path: path.join(ARTIFACTS, "phone-details.png") });
    await benDetails.getByRole("button", { name: "Leave the conversation" }).tap();
    const leave = benDetails.getByRole("group", { name: /^Leave Night team, Ward 7\?/ });
    await leave.getByRole("button", { name: "Leave" }).tap();
    await until(async () => (await membership(people.ada.token, roomId, people.ben.userId)) === "leave", "Ben left");
    await benDetails.waitFor({ state: "detached", ...WAIT });
    await ben.locator(".rooms li", { hasText: "Night team" }).waitFor({ state: "detached", ...WAIT });
  } finally {
    await desk.close();
    await phone.close();
    await other.close();
  }
});

test("message search: results with the matched words, More results, No messages match; a result opens its conversation at that message", async () => {
  const cardio = await conversation(server, people.ada.token, [people.ben], { name: "Cardiology referrals" });
  const ward = await conversation(server, people.ada.token, [people.cy], { name: "Ward 9 night" });
  const oldest = "Troponin 80 at 02:00 in bed 12";
  await sendText(server, people.ben.token, cardio, oldest);
  // More than the first sync and one page after the message found bring.
  for (let i = 1; i <= 80; i++) await sendText(server, people.ada.token, cardio, `Obs stable, round ${i}`);
  for (let i = 1; i <= 11; i++) await sendText(server, people.ben.token, cardio, `troponin repeat ${i} due`);
  // Cy corrects hers: it is found, and shown, with the new text.
  const rising = await sendText(server, people.cy.token, ward, "Troponin rising in bed 8");
  await sendContent(server, people.cy.token, ward, {
    msgtype: "m.text",
    body: "* Troponin rising in bed 3",
    "m.new_content": { msgtype: "m.text", body: "Troponin rising in bed 3" },
    "m.relates_to": { rel_type: "m.replace", event_id: rising },
  });
  await sendText(server, people.ada.token, cardio, "Latest: all quiet");
  const api = await call(
    server.baseUrl,
    "POST",
    "/_matrix/client/v3/search",
    { search_categories: { room_events: { search_term: "tropon", keys: ["content.body"] } } },
    people.ada.token,
  );
  assert.equal(api.search_categories.room_events.count, 13, "the server finds 13 for Ada");

  const desk = await browser.newContext(DESKTOP);
  const phone = await browser.newContext(PHONE);
  const ada = await desk.newPage();
  const ben = await phone.newPage();
  try {
    await signIn(ada, server, "ada");
    const search = ada.getByLabel("Search conversations and messages");
    await search.fill("tropon");
    const results = ada.getByRole("region", { name: "Messages found" });
    const hits = results.getByRole("list", { name: "13 messages found" }).getByRole("listitem");
    await hits.nth(9).waitFor(WAIT);
    assert.equal(await hits.count(), 10, "a first page");
    // Newest first: conversation, sender, time, the text with the matched word marked.
    const first = hits.first();
    assert.equal(await first.locator(".hit-room").innerText(), "Ward 9 night");
    assert.equal(await first.locator(".hit-who").innerText(), "Cy Okafor");
    assert.match(await first.locator("time").innerText(), /^\d\d:\d\d$/);
    assert.equal(await first.locator(".hit-text").innerText(), "Troponin rising in bed 3");
    assert.deepEqual(await first.locator("mark").allInnerTexts(), ["Troponin"]);
    await results.getByRole("button", { name: "More results" }).click();
    await hits.nth(12).waitFor(WAIT);
    assert.equal(await results.getByRole("button", { name: "More results" }).count(), 0, "no more pages");
    await ada.screenshot({ path: path.join(ARTIFACTS, "desktop-search.png") });

    // The oldest is long before what the conversation loads at first: it is loaded around it.
    const oldestHit = hits.filter({ hasText: oldest });
    assert.equal(await oldestHit.locator(".hit-who").innerText(), "Ben Carter");
    const contexts = [];
    ada.on("request", (r) => r.url().includes("/context/") && contexts.push(r.url()));
    await oldestHit.getByRole("button").click();
    const found = ada.locator(".timeline .msg", { hasText: oldest });
    await found.waitFor(WAIT);
    await until(() => inView(found), "the message found in view");
    assert.ok(await found.evaluate((el) => el === document.activeElement), "the message found has the focus");
    assert.equal(contexts.length, 1, "loaded around the message (/context)");
    assert.equal(await ada.locator(".timeline .msg", { hasText: "Latest: all quiet" }).count(), 0, "the latest are not loaded");
    // Scrolling down loads later messages; "Latest messages" goes to the latest.
    await ada.getByRole("button", { name: "Latest messages ↓" }).click();
    const latest = bubble(ada, "Latest: all quiet");
    await latest.waitFor(WAIT);
    await until(() => inView(latest), "the latest message in view");
    await ada.getByRole("button", { name: "Latest messages ↓" }).waitFor({ state: "detached", ...WAIT });
    // Another result of the same conversation, already loaded: pointed out at once.
    await hits.filter({ hasText: "troponin repeat 11 due" }).getByRole("button").click();
    const repeat = bubble(ada, "troponin repeat 11 due");
    await ada.waitForFunction((el) => el === document.activeElement, await repeat.elementHandle(), WAIT);
    assert.match(await repeat.getAttribute("class"), /\bfound\b/, "pointed out");
    assert.equal(contexts.length, 1, "nothing more to load");

    // Nothing matches.
    await search.fill("zzqxv");
    await results.getByText("No messages match").waitFor(WAIT);

    // Ben, on his phone, finds bed 12 and taps it: the conversation opens at that message.
    await signIn(ben, server, "ben");
    await ben.getByLabel("Search conversations and messages").fill("bed 12");
    const benHit = ben.getByRole("region", { name: "Messages found" }).getByRole("button", { name: new RegExp(oldest) });
    await benHit.tap();
    const benFound = ben.locator(".timeline .msg", { hasText: oldest });
    await benFound.waitFor(WAIT);
    await until(() => inView(benFound), "the message found in view on the phone");
    await ben.screenshot({ path: path.join(ARTIFACTS, "phone-search-result.png") });
  } finally {
    await desk.close();
    await phone.close();
  }
});
