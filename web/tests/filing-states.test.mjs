// Browser tests of "File to record" (issue 16) beyond the happy path, against the test FHIR
// server (tests/fhir-server) as Wardline's [epr], as in filing.test.mjs; each on a ward PC and
// on a phone:
// - the record refuses Communications (its 422 and OperationOutcome): the banner says "Refused
//   by the record" with the record's reason, and the message is not in the record; once the
//   record takes them again, filing again says "Filed to the record";
// - a filed message edited by its sender: "Changed since filed — file again" shows as the edit
//   arrives (nothing was pending, so nothing else would have asked), without a reload; filing
//   it again puts it back "In the record";
// - a filed message deleted: "Changed since filed" at once; filed again, "Marked
//   entered-in-error", and so is the record's Communication;
// - the patient removed (by a colleague) while "File to record…" is open: the server's 409
//   (ORG.WARDLINE.NO_PATIENT) is said in the dialog, and nothing is shown as filed;
// - a refusal after the record took part of a filing (nine messages, the ninth refused: the
//   first Bundle of eight was taken): the ids the record holds are listed under the refusal,
//   the first message is "In the record", the ninth is not;
// - a transcript asked by someone who joined later a conversation whose history is `joined`
//   (who cannot see all of it): the server's 403 is said in the dialog; without the transcript,
//   what they can see is filed.
// Real `wardline` binary, Debian's Chromium; screenshots in web/test-artifacts/.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";

import { REPO_ROOT } from "../../tests/clients/wardline-server.mjs";
import { WAIT, bubble, call, conversation, openConversation, sendContent, sendText, signIn, stopWard, until } from "./support.mjs";
import { JOHN_SMITH, startWardWithRecord } from "./fhir.mjs";
import { DESKTOP, PHONE } from "./roleward.mjs";

const ARTIFACTS = path.join(REPO_ROOT, "web", "test-artifacts");
const C = "/_wardline/client/v1";
const enc = encodeURIComponent;

let server;
let browser;
let fhir;
const people = {};

before(async () => {
  ({ fhir, server, browser } = await startWardWithRecord(people, [JOHN_SMITH]));
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await stopWard({ server, browser });
  fhir?.stop();
});

const SIZES = [
  ["desktop", DESKTOP],
  ["phone", PHONE],
];

const api = (who, method, p, body) => call(server.baseUrl, method, C + p, body, people[who].token);
const filingsOf = (who, roomId) => api(who, "GET", `/rooms/${enc(roomId)}/filings`);
const banner = (page) => page.getByRole("region", { name: "Patient" });
/** A message in the timeline by its event id (its text may change, or go). */
const message = (page, eventId) => page.locator(`.timeline .msg[data-event="${eventId}"]`);

/** A conversation of Nora's with these others, about John Smith (tied by Priya). */
async function aboutJohn(name, others = [people.priya], options = {}) {
  const roomId = await conversation(server, people.nora.token, others, { name, is_direct: false, ...options });
  await api("priya", "PUT", `/rooms/${enc(roomId)}/patient`, { patient: "pat-1" });
  return roomId;
}

/** Files these messages as Priya through the API, and waits until the record has them. */
async function filedByApi(roomId, eventIds) {
  await api("priya", "POST", `/rooms/${enc(roomId)}/filings`, { event_ids: eventIds, transcript: false });
  return until(async () => {
    const f = await filingsOf("priya", roomId);
    return f.filings[0]?.state === "filed" && eventIds.every((id) => f.events[id]?.state === "filed") && f;
  }, "the record has the messages");
}

/** Opens "File to record…" from the banner. */
async function fileDialog(page) {
  await banner(page).getByRole("button", { name: "File to record…" }).click();
  const dialog = page.getByRole("dialog", { name: "File to record" });
  await dialog.waitFor(WAIT);
  return dialog;
}

