// Browser test of "File to record" (issue 16: "the doctor files the decision; the filed status
// appears"), against a real FHIR R4 server (tests/fhir-server: Medplum's FHIR router in memory)
// as Wardline's [epr], as in patients.test.mjs. On a ward PC and on a phone, the registrar opens
// a conversation about SMITH, John, chooses the one message with the decision and files it: the
// banner says "Filed to the record" (the resource ids behind it) and that message alone says
// "In the record". Then the record goes down and he files the whole conversation: the banner
// says "Waiting for the record (retrying)" with the record's failure; the record comes back and,
// asked every 5 s while it is pending, it becomes filed, every message in the record, and the
// asking stops. Nothing about the patient is kept in the browser's storage.
// Real `wardline` binary, Debian's Chromium; screenshots in web/test-artifacts/.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";

import { REPO_ROOT } from "../../tests/clients/wardline-server.mjs";
import { WAIT, bubble, call, conversation, openConversation, sendText, signIn, stopWard } from "./support.mjs";
import { JOHN_SMITH, startWardWithRecord } from "./fhir.mjs";
import { DESKTOP, PHONE } from "./roleward.mjs";

const ARTIFACTS = path.join(REPO_ROOT, "web", "test-artifacts");
const C = "/_wardline/client/v1";

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

const api = (who, method, p, body) => call(server.baseUrl, method, C + p, body, people[who].token);
const banner = (page) => page.getByRole("region", { name: "Patient" });

/** Nothing about the patient in this page's storage (memory only). */
async function nothingStored(page) {
  const kept = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  for (const s of ["SMITH", "Smith", "9434765919", "pat-1", "Communication/", "In the record"]) assert.ok(!kept.includes(s), `"${s}" kept in storage: ${kept}`);
}

/** Opens "File to record…" from the banner. */
async function fileDialog(page) {
  await banner(page).getByRole("button", { name: "File to record…" }).click();
  const dialog = page.getByRole("dialog", { name: "File to record" });
  await dialog.waitFor(WAIT);
  return dialog;
}

for (const [size, options] of [
  ["desktop", DESKTOP],
  ["phone", PHONE],
]) {
  test(`the doctor files the decision; the filed status appears; with the record down it waits, and files when it is back (${size})`, async () => {
    await fhir.control("POST", "up");
    const name = `Ward 7 ${size}`;
    const roomId = await conversation(server, people.nora.token, [people.priya], { name, is_direct: false });
    await api("priya", "PUT", `/rooms/${encodeURIComponent(roomId)}/patient`, { patient: "pat-1" });
    const DECISION = `Decision (${size}): start IV co-amoxiclav, review at 18:00`;
    const CHATTER = `Bed 12 is asking for a cup of tea (${size})`;
    const decisionId = await sendText(server, people.nora.token, roomId, DECISION);
    const chatterId = await sendText(server, people.nora.token, roomId, CHATTER);

    const context = await browser.newContext(options);
    const page = await context.newPage();
    const shot = (n) => page.screenshot({ path: path.join(ARTIFACTS, `filing-${size}-${n}.png`), fullPage: true });
    /** What the page asks of the server's filings. */
    const posts = [];
    const reads = [];
    page.on("request", (r) => {
      if (new URL(r.url()).pathname !== `${C}/rooms/${encodeURIComponent(roomId)}/filings`) return;
      if (r.method() === "POST") posts.push(r.postDataJSON());
      else reads.push(Date.now());
    });
    try {
      await signIn(page, server, "priya");
      await openConversation(page, name);
      await banner(page).getByRole("button", { name: /^SMITH, John/ }).waitFor(WAIT);
      await bubble(page, DECISION).waitFor(WAIT);
      assert.equal(await page.locator(".filed-badge").count(), 0, "nothing filed yet: no badge");
      assert.equal(await banner(page).locator(".filing-status").count(), 0, "nothing filed yet: no status");

      // Choose the decision alone, and file it.
      let dialog = await fileDialog(page);
      await dialog.getByRole("radio", { name: "Choose messages" }).check();
      await dialog.getByRole("button", { name: "Choose messages" }).click();
      await dialog.waitFor({ state: "detached", ...WAIT });
      const bar = page.getByRole("group", { name: "Choose messages to file" });
      await bar.getByText("0 selected").waitFor(WAIT);
      assert.equal(await bar.getByRole("button", { name: "File to record" }).isDisabled(), true, "nothing chosen: nothing to file");
      await bubble(page, DECISION).getByRole("checkbox", { name: "Choose this message" }).check();
      await bar.getByText("1 selected").waitFor(WAIT);
      await shot("1-chosen");
      await bar.getByRole("button", { name: "File to record" }).click();
      await bar.waitFor({ state: "detached", ...WAIT });
      assert.deepEqual(posts, [{ event_ids: [decisionId], transcript: false }], "the chosen message, and only it");
      assert.equal(await page.getByRole("checkbox", { name: "Choose this message" }).count(), 0, "no checkboxes once filed");

      const status = banner(page).locator(".filing-status");
      await status.getByText("Filed to the record").waitFor(WAIT);
      await bubble(page, DECISION).locator(".filed-badge", { hasText: "In the record" }).waitFor(WAIT);
      assert.equal(await bubble(page, CHATTER).locator(".filed-badge").count(), 0, "the other message is not in the record");
      const served = await api("priya", "GET", `/rooms/${encodeURIComponent(roomId)}/filings`);
      assert.equal(served.filings.length, 1);
      assert.equal(served.filings[0].state, "filed");
      assert.deepEqual(Object.keys(served.events), [decisionId]);
      // The resource ids: on the status's title, and listed when it is tapped.
      const resource = served.events[decisionId].resource;
      assert.match(resource, /^Communication\//);
      assert.match(await status.locator("summary").getAttribute("title"), new RegExp(resource));
      await status.locator("summary").click();
      await status.getByRole("list", { name: "In the record as" }).getByText(resource).waitFor(WAIT);
      await shot("2-filed");

      // The record goes down; the whole conversation is filed: it waits, and says why.
      await fhir.control("POST", "down");
      dialog = await fileDialog(page);
      assert.equal(await dialog.getByRole("radio", { name: "Whole conversation" }).isChecked(), true, "the whole conversation first");
      await dialog.getByRole("button", { name: "File to record" }).click();
      await dialog.waitFor({ state: "detached", ...WAIT });
      assert.deepEqual(posts[1], { all: true, transcript: false });
      await status.getByText(/Waiting for the record \(retrying\): \S/).waitFor(WAIT);
      assert.equal(await bubble(page, CHATTER).locator(".filed-badge").count(), 0, "not in the record while it is down");
      await shot("3-waiting");

      // The record comes back: asked again every 5 s while pending, it becomes filed.
      await fhir.control("POST", "up");
      await status.getByText("Filed to the record").waitFor(WAIT);
      await bubble(page, CHATTER).locator(".filed-badge", { hasText: "In the record" }).waitFor(WAIT);
      await bubble(page, DECISION).locator(".filed-badge", { hasText: "In the record" }).waitFor(WAIT);
      assert.match(await status.innerText(), /2 messages/);
      await shot("4-filed-after-down");

      // Nothing pending: the asking stops.
      const asked = reads.length;
      await page.waitForTimeout(7000);
      assert.equal(reads.length, asked, "no more asking once nothing is pending");
      await nothingStored(page);
    } finally {
      await context.close();
    }
  });
}
