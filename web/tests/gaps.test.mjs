// Browser tests of read receipts around gaps: a receipt never covers messages the client never
// loaded (a limited sync after the laptop slept brings only the newest ones). Real `wardline`
// binary, Debian's Chromium. (Focus, visibility and a minute without activity:
// attention.test.mjs.)

import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { WAIT, reading, readDown, bubble, call, conversation, inView, openConversation, sendText, signIn, status, until, upload, startWard, stopWard } from "./support.mjs";

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


test("after a limited sync, the messages never loaded are not read: the gap is loaded and read only when seen", async () => {
  const roomId = await conversation(server, people.ada.token, [people.eli]);
  const before = [];
  for (let i = 1; i <= 3; i++) before.push(await sendText(server, people.ada.token, roomId, `Before sleep ${i}`));
  const readAt = async (eventId) =>
    (await status(server, people.ada.token, roomId, eventId)).recipients.find((r) => r.user_id === people.eli.userId)
      ?.read_ts ?? null;
  const context = await browser.newContext(DESKTOP);
  const page = await context.newPage();
  const receipts = [];
  page.on("request", (r) => {
    const m = /\/receipt\/m\.read\/([^/?]+)/.exec(r.url());
    if (m) receipts.push(decodeURIComponent(m[1]));
  });
  try {
    await signIn(page, server, "eli");
    await openConversation(page, "Ada Lovelace");
    await reading(page, until(async () => (await readAt(before[2])) !== null, "the messages before the sleep read"));

    // The laptop sleeps (asleep once a sync has failed: one under way as the network went may
    // still have brought what came meanwhile); the ward group gets 40 messages; the sync brings
    // only the newest.
    const asleep = page.waitForEvent("requestfailed", { predicate: (r) => r.url().includes("/sync"), timeout: 60_000 });
    await context.setOffline(true);
    await page.getByText(/offline|connection/i).first().waitFor(WAIT);
    await asleep;
    const night = [];
    for (let i = 1; i <= 40; i++) night.push(await sendText(server, people.ada.token, roomId, `Night entry ${i}`));
    await context.setOffline(false);
    await bubble(page, "Night entry 40").waitFor(WAIT);
    // The conversation was open: what was shown stays, the newest follow after a gap line.
    const gap = page.locator(".timeline .gap");
    await gap.getByText("More messages here, not shown yet").waitFor(WAIT);
    assert.equal(await bubble(page, "Night entry 1").count(), 0, "the first of the night not loaded");
    const nightReceipts = () => receipts.filter((r) => night.includes(r)).map((r) => `entry ${night.indexOf(r) + 1}`);
    // Eli is there, reading the newest (longer than a message takes to count as seen)...
    await reading(page, new Promise((r) => setTimeout(r, 2500)));
    // ... but none of the 40 counts as read: the receipt would cover the gap's, never loaded.
    assert.deepEqual(nightReceipts(), [], "no receipt for a night message");
    assert.equal(await readAt(night[39]), null, "entry 40 not read");

    // The gap is loaded, the newest stay on screen meanwhile (the button pressed where it is,
    // without scrolling to it, as by a screen reader's command)...
    const load = gap.getByRole("button", { name: "Load the messages not shown yet" });
    await until(async () => {
      if (await load.count()) await load.first().evaluate((b) => b.click()).catch(() => undefined);
      return (await gap.count()) === 0 && (await bubble(page, "Night entry 1").count()) > 0;
    }, "the gap loaded");
    assert.ok(await inView(bubble(page, "Night entry 40")), "the newest on screen");
    assert.ok(!(await inView(bubble(page, "Night entry 1"))), "the first of the night not on screen");
    // Eli is there, reading (longer than a message takes to count as seen).
    await reading(page, new Promise((r) => setTimeout(r, 2500)));
    // ... and still none of the 40 counts as read: the first of them were never on screen.
    assert.deepEqual(nightReceipts(), [], "no receipt for a night message");
    assert.equal(await readAt(night[39]), null, "entry 40 not read");
    assert.equal(await readAt(night[0]), null, "entry 1 not read");

    // Eli reads from the first of the night to the last: all read.
    await bubble(page, "Night entry 1").scrollIntoViewIfNeeded();
    await reading(page, until(async () => (await readAt(night[0])) !== null, "entry 1 read once on screen"));
    await readDown(page, readAt, "the night read down");
    // (At the bottom: the last entry on screen, however the scrolling above ended.)
    await reading(
      page,
      until(async () => {
        await bubble(page, "Night entry 40").scrollIntoViewIfNeeded();
        return (await readAt(night[39])) !== null;
      }, "entry 40 read once scrolled to"),
    );
  } finally {
    await context.close();
  }
});

