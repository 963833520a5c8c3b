// Browser tests of Web Push in the service worker (src/sw/push.ts) and the device's notification
// settings. Chrome's real push service is not reachable here, so a push is delivered to the
// worker through the DevTools protocol (ServiceWorker.deliverPushMessage) with the payload the
// server's pusher sends after decryption; what the worker shows is read back with
// registration.getNotifications(), and a tap is a `notificationclick` dispatched in the worker.
// Real `wardline` binary, Debian's Chromium, phone and desktop size.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createECDH } from "node:crypto";

import { WAIT, conversation, sendContent, signIn, startWard, stopWard, until } from "./support.mjs";

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

/** A context where Wardline may show notifications, and its worker's registration id (DevTools). */
async function pushable(size) {
  const context = await browser.newContext(size);
  await context.grantPermissions(["notifications"], { origin: server.baseUrl });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  const registrations = new Map();
  cdp.on("ServiceWorker.workerRegistrationUpdated", ({ registrations: rs }) => {
    for (const r of rs) if (!r.isDeleted) registrations.set(r.scopeURL, r.registrationId);
  });
  await cdp.send("ServiceWorker.enable");
  const registrationId = async () => until(() => registrations.get(`${server.baseUrl}/`), "the worker's registration");
  /** Delivers a push with this (decrypted) payload to the worker. */
  const push = async (payload) =>
    cdp.send("ServiceWorker.deliverPushMessage", {
      origin: server.baseUrl,
      registrationId: await registrationId(),
      data: JSON.stringify(payload),
    });
  return { context, page, push };
}

/** The notifications the worker shows (from any page of the origin). */
const shown = (page) =>
  page.evaluate(async () =>
    (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => ({
      title: n.title,
      body: n.body,
      tag: n.tag,
      requireInteraction: n.requireInteraction,
      renotify: n.renotify,
      vibrate: [...n.vibrate],
      data: n.data,
    })),
  );

/** The worker of the context (started by a push if it was not running). */
async function worker(context) {
  return context.serviceWorkers()[0] ?? context.waitForEvent("serviceworker", WAIT);
}

test("the client is an installable app: Chromium reads its manifest and finds nothing stopping an install", async () => {
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  try {
    await page.goto(server.baseUrl + "/");
    await page.getByLabel("Username").waitFor(WAIT);
    await until(() => page.evaluate(() => Boolean(navigator.serviceWorker.controller)), "the service worker in control");
    const cdp = await context.newCDPSession(page);
    const { url, errors, data } = await cdp.send("Page.getAppManifest");
    assert.equal(new URL(url).pathname, "/manifest.webmanifest");
    assert.deepEqual(errors, [], "the manifest parses");
    assert.equal(JSON.parse(data).display, "standalone");
    // (A test browser's context is incognito-like, which Chromium lists too: that is the
    // browser's, not the app's.)
    const theApps = async () =>
      (await cdp.send("Page.getInstallabilityErrors")).installabilityErrors.map((e) => e.errorId).filter((id) => id !== "in-incognito");
    await until(async () => (await theApps()).length === 0, "no installability errors of the app's");
  } finally {
    await context.close();
  }
});

