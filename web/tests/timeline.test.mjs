// Browser tests of what the reader of a conversation is looking at: a limited sync (more
// arrived while the sync was held up than one sync brings) keeps what is shown and leaves a gap
// loaded on demand; "N new messages ↓" counts only unseen messages below the view; a typing line goes when
// the message comes, the typist leaves, or the server's timeout passes without a word.
// Real `wardline` binary, Debian's Chromium.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { WAIT, active, bubble, call, conversation, openConversation, readDown, reading, sendText, signIn, startWard, status, stopWard, until } from "./support.mjs";

const DESKTOP = { viewport: { width: 1280, height: 800 } };

let server;
let browser;
const people = {};

before(async () => {
  ({ server, browser } = await startWard(people, [
    ["ada", "Ada Lovelace"],
    ["eli", "Eli Moss"],
  ], { env: { WARDLINE_SYNC__MAX_TYPING_MS: "600000" } }));
});

after(() => stopWard({ server, browser }));

/** Where a message is in the timeline's view (px from its top edge). */
async function placeOf(page, text) {
  return bubble(page, text).evaluate((el) => el.getBoundingClientRect().top - el.closest(".timeline").getBoundingClientRect().top);
}

/**
 * Holds the page's /sync requests from now on (the one waiting at the server returns when
 * something happens); `release` lets them go.
 */
async function holdSync(page) {
  const held = [];
  let holding = true;
  await page.route("**/_matrix/client/v3/sync?**", (route) => (holding ? held.push(route) : route.continue()));
  return {
    held: () => held.length,
    release: async () => {
      holding = false;
      for (const r of held.splice(0)) await r.continue();
      await page.unroute("**/_matrix/client/v3/sync?**");
    },
  };
}

test("a limited sync keeps what the reader is looking at; the gap is loaded on asking and never read unseen", async () => {
  const roomId = await conversation(server, people.ada.token, [people.eli], { name: "Bay 9" });
  for (let i = 1; i <= 40; i++) await sendText(server, people.ada.token, roomId, `Bay 9 earlier ${i}`);
  const readAt = async (eventId) =>
    (await status(server, people.ada.token, roomId, eventId)).recipients.find((r) => r.user_id === people.eli.userId)
      ?.read_ts ?? null;
  const context = await browser.newContext(DESKTOP);
  const page = await context.newPage();
  try {
    await signIn(page, server, "eli");
    await openConversation(page, "Bay 9");
    await bubble(page, "Bay 9 earlier 40").waitFor(WAIT);
    const earlier = await sendText(server, people.ada.token, roomId, "Bay 9 earlier 41");
    await bubble(page, "Bay 9 earlier 41").waitFor(WAIT);
    await readDown(page, readAt, "all read before");
    await reading(page, until(async () => (await readAt(earlier)) !== null, "all read before"));
    // Eli reads back up the conversation.
    await bubble(page, "Bay 9 earlier 25").evaluate((el) => el.scrollIntoView({ block: "start" }));
    const before = await placeOf(page, "Bay 9 earlier 25");

    // Eli's sync is held up (a lift, a dead spot) while Ada writes more than one sync brings.
    const sync = await holdSync(page);
    await until(() => sync.held() > 0, "a sync held");
    const night = [];
    for (let i = 1; i <= 24; i++) night.push(await sendText(server, people.ada.token, roomId, `Bay 9 night ${i}`));
    await sync.release();
    await bubble(page, "Bay 9 night 24").waitFor({ state: "attached", ...WAIT });

    // What Eli was reading is still there, where it was; the newest follow a gap.
    assert.equal(await placeOf(page, "Bay 9 earlier 25"), before, "the view did not move");
    assert.equal(await bubble(page, "Bay 9 earlier 40").count(), 1, "the messages shown before stay");
    const load = page.getByRole("button", { name: "Load the messages not shown yet" });
    await load.waitFor({ state: "attached", ...WAIT });
    assert.equal(await bubble(page, "Bay 9 night 5").count(), 0, "the gap is not loaded yet");

    // Eli goes down to the newest and reads them: none is read, the gap was never on screen.
    const scroller = page.locator(".timeline");
    await scroller.evaluate((el) => (el.scrollTop = el.scrollHeight));
    await reading(page, new Promise((r) => setTimeout(r, 2500)));
    for (const [i, id] of night.entries()) assert.equal(await readAt(id), null, `night ${i + 1} not read`);

    // Eli goes back to the gap and loads it: the messages above it stay where they are.
    await bubble(page, "Bay 9 earlier 40").evaluate((el) => el.scrollIntoView({ block: "start" }));
    const above = await placeOf(page, "Bay 9 earlier 40");
    await active(page);
    await load.click();
    await bubble(page, "Bay 9 night 2").waitFor({ state: "attached", ...WAIT });
    assert.equal(await placeOf(page, "Bay 9 earlier 40"), above, "loading the gap did not move the view");
    await until(async () => (await load.count()) === 0, "the gap filled");
    for (const [i, id] of night.entries()) assert.equal(await readAt(id), null, `night ${i + 1} not read before it was seen`);

    // Eli reads down to the newest: now they are read.
    await readDown(page, readAt, "the night read");
    await reading(page, until(async () => (await readAt(night[23])) !== null, "the newest read once all were seen"));
  } finally {
    await context.close();
  }
});

