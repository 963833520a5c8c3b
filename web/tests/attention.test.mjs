// Browser tests of reading's attention rules (src/reading.ts): no read receipt while the page is
// unfocused, hidden, or nobody has been active for a minute, however long a message is on
// screen; read once the page is focused, visible and used again. Playwright keeps every page
// focused and visible, so the page's focus and visibility are the test's here (document.hasFocus
// and visibilityState, with their events); its clock is the test's too (Playwright's clock).
// Real `wardline` binary, Debian's Chromium.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { WAIT, active, bubble, conversation, openConversation, sendText, signIn, status, until, startWard, stopWard } from "./support.mjs";

const DESKTOP = { viewport: { width: 1280, height: 800 } };

let server;
let browser;
const people = {};

before(async () => {
  ({ server, browser } = await startWard(people, [
    ["ada", "Ada Lovelace"],
    ["eli", "Eli Moss"],
  ]));
});

after(() => stopWard({ server, browser }));

/** A page whose focus, visibility and clock the test sets; the read receipts it sends. */
async function eliPage() {
  const context = await browser.newContext(DESKTOP);
  await context.clock.install();
  await context.addInitScript(() => {
    let focused = true;
    let visible = true;
    Document.prototype.hasFocus = () => focused;
    Object.defineProperty(Document.prototype, "visibilityState", { configurable: true, get: () => (visible ? "visible" : "hidden") });
    Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => !visible });
    window.__attention = (f, v) => {
      focused = f;
      visible = v;
      window.dispatchEvent(new Event(f ? "focus" : "blur"));
      document.dispatchEvent(new Event("visibilitychange"));
    };
  });
  const page = await context.newPage();
  const receipts = [];
  page.on("request", (r) => {
    const m = /\/receipt\/m\.read\/([^/?]+)/.exec(r.url());
    if (m) receipts.push(decodeURIComponent(m[1]));
  });
  return { context, page, receipts };
}

let markers = 0;
let bays = 0;

/**
 * Eli at the screen for five seconds (on the page's clock: long enough for a message to count as
 * seen, were anyone reading); then every receipt the page sent meanwhile has been seen here (a
 * request made after them is).
 */
async function fiveSeconds(page, { move = true } = {}) {
  for (let i = 0; i < 5; i++) {
    if (move) await page.mouse.move(300 + i * 37, 300 + i * 11);
    await page.clock.runFor(1000);
  }
  const marker = `/_matrix/client/versions?marker=${++markers}`;
  const seen = page.waitForRequest((r) => r.url().endsWith(marker));
  await page.evaluate((m) => fetch(m).then(() => undefined), marker);
  await seen;
}

const readAt = async (roomId, eventId) =>
  (await status(server, people.ada.token, roomId, eventId)).recipients.find((r) => r.user_id === people.eli.userId)?.read_ts ??
  null;

for (const [away, set] of [
  ["unfocused (another window in front)", [false, true]],
  ["hidden (another tab, or minimised)", [true, false]],
]) {
  test(`no receipt while the page is ${away}, however long the message is on screen; read once back`, async () => {
    const roomId = await conversation(server, people.ada.token, [people.eli], { name: `Bay ${++bays}` });
    const { context, page, receipts } = await eliPage();
    try {
      await signIn(page, server, "eli");
      await openConversation(page, `Bay ${bays}`);
      await page.evaluate(([f, v]) => window.__attention(f, v), set);
      const text = `Bed 4 potassium 6.1 (${away})`;
      const eventId = await sendText(server, people.ada.token, roomId, text);
      await bubble(page, text).waitFor(WAIT);
      await fiveSeconds(page);
      assert.deepEqual(receipts, [], "no receipt sent");
      assert.equal(await readAt(roomId, eventId), null, "not read on the server");

      await page.evaluate(() => window.__attention(true, true));
      await fiveSeconds(page);
      await until(async () => (await readAt(roomId, eventId)) !== null, "read once back");
      assert.deepEqual(receipts, [eventId]);
    } finally {
      await context.close();
    }
  });
}

test("no receipt after a minute without activity, however long the message is on screen; read once active", async () => {
  const roomId = await conversation(server, people.ada.token, [people.eli], { name: `Bay ${++bays}` });
  const { context, page, receipts } = await eliPage();
  try {
    await signIn(page, server, "eli");
    await openConversation(page, `Bay ${bays}`);
    await active(page);
    // Eli walks away from the ward PC, the page in front and focused.
    await page.clock.fastForward(61_000);
    const text = "Bed 9 pain score 8";
    const eventId = await sendText(server, people.ada.token, roomId, text);
    await bubble(page, text).waitFor(WAIT);
    await fiveSeconds(page, { move: false });
    assert.deepEqual(receipts, [], "no receipt sent");
    assert.equal(await readAt(roomId, eventId), null, "not read on the server");

    // Back: the mouse moves.
    await fiveSeconds(page);
    await until(async () => (await readAt(roomId, eventId)) !== null, "read once active");
    assert.deepEqual(receipts, [eventId]);
  } finally {
    await context.close();
  }
});
