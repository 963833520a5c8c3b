// Browser tests of edited messages: on my edited message, who has read the latest change
// ("edited · change read by 0 of 2"), not only the first version; an edited message with a
// mention shows the same text wherever it is shown. Real `wardline` binary, Debian's Chromium.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { WAIT, bubble, call, conversation, openConversation, send, sendContent, signIn, startWard, stopWard, until } from "./support.mjs";


let server;
let browser;
const people = {};

before(async () => {
  ({ server, browser } = await startWard(people, [
    ["ada", "Ada Lovelace"],
    ["ben", "Ben Carter"],
    ["cy", "Cy Okafor"],
  ]));
});

after(() => stopWard({ server, browser }));

test("my edited message shows who has read the change", async () => {
  const roomId = await conversation(server, people.ada.token, [people.ben, people.cy], { name: "Bay 5" });
  const room = encodeURIComponent(roomId);
  // Someone reads a message on a device of theirs: it reaches the device, then the receipt.
  const receipt = async (who, eventId) => {
    await call(server.baseUrl, "GET", `/_matrix/client/v3/rooms/${room}/event/${encodeURIComponent(eventId)}`, undefined, who.token);
    await call(server.baseUrl, "POST", `/_matrix/client/v3/rooms/${room}/receipt/m.read/${encodeURIComponent(eventId)}`, {}, who.token);
  };
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  try {
    await signIn(page, server, "ada");
    await openConversation(page, "Bay 5");
    await send(page, "Bed 5 obs at 10");
    const msg = bubble(page, "Bed 5 obs at 10");
    await msg.getByRole("button", { name: /^Sent|^Delivered/ }).waitFor(WAIT);
    const original = await msg.getAttribute("data-event");
    await receipt(people.ben, original);
    await msg.getByRole("button", { name: /^Read by 1 of 2/ }).waitFor(WAIT);

    // Ada corrects the time (from her phone): Ben read the first version, not the change.
    const edit = (
      await call(
        server.baseUrl,
        "PUT",
        `/_matrix/client/v3/rooms/${room}/send/m.room.message/edit1`,
        {
          msgtype: "m.text",
          body: "* Bed 5 obs at 11",
          "m.new_content": { msgtype: "m.text", body: "Bed 5 obs at 11" },
          "m.relates_to": { rel_type: "m.replace", event_id: original },
        },
        people.ada.token,
      )
    ).event_id;
    const edited = bubble(page, "Bed 5 obs at 11");
    await edited.getByText("edited · change read by 0 of 2").waitFor(WAIT);
    await edited.getByRole("button", { name: /^Read by 1 of 2/ }).waitFor(WAIT);
    await receipt(people.ben, edit);
    await edited.getByText("edited · change read by 1 of 2").waitFor(WAIT);
  } finally {
    await context.close();
  }
});

test("an edited message with a mention shows the same text in the timeline, the list, a reply quote and search", async () => {
  const roomId = await conversation(server, people.ada.token, [people.ben], { name: "Bay 6" });
  const link = (user, name) => `<a href="https://matrix.to/#/${user.userId}">${name}</a>`;
  const original = await sendContent(server, people.ada.token, roomId, {
    msgtype: "m.text",
    body: "Cy Okafor check bed 6",
    format: "org.matrix.custom.html",
    formatted_body: `${link(people.cy, "Cy Okafor")} check bed 6`,
  });
  // The edit (from another app): its HTML says less than its text.
  const text = "Ben Carter please check bed 6 fluids (was: Cy)";
  await sendContent(server, people.ada.token, roomId, {
    msgtype: "m.text",
    body: `* ${text}`,
    "m.new_content": {
      msgtype: "m.text",
      body: text,
      format: "org.matrix.custom.html",
      formatted_body: `${link(people.ben, "Ben Carter")} please <b>check bed 6</b>`,
      "m.mentions": { user_ids: [people.ben.userId] },
    },
    "m.relates_to": { rel_type: "m.replace", event_id: original },
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  try {
    await signIn(page, server, "ben");
    // The conversation list's preview.
    const item = page.locator(".rooms li", { hasText: "Bay 6" });
    await until(async () => (await item.innerText()).includes(text), "the list shows the edited text");
    await openConversation(page, "Bay 6");
    // The timeline: the same text, Ben's name marked as mentioning him.
    const msg = page.locator(`.timeline .msg[data-event="${original}"]`);
    await msg.locator(".mention.me").waitFor(WAIT);
    assert.equal(await msg.locator(".text").innerText(), text);
    assert.equal(await msg.locator(".mention.me").innerText(), "Ben Carter");
    assert.ok((await item.innerText()).includes(text), "the list preview");

    // A reply quotes it the same way.
    await sendContent(server, people.ada.token, roomId, {
      msgtype: "m.text",
      body: "Done",
      "m.relates_to": { "m.in_reply_to": { event_id: original } },
    });
    const quote = bubble(page, "Done").locator(".quote-text");
    await quote.waitFor(WAIT);
    assert.equal(await quote.innerText(), text);

    // Search finds it with the same text.
    await page.getByLabel("Search conversations and messages").fill("fluids");
    const hit = page.locator(".hit", { hasText: "Bay 6" }).locator(".hit-text");
    await hit.waitFor(WAIT);
    assert.equal(await hit.innerText(), text);
  } finally {
    await context.close();
  }
});
