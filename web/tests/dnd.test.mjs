// Browser test of do-not-disturb with cover, at phone and at desktop size: a doctor turns it on
// until a time with a colleague covering (someone already on do-not-disturb cannot be chosen); a
// nurse opens a chat with him and sees "on do-not-disturb until … — messages also go to … (cover)";
// her message reaches the doctor, who gets no notification, and the cover gets a copy labelled
// "Forwarded (covering for …)". Real `wardline` binary, Debian's Chromium.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";

import { REPO_ROOT } from "../../tests/clients/wardline-server.mjs";

import { COMING_TIME, WAIT, call, openConversation, send, signIn, startWard, stopWard } from "./support.mjs";

let server;
let browser;
const people = {};

before(async () => {
  ({ server, browser } = await startWard(people, [
    ["doc1", "Dr Doc Adams"],
    ["cal1", "Dr Cal Reyes"],
    ["nia1", "Nurse Nia Obi"],
    ["doc2", "Dr Dan Hale"],
    ["cal2", "Dr Cat Moss"],
    ["nia2", "Nurse Noor Ali"],
    ["eve", "Dr Eve Stone"],
  ]));
  // Eve is on do-not-disturb already: nobody can name her as cover.
  await call(server.baseUrl, "PUT", "/_wardline/client/v1/dnd", { until_ts: Date.now() + 3 * 3_600_000 }, people.eve.token);
});

after(() => stopWard({ server, browser }));

const ARTIFACTS = path.join(REPO_ROOT, "web", "test-artifacts");

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
const DESKTOP = { viewport: { width: 1280, height: 800 } };

/** A context whose notifications are recorded in `window.__notes` instead of shown. */
async function context(size) {
  const c = await browser.newContext(size);
  await c.grantPermissions(["notifications"]);
  await c.addInitScript(() => {
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
  return c;
}

async function scenario({ doctor, cover, nurse, doctorSize, othersSize, shots }) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const shot = (page, name) => page.screenshot({ path: path.join(ARTIFACTS, `dnd-${shots}-${name}.png`) });
  const [d, n, c] = [await context(doctorSize), await context(othersSize), await context(othersSize)];
  const [doc, nia, cal] = [await d.newPage(), await n.newPage(), await c.newPage()];
  try {
    await signIn(doc, server, doctor.user);
    await signIn(nia, server, nurse.user);
    await signIn(cal, server, cover.user);

    // The doctor turns on do-not-disturb for an hour; Eve cannot cover, his colleague can.
    await doc.getByRole("button", { name: "Do not disturb: off" }).click();
    const dialog = doc.getByRole("dialog", { name: "Do not disturb" });
    await dialog.getByLabel("1 hour").check();
    await dialog.getByLabel("Cover (optional)").fill("Eve");
    const eve = dialog.getByRole("button", { name: /Dr Eve Stone/ });
    await eve.getByText(new RegExp(`on do-not-disturb until ${COMING_TIME}: cannot cover`)).waitFor(WAIT);
    assert.ok(await eve.isDisabled(), "someone on do-not-disturb cannot be chosen");
    await dialog.getByLabel("Cover (optional)").fill(cover.name.split(" ")[1]);
    await dialog.getByRole("button", { name: new RegExp(cover.name) }).click();
    await dialog.getByText(`Cover: ${cover.name}`).waitFor(WAIT);
    await dialog.getByRole("button", { name: "Turn on do not disturb" }).click();
    const mine = doc.locator(".my-dnd");
    await mine.getByText(new RegExp(`Do not disturb until ${COMING_TIME} · cover ${cover.name}`)).waitFor(WAIT);
    assert.equal(await mine.locator(".dnd-mark").textContent(), "⊖", "a shape as well as words");
    await shot(doc, "doctor");

    // The nurse opens a chat with him and sees it before she writes.
    await nia.getByRole("button", { name: "New chat" }).click();
    await nia.getByLabel("Find people").fill(doctor.name.split(" ")[1]);
    await nia.getByLabel(new RegExp(doctor.name)).check(WAIT);
    await nia.getByRole("button", { name: "Start chat" }).click();
    await nia.getByLabel("Message", { exact: true }).waitFor(WAIT);
    const notice = nia.locator(".dnd-notice");
    await notice
      .getByText(new RegExp(`on do-not-disturb until ${COMING_TIME} — messages also go to ${cover.name} \\(cover\\)`))
      .waitFor(WAIT);
    await shot(nia, "nurse");
    await send(nia, "Bed 4 obs due, please review");

    // The cover has a labelled copy, in a conversation with the nurse.
    const coverRoom = cal.locator(".rooms li", { hasText: `covering for ${doctor.name}` });
    await coverRoom.waitFor(WAIT);
    await coverRoom.click();
    const copy = cal.locator(".timeline .msg", { hasText: "Bed 4 obs due, please review" });
    await copy.waitFor(WAIT);
    await copy.getByText(`Forwarded (covering for ${doctor.name})`).waitFor(WAIT);
    assert.ok(!(await copy.innerText()).includes("[Forwarded:"), "the label is shown once");
    await shot(cal, "cover");
    await send(cal, "I'll review bed 4");
    // The nurse has that conversation too, with the cover's answer.
    await nia
      .locator(".rooms li", { hasText: `covering for ${doctor.name}` })
      .filter({ hasText: "I'll review bed 4" })
      .waitFor({ state: "attached", ...WAIT });

    // The doctor still has the message, and no notification was made for it.
    await openConversation(doc, nurse.name);
    await doc.locator(".timeline").getByText("Bed 4 obs due, please review").waitFor(WAIT);
    assert.deepEqual(await doc.evaluate(() => window.__notes), [], "no notification while on do-not-disturb");

    // He ends it; the nurse's notice goes.
    const back = doc.getByRole("button", { name: "Back to conversations" });
    if (await back.isVisible()) await back.click();
    await doc.getByRole("button", { name: "End do not disturb" }).click();
    await doc.getByRole("button", { name: "Do not disturb: off" }).waitFor(WAIT);
    await notice.waitFor({ state: "detached", ...WAIT });
  } finally {
    await Promise.all([d.close(), n.close(), c.close()]);
  }
}

test("do not disturb with cover: the doctor on a phone, the nurse and cover at desktops", async () => {
  await scenario({
    doctor: { user: "doc1", name: "Dr Doc Adams" },
    cover: { user: "cal1", name: "Dr Cal Reyes" },
    nurse: { user: "nia1", name: "Nurse Nia Obi" },
    doctorSize: PHONE,
    othersSize: DESKTOP,
    shots: "a",
  });
});

test("do not disturb with cover: the doctor at a desktop, the nurse and cover on phones", async () => {
  await scenario({
    doctor: { user: "doc2", name: "Dr Dan Hale" },
    cover: { user: "cal2", name: "Dr Cat Moss" },
    nurse: { user: "nia2", name: "Nurse Noor Ali" },
    doctorSize: DESKTOP,
    othersSize: PHONE,
    shots: "b",
  });
});
