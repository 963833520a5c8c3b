// Browser tests of a conversation's notification choice (in its details): "All messages",
// "Mentions and urgent only", "Off — urgent and emergency still ring", kept as the Matrix push
// rules the server's pushers follow (src/roomnotify.ts), and followed by the page itself: with
// the conversation off, a routine message makes no notification and no sound, an urgent one
// still does; with mentions only, a mention does. Phone and desktop size.
//
// The push rules endpoints are the server's (another part of issue 14): each request goes to
// the server; where the server does not have the endpoint yet (404 / M_UNRECOGNIZED) the test
// answers it as the spec says, so what is checked is the client's side either way.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { WAIT, conversation, openConversation, sendContent, signIn, startWard, stopWard, until } from "./support.mjs";

const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

let server;
let browser;
const people = {};

before(async () => {
  ({ server, browser } = await startWard(people, [
    ["ada", "Ada Lovelace"],
    ["ben", "Ben Carter"],
  ]));
});

after(() => stopWard({ server, browser }));

/**
 * A context whose notifications are recorded in `window.__notes` and sounds in
 * `window.__tones`, and whose tab counts as in the background while `window.__hidden`.
 */
async function recorded(size) {
  const c = await browser.newContext(size);
  await c.addInitScript(() => {
    window.__notes = [];
    window.__tones = [];
    window.__hidden = false;
    window.Notification = class {
      static permission = "granted";
      static requestPermission() {
        return Promise.resolve("granted");
      }
      constructor(title, options) {
        window.__notes.push({ title, body: options?.body });
      }
    };
    window.AudioContext = class {
      currentTime = 0;
      destination = {};
      resume() {
        return Promise.resolve();
      }
      close() {
        return Promise.resolve();
      }
      createGain() {
        return { gain: { value: 1 }, connect: (to) => to };
      }
      createOscillator() {
        const o = { type: "", frequency: { value: 0 }, connect: (to) => to, start: () => window.__tones.push(o.type), stop: () => undefined };
        return o;
      }
    };
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (window.__hidden ? "hidden" : "visible") });
  });
  return c;
}

/** Records the page's push rule requests; answers them itself only where the server has no such endpoint yet. */
async function pushRuleRequests(page) {
  const seen = [];
  await page.route("**/_matrix/client/v3/pushrules/global/**", async (route) => {
    const r = route.request();
    const url = new URL(r.url());
    seen.push({ method: r.method(), path: decodeURIComponent(url.pathname), body: r.postDataJSON() ?? undefined });
    const answer = await route.fetch();
    const json = await answer.json().catch(() => ({}));
    if (answer.status() === 404 && json.errcode === "M_UNRECOGNIZED") {
      return route.fulfill({ status: 200, contentType: "application/json", body: "{}" });
    }
    return route.fulfill({ response: answer });
  });
  return seen;
}

for (const [size, viewport] of [
  ["desktop", DESKTOP],
  ["phone", PHONE],
]) {
  test(`${size}: a conversation turned off is silent for routine messages, and an urgent one still rings; mentions only lets a mention through`, async () => {
    const name = `Ward 3 ${size}`;
    const roomId = await conversation(server, people.ada.token, [people.ben], { name });
    const context = await recorded(viewport);
    const page = await context.newPage();
    const rules = await pushRuleRequests(page);
    const notes = () => page.evaluate(() => window.__notes);
    const tones = () => page.evaluate(() => window.__tones.length);
    const details = async () => {
      await page.getByRole("button", { name: "Details" }).click();
      return page.getByRole("dialog", { name: "Conversation details" });
    };
    let n = 0;
    /** Ada sends; Ben's page has it (in the list's preview) before anything is checked. */
    const adaSends = async (content) => {
      const body = `${content.body} ${++n}`;
      await sendContent(server, people.ada.token, roomId, { msgtype: "m.text", ...content, body });
      await page.locator(".rooms li", { hasText: name }).getByText(body).waitFor(WAIT);
      return body;
    };
    try {
      await signIn(page, server, "ben");
      await openConversation(page, name);
      let dialog = await details();
      const choices = dialog.getByRole("group", { name: "Notifications" });
      assert.ok(await choices.getByLabel("All messages").isChecked(), "all messages to begin with");
      await choices.getByText("Urgent and emergency messages always ring.").waitFor(WAIT);

      // Off: an override rule for the room with no actions.
      await choices.getByLabel("Off").check();
      await until(() => rules.some((r) => r.method === "PUT"), "the rule saved");
      assert.deepEqual(rules.find((r) => r.method === "PUT"), {
        method: "PUT",
        path: `/_matrix/client/v3/pushrules/global/override/${roomId}`,
        body: { conditions: [{ kind: "event_match", key: "room_id", pattern: roomId }], actions: [] },
      });
      await until(async () => !(await choices.getByLabel("Off").isDisabled()), "saved");
      assert.ok(await choices.getByLabel("Off").isChecked());
      await page.keyboard.press("Escape");
      await dialog.waitFor({ state: "detached", ...WAIT });
      // Ben goes back to the list, the tab in the background.
      await page.getByRole("button", { name: "Back to conversations" }).click().catch(() => undefined);
      await page.evaluate(() => (window.__hidden = true));

      // A routine message: nothing. An urgent one: the notification and its sound.
      await adaSends({ body: "Ward 3 routine update" });
      const urgent = await adaSends({ body: "Ward 3 urgent: bed 2 desaturating", "org.wardline.priority": { level: "urgent" } });
      await until(async () => (await notes()).length > 0, "the urgent notification");
      const all = await notes();
      assert.equal(all.length, 1, `only the urgent one: ${JSON.stringify(all)}`);
      assert.match(all[0].title, /URGENT/);
      assert.ok(!all[0].body.includes(urgent), "never the text");
      assert.ok((await tones()) >= 3, "the urgent sound");

      // Mentions and urgent only: a room rule with no actions, the override gone.
      await page.evaluate(() => (window.__hidden = false));
      await openConversation(page, name);
      rules.length = 0;
      dialog = await details();
      await dialog.getByRole("group", { name: "Notifications" }).getByLabel("Mentions and urgent only").check();
      await until(() => rules.length === 2, "both rule changes");
      assert.deepEqual(rules, [
        { method: "PUT", path: `/_matrix/client/v3/pushrules/global/room/${roomId}`, body: { actions: [] } },
        { method: "DELETE", path: `/_matrix/client/v3/pushrules/global/override/${roomId}`, body: undefined },
      ]);
      await page.keyboard.press("Escape");
      await dialog.waitFor({ state: "detached", ...WAIT });
      await page.getByRole("button", { name: "Back to conversations" }).click().catch(() => undefined);
      await page.evaluate(() => (window.__hidden = true));
      const before = (await notes()).length;
      await adaSends({ body: "Ward 3 another routine update" });
      await adaSends({ body: "Ward 3 Ben, can you sign the chart?", "m.mentions": { user_ids: [people.ben.userId] } });
      await until(async () => (await notes()).length > before, "the mention's notification");
      const after = (await notes()).slice(before);
      assert.equal(after.length, 1, `only the mention: ${JSON.stringify(after)}`);
      assert.match(after[0].body, /mentioned you/);
    } finally {
      await context.close();
    }
  });
}
