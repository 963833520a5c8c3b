// Browser tests of messaging through bad Wi-Fi and of true statuses: the outbox (a message is
// kept until the server accepted it, through a lost answer, a network drop and a reload, and
// stored once), refusals, the connection banner, the timeline following new messages and
// keeping its place, read receipts only for messages seen, and a late joiner never counted as
// a reader. Real `wardline` binary, Debian's Chromium; phone and desktop sizes.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";

import { REPO_ROOT } from "../../tests/clients/wardline-server.mjs";
import {
  WAIT,
  active,
  readScreen,
  reading,
  bodiesOf,
  bubble,
  call,
  conversation,
  inView,
  openConversation,
  send,
  sendText,
  signIn,
  status,
  until,
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
  // Files over 2 MB are refused here (the default is 50 MB), to show "file too large".
  process.env.WARDLINE_MEDIA__MAX_UPLOAD_BYTES = String(2 * 1024 * 1024);
  ({ server, browser } = await startWard(
    people,
    [
      ["ada", "Ada Lovelace"],
      ["ben", "Ben Carter"],
      ["cy", "Cy Okafor"],
      ["dan", "Dan Reyes"],
      ["eli", "Eli Moss"],
      ["fay", "Fay Lin"],
    ],
    { chromiumArgs: ["--autoplay-policy=no-user-gesture-required"] },
  ));
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(() => stopWard({ server, browser }));

test("an answer lost mid-send: the message is sent again with the same transaction id and stored once", async () => {
  const roomId = await conversation(server, people.ada.token, [people.ben]);
  const context = await browser.newContext(DESKTOP);
  const page = await context.newPage();
  try {
    await signIn(page, server, "ada");
    await openConversation(page, "Ben Carter");
    // The first try reaches the server, which stores the message, but its answer never arrives.
    const tries = [];
    await page.route("**/send/m.room.message/**", async (route) => {
      tries.push(route.request().url());
      if (tries.length === 1) {
        await route.fetch();
        await route.abort("connectionreset");
      } else {
        await route.continue();
      }
    });
    const text = "Bed 9 needs a new cannula";
    await send(page, text);
    await bubble(page, text).getByRole("button", { name: /^Sent/ }).waitFor(WAIT);
    assert.equal(new Set(tries).size, 1, `every try used the same transaction id: ${tries.join(", ")}`);
    assert.equal((await bodiesOf(server, people.ben.token, roomId, text)).length, 1, "the server has it once");
    assert.equal(await bubble(page, text).count(), 1, "shown once");
  } finally {
    await context.close();
  }
});

test("offline: the banner shows, a message waits as Not sent, survives a reload, and is delivered once when the network returns", async () => {
  const roomId = await conversation(server, people.ada.token, [people.cy]);
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  const text = "Called pharmacy about bed 3";
  const wardline = /\/_(matrix|wardline)\//;
  try {
    await signIn(page, server, "ada");
    await openConversation(page, "Cy Okafor");

    await context.setOffline(true);
    const banner = page.getByRole("status");
    await banner.getByText(/Offline/).waitFor(WAIT);
    await send(page, text);
    const waiting = bubble(page, text);
    await waiting.getByText(/Not sent: no network/).waitFor(WAIT);
    await waiting.getByRole("button", { name: "Retry" }).waitFor(WAIT);
    await waiting.getByRole("button", { name: "Delete" }).waitFor(WAIT);
    await page.screenshot({ path: path.join(ARTIFACTS, "phone-offline-not-sent.png") });

    // The tab is reloaded while Wardline still cannot be reached (the page itself loads).
    await context.route(wardline, (route) => route.abort("internetdisconnected"));
    await context.setOffline(false);
    await page.reload();
    const list = page.getByRole("region", { name: "Waiting to be sent" });
    await list.getByText(text, { exact: true }).waitFor(WAIT);
    await list.getByText(/Not sent/).waitFor(WAIT);
    await banner.getByText(/Reconnecting|Offline/).waitFor(WAIT);
    assert.equal((await bodiesOf(server, people.cy.token, roomId, text)).length, 0, "not on the server yet");

    // The connection returns: sent, once; the banner says so, then goes.
    await context.unroute(wardline);
    await banner.getByText("Back online").waitFor(WAIT);
    await until(async () => (await bodiesOf(server, people.cy.token, roomId, text)).length > 0, "the message on the server");
    await banner.waitFor({ state: "detached", ...WAIT });
    await openConversation(page, "Cy Okafor");
    await bubble(page, text).getByRole("button", { name: /^(Sent|Delivered|Read)/ }).waitFor(WAIT);
    assert.equal(await bubble(page, text).count(), 1, "shown once");
    assert.equal((await bodiesOf(server, people.cy.token, roomId, text)).length, 1, "stored once");
  } finally {
    await context.close();
  }
});

test("a message the server refuses shows Not sent with the server's reason, Retry and Delete", async () => {
  // Only senior staff may post in this group, until Ada opens it to everyone.
  const roomId = await conversation(server, people.ada.token, [people.ben], {
    name: "Ward 7 announcements",
    power_level_content_override: { events_default: 50 },
  });
  const context = await browser.newContext(DESKTOP);
  const page = await context.newPage();
  try {
    await signIn(page, server, "ben");
    await openConversation(page, "Ward 7 announcements");
    const tries = [];
    page.on("request", (r) => r.method() === "PUT" && r.url().includes("/send/m.room.message/") && tries.push(r.url()));
    await send(page, "Can I post here?");
    const refused = bubble(page, "Can I post here?");
    await refused.getByText(/Not sent: .*power level 50/).waitFor(WAIT);
    await send(page, "Second attempt");
    const second = bubble(page, "Second attempt");
    await second.getByText(/Not sent: .*power level 50/).waitFor(WAIT);
    await page.screenshot({ path: path.join(ARTIFACTS, "desktop-refused.png") });

    await second.getByRole("button", { name: "Delete" }).click();
    await second.waitFor({ state: "detached", ...WAIT });

    const levels = await call(
      server.baseUrl,
      "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.power_levels/`,
      undefined,
      people.ada.token,
    );
    await call(
      server.baseUrl,
      "PUT",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.power_levels/`,
      { ...levels, events_default: 0 },
      people.ada.token,
    );
    await refused.getByRole("button", { name: "Retry" }).click();
    await refused.getByRole("button", { name: /^(Sent|Delivered|Read)/ }).waitFor(WAIT);
    assert.equal((await bodiesOf(server, people.ada.token, roomId, "Can I post here?")).length, 1);
    assert.equal((await bodiesOf(server, people.ada.token, roomId, "Second attempt")).length, 0, "deleted, never sent");
    // A refusal is not tried again on its own: the first try, and the one Retry asked for.
    const firstTries = tries.filter((u) => u === tries[0]);
    assert.equal(firstTries.length, 2, `tries of the refused message: ${firstTries.length}`);
  } finally {
    await context.close();
  }
});

/** The same place on screen, but for the rounding of a scroll offset to whole pixels. */
function samePlace(actual, expected, message) {
  assert.ok(Math.abs(actual - expected) < 1, `${message}: ${expected} -> ${actual}`);
}

/** A silent WAV file of `seconds` (8 kHz, 8-bit mono). */
function wav(seconds) {
  const samples = 8000 * seconds;
  const b = Buffer.alloc(44 + samples, 128);
  b.write("RIFF", 0);
  b.writeUInt32LE(36 + samples, 4);
  b.write("WAVEfmt ", 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(8000, 28);
  b.writeUInt16LE(1, 32);
  b.writeUInt16LE(8, 34);
  b.write("data", 36);
  b.writeUInt32LE(samples, 40);
  return b;
}

async function upload(token, bytes, type, name) {
  const r = await fetch(`${server.baseUrl}/_matrix/media/v3/upload?filename=${encodeURIComponent(name)}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": type },
    body: bytes,
  });
  assert.equal(r.status, 200);
  return (await r.json()).content_uri;
}

test("the view follows new messages (photos too), keeps its place scrolled up, offers the new ones; a voice note keeps playing", async () => {
  const roomId = await conversation(server, people.ada.token, [people.dan]);
  let last;
  for (let i = 1; i <= 40; i++) last = await sendText(server, people.ada.token, roomId, `Round note ${i}`);
  // Dan has read all of it already (on another device).
  await call(
    server.baseUrl,
    "POST",
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(last)}`,
    {},
    people.dan.token,
  );
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  try {
    await signIn(page, server, "dan");
    await openConversation(page, "Ada Lovelace");
    await until(() => inView(bubble(page, "Round note 40")), "the latest message in view on opening");
    assert.equal(await page.locator(".unread-line").count(), 0, "nothing new: no New messages line");

    // A voice note arrives and Dan plays it.
    const note = await upload(people.ada.token, wav(60), "audio/wav", "Voice note.wav");
    await call(
      server.baseUrl,
      "PUT",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/voice1`,
      { msgtype: "m.audio", body: "Voice note.wav", url: note, info: { mimetype: "audio/wav", duration: 60_000 } },
      people.ada.token,
    );
    const audio = page.locator(".timeline audio");
    await page.waitForFunction(() => document.querySelector(".timeline audio")?.src.startsWith("blob:"), null, WAIT);
    await audio.evaluate((el) => {
      el.dataset.mark = "playing";
      return el.play();
    });

    // A photo arrives, then a message: the view follows both, the photo's place kept from its size.
    const png = await page.evaluate(() => {
      const c = document.createElement("canvas");
      c.width = 600;
      c.height = 800;
      const g = c.getContext("2d");
      g.fillStyle = "#2c7be5";
      g.fillRect(0, 0, 600, 800);
      return c.toDataURL("image/png").split(",")[1];
    });
    const photo = await upload(people.ada.token, Buffer.from(png, "base64"), "image/png", "chart.png");
    await call(
      server.baseUrl,
      "PUT",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/photo1`,
      { msgtype: "m.image", body: "chart.png", url: photo, info: { mimetype: "image/png", w: 600, h: 800 } },
      people.ada.token,
    );
    const afterPhoto = await sendText(server, people.ada.token, roomId, "After the photo");
    await page.waitForFunction(() => document.querySelector(".timeline img[alt='chart.png']")?.complete, null, WAIT);
    await until(() => inView(bubble(page, "After the photo")), "the view following past the photo");
    // Dan reads them (read tracking needs him at the screen, and a moment).
    const readByDan = async () =>
      (await status(server, people.ada.token, roomId, afterPhoto)).recipients.find((r) => r.user_id === people.dan.userId)
        ?.read_ts ?? null;
    await reading(page, until(async () => (await readByDan()) !== null, "Dan read up to the latest"));

    // Dan scrolls up to read something earlier: his place is kept while messages arrive.
    const scroller = page.locator(".timeline");
    await scroller.evaluate((el) => (el.scrollTop = el.scrollHeight / 2));
    const anchor = bubble(page, "Round note 30");
    await anchor.scrollIntoViewIfNeeded();
    const before = await anchor.evaluate((el) => el.getBoundingClientRect().top);
    await sendText(server, people.ada.token, roomId, "Bed 2 is asking for you");
    const jump = page.getByRole("button", { name: /^1 new message ↓/ });
    await jump.waitFor(WAIT);
    samePlace(await anchor.evaluate((el) => el.getBoundingClientRect().top), before, "the view did not move");
    assert.equal(await inView(bubble(page, "Bed 2 is asking for you")), false);
    // Someone typing and more messages do not move it either, nor stop the voice note.
    await page.getByLabel("Message", { exact: true }).fill("Coming in 5");
    await sendText(server, people.ada.token, roomId, "Thanks");
    await page.getByRole("button", { name: /^2 new messages ↓/ }).waitFor(WAIT);
    samePlace(await anchor.evaluate((el) => el.getBoundingClientRect().top), before, "still where it was");
    const player = await audio.evaluate((el) => ({ mark: el.dataset.mark, paused: el.paused }));
    assert.deepEqual(player, { mark: "playing", paused: false }, "the same player, still playing");
    assert.equal(await page.getByLabel("Message", { exact: true }).inputValue(), "Coming in 5", "the draft is kept");

    await page.getByRole("button", { name: /new messages? ↓/ }).click();
    await until(() => inView(bubble(page, "Thanks")), "the newest message in view");
    await jump.waitFor({ state: "detached", ...WAIT });

    // Reaching the top loads earlier messages above, and the message being read stays where it is.
    const count = await page.locator(".timeline .msg").count();
    const oldest = page.locator(".timeline .msg").first();
    const oldestText = await oldest.locator(".body").innerText();
    const top = await scroller.evaluate((el) => {
      el.scrollTop = 0;
      return el.querySelector(".msg").getBoundingClientRect().top;
    });
    await until(async () => (await page.locator(".timeline .msg").count()) > count, "earlier messages");
    const same = bubble(page, oldestText);
    samePlace(await same.evaluate((el) => el.getBoundingClientRect().top), top, "the view did not move");
    await page.screenshot({ path: path.join(ARTIFACTS, "phone-follow.png") });
  } finally {
    await context.close();
  }
});

test("messages below the fold are not read until scrolled to", async () => {
  const roomId = await conversation(server, people.ada.token, [people.eli]);
  const ids = [];
  for (let i = 1; i <= 40; i++) ids.push(await sendText(server, people.ada.token, roomId, `Overnight entry ${i}`));
  const readAt = async (eventId) =>
    (await status(server, people.ada.token, roomId, eventId)).recipients.find((r) => r.user_id === people.eli.userId)
      ?.read_ts ?? null;
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  const receipts = [];
  page.on("request", (r) => {
    const m = /\/receipt\/m\.read\/([^/?]+)/.exec(r.url());
    if (m) receipts.push(decodeURIComponent(m[1]));
  });
  try {
    await signIn(page, server, "eli");
    await openConversation(page, "Ada Lovelace");
    // Eli lands on the first unread message, under the "New messages" line.
    await page.getByRole("separator").getByText("New messages").waitFor(WAIT);
    assert.ok(await inView(bubble(page, "Overnight entry 1")), "the first unread message in view");
    assert.ok(!(await inView(bubble(page, "Overnight entry 40"))), "the last one below the fold");

    // A receipt for what is on screen, no further (Eli is reading: focus, mouse).
    await reading(page, until(() => receipts.length > 0, "a read receipt"));
    const onScreen = await page.locator(".timeline .msg").evaluateAll((els) => {
      const view = document.querySelector(".timeline").getBoundingClientRect();
      return els
        .filter((el) => el.getBoundingClientRect().top < view.bottom)
        .map((el) => el.dataset.event)
        .filter(Boolean);
    });
    for (const r of receipts) assert.ok(onScreen.includes(r), `receipt ${r} is for a message on screen`);
    await until(async () => (await readAt(ids[0])) !== null, "entry 1 read");
    assert.equal(await readAt(ids[39]), null, "entry 40 not read");
    const jump = page.getByRole("button", { name: /new messages ↓/ });
    await jump.waitFor(WAIT);

    // Eli scrolls down, a screen at a time: every message is seen, and the last is read.
    const scroller = page.locator(".timeline");
    for (let step = 0; step < 40; step++) {
      if (await scroller.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 2)) break;
      const label = (await jump.count()) ? await jump.innerText() : "";
      await active(page);
      await scroller.evaluate((el) => el.scrollBy(0, el.clientHeight * 0.6));
      // The count goes down as the messages below come into view (and are read there).
      await page.waitForFunction(
        (before) => {
          const b = [...document.querySelectorAll("button.jump")][0];
          const el = document.querySelector(".timeline");
          return (b?.innerText ?? "") !== before || el.scrollHeight - el.scrollTop - el.clientHeight < 2;
        },
        label,
        WAIT,
      );
      await readScreen(page, readAt, `screen ${step + 1} read`);
    }
    await reading(page, until(async () => (await readAt(ids[39])) !== null, "entry 40 read once scrolled to"));
    await jump.waitFor({ state: "detached", ...WAIT });
  } finally {
    await context.close();
  }
});

test("a late joiner is not counted as a reader", async () => {
  const roomId = await conversation(server, people.ada.token, [people.ben], { name: "Night team" });
  const context = await browser.newContext(DESKTOP);
  const page = await context.newPage();
  // Someone reads a message on a device of theirs: it reaches the device, then the receipt.
  const receipt = async (who, eventId) => {
    const room = encodeURIComponent(roomId);
    await call(server.baseUrl, "GET", `/_matrix/client/v3/rooms/${room}/event/${encodeURIComponent(eventId)}`, undefined, who.token);
    await call(server.baseUrl, "POST", `/_matrix/client/v3/rooms/${room}/receipt/m.read/${encodeURIComponent(eventId)}`, {}, who.token);
  };
  try {
    await signIn(page, server, "ada");
    await openConversation(page, "Night team");
    const first = "Handover list is on the board";
    await send(page, first);
    const firstBubble = bubble(page, first);
    await firstBubble.getByRole("button", { name: /^Sent/ }).waitFor(WAIT);
    const firstId = await firstBubble.getAttribute("data-event");
    await receipt(people.ben, firstId);
    await firstBubble.getByRole("button", { name: /^Read by 1 of 1/ }).waitFor(WAIT);

    // Cy joins later and reads everything, the first message included.
    await call(server.baseUrl, "POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`, { user_id: people.cy.userId }, people.ada.token);
    await call(server.baseUrl, "POST", `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {}, people.cy.token);
    await receipt(people.cy, firstId);
    const second = "Bed 6 family arriving at 8";
    await send(page, second);
    const secondBubble = bubble(page, second);
    await secondBubble.getByRole("button", { name: /^Sent/ }).waitFor(WAIT);
    const secondId = await secondBubble.getAttribute("data-event");
    await receipt(people.ben, secondId);
    await receipt(people.cy, secondId);
    await secondBubble.getByRole("button", { name: /^Read by 2 of 2/ }).waitFor(WAIT);

    // Cy was not there when the first was sent: still read by 1 of 1.
    await firstBubble.getByRole("button", { name: /^Read by 1 of 1/ }).waitFor(WAIT);
    const s = await status(server, people.ada.token, roomId, firstId);
    assert.deepEqual(s.recipients.map((r) => r.user_id), [people.ben.userId]);
    await firstBubble.getByRole("button", { name: /^Read by 1 of 1/ }).click();
    const dialog = page.getByRole("dialog", { name: "Who has read this message" });
    await dialog.locator(".read-list li").first().waitFor(WAIT);
    assert.match(await dialog.locator(".read-list").innerText(), /Ben Carter/);
    assert.doesNotMatch(await dialog.innerText(), /Cy Okafor/);
    // The dialog has the focus, and Escape closes it.
    assert.ok(await dialog.evaluate((el) => el.contains(document.activeElement)), "the dialog took the focus");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached", ...WAIT });
  } finally {
    await context.close();
  }
});

/** What the outbox keeps in IndexedDB (files waiting to be sent), as [txnId, owner] pairs. */
function storedFiles(page) {
  return page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const req = indexedDB.open("wardline-outbox", 1);
        req.onupgradeneeded = () => req.result.createObjectStore("files", { keyPath: "txnId" });
        req.onerror = () => reject(req.error);
        req.onsuccess = () => {
          const all = req.result.transaction("files").objectStore("files").getAll();
          all.onsuccess = () => {
            resolve(all.result.map((r) => [r.txnId, r.owner]));
            req.result.close();
          };
        };
      }),
  );
}

test("a photo taken offline is kept through a reload and sent once; a file too large says so; sign-out leaves no file behind", async () => {
  const roomId = await conversation(server, people.ada.token, [people.fay]);
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  const wardline = /\/_(matrix|wardline)\//;
  const png = Buffer.from(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGM4YKkNRAwQCgAiUgSRh/00sAAAAABJRU5ErkJggg==",
    "base64",
  );
  try {
    await signIn(page, server, "fay");
    await openConversation(page, "Ada Lovelace");

    // Too large for this organisation (2 MB here): not sent, and why.
    await page.getByLabel("Attach a file").setInputFiles({
      name: "scan.pdf",
      mimeType: "application/pdf",
      buffer: Buffer.alloc(3 * 1024 * 1024, 1),
    });
    const scan = page.locator(".timeline .msg", { hasText: "scan.pdf" });
    await scan.getByText(/Not sent: file too large \(the limit is 2 MB\)/).waitFor(WAIT);
    await scan.getByRole("button", { name: "Delete" }).click();
    await scan.waitFor({ state: "detached", ...WAIT });
    assert.deepEqual(await storedFiles(page), [], "a deleted message's file is deleted");

    await context.setOffline(true);
    await page.getByLabel("Attach a file").setInputFiles({ name: "wound-day3.png", mimeType: "image/png", buffer: png });
    const photo = page.locator(".timeline .msg", { has: page.locator("img[alt='wound-day3.png']") });
    await photo.getByText(/Not sent: no network/).waitFor(WAIT);
    assert.equal((await storedFiles(page)).length, 1, "the photo is kept in IndexedDB");

    await context.route(wardline, (route) => route.abort("internetdisconnected"));
    await context.setOffline(false);
    await page.reload();
    const list = page.getByRole("region", { name: "Waiting to be sent" });
    await list.locator("img[alt='wound-day3.png']").waitFor(WAIT);
    await page.waitForFunction(
      () => [...document.querySelectorAll(".waiting img")].some((i) => i.complete && i.naturalWidth > 0),
      null,
      WAIT,
    );
    await context.unroute(wardline);
    await until(async () => (await bodiesOf(server, people.ada.token, roomId, "wound-day3.png")).length > 0, "the photo sent");
    await until(async () => (await storedFiles(page)).length === 0, "the stored copy deleted once sent");
    assert.equal((await bodiesOf(server, people.ada.token, roomId, "wound-day3.png")).length, 1, "sent once");

    // Offline again, another photo waits; Fay signs out on the shared PC: nothing is left.
    await openConversation(page, "Ada Lovelace");
    await context.setOffline(true);
    await page.getByLabel("Attach a file").setInputFiles({ name: "rash.png", mimeType: "image/png", buffer: png });
    await page.locator(".timeline .msg", { has: page.locator("img[alt='rash.png']") }).getByText(/Not sent/).waitFor(WAIT);
    await until(async () => (await storedFiles(page)).length === 1, "the photo kept in IndexedDB");
    await page.getByRole("button", { name: "Back to conversations" }).click();
    // She is asked first: the photo has not been sent and will be lost.
    const asked = [];
    page.once("dialog", (d) => {
      asked.push(d.message());
      void d.accept();
    });
    await page.getByRole("button", { name: "Sign out" }).click();
    await until(() => asked.length > 0, "asked before signing out");
    assert.match(asked[0], /1 message has not been sent and will be lost/);
    await page.getByLabel("Username").waitFor(WAIT);
    assert.equal(await page.evaluate(() => sessionStorage.length + localStorage.length), 0, "browser storage is empty");
    await until(async () => (await storedFiles(page)).length === 0, "no stored file after sign-out");
  } finally {
    await context.close();
  }
});

test("reply, react, edit and delete a message", async () => {
  await conversation(server, people.ben.token, [people.eli], { name: "Ward 5 drips" });
  const ward = await browser.newContext(DESKTOP);
  const phone = await browser.newContext(PHONE);
  const ben = await ward.newPage();
  const eli = await phone.newPage();
  try {
    await signIn(ben, server, "ben");
    await signIn(eli, server, "eli");
    await openConversation(ben, "Ward 5 drips");
    await openConversation(eli, "Ward 5 drips");
    const question = "Can you check bed 5's drip?";
    await send(eli, question);
    await bubble(ben, question).waitFor(WAIT);

    // Ben answers that message.
    await bubble(ben, question).getByRole("button", { name: "Actions for the message from Eli Moss" }).click();
    await ben.getByRole("toolbar", { name: "Message actions" }).getByRole("button", { name: "Reply" }).click();
    await ben.getByText(`Replying to Eli Moss: ${question}`).waitFor(WAIT);
    const answer = "Checked, running fine";
    await send(ben, answer);
    for (const page of [ben, eli]) {
      await bubble(page, answer).getByRole("button", { name: "In reply to Eli Moss" }).waitFor(WAIT);
    }

    // Eli reacts to it; Ben sees who.
    await bubble(eli, answer).getByRole("button", { name: "Actions for the message from Ben Carter" }).click();
    await eli.getByRole("button", { name: "React 👍" }).click();
    await bubble(ben, answer).getByRole("button", { name: /^👍 Eli Moss/ }).waitFor(WAIT);
    // and takes it back.
    await bubble(eli, answer).getByRole("button", { name: /^👍 Eli Moss/ }).click();
    await bubble(ben, answer).locator(".reaction").waitFor({ state: "detached", ...WAIT });

    // Ben corrects his answer: Eli sees the new text, marked edited, still one message.
    await bubble(ben, answer).getByRole("button", { name: "Actions for the message from you" }).click();
    await ben.getByRole("button", { name: "Edit" }).click();
    const box = ben.getByLabel("Message", { exact: true });
    await until(async () => (await box.inputValue()) === answer, "editing to start from the message's text");
    const corrected = "Checked, running at 80 ml/h";
    await box.fill(corrected);
    await ben.getByRole("button", { name: "Send", exact: true }).click();
    await bubble(eli, corrected).getByText("edited").waitFor(WAIT);
    assert.equal(await bubble(eli, answer).count(), 0, "the old text is gone");
    assert.equal(await eli.locator(".timeline .msg", { hasText: "running" }).count(), 1, "one message, edited");
    await ben.screenshot({ path: path.join(ARTIFACTS, "desktop-reply-react-edit.png") });

    // Ben deletes it for everyone.
    await bubble(ben, corrected).getByRole("button", { name: "Actions for the message from you" }).click();
    ben.once("dialog", (d) => d.accept());
    await ben.getByRole("button", { name: "Delete for everyone" }).click();
    await bubble(eli, corrected).waitFor({ state: "detached", ...WAIT });
    await eli.locator(".timeline .msg", { hasText: "Message deleted" }).waitFor(WAIT);
  } finally {
    await ward.close();
    await phone.close();
  }
});
