// Browser tests of reactions and deletions through the outbox: made while the network is down,
// kept through a reload, shown as waiting (a pending reaction chip, "Not deleted"), and sent
// once each, in the order they were made, with the same transaction id on every try. Real
// `wardline` binary, Debian's Chromium.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";

import { REPO_ROOT } from "../../tests/clients/wardline-server.mjs";

import { WAIT, bubble, conversation, eventsOf, openConversation, send, sendText, signIn, until, startWard, stopWard } from "./support.mjs";

const DESKTOP = { viewport: { width: 1280, height: 800 } };
const WARDLINE = /\/_(matrix|wardline)\//;
const ARTIFACTS = path.join(REPO_ROOT, "web", "test-artifacts");

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

/** Opens the "⋯" menu of the message with this text. */
async function menu(page, text, from) {
  await bubble(page, text).getByRole("button", { name: `Actions for the message from ${from}` }).click();
  return page.getByRole("toolbar", { name: "Message actions" });
}

test("offline, a reaction and a deletion wait (shown so), survive a reload, and reach the server once each, in order", async () => {
  const roomId = await conversation(server, people.ada.token, [people.gus], { name: "Night round" });
  const obs = await sendText(server, people.ada.token, roomId, "Obs due at 22:00 for bed 4");
  const wrong = await sendText(server, people.gus.token, roomId, "Bed 7 NBM from midnight");
  const keep = await sendText(server, people.gus.token, roomId, "Bed 9 fluids reviewed");
  const context = await browser.newContext(DESKTOP);
  const page = await context.newPage();
  // Every try of a reaction or a deletion, by URL (the transaction id is its last part).
  const tries = { reaction: [], redaction: [] };
  page.on("request", (r) => {
    if (r.url().includes("/send/m.reaction/")) tries.reaction.push(r.url());
    if (r.url().includes("/redact/")) tries.redaction.push(r.url());
  });
  try {
    await signIn(page, server, "gus");
    await openConversation(page, "Night round");
    await bubble(page, "Bed 9 fluids reviewed").waitFor(WAIT);

    await context.setOffline(true);
    const banner = page.getByRole("status").filter({ hasText: /Offline/ });
    await banner.waitFor(WAIT);

    // A reaction: its chip shows at once, as mine, not sent, with Retry and Delete.
    await (await menu(page, "Obs due at 22:00 for bed 4", "Ada Lovelace")).getByRole("button", { name: "React 👍" }).click();
    const obsBubble = bubble(page, "Obs due at 22:00 for bed 4");
    await obsBubble.getByRole("button", { name: /^👍 you \(yours not sent yet\)/ }).waitFor(WAIT);
    await obsBubble.getByText("Reaction 👍 not sent: no network").waitFor(WAIT);
    await obsBubble.getByRole("button", { name: "Retry: Reaction 👍 not sent" }).waitFor(WAIT);
    await obsBubble.getByRole("button", { name: "Delete the reaction 👍 not sent" }).waitFor(WAIT);

    // A deletion of my message: Not deleted, with Retry and Cancel; the message is still there.
    page.on("dialog", (d) => void d.accept());
    await (await menu(page, "Bed 7 NBM from midnight", "you")).getByRole("button", { name: "Delete for everyone" }).click();
    const wrongBubble = bubble(page, "Bed 7 NBM from midnight");
    await wrongBubble.getByText(/Not deleted: no network/).waitFor(WAIT);
    await wrongBubble.getByRole("button", { name: "Retry deleting" }).waitFor(WAIT);

    // A deletion given up on: Cancel, and the message stays (checked on the server below).
    await (await menu(page, "Bed 9 fluids reviewed", "you")).getByRole("button", { name: "Delete for everyone" }).click();
    const keepBubble = bubble(page, "Bed 9 fluids reviewed");
    await keepBubble.getByRole("button", { name: "Cancel deleting: keep the message" }).click();
    await keepBubble.getByText(/Not deleted/).waitFor({ state: "detached", ...WAIT });

    // A message after them: it goes after them.
    await send(page, "Bed 7 may eat");
    await bubble(page, "Bed 7 may eat").getByText(/Not sent: no network/).waitFor(WAIT);
    await banner.getByText("1 message, 1 reaction and 1 deletion are waiting to be sent.").waitFor(WAIT);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, "desktop-offline-reaction-deletion.png") });

    // Reloaded while Wardline still cannot be reached: all three are still there, waiting.
    await context.route(WARDLINE, (route) => route.abort("internetdisconnected"));
    await context.setOffline(false);
    await page.reload();
    const waiting = page.getByRole("region", { name: "Waiting to be sent" });
    await waiting.getByText("Your reaction 👍 to a message").waitFor(WAIT);
    await waiting.getByText("Deleting a message").waitFor(WAIT);
    await waiting.getByText("Bed 7 may eat", { exact: true }).waitFor(WAIT);
    assert.deepEqual(
      (await eventsOf(server, people.ada.token, roomId)).filter((e) => e.type === "m.reaction" || e.type === "m.room.redaction"),
      [],
      "nothing on the server yet",
    );

    // The connection returns, and the first answer to the reaction is lost on the way back: it
    // is sent again with the same transaction id, and stored once.
    let lost = false;
    await page.route("**/send/m.reaction/**", async (route) => {
      if (!lost) {
        lost = true;
        await route.fetch();
        await route.abort("connectionreset");
      } else await route.continue();
    });
    await context.unroute(WARDLINE);
    const done = await until(async () => {
      const events = await eventsOf(server, people.ada.token, roomId);
      const message = events.filter((e) => e.type === "m.room.message" && e.content?.body === "Bed 7 may eat");
      return message.length ? events : null;
    }, "all three on the server");
    const mineOf = (type) => done.filter((e) => e.type === type && e.sender === people.gus.userId);
    const reactions = mineOf("m.reaction");
    assert.equal(reactions.length, 1, "one reaction");
    assert.deepEqual(reactions[0].content["m.relates_to"], { rel_type: "m.annotation", event_id: obs, key: "👍" });
    const redactions = mineOf("m.room.redaction");
    assert.equal(redactions.length, 1, "one deletion");
    assert.equal(redactions[0].redacts ?? redactions[0].content.redacts, wrong);
    const order = done.map((e) => e.event_id);
    const sent = mineOf("m.room.message").find((e) => e.content?.body === "Bed 7 may eat");
    assert.ok(order.indexOf(reactions[0].event_id) < order.indexOf(redactions[0].event_id), "the reaction before the deletion");
    assert.ok(order.indexOf(redactions[0].event_id) < order.indexOf(sent.event_id), "the deletion before the message after it");
    assert.ok(!done.some((e) => e.type === "m.room.redaction" && (e.redacts ?? e.content?.redacts) === keep), "the cancelled deletion never sent");
    assert.ok(lost, "the first answer to the reaction was lost");
    assert.ok(tries.reaction.length >= 2, `the reaction tried again: ${tries.reaction.join(", ")}`);
    assert.equal(new Set(tries.reaction).size, 1, `every try of the reaction had one transaction id: ${tries.reaction.join(", ")}`);
    assert.equal(new Set(tries.redaction).size, 1, `every try of the deletion had one transaction id: ${tries.redaction.join(", ")}`);

    // The page shows them done: my reaction (not pending), the message deleted, nothing waiting.
    await openConversation(page, "Night round");
    await bubble(page, "Obs due at 22:00 for bed 4").getByRole("button", { name: /^👍 Gus Hale \(tap to take yours back\)/ }).waitFor(WAIT);
    await bubble(page, "Bed 7 NBM from midnight").waitFor({ state: "detached", ...WAIT });
    await bubble(page, "Bed 9 fluids reviewed").waitFor(WAIT);
    assert.equal(await page.getByText(/not sent|Not deleted/i).count(), 0, "nothing left waiting");
  } finally {
    await context.close();
  }
});

