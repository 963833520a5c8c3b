// Web Push's pure parts, on their own: the pusher this device registers (POST
// /_matrix/client/v3/pushers/set, kind "webpush"), its removal, what a push payload shows (no
// text, ever), the deep link a tapped notification opens, and the push rules behind each
// conversation's notification choice.

import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
async function load(file) {
  const bundled = await build({
    entryPoints: [path.join(here, "..", "src", file)],
    bundle: true,
    format: "esm",
    write: false,
    platform: "neutral",
  });
  return import(`data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString("base64")}`);
}
const { APP_ID, base64UrlBytes, browserName, noPusher, webPusher } = await load("pusher.ts");
const { deepLink, parseDeepLink, pushNotice } = await load("sw/pushnotice.ts");
const { ruleChanges } = await load("roomnotify.ts");

const SUB = {
  endpoint: "https://push.example.org/send/abc123",
  expirationTime: null,
  keys: { p256dh: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM", auth: "tBHItJI5svbpez7KI4CCXg" },
};

test("the pusher of a subscription: webpush, the key as pushkey, the endpoint and auth secret as data", () => {
  assert.deepEqual(webPusher(SUB, "Chrome on Android", "en-GB"), {
    kind: "webpush",
    app_id: "org.wardline.web",
    pushkey: SUB.keys.p256dh,
    app_display_name: "Wardline",
    device_display_name: "Chrome on Android",
    lang: "en",
    data: { url: SUB.endpoint, auth: SUB.keys.auth },
  });
  assert.equal(APP_ID, "org.wardline.web");
  // Without keys there is nothing to encrypt to: no pusher.
  assert.equal(webPusher({ endpoint: SUB.endpoint }, "x", "en"), null);
  assert.equal(webPusher({ keys: SUB.keys }, "x", "en"), null);
  assert.deepEqual(noPusher(SUB.keys.p256dh), { kind: null, app_id: "org.wardline.web", pushkey: SUB.keys.p256dh });
});

test("the browser as the device list names it", () => {
  const android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36";
  assert.equal(browserName(android), "Chrome on Android");
  assert.equal(browserName("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"), "Firefox on Windows");
  const iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
  assert.equal(browserName(iphone), "Safari on iOS");
});

test("a VAPID key in base64url is its 65 bytes", () => {
  const bytes = base64UrlBytes(SUB.keys.p256dh);
  assert.equal(bytes.length, 65);
  assert.equal(bytes[0], 4, "an uncompressed P-256 point");
});

test("a push says how urgent, never what: title and vibration per level", () => {
  const urgent = pushNotice({ room_id: "!a:x", event_id: "$e", prio: "high", unread: 2, level: "urgent" });
  assert.deepEqual(
    { title: urgent.title, roomId: urgent.roomId, eventId: urgent.eventId, unread: urgent.unread },
    { title: "Urgent message", roomId: "!a:x", eventId: "$e", unread: 2 },
  );
  const emergency = pushNotice({ room_id: "!a:x", event_id: "$e", prio: "high", unread: 1, level: "emergency" });
  const routine = pushNotice({ room_id: "!a:x", event_id: "$e", prio: "low", unread: 1, level: "routine" });
  assert.equal(emergency.title, "Emergency");
  assert.equal(routine.title, "New message");
  // Each level its own pattern, the more urgent the longer.
  const total = (n) => n.vibrate.reduce((a, b) => a + b, 0);
  assert.ok(total(emergency) > total(urgent) && total(urgent) > total(routine));
  // A gateway's wrapping, an unknown level with high priority, no message (a count), and junk.
  assert.equal(pushNotice({ notification: { room_id: "!a:x", event_id: "$e", prio: "high" } }).level, "urgent");
  assert.equal(pushNotice({ room_id: "!a:x", unread: 0 }).eventId, null);
  for (const junk of [null, "text", {}, { room_id: 5 }, { event_id: "$e" }]) assert.equal(pushNotice(junk), null);
});

test("a message's deep link opens that message, and nothing else parses as one", () => {
  const link = deepLink("!ward7:example.org", "$ev/ent+1");
  assert.equal(link, "/#/room/!ward7%3Aexample.org/%24ev%2Fent%2B1");
  assert.deepEqual(parseDeepLink(link.slice(1)), { roomId: "!ward7:example.org", eventId: "$ev/ent+1" });
  assert.deepEqual(parseDeepLink("#/room/!r%3Ax"), { roomId: "!r:x", eventId: null });
  for (const other of ["", "#", "#/rooms/!r", "#/room/", "#/room/%E0%A4%A/x"]) assert.equal(parseDeepLink(other), null, other);
});

test("a conversation's notifications as push rules: all (none of mine), mentions (a room rule), off (an override)", () => {
  const room = "!ward7:example.org";
  const base = "/_matrix/client/v3/pushrules/global";
  assert.deepEqual(ruleChanges(room, "all"), [
    { method: "DELETE", url: `${base}/override/!ward7%3Aexample.org` },
    { method: "DELETE", url: `${base}/room/!ward7%3Aexample.org` },
  ]);
  assert.deepEqual(ruleChanges(room, "mentions"), [
    { method: "PUT", url: `${base}/room/!ward7%3Aexample.org`, body: { actions: [] } },
    { method: "DELETE", url: `${base}/override/!ward7%3Aexample.org` },
  ]);
  assert.deepEqual(ruleChanges(room, "off"), [
    {
      method: "PUT",
      url: `${base}/override/!ward7%3Aexample.org`,
      body: { conditions: [{ kind: "event_match", key: "room_id", pattern: room }], actions: [] },
    },
    { method: "DELETE", url: `${base}/room/!ward7%3Aexample.org` },
  ]);
});
