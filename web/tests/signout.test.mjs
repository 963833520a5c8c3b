// Browser tests of messages not sent when a session ends: signing out asks first; a session
// ended by the server says which conversations lost messages (names only, never the text).
// Real `wardline` binary, Debian's Chromium.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { WAIT, apiLogin, bubble, call, conversation, openConversation, send, signIn, startWard, stopWard } from "./support.mjs";


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

test("signing out with messages not sent asks first; a session ended by the server says what was not sent", async () => {
  await conversation(server, people.ada.token, [people.eli], { name: "Bay 3" });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  try {
    await signIn(page, server, "eli");
    await openConversation(page, "Bay 3");
    await context.setOffline(true);
    await send(page, "Secret obs one");
    await bubble(page, "Secret obs one").waitFor(WAIT);
    await send(page, "Secret obs two");
    await bubble(page, "Secret obs two").waitFor(WAIT);

    // Sign out: asked first; "Cancel" keeps the session and the messages.
    const asked = [];
    page.once("dialog", (d) => {
      asked.push(d.message());
      void d.dismiss();
    });
    await page.getByRole("button", { name: "Sign out" }).click();
    assert.match(asked[0] ?? "", /2 messages have not been sent and will be lost/);
    await bubble(page, "Secret obs two").waitFor(WAIT);

    // The server ends the session (signed out everywhere by an administrator, say).
    const token = await apiLogin(server, "eli");
    await call(server.baseUrl, "POST", "/_matrix/client/v3/logout/all", {}, token);
    await context.setOffline(false);
    const notice = page.locator(".notice");
    await notice.waitFor(WAIT);
    const text = await notice.innerText();
    assert.match(text, /2 messages were not sent/);
    assert.doesNotMatch(text, /Secret/, "never the text");
    assert.doesNotMatch(text, /Bay 3/, "never the conversation's name: it may name a patient");
  } finally {
    await context.close();
  }
});