/** A new page of `who`, signed in, in the conversation `name`; the POSTs it makes to its filings. */
async function opened(options, who, name, roomId) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const posts = [];
  page.on("request", (r) => {
    if (r.method() === "POST" && new URL(r.url()).pathname === `${C}/rooms/${enc(roomId)}/filings`) posts.push(r.postDataJSON());
  });
  await signIn(page, server, who);
  await openConversation(page, name);
  await banner(page).getByRole("button", { name: /^SMITH, John/ }).waitFor(WAIT);
  return { context, page, posts };
}

/** The answer to the page's next POST of a filing. */
const nextPost = (page, roomId) =>
  page.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === `${C}/rooms/${enc(roomId)}/filings`, WAIT);

/** The record's copy of a resource ("Communication/123"). */
async function inRecord(resource) {
  const r = await fetch(`${fhir.baseUrl}/${resource}`);
  assert.equal(r.status, 200, `${resource} in the record`);
  return r.json();
}

for (const [size, options] of SIZES) {
  test(`the record refuses the filing: the banner says so with its reason; once it takes them, filed (${size})`, async () => {
    const REASON = `Consent to share not recorded for this episode (${size})`;
    const name = `Refused ${size}`;
    const roomId = await aboutJohn(name);
    const TEXT = `Family meeting at 15:00 agreed ceiling of care (${size})`;
    const eventId = await sendText(server, people.nora.token, roomId, TEXT);
    const { context, page, posts } = await opened(options, "priya", name, roomId);
    const shot = (n) => page.screenshot({ path: path.join(ARTIFACTS, `filing-states-${size}-refused-${n}.png`), fullPage: true });
    try {
      await bubble(page, TEXT).waitFor(WAIT);
      await fhir.control("POST", "reject", { resourceType: "Communication", reason: REASON });
      let dialog = await fileDialog(page);
      await dialog.getByRole("button", { name: "File to record" }).click();
      await dialog.waitFor({ state: "detached", ...WAIT });
      assert.deepEqual(posts, [{ all: true, transcript: false }]);

      // Asked again while pending, it ends refused: said with the record's own words.
      const status = banner(page).locator(".filing-status");
      const refused = status.getByText(/Refused by the record: /);
      await refused.waitFor(WAIT);
      const words = await refused.innerText();
      assert.ok(words.includes(REASON), `the record's reason is shown: ${words}`);
      assert.ok(!/the record refused it/i.test(words), `said once, not twice: ${words}`);
      assert.match(await status.innerText(), /1 message/);
      assert.equal(await message(page, eventId).locator(".filed-badge").count(), 0, "not shown as in the record");
      const served = await filingsOf("priya", roomId);
      assert.equal(served.filings[0].state, "refused");
      assert.ok(served.filings[0].last_error.includes(REASON), served.filings[0].last_error);
      assert.deepEqual(served.events, {}, "the server holds nothing of it as filed either");
      await shot("1-refused");

      // The record takes Communications again: filed again, it is filed.
      await fhir.control("POST", "reject-clear");
      dialog = await fileDialog(page);
      await dialog.getByRole("button", { name: "File to record" }).click();
      await dialog.waitFor({ state: "detached", ...WAIT });
      assert.equal(posts.length, 2);
      await status.getByText("Filed to the record").waitFor(WAIT);
      await message(page, eventId).locator(".filed-badge", { hasText: "In the record" }).waitFor(WAIT);
      assert.equal(await refused.count(), 0, "the refusal is no longer the latest");
      const after = await filingsOf("priya", roomId);
      assert.deepEqual(
        after.filings.map((f) => f.state),
        ["filed", "refused"],
      );
      assert.equal((await inRecord(after.events[eventId].resource)).resourceType, "Communication");
      await shot("2-filed");
    } finally {
      await fhir.control("POST", "reject-clear");
      await context.close();
    }
  });

  test(`refused after the record took part of it: what the record holds is listed (${size})`, async () => {
    const name = `Part refused ${size}`;
    const roomId = await aboutJohn(name);
    // Nine messages: Wardline sends them as two Bundles (8 + 1); the record refuses the ninth.
    const ids = [];
    for (let i = 1; i <= 9; i++) ids.push(await sendText(server, people.nora.token, roomId, `Obs round ${i} stable (${size})`));
    const REASON = "Communication.payload: too long";
    await fhir.control("POST", "reject", { resourceType: "Communication", reason: REASON, identifier: ids[8] });
    try {
      await api("priya", "POST", `/rooms/${enc(roomId)}/filings`, { all: true, transcript: false });
      const f = await until(async () => {
        const f = await filingsOf("priya", roomId);
        return f.filings[0]?.state === "refused" && f;
      }, "the record refuses the rest");
      assert.equal(f.filings[0].refused_by, "record");
      assert.equal(f.filings[0].resources.length, 8, JSON.stringify(f.filings[0]));

      const { context, page } = await opened(options, "priya", name, roomId);
      try {
        const status = banner(page).locator(".filing-status");
        const refused = status.getByText(new RegExp(`Refused by the record: ${REASON.replace(/[.]/g, "\\.")}`));
        await refused.waitFor(WAIT);
        assert.match(await status.innerText(), /9 messages/);
        await message(page, ids[0]).locator(".filed-badge", { hasText: "In the record" }).waitFor(WAIT);
        assert.equal(await message(page, ids[8]).locator(".filed-badge").count(), 0, "the refused one is not shown as filed");
        await refused.click();
        await status.getByText("The record took these before it refused the rest:").waitFor(WAIT);
        const held = status.getByRole("list", { name: "In the record as" }).getByRole("listitem");
        assert.deepEqual(await held.allInnerTexts(), f.filings[0].resources);
        await page.screenshot({ path: path.join(ARTIFACTS, `filing-states-${size}-part-refused.png`), fullPage: true });
      } finally {
        await context.close();
      }
    } finally {
      await fhir.control("POST", "reject-clear");
    }
  });

  test(`a filed message edited by its sender: "Changed since filed" at once, without a reload; filed again, in the record (${size})`, async () => {
    const name = `Edited ${size}`;
    const roomId = await aboutJohn(name);
    const TEXT = `Plan: IV fluids 1 L over 8 h (${size})`;
    const EDITED = `Plan: IV fluids 1 L over 4 h (${size})`;
    const eventId = await sendText(server, people.nora.token, roomId, TEXT);
    const filed = await filedByApi(roomId, [eventId]);
    const { context, page, posts } = await opened(options, "priya", name, roomId);
    const shot = (n) => page.screenshot({ path: path.join(ARTIFACTS, `filing-states-${size}-edited-${n}.png`), fullPage: true });
    try {
      const badge = message(page, eventId).locator(".filed-badge");
      await badge.filter({ hasText: "In the record" }).waitFor(WAIT);
      // Nothing is pending: nothing asks the filings again on its own from here.
      await banner(page).locator(".filing-status").getByText("Filed to the record").waitFor(WAIT);
      await page.evaluate(() => (window.__sameDocument = true));

      // Nora corrects her message: Priya's screen says the record's copy is out of date.
      await sendContent(server, people.nora.token, roomId, {
        msgtype: "m.text",
        body: `* ${EDITED}`,
        "m.new_content": { msgtype: "m.text", body: EDITED },
        "m.relates_to": { rel_type: "m.replace", event_id: eventId },
      });
      await bubble(page, EDITED).waitFor(WAIT);
      await badge.filter({ hasText: "Changed since filed — file again" }).waitFor(WAIT);
      assert.equal(await page.evaluate(() => window.__sameDocument === true), true, "no reload");
      assert.equal((await filingsOf("priya", roomId)).events[eventId].state, "changed", "as the server says");
      await shot("1-changed");

      // Filed again: in the record again, as it is now.
      await badge.getByRole("button", { name: "file again" }).click();
      await badge.filter({ hasText: "In the record" }).waitFor(WAIT);
      assert.deepEqual(posts, [{ event_ids: [eventId], transcript: false }], "that message alone");
      const now = await filingsOf("priya", roomId);
      assert.equal(now.events[eventId].state, "filed");
      assert.equal(now.filings.length, 2);
      assert.equal(now.events[eventId].resource, filed.events[eventId].resource, "the record's copy is updated, not another added");
      const copy = await inRecord(now.events[eventId].resource);
      assert.ok(JSON.stringify(copy).includes("over 4 h"), "the record has the message as it is now");
      await shot("2-filed-again");
    } finally {
      await context.close();
    }
  });

  test(`a filed message deleted: "Changed since filed" at once; filed again, marked entered-in-error (${size})`, async () => {
    const name = `Deleted ${size}`;
    const roomId = await aboutJohn(name);
    const TEXT = `Wrong patient: ignore the potassium result (${size})`;
    const KEPT = `Potassium 4.1, no action (${size})`;
    const eventId = await sendText(server, people.nora.token, roomId, TEXT);
    const keptId = await sendText(server, people.nora.token, roomId, KEPT);
    const filed = await filedByApi(roomId, [eventId, keptId]);
    const { context, page, posts } = await opened(options, "priya", name, roomId);
    const shot = (n) => page.screenshot({ path: path.join(ARTIFACTS, `filing-states-${size}-deleted-${n}.png`), fullPage: true });
    try {
      const badge = message(page, eventId).locator(".filed-badge");
      await badge.filter({ hasText: "In the record" }).waitFor(WAIT);
      await banner(page).locator(".filing-status").getByText("Filed to the record").waitFor(WAIT);
      await page.evaluate(() => (window.__sameDocument = true));

      // Nora deletes her message.
      await call(server.baseUrl, "PUT", `/_matrix/client/v3/rooms/${enc(roomId)}/redact/${enc(eventId)}/del-${size}-${Date.now()}`, {}, people.nora.token);
      await message(page, eventId).getByText("Message deleted").waitFor(WAIT);
      await badge.filter({ hasText: "Changed since filed — file again" }).waitFor(WAIT);
      assert.equal(await page.evaluate(() => window.__sameDocument === true), true, "no reload");
      assert.match(await message(page, keptId).locator(".filed-badge").innerText(), /^\s*In the record\s*$/, "the other message is unchanged");
      await shot("1-changed");

      // Filed again: the record marks its copy entered-in-error.
      await badge.getByRole("button", { name: "file again" }).click();
      await badge.filter({ hasText: "Marked entered-in-error" }).waitFor(WAIT);
      assert.deepEqual(posts, [{ event_ids: [eventId], transcript: false }]);
      const now = await filingsOf("priya", roomId);
      assert.equal(now.events[eventId].state, "entered_in_error");
      assert.equal(now.events[keptId].state, "filed");
      assert.equal(now.events[eventId].resource, filed.events[eventId].resource, "the same copy, marked");
      const copy = await inRecord(now.events[eventId].resource);
      assert.equal(copy.status, "entered-in-error");
      assert.ok(!JSON.stringify(copy).includes("potassium result"), "the deleted words are not left in the record");
      await shot("2-entered-in-error");
    } finally {
      await context.close();
    }
  });

  test(`the patient removed while "File to record…" is open: the dialog says the conversation is not about a patient; nothing filed (${size})`, async () => {
    const name = `Untied ${size}`;
    const roomId = await aboutJohn(name);
    const TEXT = `Discharge summary drafted (${size})`;
    const eventId = await sendText(server, people.nora.token, roomId, TEXT);
    const { context, page, posts } = await opened(options, "priya", name, roomId);
    try {
      await bubble(page, TEXT).waitFor(WAIT);
      const dialog = await fileDialog(page);

      // Nora removes the patient meanwhile: Priya's banner goes at the server's notice.
      await api("nora", "DELETE", `/rooms/${enc(roomId)}/patient`);
      await banner(page).waitFor({ state: "detached", ...WAIT });
      assert.equal(await dialog.isVisible(), true, "the dialog is still open");

      const answer = nextPost(page, roomId);
      await dialog.getByRole("button", { name: "File to record" }).click();
      const r = await answer;
      assert.equal(r.status(), 409);
      assert.equal((await r.json()).errcode, "ORG.WARDLINE.NO_PATIENT");
      await dialog.getByRole("alert").filter({ hasText: "Not filed: this conversation is not about a patient." }).waitFor(WAIT);
      assert.equal(await dialog.getByRole("button", { name: "File to record" }).isDisabled(), false, "not stuck on Filing…");
      assert.deepEqual(posts, [{ all: true, transcript: false }]);
      await page.screenshot({ path: path.join(ARTIFACTS, `filing-states-${size}-no-patient.png`), fullPage: true });

      // Nothing is shown as filed, and nothing was.
      assert.equal(await page.locator(".filing-status").count(), 0);
      assert.equal(await message(page, eventId).locator(".filed-badge").count(), 0);
      assert.deepEqual(await filingsOf("priya", roomId), { filings: [], events: {} });
      await dialog.getByRole("button", { name: "Cancel" }).click();
      await dialog.waitFor({ state: "detached", ...WAIT });
    } finally {
      await context.close();
    }
  });

  test(`a transcript asked by someone who cannot see the whole conversation: refused, said in the dialog; what they see files (${size})`, async () => {
    const name = `Joined later ${size}`;
    // History `joined`: who joins later sees only what was said after.
    const roomId = await aboutJohn(name, [people.priya], {
      initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "joined" } }],
    });
    const BEFORE = `Said before Omar joined (${size})`;
    const AFTER = `Omar, please review bed 12 (${size})`;
    const beforeId = await sendText(server, people.nora.token, roomId, BEFORE);
    await call(server.baseUrl, "POST", `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { user_id: people.omar.userId }, people.nora.token);
    await call(server.baseUrl, "POST", `/_matrix/client/v3/join/${enc(roomId)}`, {}, people.omar.token);
    const afterId = await sendText(server, people.nora.token, roomId, AFTER);
    const { context, page, posts } = await opened(options, "omar", name, roomId);
    const shot = (n) => page.screenshot({ path: path.join(ARTIFACTS, `filing-states-${size}-transcript-${n}.png`), fullPage: true });
    try {
      await bubble(page, AFTER).waitFor(WAIT);
      assert.equal(await bubble(page, BEFORE).count(), 0, "Omar cannot see what was said before he joined");

      // A transcript too: the server refuses it (403), and the dialog says why.
      const dialog = await fileDialog(page);
      // (A checkbox the size of a checkbox, beside its words: not stretched across the dialog.)
      const box = await dialog.getByRole("checkbox", { name: "Also file a transcript" }).boundingBox();
      assert.ok(box.width < 40 && box.height < 40, `the transcript checkbox is ${box.width}×${box.height}`);
      await dialog.getByRole("checkbox", { name: "Also file a transcript" }).check();
      const answer = nextPost(page, roomId);
      await dialog.getByRole("button", { name: "File to record" }).click();
      const r = await answer;
      assert.equal(r.status(), 403);
      assert.equal((await r.json()).errcode, "M_FORBIDDEN");
      const alert = dialog.getByRole("alert").filter({ hasText: /^Not filed: .*cannot see the whole conversation/ });
      await alert.waitFor(WAIT);
      assert.deepEqual(posts, [{ all: true, transcript: true }]);
      assert.equal(await page.locator(".filing-status").count(), 0, "nothing shown as filed");
      assert.deepEqual((await filingsOf("omar", roomId)).filings, [], "nothing filed");
      await shot("1-refused");

      // Without the transcript: what he can see is filed, and only that.
      await dialog.getByRole("checkbox", { name: "Also file a transcript" }).uncheck();
      await dialog.getByRole("button", { name: "File to record" }).click();
      await dialog.waitFor({ state: "detached", ...WAIT });
      assert.deepEqual(posts[1], { all: true, transcript: false });
      await banner(page).locator(".filing-status").getByText("Filed to the record").waitFor(WAIT);
      await bubble(page, AFTER).locator(".filed-badge", { hasText: "In the record" }).waitFor(WAIT);
      assert.match(await banner(page).locator(".filing-status").innerText(), /1 message\b/);
      const served = await filingsOf("priya", roomId);
      assert.deepEqual(Object.keys(served.events), [afterId], "not the message he could not see");
      assert.ok(!(beforeId in served.events));
      await shot("2-filed");
    } finally {
      await context.close();
    }
  });
}
