// Shared by the browser tests: the API as a test script calls it, signing in through the page,
// and reading what the server says about a message.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

import { WardlineServer } from "../../tests/clients/wardline-server.mjs";

export const WAIT = { timeout: 30_000 };

/** A time still to come as the client shows it: "14:05", or "Wed 2 Dec 01:30" when not today. */
export const COMING_TIME = String.raw`(?:[A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2} )?\d\d:\d\d`;

export async function call(base, method, path, body, token) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await r.json().catch(() => ({}));
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

/** A session of `user` for the test script itself (not the browser). */
export async function apiLogin(server, user) {
  const r = await call(server.baseUrl, "POST", "/_matrix/client/v3/login", {
    type: "m.login.password",
    identifier: { type: "m.id.user", user },
    password: server.passwords.get(user),
    initial_device_display_name: "test script",
  });
  return r.access_token;
}

const room = (id) => encodeURIComponent(id);

/** A conversation made by `token`'s user with `others` already joined. */
export async function conversation(server, token, others, options = {}) {
  const created = await call(
    server.baseUrl,
    "POST",
    "/_matrix/client/v3/createRoom",
    { invite: others.map((o) => o.userId), is_direct: others.length === 1, ...options },
    token,
  );
  for (const o of others) await call(server.baseUrl, "POST", `/_matrix/client/v3/join/${room(created.room_id)}`, {}, o.token);
  return created.room_id;
}

let txn = 0;
export async function sendText(server, token, roomId, body) {
  const r = await call(
    server.baseUrl,
    "PUT",
    `/_matrix/client/v3/rooms/${room(roomId)}/send/m.room.message/script${Date.now()}-${txn++}`,
    { msgtype: "m.text", body },
    token,
  );
  return r.event_id;
}

/** The messages of a room with this body, as the server has them (newest 200). */
export async function bodiesOf(server, token, roomId, body) {
  const r = await call(server.baseUrl, "GET", `/_matrix/client/v3/rooms/${room(roomId)}/messages?dir=b&limit=200`, undefined, token);
  return r.chunk.filter((e) => e.type === "m.room.message" && e.content?.body === body);
}

/** The server's status of a message (GET /_wardline/client/v1/rooms/{roomId}/status/{eventId}). */
export async function status(server, token, roomId, eventId) {
  return call(server.baseUrl, "GET", `/_wardline/client/v1/rooms/${room(roomId)}/status/${encodeURIComponent(eventId)}`, undefined, token);
}

/** Polls `check` until it returns something truthy (a condition, not a timing). */
export async function until(check, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function signIn(page, server, user) {
  await page.goto(server.baseUrl + "/");
  await page.getByLabel("Username").fill(user);
  await page.getByLabel("Password").fill(server.passwords.get(user));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "New chat" }).waitFor(WAIT);
}

export async function openConversation(page, name) {
  const item = page.locator(".rooms li", { hasText: name });
  await item.waitFor(WAIT);
  await item.click();
  await page.getByLabel("Message", { exact: true }).waitFor(WAIT);
}

export async function send(page, text) {
  await page.getByLabel("Message", { exact: true }).fill(text);
  await page.getByRole("button", { name: "Send", exact: true }).click();
}

/** The message bubble in the timeline with exactly this text. */
export function bubble(page, text) {
  return page.locator(".timeline .msg", { has: page.getByText(text, { exact: true }) });
}

/** Is the element inside the timeline's visible area (not scrolled out of view)? */
export async function inView(locator) {
  return locator.evaluate((el) => {
    const box = el.getBoundingClientRect();
    const view = el.closest(".timeline").getBoundingClientRect();
    return box.top >= view.top - 1 && box.bottom <= view.bottom + 1;
  });
}

