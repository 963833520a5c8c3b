// Browser test of "Mark as read up to here" (for keyboard and screen-reader users, whose reading
// the page cannot see): from a message's menu, by keyboard, the receipt moves to that message,
// never across messages not loaded (a gap after a limited sync). The page is kept unfocused so
// that reading on screen sends no receipt of its own (attention.test.mjs). Real `wardline`
// binary, Debian's Chromium.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { WAIT, bubble, conversation, openConversation, sendText, signIn, status, until, startWard, stopWard } from "./support.mjs";

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

/** Chooses "Mark as read up to here" in the menu of the message with this text, by keyboard. */
async function markByKeyboard(page, text) {
  const more = bubble(page, text).getByRole("button", { name: "Actions for the message from Ada Lovelace" });
  await more.focus();
  await page.keyboard.press("Enter");
  const mark = page.getByRole("toolbar", { name: "Message actions" }).getByRole("button", { name: "Mark as read up to here" });
  await mark.waitFor(WAIT);
  for (let i = 0; i < 12 && !(await mark.evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press("Tab");
  assert.ok(await mark.evaluate((el) => el === document.activeElement), "reached by Tab");
  await page.keyboard.press("Enter");
  return more;
}

test("Mark as read up to here: read up to that message only, by keyboard, never across a gap", async () => {
  const roomId = await conversation(server, people.ada.token, [people.eli], { name: "Ward 3 handover" });
  const ids = [];
  for (const text of ["Bed 1 stable", "Bed 2 needs bloods", "Bed 3 for discharge"]) ids.push(await sendText(server, people.ada.token, roomId, text));
  const readAt = async (eventId) =>
    (await status(server, people.ada.token, roomId, eventId)).recipients.find((r) => r.user_id === people.eli.userId)?.read_ts ??
    null;
  const context = await browser.newContext(DESKTOP);
  // Another window in front: nothing is read by being on screen.
  await context.addInitScript(() => {
    Document.prototype.hasFocus = () => false;
  });
  const page = await context.newPage();
  const receipts = [];
  page.on("request", (r) => {
    const m = /\/receipt\/m\.read\/([^/?]+)/.exec(r.url());
    if (m) receipts.push(decodeURIComponent(m[1]));
  });
  const toast = page.locator(".toast");
  try {
    await signIn(page, server, "eli");
    await openConversation(page, "Ward 3 handover");
    await bubble(page, "Bed 3 for discharge").waitFor(WAIT);

    const more = await markByKeyboard(page, "Bed 2 needs bloods");
    await toast.getByText("Marked as read up to this message.").waitFor(WAIT);
    await until(async () => (await readAt(ids[1])) !== null, "bed 2 read");
    assert.notEqual(await readAt(ids[0]), null, "bed 1, before it, read");
    assert.equal(await readAt(ids[2]), null, "bed 3, after it, not read");
    assert.deepEqual(receipts, [ids[1]]);
    await until(() => more.evaluate((el) => el === document.activeElement), "the focus back on the message's menu button");

    // Before the receipt: nothing to do, and said so.
    await markByKeyboard(page, "Bed 1 stable");
    await toast.getByText("Already read up to here.").waitFor(WAIT);
    assert.deepEqual(receipts, [ids[1]], "no receipt sent");

    // A limited sync after the laptop slept (asleep once a sync has failed: one under way as the
    // network went may still have brought what came meanwhile): what was shown stays, the newest
    // messages follow after a gap line, the ones between not loaded (and cannot be for now).
    await page.route("**/rooms/*/messages**", (route) => route.abort("internetdisconnected"));
    const asleep = page.waitForEvent("requestfailed", { predicate: (r) => r.url().includes("/sync"), timeout: 60_000 });
    await context.setOffline(true);
    await page.getByRole("status").getByText(/Offline/).waitFor(WAIT);
    await asleep;
    const night = [];
    for (let i = 1; i <= 40; i++) night.push(await sendText(server, people.ada.token, roomId, `Night entry ${i}`));
    await context.setOffline(false);
    await bubble(page, "Night entry 40").waitFor(WAIT);
    const gap = page.locator(".timeline .gap");
    await gap.getByText("More messages here, not shown yet").waitFor(WAIT);
    assert.equal(await bubble(page, "Night entry 1").count(), 0, "the first of the night not loaded");
    await markByKeyboard(page, "Night entry 40");
    await toast.getByText(/Earlier unread messages are not loaded yet/).waitFor(WAIT);
    assert.deepEqual(receipts, [ids[1]], "no receipt across the gap");
    assert.equal(await readAt(night[39]), null, "entry 40 not read");
    // Nor on the first message after the gap.
    await toast.getByText(/Earlier unread messages are not loaded yet/).waitFor({ state: "detached", ...WAIT });
    const firstAfter = await page.locator(".timeline .gap + .msg").getAttribute("data-event");
    await markByKeyboard(page, `Night entry ${night.indexOf(firstAfter) + 1}`);
    await toast.getByText(/Earlier unread messages are not loaded yet/).waitFor(WAIT);
    assert.deepEqual(receipts, [ids[1]], "no receipt across the gap");
    assert.equal(await readAt(firstAfter), null, "the first after the gap not read");

    // The gap loaded: now it may be marked.
    await page.unroute("**/rooms/*/messages**");
    const load = gap.getByRole("button", { name: "Load the messages not shown yet" });
    await until(async () => {
      if (await load.count()) await load.click().catch(() => undefined);
      return (await bubble(page, "Night entry 1").count()) > 0 && (await gap.count()) === 0;
    }, "the gap loaded");
    await markByKeyboard(page, "Night entry 40");
    await toast.getByText("Marked as read up to this message.").waitFor(WAIT);
    await until(async () => (await readAt(night[39])) !== null, "entry 40 read");
    assert.notEqual(await readAt(night[0]), null, "and all loaded before it");
  } finally {
    await context.close();
  }
});