test("a message arriving behind a dialog is not read until the dialog is closed", async () => {
  const roomId = await conversation(server, people.ada.token, [people.eli], { name: "Bay 2" });
  await sendText(server, people.ada.token, roomId, "Bay 2 first");
  const readAt = async (eventId) =>
    (await status(server, people.ada.token, roomId, eventId)).recipients.find((r) => r.user_id === people.eli.userId)
      ?.read_ts ?? null;
  const context = await browser.newContext(DESKTOP);
  const page = await context.newPage();
  try {
    await signIn(page, server, "eli");
    await openConversation(page, "Bay 2");
    await bubble(page, "Bay 2 first").waitFor(WAIT);

    // The details dialog is open over the timeline: what arrives behind it is not read.
    await page.getByRole("button", { name: "Details" }).click();
    await page.getByRole("dialog").first().waitFor(WAIT);
    const id = await sendText(server, people.ada.token, roomId, "Bay 2 behind the dialog");
    await bubble(page, "Bay 2 behind the dialog").waitFor(WAIT);
    await reading(page, new Promise((r) => setTimeout(r, 2500)));
    assert.equal(await readAt(id), null, "not read behind the dialog");

    // Eli closes it and is back at the timeline: read.
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").first().waitFor({ state: "detached", ...WAIT });
    await reading(page, until(async () => (await readAt(id)) !== null, "read once the dialog is closed"));
  } finally {
    await context.close();
  }
});

test("a message this app cannot show is drawn as such, and read only once seen", async () => {
  const roomId = await conversation(server, people.ada.token, [people.eli], { name: "Bay 4" });
  const put = async (type, content) =>
    (
      await call(
        server.baseUrl,
        "PUT",
        `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${type}/t${Date.now()}${Math.random()}`,
        content,
        people.ada.token,
      )
    ).event_id;
  await sendText(server, people.ada.token, roomId, "Bay 4 first");
  const file = await upload(server, people.ada.token, Buffer.from("sticker"), "application/octet-stream", "sticker.bin");
  await put("m.sticker", { body: "thumbs up", url: file, info: {} });
  await put("m.room.encrypted", { algorithm: "m.megolm.v1.aes-sha2", ciphertext: "xyz" });
  const custom = await put("com.example.handover", { note: "from another app" });
  const last = await sendText(server, people.ada.token, roomId, "Bay 4 last");
  const readAt = async (eventId) =>
    (await status(server, people.ada.token, roomId, eventId)).recipients.find((r) => r.user_id === people.eli.userId)
      ?.read_ts ?? null;
  const context = await browser.newContext(DESKTOP);
  const page = await context.newPage();
  try {
    await signIn(page, server, "eli");
    await openConversation(page, "Bay 4");
    await bubble(page, "Bay 4 last").waitFor(WAIT);
    const placeholders = page.locator(".timeline .msg", { hasText: "A message this app cannot show" });
    await until(async () => (await placeholders.count()) === 3, "three placeholders");
    assert.ok(await page.locator(`.timeline .msg[data-event="${custom}"]`).count(), "the other app's event drawn");
    await reading(page, until(async () => (await readAt(last)) !== null, "all read once seen"));
  } finally {
    await context.close();
  }
});
