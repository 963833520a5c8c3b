// Browser test of an edited message's status: on my edited message, who has read the latest
// change ("edited · change read by 0 of 2"), not only the first version. Real `wardline`
// binary, Debian's Chromium.

import { after, before, test } from "node:test";

import { WAIT, bubble, call, conversation, openConversation, send, signIn, startWard, stopWard } from "./support.mjs";


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
