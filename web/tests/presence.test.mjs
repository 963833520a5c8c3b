// Browser test of presence beside a colleague's name: exactly what the server says, as the
// server says it changes (online while their client syncs, away once idle, offline once their
// client has stopped, expired by the server with short thresholds set for this test), with a
// word and a shape, and nothing at all while the server has said nothing. Real `wardline`
// binary, Debian's Chromium.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { WAIT, call, conversation, openConversation, signIn, startWard, stopWard } from "./support.mjs";

let server;
let browser;
const people = {};

before(async () => {
  ({ server, browser } = await startWard(
    people,
    [
      ["ada", "Ada Lovelace"],
      ["ben", "Ben Carter"],
    ],
    {
      env: {
        WARDLINE_PRESENCE__IDLE_AFTER_SECS: "5",
        WARDLINE_PRESENCE__OFFLINE_AFTER_SECS: "10",
        WARDLINE_SYNC__MAX_TIMEOUT_MS: "8000",
      },
    },
  ));
});

after(() => stopWard({ server, browser }));

test("a colleague's presence is the server's: unknown, online, away, offline, do not disturb", async () => {
  await conversation(server, people.ada.token, [people.ben]);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  try {
    await signIn(page, server, "ada");
    const item = page.locator(".rooms li", { hasText: "Ben Carter" });
    await item.waitFor(WAIT);
    // Ben has never synced: the server says nothing, so nothing is shown (not "offline").
    assert.equal(await item.locator(".presence").count(), 0);
    await openConversation(page, "Ben Carter");
    const header = page.locator(".header-presence");
    assert.equal(await header.locator(".presence").count(), 0);

    // Ben's phone syncs once: online. Then he does nothing, and his phone stops: the server
    // expires him to away, then offline, and the page follows it.
    const { presence } = await call(server.baseUrl, "GET", "/_matrix/client/v3/sync?timeout=0", undefined, people.ben.token);
    assert.ok(presence);
    for (const word of ["online", "away", "offline"]) {
      await item.locator(`.presence[aria-label="${word}"]`).waitFor(WAIT);
      await header.getByText(word, { exact: true }).waitFor(WAIT);
    }

    // He comes back and chooses do-not-disturb.
    const status = `/_matrix/client/v3/presence/${encodeURIComponent(people.ben.userId)}/status`;
    await call(server.baseUrl, "PUT", status, { presence: "unavailable", status_msg: "Do not disturb" }, people.ben.token);
    await item.locator('.presence[aria-label="do not disturb"]').waitFor(WAIT);
    assert.equal(await item.locator(".presence").textContent(), "⊖", "a shape as well as a colour");
  } finally {
    await context.close();
  }
});