test('"N new messages ↓" counts only unseen messages below the view, never those above it', async () => {
  const roomId = await conversation(server, people.ada.token, [people.eli], { name: "Bay 12" });
  for (let i = 1; i <= 30; i++) await sendText(server, people.ada.token, roomId, `Bay 12 note ${i}`);
  const context = await browser.newContext(DESKTOP);
  const page = await context.newPage();
  const jump = page.locator(".jump");
  try {
    await signIn(page, server, "eli");
    await openConversation(page, "Bay 12");
    await bubble(page, "Bay 12 note 30").waitFor({ state: "attached", ...WAIT });
    // Eli jumps to the bottom (skipping the middle, never seen), reads, and scrolls up a little.
    const scroller = page.locator(".timeline");
    await scroller.evaluate((el) => (el.scrollTop = el.scrollHeight));
    await reading(page, new Promise((r) => setTimeout(r, 2500)));
    await scroller.evaluate((el) => el.scrollBy(0, -300));
    await reading(page, new Promise((r) => setTimeout(r, 500)));
    assert.equal(await jump.count(), 0, "the skipped messages above are not new below");

    // Two arrive below: two new messages.
    await sendText(server, people.ada.token, roomId, "Bay 12 later 1");
    await sendText(server, people.ada.token, roomId, "Bay 12 later 2");
    await bubble(page, "Bay 12 later 2").waitFor({ state: "attached", ...WAIT });
    await until(async () => (await jump.count()) && (await jump.innerText()) === "2 new messages ↓", "2 new messages");

    // Going down to them: the button goes.
    await jump.click();
    await reading(page, until(async () => (await jump.count()) === 0, "the button gone at the bottom"));
  } finally {
    await context.close();
  }
});

test("a typing line goes when the typist's message arrives, when they leave, and after the server's timeout without a word", async () => {
  const roomId = await conversation(server, people.ada.token, [people.eli], { name: "Bay 11" });
  // (The server here keeps a typing notice up to 10 minutes, as long as the typist's app asks.)
  const typing = (on) =>
    call(
      server.baseUrl,
      "PUT",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(people.ada.userId)}`,
      on ? { typing: true, timeout: 600_000 } : { typing: false },
      people.ada.token,
    );
  const context = await browser.newContext(DESKTOP);
  await context.clock.install();
  const page = await context.newPage();
  const line = page.locator(".typing");
  let step = 0;
  const shows = (what) => until(async () => (await line.innerText()).trim() === what, `the typing line says "${what}" (step ${++step})`);
  try {
    await signIn(page, server, "eli");
    await openConversation(page, "Bay 11");
    await typing(true);
    await shows("Ada Lovelace typing…");

    // Her message arrives: she is no longer typing it (her app never said it stopped).
    await sendText(server, people.ada.token, roomId, "Bay 11 obs done");
    await bubble(page, "Bay 11 obs done").waitFor(WAIT);
    await shows("");
    // She types again: shown again; she says she stopped: gone.
    await typing(true);
    await shows("Ada Lovelace typing…");
    await typing(false);
    await shows("");

    // Typing, then not a word for longer than the server's timeout (her app gone): gone.
    await typing(true);
    await shows("Ada Lovelace typing…");
    await page.clock.fastForward("00:31");
    await shows("");

    // Typing, then she leaves the conversation: gone.
    await typing(true);
    await shows("Ada Lovelace typing…");
    await call(server.baseUrl, "POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/leave`, {}, people.ada.token);
    await shows("");
  } finally {
    await context.close();
  }
});
