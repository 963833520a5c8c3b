// End-to-end tests of the web client in a real browser: Playwright (playwright-core) driving
// Debian's headless Chromium against the real `wardline` binary, which serves the embedded
// client at `/`. Two people in two browser contexts (a ward PC and a phone).
//
// Screenshots at phone and desktop size are written to web/test-artifacts/ (kept by CI).
// Chromium: $CHROMIUM_PATH, else /usr/bin/chromium (installed by .ci/run).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

import { REPO_ROOT, WardlineServer } from "../../tests/clients/wardline-server.mjs";
import { reading, until } from "./support.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = path.join(REPO_ROOT, "web", "test-artifacts");
const WAIT = { timeout: 30_000 };

/** RFC 6238 code for a base32 secret. */
function totp(secret, at = Date.now()) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

async function post(base, path, body, token) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(base + path, { method: "POST", headers, body: JSON.stringify(body) });
  const json = await r.json();
  assert.ok(r.ok, `${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

let server;
let browser;
let benSecret;

before(async () => {
  server = new WardlineServer();
  await server.start();
  server.addUser("ada", "Ada Lovelace");
  server.addUser("ben", "Ben Carter");
  server.addUser("cy", "Cy Okafor");
  // Ben has set up an authenticator app.
  const login = await post(server.baseUrl, "/_matrix/client/v3/login", {
    type: "m.login.password",
    identifier: { type: "m.id.user", user: "ben" },
    password: server.passwords.get("ben"),
  });
  const enrol = await post(server.baseUrl, "/_wardline/client/v1/mfa/totp", {}, login.access_token);
  benSecret = enrol.secret;
  await post(server.baseUrl, "/_wardline/client/v1/mfa/totp/confirm", { code: totp(benSecret) }, login.access_token);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // A fake microphone for voice notes, allowed without a prompt.
    args: ["--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"],
  });
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function signIn(page, user, password, code) {
  await page.goto(server.baseUrl + "/");
  await page.getByLabel("Username").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  if (code) {
    await page.getByLabel("6-digit code from your authenticator app").fill(code());
    await page.getByRole("button", { name: "Continue" }).click();
  }
  await page.getByRole("button", { name: "New chat" }).waitFor(WAIT);
}

async function startChat(page, people, groupName) {
  await page.getByRole("button", { name: "New chat" }).click();
  for (const name of people) {
    await page.getByLabel("Find people").fill(name);
    await page.getByLabel(new RegExp(name)).check(WAIT);
  }
  if (groupName) await page.getByLabel("Group name").fill(groupName);
  await page.getByRole("button", { name: "Start chat" }).click();
  await page.getByLabel("Message", { exact: true }).waitFor(WAIT);
}

async function send(page, text) {
  await page.getByLabel("Message", { exact: true }).fill(text);
  await page.getByRole("button", { name: "Send", exact: true }).click();
}

test("two clinicians chat, see each other's messages live and who has read them", async () => {
  const ward = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  // Notifications are recorded instead of shown, to check what a lock screen would display.
  await ward.grantPermissions(["notifications"]);
  await ward.addInitScript(() => {
    window.__notes = [];
    window.Notification = class {
      static permission = "granted";
      static requestPermission() {
        return Promise.resolve("granted");
      }
      constructor(title, options) {
        window.__notes.push({ title, body: options?.body });
      }
    };
  });
  const ada = await ward.newPage();
  const ben = await phone.newPage();
  try {
    await signIn(ada, "ada", server.passwords.get("ada"));
    // The code of the current 30 s step was used to confirm the set-up (a code works once):
    // sign in with the next step's, which the server accepts as clock drift.
    await signIn(ben, "ben", server.passwords.get("ben"), () => totp(benSecret, Date.now() + 30_000));

    // Ada starts a chat with Ben from the directory. Ben's phone joins it, then he puts the phone
    // away (the app closed): Ada's message is sent, and not delivered yet.
    await startChat(ada, ["Ben Carter"]);
    await ben.locator(".rooms li", { hasText: "Ada Lovelace" }).waitFor(WAIT);
    const benApp = ben.url();
    await ben.goto("about:blank");
    await send(ada, "Bed 4 obs due at 14:00");
    await ada.locator(".timeline").getByText("Bed 4 obs due at 14:00").waitFor(WAIT);
    await ada.getByRole("button", { name: /^Sent/ }).waitFor(WAIT);

    // Ben takes his phone out and sees it in his list: delivered, not yet read. He opens the
    // chat, and Ada sees it read.
    await ben.goto(benApp);
    const convo = ben.locator(".rooms li", { hasText: "Bed 4 obs due at 14:00" });
    await convo.waitFor(WAIT);
    await convo.locator(".badge").waitFor(WAIT);
    await ada.getByRole("button", { name: /^Delivered to 1 of 1/ }).waitFor(WAIT);
    await convo.click();
    await ben.locator(".timeline").getByText("Bed 4 obs due at 14:00").waitFor(WAIT);
    // (He is reading: the page in front, his hand on the mouse.)
    await reading(ben, ada.getByRole("button", { name: /^Read by 1 of 1/ }).waitFor(WAIT));

    // An image: a preview on both sides.
    const png = await ada.evaluate(() => {
      const c = document.createElement("canvas");
      c.width = 400;
      c.height = 300;
      const g = c.getContext("2d");
      g.fillStyle = "#c0392b";
      g.fillRect(0, 0, 400, 300);
      return c.toDataURL("image/png").split(",")[1];
    });
    await ada.getByLabel("Attach a file").setInputFiles({
      name: "wound.png",
      mimeType: "image/png",
      buffer: Buffer.from(png, "base64"),
    });
    for (const page of [ada, ben]) {
      const img = page.locator(".timeline img[alt='wound.png']");
      await img.waitFor(WAIT);
      await page.waitForFunction(
        () => [...document.querySelectorAll(".timeline img")].some((i) => i.complete && i.naturalWidth > 0),
        null,
        WAIT,
      );
    }

    // Ben replies; Ada sees it live.
    await send(ben, "On my way");
    await ada.locator(".timeline").getByText("On my way").waitFor(WAIT);

    // A voice note, recorded on Ben's phone, plays on Ada's screen.
    await ben.getByRole("button", { name: "Record" }).click();
    await ben.getByRole("button", { name: "Stop and send" }).waitFor(WAIT);
    await ben.waitForTimeout(1200);
    await ben.getByRole("button", { name: "Stop and send" }).click();
    await ada.locator(".timeline audio").waitFor({ state: "attached", ...WAIT });
    await ada.locator(".timeline").getByText(/Voice note \(\d+ s\)/).waitFor(WAIT);
    await ada.waitForFunction(() => document.querySelector(".timeline audio")?.src.startsWith("blob:"), null, WAIT);

    // Ben turns on do-not-disturb: Ada sees it beside his name.
    await ben.getByRole("button", { name: "Back to conversations" }).click();
    await ben.getByRole("button", { name: "Do not disturb: off" }).click();
    await ben.getByRole("button", { name: "Turn on do not disturb" }).click();
    await ada.locator('.rooms [aria-label="do not disturb"]').first().waitFor(WAIT);

    await ada.screenshot({ path: path.join(ARTIFACTS, "desktop-conversation.png") });
    await ben.screenshot({ path: path.join(ARTIFACTS, "phone-conversation.png") });

    // A group of three: Ada sees that Ben has read it and Cy has not. (Recipients are who is in
    // the group when a message is sent: Ben's phone joins at once; Cy joins from a device that
    // has not synced since.)
    await startChat(ada, ["Ben Carter", "Cy Okafor"], "Ward 7 handover");
    const group = ben.locator(".rooms li", { hasText: "Ward 7 handover" });
    await group.waitFor({ state: "attached", ...WAIT });
    const groupId = await group.getAttribute("data-room");
    const cy = await post(server.baseUrl, "/_matrix/client/v3/login", {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: "cy" },
      password: server.passwords.get("cy"),
    });
    await post(server.baseUrl, `/_matrix/client/v3/join/${encodeURIComponent(groupId)}`, {}, cy.access_token);
    await send(ada, "Handover at 19:30 in the day room");
    const back = ben.getByRole("button", { name: "Back to conversations" });
    if (await back.isVisible()) await back.click();
    await group.waitFor(WAIT);
    await group.click();
    await ben.locator(".timeline").getByText("Handover at 19:30").waitFor(WAIT);
    const status = ada.getByRole("button", { name: /^Read by 1 of 2/ });
    await reading(ben, status.waitFor(WAIT));
    await status.click();
    const dialog = ada.getByRole("dialog", { name: "Who has read this message" });
    await dialog.waitFor(WAIT);
    assert.match(await dialog.locator(".read-list").innerText(), /Ben Carter/);
    assert.match(await dialog.locator(".unread-list").innerText(), /Cy Okafor/, "Cy has not even had it delivered");
    await ada.screenshot({ path: path.join(ARTIFACTS, "desktop-read-by.png") });
    await ben.screenshot({ path: path.join(ARTIFACTS, "phone-group.png") });

    // While Ada looked at the group, Ben's messages in the other chat notified her without their text.
    await ben.getByRole("button", { name: "Back to conversations" }).click();
    await ben.locator(".rooms li", { hasText: "Ada Lovelace" }).click();
    await send(ben, "Patient in bed 4 is stable");
    await ada.waitForFunction(() => window.__notes.length > 0, null, WAIT);
    const notes = await ada.evaluate(() => window.__notes);
    assert.deepEqual(notes.at(-1), { title: "Wardline", body: "New message in Ben Carter" });
    assert.ok(!JSON.stringify(notes).includes("stable"), "no message text in notifications");

    // Ada's devices: this browser, marked as such.
    await ada.getByRole("button", { name: "Devices" }).click();
    await ada.getByRole("region", { name: "Devices" }).getByText("(this device)").waitFor(WAIT);

    // Signing out leaves nothing behind in the browser.
    await ben.getByRole("button", { name: "Back to conversations" }).click();
    await ben.getByRole("button", { name: "Sign out" }).click();
    await ben.getByLabel("Username").waitFor(WAIT);
    const stored = await ben.evaluate(() => sessionStorage.length + localStorage.length);
    assert.equal(stored, 0, "browser storage is empty after sign-out");
  } finally {
    await ward.close();
    await phone.close();
  }
});

test("a new colleague replaces the one-time password, then ends a session on another device", async () => {
  const oneTime = server.addUserWithOneTimePassword("dee", "Dee Patel");
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const page = await context.newPage();
  const mine = "ward seven night shift 2026";
  // Before Dee's first sign-in, Ada has written 40 entries in a log Dee is invited to.
  const ada = await post(server.baseUrl, "/_matrix/client/v3/login", {
    type: "m.login.password",
    identifier: { type: "m.id.user", user: "ada" },
    password: server.passwords.get("ada"),
  });
  const log = await post(
    server.baseUrl,
    "/_matrix/client/v3/createRoom",
    { name: "Night handover log", invite: ["@dee:localhost"] },
    ada.access_token,
  );
  for (let i = 1; i <= 40; i++) {
    const r = await fetch(
      `${server.baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(log.room_id)}/send/m.room.message/log${i}`,
      {
        method: "PUT",
        headers: { authorization: `Bearer ${ada.access_token}`, "content-type": "application/json" },
        body: JSON.stringify({ msgtype: "m.text", body: `Entry ${i}` }),
      },
    );
    assert.equal(r.status, 200);
  }
  try {
    await page.goto(server.baseUrl + "/");
    await page.getByLabel("Username").fill("dee");
    await page.getByLabel("Password").fill(oneTime);
    await page.getByRole("button", { name: "Sign in" }).click();
    // Someone who had the one-time password signed in elsewhere meanwhile.
    const stale = await post(server.baseUrl, "/_matrix/client/v3/login", {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: "dee" },
      password: oneTime,
    });
    await page.getByLabel("New password").fill(mine);
    await page.getByRole("button", { name: "Save password" }).click();
    await page.getByRole("button", { name: "New chat" }).waitFor(WAIT);
    const staleWhoami = await fetch(server.baseUrl + "/_matrix/client/v3/account/whoami", {
      headers: { authorization: `Bearer ${stale.access_token}` },
    });
    assert.equal(staleWhoami.status, 401, "a password change ends every other session");

    // With the keyboard alone: open the log, then scroll back to its first entry.
    const item = page.locator(".rooms li", { hasText: "Night handover log" });
    await item.waitFor(WAIT);
    await item.focus();
    await page.keyboard.press("Enter");
    await page.locator(".timeline").getByText("Entry 40", { exact: true }).waitFor(WAIT);
    const first = page.locator(".timeline").getByText("Entry 1", { exact: true });
    const shown = () => page.locator(".timeline .msg").count();
    for (let i = 0; i < 5 && !(await first.count()); i++) {
      const before = await shown();
      // (The button moves while the timeline settles; a loaded machine may never see it still.)
      const earlier = page.getByRole("button", { name: "Earlier" });
      await earlier.waitFor(WAIT);
      await earlier.dispatchEvent("click");
      // The earlier page has come (more messages shown), or the first entry is there.
      await until(async () => (await shown()) > before || (await first.count()) > 0, "an earlier page loaded");
    }
    await first.waitFor(WAIT);
    await page.getByRole("button", { name: "Back to conversations" }).click();

    // Dee is also signed in somewhere else (a shared ward PC), and ends that session from here.
    const other = await post(server.baseUrl, "/_matrix/client/v3/login", {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: "dee" },
      password: mine,
      initial_device_display_name: "Ward 7 shared PC",
    });
    await page.getByRole("button", { name: "Devices" }).click();
    const devices = page.getByRole("region", { name: "Devices" });
    const shared = devices.locator("li", { hasText: "Ward 7 shared PC" });
    await shared.waitFor(WAIT);
    page.once("dialog", (d) => d.accept(mine));
    await shared.getByRole("button", { name: "End session" }).click();
    await shared.waitFor({ state: "detached", ...WAIT });
    const whoami = await fetch(server.baseUrl + "/_matrix/client/v3/account/whoami", {
      headers: { authorization: `Bearer ${other.access_token}` },
    });
    assert.equal(whoami.status, 401, "the ended session's token no longer works");
    await devices.getByText("(this device)").waitFor(WAIT);
  } finally {
    await context.close();
  }
});

test("an administrator sets up the required authenticator app at first sign-in", async () => {
  server.addUser("boss", "Sam Okoro", ["--admin"]);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  try {
    await page.goto(server.baseUrl + "/");
    await page.getByLabel("Username").fill("boss");
    await page.getByLabel("Password").fill(server.passwords.get("boss"));
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("img", { name: "QR code to scan with your authenticator app" }).waitFor(WAIT);
    const secret = (await page.locator("code.secret").innerText()).trim();
    await page.getByLabel("6-digit code from the app").fill(totp(secret));
    await page.getByRole("button", { name: "Turn on" }).click();
    const codes = page.getByRole("region", { name: "Recovery codes" }).locator("li");
    await codes.first().waitFor(WAIT);
    assert.equal(await codes.count(), 10, "ten recovery codes, shown once");
    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByRole("button", { name: "New chat" }).waitFor(WAIT);
  } finally {
    await context.close();
  }
});

test("sign-in messages say what went wrong; a deactivated colleague is told why the session ended", async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const page = await context.newPage();
  try {
    // A wrong code from the authenticator app is called a wrong code.
    await page.goto(server.baseUrl + "/");
    await page.getByLabel("Username").fill("ben");
    await page.getByLabel("Password").fill(server.passwords.get("ben"));
    await page.getByRole("button", { name: "Sign in" }).click();
    const good = totp(benSecret);
    await page.getByLabel("6-digit code from your authenticator app").fill(good === "000000" ? "111111" : "000000");
    await page.getByRole("button", { name: "Continue" }).click();
    const alert = page.getByRole("alert");
    await alert.getByText(/code is not right/).waitFor(WAIT);
    assert.doesNotMatch(await alert.innerText(), /username or password/);

    // Eve is signed in when her account is deactivated.
    server.addUser("eve", "Eve Adams");
    await signIn(page, "eve", server.passwords.get("eve"));
    const res = spawnSync(server.bin, ["user", "deactivate", "eve", "--data-dir", server.dataDir], {
      env: server.env(),
      timeout: 60_000,
      encoding: "utf8",
    });
    assert.equal(res.status, 0, `deactivate: ${res.stdout} ${res.stderr}`);
    await page.getByRole("status").getByText(/account has been deactivated/).waitFor(WAIT);
    await page.getByLabel("Username").waitFor(WAIT);
    // Signing in again says the same, not "wrong password".
    await page.getByLabel("Username").fill("eve");
    await page.getByLabel("Password").fill(server.passwords.get("eve"));
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").getByText(/has been deactivated/).waitFor(WAIT);
    await page.screenshot({ path: path.join(ARTIFACTS, "deactivated-phone.png") });
  } finally {
    await context.close();
  }
});

// A measurement, not a check (timings vary with the machine): reported as test diagnostics and
// recorded in the README. What is checked is that the client is served compressed.
test("first load: size on the wire and time until the sign-in form is usable", async (t) => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  let bytes = 0;
  page.on("response", async (r) => {
    const size = Number((await r.allHeaders())["content-length"] ?? 0);
    bytes += size;
  });
  const started = Date.now();
  const app = await page.goto(server.baseUrl + "/");
  assert.equal(app.status(), 200);
  await page.getByLabel("Username").waitFor(WAIT);
  const interactive = Date.now() - started;
  const js = await page.request.get(server.baseUrl + "/app.js", { headers: { "accept-encoding": "gzip" } });
  assert.equal(js.headers()["content-encoding"], "gzip", "the bundle is served gzipped");
  t.diagnostic(`sign-in form usable after ${interactive} ms; ${Math.round(bytes / 1024)} KiB transferred`);
  await context.close();
});