test("a reaction taken back before the network returned is not left on the server", async () => {
  const roomId = await conversation(server, people.ada.token, [people.gus], { name: "Day round" });
  const obs = await sendText(server, people.ada.token, roomId, "Bed 2 bloods back");
  const context = await browser.newContext(DESKTOP);
  const page = await context.newPage();
  try {
    await signIn(page, server, "gus");
    await openConversation(page, "Day round");
    await bubble(page, "Bed 2 bloods back").waitFor(WAIT);
    await context.setOffline(true);
    await page.getByRole("status").filter({ hasText: /Offline/ }).waitFor(WAIT);
    await (await menu(page, "Bed 2 bloods back", "Ada Lovelace")).getByRole("button", { name: "React 👀" }).click();
    const chip = bubble(page, "Bed 2 bloods back").getByRole("button", { name: /^👀 you/ });
    await chip.waitFor(WAIT);
    // Tapped again: it may have left already (the network failed mid-way), so it is undone on
    // the server once it is there.
    await chip.click();
    await bubble(page, "Bed 2 bloods back").getByText(/Taking back 👀|not taken back/).waitFor(WAIT);
    await context.setOffline(false);
    const events = await until(async () => {
      const all = await eventsOf(server, people.ada.token, roomId);
      return all.some((e) => e.type === "m.room.redaction") ? all : null;
    }, "the reaction undone on the server");
    const reactions = events.filter((e) => e.type === "m.reaction" && e.sender === people.gus.userId);
    assert.ok(reactions.length <= 1, "at most one reaction");
    for (const r of reactions) assert.ok(r.unsigned?.redacted_because || Object.keys(r.content).length === 0, "redacted");
    assert.ok(reactions.every((r) => r.content["m.relates_to"] === undefined || r.content["m.relates_to"].event_id === obs));
    await bubble(page, "Bed 2 bloods back").locator(".reaction").waitFor({ state: "detached", ...WAIT });
  } finally {
    await context.close();
  }
});
