// Browser tests of the everyday messaging people know from WhatsApp, in standard Matrix:
// forwarding (text and files, readable by the new conversation), mentions ("@" completion,
// m.mentions, highlighted for the person mentioned), messages of several lines, photos at full
// size, message search, and a conversation's details (name, topic, members, adding, removing,
// leaving). Real `wardline` binary, Debian's Chromium; phone and desktop sizes.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

import { REPO_ROOT, WardlineServer } from "../../tests/clients/wardline-server.mjs";
import {
  WAIT,
  apiLogin,
  bubble,
  call,
  conversation,
  downloadStatus,
  eventsOf,
  openConversation,
  png,
  send,
  sendContent,
  sendText,
  signIn,
  until,
  upload,
} from "./support.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = path.join(REPO_ROOT, "web", "test-artifacts");
const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

let server;
let browser;
const people = {};

before(async () => {
  server = new WardlineServer();
  await server.start();
  for (const [user, name, job, department] of [
    ["ada", "Ada Lovelace", "Medical Registrar", "Acute Medicine"],
    ["ben", "Ben Carter", "Staff Nurse", "Ward 7"],
    ["cy", "Cy Okafor", "Pharmacist", "Pharmacy"],
    ["dan", "Dan Reyes", "Physiotherapist", "Therapies"],
    ["eli", "Eli Moss", "Healthcare Assistant", "Ward 7"],
  ]) {
    server.addUser(user, name, ["--job-title", job, "--department", department]);
    people[user] = { userId: `@${user}:localhost`, token: await apiLogin(server, user) };
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const enc = encodeURIComponent;

/** Opens the "⋯" actions of a message and chooses one. */
async function act(page, message, who, action) {
  await message.getByRole("button", { name: `Actions for the message from ${who}` }).click();
  await page.getByRole("toolbar", { name: "Message actions" }).getByRole("button", { name: action, exact: true }).click();
}

/** Is the focus inside this element? */
function hasFocus(locator) {
  return locator.evaluate((el) => el.contains(document.activeElement));
}

test("forward a text and a photo to another conversation: marked Forwarded, and the photo readable there", async () => {
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
    assert.ok(await hasFocus(picker), "the picker took the focus");
    assert.equal(await picker.getByRole("button", { name: "Ward 7 pharmacy" }).count(), 0, "not to the same conversation");
    // Escape closes it without sending; a second try sends.
    await ada.keyboard.press("Escape");
    await picker.waitFor({ state: "detached", ...WAIT });
    await act(ada, bubble(ada, text), "Cy Okafor", "Forward");
    await picker.getByRole("button", { name: "Ben Carter" }).click();
    await ada.getByRole("status").getByText("Forwarded to Ben Carter").waitFor(WAIT);
    await picker.waitFor({ state: "detached", ...WAIT });

    // The photo: found with the picker's filter, by keyboard.
    const photo = ada.locator(".timeline .msg", { has: ada.locator("img[alt='drug-chart.png']") });
    await act(ada, photo, "Cy Okafor", "Forward");
    await picker.getByLabel("Find a conversation").fill("ben");
    await picker.getByRole("button", { name: "Ben Carter" }).focus();
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

    // Ben, on his phone, sees both marked "Forwarded", and the photo.
    await signIn(ben, server, "ben");
    await openConversation(ben, "Ada Lovelace");
    await bubble(ben, text).getByText("Forwarded").waitFor(WAIT);
    const benPhoto = ben.locator(".timeline .msg", { has: ben.locator("img[alt='drug-chart.png']") });
    await benPhoto.getByText("Forwarded").waitFor(WAIT);
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