/** Uploads a file as `token`'s user; its mxc:// URI. */
export async function upload(server, token, bytes, type, name) {
  const r = await fetch(`${server.baseUrl}/_matrix/media/v3/upload?filename=${encodeURIComponent(name)}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": type },
    body: bytes,
  });
  assert.equal(r.status, 200);
  return (await r.json()).content_uri;
}

/** Sends a message with this content as `token`'s user; its event id. */
export async function sendContent(server, token, roomId, content) {
  const r = await call(
    server.baseUrl,
    "PUT",
    `/_matrix/client/v3/rooms/${room(roomId)}/send/m.room.message/script${Date.now()}-${txn++}`,
    content,
    token,
  );
  return r.event_id;
}

/** The HTTP status of downloading a file as `token`'s user. */
export async function downloadStatus(server, token, mxc) {
  const [, host, id] = /^mxc:\/\/([^/]+)\/(.+)$/.exec(mxc);
  const r = await fetch(`${server.baseUrl}/_matrix/client/v1/media/download/${host}/${id}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await r.arrayBuffer();
  return r.status;
}

/** A PNG of one colour, drawn by the page's canvas. */
export async function png(page, width, height, colour = "#2c7be5") {
  const data = await page.evaluate(
    ([w, h, c]) => {
      const canvas = document.createElement("canvas");
      canvas.width = w;
      canvas.height = h;
      const g = canvas.getContext("2d");
      g.fillStyle = c;
      g.fillRect(0, 0, w, h);
      return canvas.toDataURL("image/png").split(",")[1];
    },
    [width, height, colour],
  );
  return Buffer.from(data, "base64");
}

/** The events of a room as the server has them (newest 200, oldest first). */
export async function eventsOf(server, token, roomId) {
  const r = await call(server.baseUrl, "GET", `/_matrix/client/v3/rooms/${room(roomId)}/messages?dir=b&limit=200`, undefined, token);
  return r.chunk.reverse();
}

/**
 * The person is at the screen reading: the page in front and focused, and the mouse moving.
 * (Read tracking needs all of these: a message on a screen nobody looks at is not read.)
 */
export async function active(page) {
  await page.bringToFront();
  await page.evaluate(() => window.focus());
  await page.mouse.move(300 + Math.floor(Math.random() * 200), 300 + Math.floor(Math.random() * 200));
}

/** Keeps the person active at `page` until `promise` settles (read tracking needs activity). */
export async function reading(page, promise) {
  let done = false;
  const p = Promise.resolve(promise).finally(() => (done = true));
  (async () => {
    while (!done) {
      await active(page).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  return p;
}

/** The event id of the last message of others wholly on screen in the timeline, or null. */
export async function lastOnScreen(page) {
  return page.locator(".timeline").evaluate((root) => {
    const view = root.getBoundingClientRect();
    let last = null;
    for (const el of root.querySelectorAll("[data-seen]")) {
      const box = el.getBoundingClientRect();
      if (box.top >= view.top - 1 && box.bottom <= view.bottom + 1) last = el.dataset.seen;
    }
    return last;
  });
}

/**
 * The reader reads what is on screen: active at `page` until the last message wholly on screen
 * is read at the server (`readAt(eventId)` not null). Waits on the receipt, not on a time, so a
 * loaded machine is slower but never wrong.
 */
export async function readScreen(page, readAt, what = "the screen read") {
  const last = await lastOnScreen(page);
  if (last) await reading(page, until(async () => (await readAt(last)) !== null, `${what} (${last})`));
}

/** The reader scrolls down to the bottom, half a screen at a time, each screen read before the next. */
export async function readDown(page, readAt, what = "read down") {
  const scroller = page.locator(".timeline");
  for (let step = 0; step < 60; step++) {
    await readScreen(page, readAt, `${what}, screen ${step + 1}`);
    if (await scroller.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 2)) return;
    await scroller.evaluate((el) => el.scrollBy(0, el.clientHeight * 0.5));
  }
  assert.fail(`${what}: not at the bottom after 60 screens`);
}

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/**
 * A test file's ward: the real server with these staff (`[user, display name, extra
 * \`user add\` arguments?]`), each signed in through the API into `people`, and headless
 * Chromium (with `chromiumArgs` added); `env` adds server settings (`WARDLINE_*`).
 */
export async function startWard(people, staff, { chromiumArgs = [], env = {} } = {}) {
  const server = new WardlineServer(env);
  await server.start();
  for (const [user, name, extra = []] of staff) {
    server.addUser(user, name, extra);
    people[user] = { userId: `@${user}:localhost`, token: await apiLogin(server, user) };
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", ...chromiumArgs] });
  return { server, browser };
}

/**
 * A test clock for a whole server (`WARDLINE_TEST_CLOCK_FILE`): pass `env` to `startWard`, then
 * `advance(ms)` moves the server's clock that much further ahead of real time (it only moves
 * forward; the server reads the file every 100 ms). `done()` removes the file.
 */
export function testClock() {
  const dir = mkdtempSync(path.join(tmpdir(), "wardline-clock-"));
  const file = path.join(dir, "clock");
  let ahead = 0;
  writeFileSync(file, "0");
  return {
    env: { WARDLINE_TEST_CLOCK_FILE: file },
    /** How far ahead of real time the server is now (ms). */
    ahead: () => ahead,
    advance(ms) {
      assert.ok(ms > 0, "the test clock only moves forward");
      ahead += ms;
      writeFileSync(file, String(ahead));
    },
    done: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function stopWard({ server, browser }) {
  await browser?.close();
  await server?.stop();
}