for (const [size, viewport] of [
  ["phone", PHONE],
  ["desktop", DESKTOP],
]) {
  test(`${size}: with no Wardline window open, an urgent push shows "Urgent message" with no text; tapping it opens the message`, async () => {
    const name = `Resus ${size}`;
    const roomId = await conversation(server, people.ada.token, [people.ben], { name });
    const text = `Patient in ${name} deteriorating, NEWS 7`;
    const eventId = await sendContent(server, people.ada.token, roomId, {
      msgtype: "m.text",
      body: text,
      "org.wardline.priority": { level: "urgent" },
    });
    const { context, page, push } = await pushable(viewport);
    try {
      await signIn(page, server, "ben");
      await until(() => page.evaluate(() => Boolean(navigator.serviceWorker.controller)), "the service worker in control");
      // Ben puts Wardline away: no window of it is open.
      await page.goto("about:blank");
      await push({ room_id: roomId, event_id: eventId, prio: "high", unread: 1, level: "urgent" });
      // (Any page of the origin can read the worker's notifications: a plain JSON one here.)
      await page.goto(`${server.baseUrl}/_matrix/client/versions`);
      const [n] = await until(async () => {
        const list = await shown(page);
        return list.length ? list : null;
      }, "a notification");
      assert.equal(n.title, "Urgent message");
      assert.equal(n.body, "Open Wardline to read it");
      assert.equal(n.tag, `room:${roomId}`);
      assert.equal(n.requireInteraction, true, "an urgent one stays until dismissed");
      assert.equal(n.renotify, true);
      assert.deepEqual(n.vibrate, [300, 150, 300, 150, 300]);
      assert.ok(!JSON.stringify(n).includes("deteriorating") && !JSON.stringify(n).includes(name), "no text, no conversation name");

      // A routine message after it in the same conversation does not replace it.
      await page.goto("about:blank");
      await push({ room_id: roomId, event_id: "$later-routine", prio: "low", unread: 2, level: "routine" });
      // (An emergency in another conversation after it: both shown, so the routine push was handled.)
      const other = await conversation(server, people.ada.token, [people.ben], { name: `${name} side room` });
      await push({ room_id: other, event_id: "$other-emergency", prio: "high", unread: 1, level: "emergency" });
      await page.goto(`${server.baseUrl}/_matrix/client/versions`);
      const both = await until(async () => {
        const list = await shown(page);
        return list.length === 2 ? list : null;
      }, "the emergency of the other conversation");
      const here = both.find((x) => x.tag === `room:${roomId}`);
      assert.equal(here.title, "Urgent message", "the urgent one stays");
      assert.equal(here.data.eventId, eventId, "and leads to the urgent message");
      await page.evaluate(async (tag) => {
        for (const n of await (await navigator.serviceWorker.ready).getNotifications({ tag })) n.close();
      }, `room:${other}`);

      // Tapped with no window open: a new one opens at the message's link.
      await page.goto("about:blank");
      const sw = await worker(context);
      const opened = await sw.evaluate(async () => {
        let url = null;
        // (A dispatched click is not a person's tap, which a browser needs to open a window: the
        // worker's request is recorded instead.)
        self.clients.openWindow = async (u) => {
          url = u;
          return null;
        };
        const [n] = await self.registration.getNotifications();
        const click = new NotificationEvent("notificationclick", { notification: n });
        self.dispatchEvent(click);
        for (let i = 0; i < 100 && url === null; i++) await new Promise((r) => setTimeout(r, 50));
        return url;
      });
      assert.equal(opened, `/#/room/${encodeURIComponent(roomId)}/${encodeURIComponent(eventId)}`);
      await page.goto(`${server.baseUrl}/_matrix/client/versions`);
      assert.deepEqual(await shown(page), [], "the tapped notification is gone");

      // That link opens the conversation at the message.
      await page.goto(server.baseUrl + opened);
      await page.locator(".timeline").getByText(text, { exact: true }).waitFor(WAIT);
      await page.getByRole("heading", { name }).waitFor(WAIT);
      assert.equal(new URL(page.url()).hash, "", "the link is used once, not kept");
    } finally {
      await context.close();
    }
  });
}

