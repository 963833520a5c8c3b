// Browser tests of the outbox's order and of files it cannot keep: a photo takes its place when
// it is added, so a caption typed after it never goes first; a photo that cannot be stored on
// the device says Not sent, and why. Real `wardline` binary, Debian's Chromium.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { WAIT, bubble, conversation, eventsOf, openConversation, send, signIn, until, startWard, stopWard } from "./support.mjs";

const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGM4YKkNRAwQCgAiUgSRh/00sAAAAABJRU5ErkJggg==",
  "base64",
);

let server;
let browser;
const people = {};

before(async () => {
  ({ server, browser } = await startWard(people, [
    ["ada", "Ada Lovelace"],
    ["gus", "Gus Hale"],
  ]));
});

after(() => stopWard({ server, browser }));

test("a caption typed right after a photo is sent after it, even when the photo takes a moment to get ready", async () => {
  const roomId = await conversation(server, people.ada.token, [people.gus], { name: "Wound care" });
  const context = await browser.newContext(DESKTOP);
  // A slow phone: measuring the photo takes a moment.
  await context.addInitScript(() => {
    const real = window.createImageBitmap.bind(window);
    window.createImageBitmap = async (...args) => {
      await new Promise((r) => setTimeout(r, 1500));
      return real(...args);
    };
  });
  const page = await context.newPage();
  try {
    await signIn(page, server, "gus");
    await openConversation(page, "Wound care");
    await page.getByLabel("Attach a file").setInputFiles({ name: "wound.png", mimeType: "image/png", buffer: PNG });
    await send(page, "Wound on day 3, healing");
    await bubble(page, "Wound on day 3, healing").waitFor(WAIT);
    const order = await until(async () => {
      const msgs = (await eventsOf(server, people.ada.token, roomId)).filter((e) => e.type === "m.room.message");
      return msgs.length === 2 ? msgs.map((e) => e.content.body) : null;
    }, "both sent");
    assert.deepEqual(order, ["wound.png", "Wound on day 3, healing"]);
  } finally {
    await context.close();
  }
});

test("a photo this device cannot keep is sent from memory, and the sender is told a reload would lose it", async () => {
  const roomId = await conversation(server, people.ada.token, [people.gus], { name: "Wound care 2" });
  const context = await browser.newContext(DESKTOP);
  await context.addInitScript(() => {
    IDBObjectStore.prototype.put = function () {
      throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
    };
  });
  const page = await context.newPage();
  // The upload is held until the warning has been seen.
  let release;
  const held = new Promise((r) => (release = r));
  await page.route("**/_matrix/media/*/upload**", async (route) => {
    await held;
    await route.continue();
  });
  try {
    await signIn(page, server, "gus");
    await openConversation(page, "Wound care 2");
    await page.getByLabel("Attach a file").setInputFiles({ name: "wound2.png", mimeType: "image/png", buffer: PNG });
    const photo = page.locator(".timeline .msg", { has: page.locator("img[alt='wound2.png']") });
    await photo.getByText(/could not keep the file: stay on this page until it is sent/).waitFor(WAIT);
    assert.equal(await photo.getByText(/Not sent/).count(), 0, "not marked Not sent");
    release();
    const sent = await until(async () => {
      const msgs = (await eventsOf(server, people.ada.token, roomId)).filter((e) => e.type === "m.room.message");
      return msgs.length ? msgs : null;
    }, "the photo sent");
    assert.deepEqual(sent.map((e) => e.content.body), ["wound2.png"], "sent once");
    await photo.getByText(/could not keep the file/).waitFor({ state: "detached", ...WAIT });
  } finally {
    await context.close();
  }
});

test("files a closed session left in IndexedDB are deleted when the page loads, before anyone signs in", async () => {
  const context = await browser.newContext(DESKTOP);
  const page = await context.newPage();
  const stored = () =>
    page.evaluate(
      () =>
        new Promise((resolve, reject) => {
          const req = indexedDB.open("wardline-outbox", 1);
          req.onupgradeneeded = () => req.result.createObjectStore("files", { keyPath: "txnId" });
          req.onerror = () => reject(req.error);
          req.onsuccess = () => {
            const all = req.result.transaction("files").objectStore("files").getAll();
            all.onsuccess = () => {
              resolve(all.result.map((r) => r.txnId));
              req.result.close();
            };
          };
        }),
    );
  try {
    await page.goto(server.baseUrl + "/");
    await page.getByLabel("Username").waitFor(WAIT);
    // A photo of a session whose tab crashed, still on the disk.
    await page.evaluate(
      () =>
        new Promise((resolve, reject) => {
          const req = indexedDB.open("wardline-outbox", 1);
          req.onupgradeneeded = () => req.result.createObjectStore("files", { keyPath: "txnId" });
          req.onerror = () => reject(req.error);
          req.onsuccess = () => {
            const tx = req.result.transaction("files", "readwrite");
            tx.objectStore("files").put({ txnId: "orphan1", owner: "CRASHEDDEVICE", blob: new Blob(["x"]) });
            tx.oncomplete = () => {
              req.result.close();
              resolve();
            };
          };
        }),
    );
    assert.deepEqual(await stored(), ["orphan1"]);
    await page.reload();
    await page.getByLabel("Username").waitFor(WAIT);
    await until(async () => (await stored()).length === 0, "the orphaned file deleted at load");
  } finally {
    await context.close();
  }
});
