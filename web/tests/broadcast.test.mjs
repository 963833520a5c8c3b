// Browser tests of broadcasts (issue 14), at desktop and phone size: an administrator allows
// the nurse to broadcast (through the administration API, as an administrator's tools would);
// "Broadcast" appears for her and for nobody else; she writes to the Medicine department,
// asking for acknowledgement, and is told "This goes to 2 people"; one registrar opens it and
// acknowledges with the message's button (he has no composer there), the other does nothing;
// the nurse's report says "Read by 1 of 2, acknowledged by 1 of 2" and names the other; Remind
// reminds exactly him. Real `wardline` binary, Debian's Chromium.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { WAIT, active, call, eventsOf, reading, signIn, stopWard, until } from "./support.mjs";
import { DESKTOP, PHONE, startRoleWard } from "./roleward.mjs";

let server;
let browser;
const people = {};

before(async () => {
  ({ server, browser } = await startRoleWard(people));
  const granted = await call(
    server.baseUrl,
    "PUT",
    `/_wardline/admin/v1/users/${encodeURIComponent(people.nora.userId)}`,
    { may_broadcast: true },
    people.boss.token,
  );
  assert.equal(granted.may_broadcast, true);
});

after(() => stopWard({ server, browser }));

/** Opens a conversation by its name in the list (a broadcast's has no composer to wait for). */
async function openByName(page, name) {
  const item = page.locator(".rooms li", { hasText: name });
  await item.waitFor(WAIT);
  await item.click();
  await page.locator(".conversation header h2", { hasText: name }).waitFor(WAIT);
}

for (const [label, size] of [
  ["desktop", DESKTOP],
  ["phone", PHONE],
]) {
  test(`a broadcast to a department, acknowledged by one of two, reported and reminded (${label})`, async () => {
    const title = `Fire drill ${label}`;
    const text = `Fire drill at 14:00 (${label}): assemble in car park B.`;
    // Omar is signed in, and never opens the broadcast.
    const [nora, priya, omar] = await Promise.all(
      ["nora", "priya", "omar"].map(async (user) => {
        const page = await (await browser.newContext(size)).newPage();
        await signIn(page, server, user);
        return page;
      }),
    );
    try {
      // Only the permitted sender sees "Broadcast".
      const entry = nora.getByRole("button", { name: "Broadcast", exact: true });
      await entry.waitFor(WAIT);
      assert.equal(await priya.getByRole("button", { name: "Broadcast", exact: true }).count(), 0);

      // The composer: Medicine, a title, the text, acknowledgement asked; then the count.
      await entry.click();
      await nora.getByRole("button", { name: "New broadcast" }).click();
      const form = nora.getByRole("form", { name: "New broadcast" });
      await form.getByLabel("A department").check();
      await form.getByRole("combobox", { name: "Department" }).selectOption("Medicine");
      await form.getByLabel("Title (no patient details)").fill(title);
      await form.getByLabel("Message").fill(text);
      assert.equal(await form.getByLabel("Ask for acknowledgement").isChecked(), true);
      await form.getByRole("button", { name: "Review" }).click();
      await nora.getByText("This goes to 2 people.").waitFor(WAIT);
      await nora.getByRole("button", { name: "Send to 2 people" }).click();

      // The report, at once: nobody has read it.
      const report = nora.getByRole("region", { name: "Broadcast report" });
      await report.getByText("Read by 0 of 2, acknowledged by 0 of 2").waitFor(WAIT);

      // Priya opens it: the message with its Acknowledge button, no composer; she acknowledges.
      await active(priya);
      await openByName(priya, `Broadcast: ${title}`);
      const msg = priya.locator(".timeline .msg", { has: priya.locator(".priority-msg", { hasText: text }) });
      await msg.waitFor(WAIT);
      assert.equal(await priya.getByLabel("Message", { exact: true }).count(), 0, "recipients have no composer");
      await priya.getByText("A broadcast: answer it with the buttons on the message.").waitFor(WAIT);
      // Its actions offer only what the server takes from a recipient: no reply, only the
      // reactions that acknowledge.
      await msg.getByRole("button", { name: /^Actions for the message from/ }).click();
      const actions = priya.getByRole("toolbar", { name: "Message actions" });
      await actions.waitFor(WAIT);
      const reactions = await actions.getByRole("button", { name: /^React / }).evaluateAll((bs) => bs.map((b) => b.textContent));
      assert.deepEqual(reactions, ["👍", "✅"]);
      assert.equal(await actions.getByRole("button", { name: "Reply" }).count(), 0, "recipients cannot reply");
      await priya.keyboard.press("Escape");
      await actions.waitFor({ state: "detached", timeout: 10_000 });
      await reading(priya, msg.getByRole("button", { name: "Acknowledge" }).click());
      await msg.getByText(/You acknowledged at \d\d:\d\d/).waitFor(WAIT);

      // The nurse's report: read by one, acknowledged by one; Omar has done neither.
      // (Reading needs her attention on the message for a moment: she keeps reading.)
      await reading(
        priya,
        until(async () => {
          await report.getByRole("button", { name: "Refresh" }).click();
          return (await report.getByText("Read by 1 of 2, acknowledged by 1 of 2").count()) > 0;
        }, "the report counts Priya"),
      );
      const notAcked = report.getByRole("region", { name: "Not acknowledged yet" });
      await notAcked.getByText("Dr Omar Farouk").waitFor(WAIT);
      assert.equal(await notAcked.getByText("Dr Priya Shah").count(), 0);

      // Remind: the server's notice mentions exactly Omar.
      await report.getByRole("button", { name: "Remind 1 person" }).click();
      await nora.getByText("Reminded 1 person").waitFor(WAIT);
      const mine = await call(server.baseUrl, "GET", "/_wardline/client/v1/broadcasts", undefined, people.nora.token);
      const sent = mine.broadcasts.find((b) => b.title === title);
      const notice = await until(async () => {
        const events = await eventsOf(server, people.omar.token, sent.room_id);
        return events.find((e) => e.sender === "@wardline:localhost" && e.content?.["org.wardline.broadcast_reminder"]);
      }, "the reminder");
      assert.deepEqual(notice.content["m.mentions"].user_ids, [people.omar.userId]);
      // A second reminder must wait.
      await report.getByRole("button", { name: "Remind 1 person" }).click();
      await report.getByText(/less than five minutes ago/).waitFor(WAIT);
    } finally {
      await Promise.all([nora, priya, omar].map((p) => p.context().close()));
    }
  });
}