test("with a Wardline window in front, a routine push is not shown but told to the window (it sounds it); an emergency is shown; tapping opens it in that window", async () => {
  const roomId = await conversation(server, people.ada.token, [people.ben], { name: "Ward 7 front" });
  const routine = await sendContent(server, people.ada.token, roomId, { msgtype: "m.text", body: "Ward 7 routine note" });
  const emergency = await sendContent(server, people.ada.token, roomId, {
    msgtype: "m.text",
    body: "Ward 7 cardiac arrest bed 4",
    "org.wardline.priority": { level: "emergency" },
  });
  const { context, page, push } = await pushable(DESKTOP);
  // The tones the page plays (Web Audio oscillators started).
  await context.addInitScript(() => {
    window.__tones = [];
    const start = OscillatorNode.prototype.start;
    OscillatorNode.prototype.start = function (...args) {
      window.__tones.push(this.type);
      return start.apply(this, args);
    };
  });
  try {
    await signIn(page, server, "ben");
    await until(() => page.evaluate(() => Boolean(navigator.serviceWorker.controller)), "the service worker in control");
    await page.bringToFront();
    await page.evaluate(() => {
      window.focus();
      window.__fromWorker = [];
      navigator.serviceWorker.addEventListener("message", (e) => window.__fromWorker.push(e.data));
    });
    await push({ room_id: roomId, event_id: routine, prio: "low", unread: 1, level: "routine" });
    const told = await until(() => page.evaluate(() => window.__fromWorker.find((m) => m.type === "wardline.push")), "the window told");
    assert.deepEqual({ roomId: told.roomId, eventId: told.eventId, level: told.level }, { roomId, eventId: routine, level: "routine" });
    assert.deepEqual(await shown(page), [], "no notification over the window in front");
    // The window sounds it: the routine tone, once.
    await until(() => page.evaluate(() => window.__tones.length > 0), "the routine tone");
    assert.deepEqual(await page.evaluate(() => window.__tones), ["sine"]);

    await push({ room_id: roomId, event_id: emergency, prio: "high", unread: 2, level: "emergency" });
    const [n] = await until(async () => {
      const list = await shown(page);
      return list.length ? list : null;
    }, "the emergency notification");
    assert.equal(n.title, "Emergency");
    assert.equal(n.requireInteraction, true);
    assert.deepEqual(n.vibrate, [800, 200, 800, 200, 800, 200, 800]);

    // Tapped: the open window shows the message.
    const sw = await worker(context);
    await sw.evaluate(async () => {
      const [n] = await self.registration.getNotifications();
      self.dispatchEvent(new NotificationEvent("notificationclick", { notification: n }));
    });
    await page.locator(".timeline").getByText("Ward 7 cardiac arrest bed 4", { exact: true }).waitFor(WAIT);
    await page.getByRole("heading", { name: "Ward 7 front" }).waitFor(WAIT);

    // A push with no message (read on another device): the conversation's notification goes.
    await push({ room_id: roomId, event_id: emergency, prio: "high", unread: 1, level: "emergency" });
    await until(async () => (await shown(page)).length === 1, "shown again");
    await push({ room_id: roomId, unread: 0, prio: "low" });
    await until(async () => (await shown(page)).length === 0, "taken away once read elsewhere");
  } finally {
    await context.close();
  }
});

test("turning on notifications on a device whose push service is out of reach says so, and leaves them off", async () => {
  const { context, page } = await pushable(PHONE);
  // The server's VAPID key (a real P-256 public key; the endpoint may not be on this server yet).
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const key = ecdh.getPublicKey().toString("base64url");
  const pushers = [];
  await page.route("**/_wardline/client/v1/push/vapid", (route) =>
    route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify({ public_key: key }) }),
  );
  await page.route("**/_matrix/client/v3/pushers/set", (route) => {
    pushers.push(route.request().postDataJSON());
    return route.fulfill({ status: 200, contentType: "application/json", body: "{}" });
  });
  try {
    await signIn(page, server, "ada");
    await page.getByRole("button", { name: "Notifications" }).click();
    const settings = page.getByRole("region", { name: "Notification settings" });
    const toggle = settings.getByLabel("Notifications on this device");
    await until(async () => !(await toggle.isDisabled()), "the setting ready");
    assert.equal(await toggle.isChecked(), false);
    await toggle.check({ force: true }).catch(() => undefined);
    await settings.getByRole("alert").getByText("This browser's push service is not reachable.", { exact: false }).waitFor({ timeout: 60_000 });
    await until(async () => !(await toggle.isDisabled()) && !(await toggle.isChecked()), "left off");
    assert.deepEqual(pushers, [], "no pusher without a subscription");

    // The routine sound is this device's own setting, kept across a reload.
    const sound = settings.getByLabel("Sound for routine messages");
    assert.equal(await sound.isChecked(), true, "on unless turned off");
    await sound.uncheck();
    await page.reload();
    await page.getByRole("button", { name: "Notifications" }).click();
    assert.equal(await page.getByLabel("Sound for routine messages").isChecked(), false);
  } finally {
    await context.close();
  }
});
