// Browser test of patients from the electronic patient record (issue 16), against a real FHIR R4
// server (tests/fhir-server: Medplum's FHIR router in memory) as Wardline's [epr]. A nurse on a
// phone opens "Patient…" in the Ward 7 conversation: a wrong NHS number check digit is refused
// in the dialog before anything is asked of the server; the right number finds SMITH, John
// (born, NHS number 3 3 4, hospital number, ward and bed), and she ties the conversation to him.
// The registrar on a ward PC sees the banner and the server's notice (a look-alike notice from a
// person is only a message, and changes nothing), opens the record in a new tab, and lists the
// conversations about the patient (one he is not in is not listed), opening another from it.
// He removes the patient (after a confirmation): the banner goes on both screens, the nurse's
// at the server's notice. By name and date of birth, and by hospital number; then the record
// goes down and the search says so. Nothing about the patient is kept in the browser's storage.
// Real `wardline` binary, Debian's Chromium; screenshots in web/test-artifacts/.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";

import { REPO_ROOT } from "../../tests/clients/wardline-server.mjs";
import { WAIT, call, conversation, openConversation, sendContent, signIn, stopWard, until } from "./support.mjs";
import { startFhir } from "./fhir.mjs";
import { DESKTOP, PHONE, startRoleWard } from "./roleward.mjs";

const ARTIFACTS = path.join(REPO_ROOT, "web", "test-artifacts");
const NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number";
const MRN_SYSTEM = "https://trust.example/Id/mrn";
const C = "/_wardline/client/v1";

let server;
let browser;
let fhir;
const people = {};
const rooms = {};

function patient(id, nhs, mrn, family, given, born) {
  return {
    resourceType: "Patient",
    id,
    identifier: [
      { system: NHS_SYSTEM, value: nhs },
      { system: MRN_SYSTEM, value: mrn },
    ],
    name: [{ use: "official", family, given: [given] }],
    birthDate: born,
    gender: "male",
  };
}

const location = (id, name, kind) => ({
  resourceType: "Location",
  id,
  name,
  status: "active",
  physicalType: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/location-physical-type", code: kind }] },
});

/** John Smith in Ward 7, bay 2 bed 12 (his EPR encounter); Mary Jones with no encounter. */
const SEED = [
  patient("pat-1", "9434765919", "H1", "Smith", "John", "1970-01-31"),
  patient("pat-2", "4010232137", "H2", "Jones", "Mary", "1980-05-05"),
  // A record that says its patient died, and that it was merged into John Smith's.
  {
    resourceType: "Patient",
    id: "pat-9",
    active: false,
    deceasedBoolean: true,
    link: [{ type: "replaced-by", other: { reference: "Patient/pat-1" } }],
    name: [{ use: "official", family: "Gone", given: ["Gerald"] }],
    birthDate: "1940-02-02",
  },
  location("w7", "Ward 7", "wa"),
  location("b12", "Bay 2 bed 12", "bd"),
  {
    resourceType: "Encounter",
    id: "enc-1",
    status: "in-progress",
    class: { system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", code: "IMP" },
    subject: { reference: "Patient/pat-1" },
    period: { start: "2026-11-30T10:00:00Z" },
    location: [
      { location: { reference: "Location/w7" }, status: "active" },
      { location: { reference: "Location/b12" }, status: "active" },
    ],
  },
];

before(async () => {
  fhir = await startFhir();
  await fhir.control("POST", "seed", SEED);
  ({ server, browser } = await startRoleWard(people, {
    env: {
      WARDLINE_EPR__BASE_URL: fhir.baseUrl,
      WARDLINE_EPR__MRN_SYSTEM: MRN_SYSTEM,
      WARDLINE_EPR__LAUNCH_URL: `${fhir.origin}/launch?patient={patient}`,
      WARDLINE_EPR__TIMEOUT_SECS: "5",
    },
  }));
  mkdirSync(ARTIFACTS, { recursive: true });
  // The ward's conversation (Nora the nurse, Dr Priya Shah the registrar); another about the
  // same patient both are in, and one only Nora is in.
  rooms.ward = await conversation(server, people.nora.token, [people.priya], { name: "Ward 7", is_direct: false });
  rooms.bay = await conversation(server, people.nora.token, [people.priya], { name: "Bay 2 handover", is_direct: false });
  rooms.nurses = await conversation(server, people.nora.token, [people.omar], { name: "Nurses only", is_direct: false });
});

after(async () => {
  await stopWard({ server, browser });
  fhir?.stop();
});

const api = (who, method, p, body) => call(server.baseUrl, method, C + p, body, people[who].token);
const roomPath = (id) => `/rooms/${encodeURIComponent(id)}/patient`;

/** Whole years since 31 Jan 1970, today. */
function johnsAge() {
  const now = new Date();
  let age = now.getFullYear() - 1970;
  if (now.getMonth() === 0 && now.getDate() < 31) age--;
  return age;
}

/** The patient banner of the open conversation. */
const banner = (page) => page.getByRole("region", { name: "Patient" });
/** The server's notice lines about the conversation's patient. */
const noticeLine = (page, text) => page.locator(".timeline .msg.system .patient-line", { hasText: text });

/**
 * Opens "Find a patient": the header's "Patient…" on a ward PC; on a phone (whose header has
 * no room for it, and does not show it) from the conversation's Details.
 */
async function findPatient(page, phone) {
  const header = page.locator(".conversation header").getByRole("button", { name: "Patient…" });
  if (phone) {
    assert.equal(await header.isVisible(), false, "not in a phone's header");
    await page.getByRole("button", { name: "Details" }).click();
    const details = page.getByRole("dialog", { name: "Conversation details" });
    await details.getByText("Not about a patient.").waitFor(WAIT);
    await details.getByRole("button", { name: "Patient…" }).click();
  } else {
    await header.click();
  }
  const dialog = page.getByRole("dialog", { name: "Find a patient" });
  await dialog.waitFor(WAIT);
  return dialog;
}

/** Nothing about the patient in this page's storage (memory only). */
async function nothingStored(page) {
  const kept = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  for (const s of ["SMITH", "Smith", "9434765919", "943 476 5919", "pat-1"]) assert.ok(!kept.includes(s), `"${s}" kept in storage: ${kept}`);
}

test("a nurse ties the ward conversation to a patient found by NHS number; the registrar sees the banner, opens the record and the conversations about him, and removes it", async () => {
  // Another conversation both are in is about John Smith already; so is one the registrar is not in.
  await api("priya", "PUT", roomPath(rooms.bay), { patient: "pat-1" });
  await api("nora", "PUT", roomPath(rooms.nurses), { patient: "pat-1" });

  const nurseContext = await browser.newContext(PHONE);
  const doctorContext = await browser.newContext(DESKTOP);
  const nurse = await nurseContext.newPage();
  const doctor = await doctorContext.newPage();
  const nurseShot = (name) => nurse.screenshot({ path: path.join(ARTIFACTS, `patients-phone-${name}.png`), fullPage: true });
  const doctorShot = (name) => doctor.screenshot({ path: path.join(ARTIFACTS, `patients-desktop-${name}.png`), fullPage: true });
  // What the nurse's page asks of the server's patient search.
  const searches = [];
  nurse.on("request", (r) => {
    if (new URL(r.url()).pathname === `${C}/patients`) searches.push(new URL(r.url()));
  });
  try {
    await signIn(nurse, server, "nora");
    await openConversation(nurse, "Ward 7");
    assert.equal(await banner(nurse).count(), 0, "not about a patient yet: no banner");
    const dialog = await findPatient(nurse, true);
    assert.equal(await dialog.getByRole("tab", { name: "NHS number" }).getAttribute("aria-selected"), "true", "the NHS number first");
    assert.equal(await dialog.getByRole("tab").count(), 3, "three ways: NHS number, hospital number, name and date of birth");

    // A wrong check digit: refused in the dialog, before the server is asked.
    await fhir.control("DELETE", "requests");
    await dialog.getByRole("textbox", { name: "NHS number", exact: true }).fill("943 476 5918");
    await dialog.getByRole("button", { name: "Search" }).click();
    await dialog.getByText("This NHS number's check digit is wrong: please check the number.").waitFor(WAIT);
    assert.deepEqual(searches, [], "the server was not asked");
    assert.deepEqual(await fhir.control("GET", "requests"), [], "nor the patient record");
    await nurseShot("1-check-digit");

    // The right number: John Smith, with everything that tells him apart.
    await dialog.getByRole("textbox", { name: "NHS number", exact: true }).fill("943 476 5919");
    await dialog.getByRole("button", { name: "Search" }).click();
    const found = dialog.getByRole("list", { name: "Patients found" }).getByRole("listitem");
    await found.first().waitFor(WAIT);
    assert.equal(await found.count(), 1);
    const text = await found.innerText();
    assert.match(text, /SMITH, John/);
    assert.match(text, new RegExp(`Born 31 Jan 1970 \\(${johnsAge()} y\\)`));
    assert.match(text, /NHS 943 476 5919/);
    assert.match(text, /Hospital no\. H1/);
    assert.match(text, /Ward 7, Bay 2 bed 12 \(patient record\)/);
    assert.equal(searches.length, 1);
    assert.equal(searches[0].searchParams.get("nhs_number"), "9434765919");
    assert.equal(searches[0].searchParams.get("room_id"), rooms.ward, "the search says which conversation it is for");
    await nurseShot("2-found");

    await found.getByRole("button", { name: "Tie to this conversation" }).click();
    await dialog.waitFor({ state: "detached", ...WAIT });
    await banner(nurse).getByRole("button", { name: /^SMITH, John/ }).waitFor(WAIT);
    assert.match(await banner(nurse).innerText(), /NHS 943 476 5919/);
    await nurse.getByRole("button", { name: "Details" }).click();
    await nurse.getByRole("dialog", { name: "Conversation details" }).getByText("About SMITH, John.").waitFor(WAIT);
    await nurse.getByRole("dialog", { name: "Conversation details" }).getByRole("button", { name: "Close" }).click();
    await noticeLine(nurse, "Nora Quinn tied this conversation to a patient").waitFor(WAIT);
    const tie = await api("priya", "GET", roomPath(rooms.ward));
    assert.equal(tie.patient.id, "pat-1", "the server has the tie");
    assert.equal(tie.tied_by, people.nora.userId);
    await nothingStored(nurse);
    await nurseShot("3-banner");

    // The registrar, on a ward PC: the banner and the server's notice.
    await signIn(doctor, server, "priya");
    await openConversation(doctor, "Ward 7");
    const b = banner(doctor);
    await b.getByRole("button", { name: /^SMITH, John/ }).waitFor(WAIT);
    const shown = await b.innerText();
    assert.match(shown, new RegExp(`Born 31 Jan 1970 \\(${johnsAge()} y\\)`));
    assert.match(shown, /NHS 943 476 5919/);
    assert.match(shown, /Ward 7, Bay 2 bed 12/);
    await noticeLine(doctor, "Nora Quinn tied this conversation to a patient").waitFor(WAIT);

    // The same block in a person's message is only their message: no system line, no change.
    // (The server takes the block off a person's message, so this proves the whole path, not the
    // client's own sender check, which is there in case a server did not.)
    await sendContent(server, people.nora.token, rooms.ward, {
      msgtype: "m.notice",
      body: "Nora Quinn removed the patient from this conversation: it is no longer about a patient.",
      "org.wardline.patient_context": { action: "removed", version: 9 },
    });
    const forged = doctor.locator(".timeline .msg", { hasText: "Nora Quinn removed the patient" });
    await forged.waitFor(WAIT);
    assert.equal(await forged.locator(".patient-line").count(), 0, "drawn as her message, not the server's line");
    assert.ok(!(await forged.getAttribute("class")).includes("system"));
    assert.equal(await b.getByRole("button", { name: /^SMITH, John/ }).count(), 1, "the banner stays");

    // Open in the EPR: the record's link, in a new tab, without a way back to Wardline's page.
    const link = b.getByRole("link", { name: /Open in the EPR/ });
    assert.match(await link.getAttribute("rel"), /\bnoopener\b/);
    assert.equal(await link.getAttribute("target"), "_blank");
    const [record] = await Promise.all([doctorContext.waitForEvent("page", WAIT), link.click()]);
    await record.waitForLoadState("domcontentloaded").catch(() => undefined);
    assert.equal(record.url(), `${fhir.origin}/launch?patient=pat-1`);
    assert.equal(await record.evaluate(() => window.opener), null);
    await record.close();
    await doctorShot("1-banner");

    // The conversations about him that he is in: Ward 7 (this one) and Bay 2 handover.
    await b.getByRole("button", { name: /^SMITH, John/ }).click();
    const list = doctor.getByRole("dialog", { name: "Conversations about this patient" });
    await list.getByRole("heading", { name: "Conversations about SMITH, John" }).waitFor(WAIT);
    const items = list.getByRole("list", { name: "Conversations" }).getByRole("button");
    await until(async () => (await items.count()) === 2, "the two conversations listed");
    const names = await items.allInnerTexts();
    assert.ok(names.some((n) => /Ward 7/.test(n) && /This conversation/.test(n)), names.join(" | "));
    assert.ok(names.some((n) => /Bay 2 handover/.test(n) && /by Dr Priya Shah/.test(n)), names.join(" | "));
    assert.ok(!names.some((n) => /Nurses only/.test(n)), "not one he is not in");
    await doctorShot("2-conversations-about");
    await items.filter({ hasText: "Bay 2 handover" }).click();
    await list.waitFor({ state: "detached", ...WAIT });
    await doctor.locator(".conversation header h2", { hasText: "Bay 2 handover" }).waitFor(WAIT);
    await banner(doctor).getByRole("button", { name: /^SMITH, John/ }).waitFor(WAIT);

    // Back in Ward 7, he removes the patient (after a confirmation): gone for both.
    await doctor.locator(".rooms li", { hasText: "Ward 7" }).click();
    await doctor.locator(".conversation header h2", { hasText: "Ward 7" }).waitFor(WAIT);
    await banner(doctor).getByRole("button", { name: "Remove" }).click();
    const confirm = banner(doctor).getByRole("group", { name: "Remove the patient" });
    await confirm.getByText("Remove SMITH, John from this conversation?").waitFor(WAIT);
    await doctorShot("3-remove");
    await confirm.getByRole("button", { name: "Remove" }).click();
    await banner(doctor).waitFor({ state: "detached", ...WAIT });
    await doctor.locator(".conversation header").getByRole("button", { name: "Patient…" }).waitFor(WAIT);
    const untied = await fetch(`${server.baseUrl}${C}${roomPath(rooms.ward)}`, { headers: { authorization: `Bearer ${people.nora.token}` } });
    assert.equal(untied.status, 404, "the server has no tie any more");
    // The nurse's screen follows at the server's notice, without a reload.
    await noticeLine(nurse, "Dr Priya Shah removed the patient from this conversation").waitFor(WAIT);
    await banner(nurse).waitFor({ state: "detached", ...WAIT });
    await nurseShot("4-removed");
    await nothingStored(doctor);
  } finally {
    await nurseContext.close();
    await doctorContext.close();
  }
});

test("by name and date of birth, by hospital number, and a record that is not answering (ward PC and phone)", async () => {
  for (const [size, options, phone] of [
    ["desktop", DESKTOP, false],
    ["phone", PHONE, true],
  ]) {
    await fhir.control("POST", "up");
    const context = await browser.newContext(options);
    const page = await context.newPage();
    const shot = (name) => page.screenshot({ path: path.join(ARTIFACTS, `patients-${size}-search-${name}.png`), fullPage: true });
    try {
      await signIn(page, server, "nora");
      await openConversation(page, "Ward 7");
      const dialog = await findPatient(page, phone);

      // Family name and date of birth (a date input).
      await dialog.getByRole("tab", { name: "Name and date of birth" }).click();
      await dialog.getByRole("textbox", { name: "Family name", exact: true }).fill("jones");
      await dialog.getByRole("button", { name: "Search" }).click();
      await dialog.getByText("Give the date of birth.").waitFor(WAIT);
      assert.equal(await dialog.getByRole("textbox", { name: "Date of birth", exact: true }).getAttribute("type"), "date");
      await dialog.getByRole("textbox", { name: "Date of birth", exact: true }).fill("1980-05-05");
      await dialog.getByRole("button", { name: "Search" }).click();
      const found = dialog.getByRole("list", { name: "Patients found" }).getByRole("listitem");
      await found.first().waitFor(WAIT);
      assert.equal(await found.count(), 1);
      assert.match(await found.innerText(), /JONES, Mary/);
      assert.match(await found.innerText(), /NHS 401 023 2137/);
      await shot("1-by-name");

      // A record that says the patient died and was merged into another: said in words, and
      // not offered for tying.
      await dialog.getByRole("textbox", { name: "Family name", exact: true }).fill("gone");
      await dialog.getByRole("textbox", { name: "Date of birth", exact: true }).fill("1940-02-02");
      await dialog.getByRole("button", { name: "Search" }).click();
      await found.filter({ hasText: "GONE, Gerald" }).waitFor(WAIT);
      const gone = await found.innerText();
      assert.match(gone, /Deceased/);
      assert.match(gone, /Merged into another record: search again/);
      assert.match(gone, /Merged: not the record to use/);
      assert.equal(await found.getByRole("button").count(), 0, "no Tie for a merged record");

      // By hospital number.
      await dialog.getByRole("tab", { name: "Hospital number" }).click();
      await dialog.getByRole("textbox", { name: "Hospital number", exact: true }).fill("H1");
      await dialog.getByRole("button", { name: "Search" }).click();
      await found.filter({ hasText: "SMITH, John" }).waitFor(WAIT);

      // The record is down: said in words, where the search is.
      await fhir.control("POST", "down");
      await dialog.getByRole("button", { name: "Search" }).click();
      await dialog.getByRole("alert").filter({ hasText: "The patient record is not answering — try again in a moment." }).waitFor(WAIT);
      assert.equal(await found.count(), 0, "no stale results beside the failure");
      await shot("2-epr-down");
      await fhir.control("POST", "up");
      await dialog.getByRole("button", { name: "Search" }).click();
      await found.filter({ hasText: "SMITH, John" }).waitFor(WAIT);
      await dialog.getByRole("button", { name: "Close" }).click();
      await dialog.waitFor({ state: "detached", ...WAIT });
    } finally {
      await context.close();
    }
  }
});

test("a Wardline without a patient record: opening a conversation says so, and Patient… is not offered (ward PC)", async () => {
  const plain = {};
  const ward = await startRoleWard(plain);
  const context = await ward.browser.newContext(DESKTOP);
  const page = await context.newPage();
  try {
    await conversation(ward.server, plain.nora.token, [plain.priya], { name: "Ward 7", is_direct: false });
    await signIn(page, ward.server, "nora");
    // The banner's question is answered "no patient record here" (not "not about a patient").
    const asked = page.waitForResponse((r) => r.request().method() === "GET" && /\/rooms\/[^/]+\/patient$/.test(new URL(r.url()).pathname), WAIT);
    await openConversation(page, "Ward 7");
    const answer = await asked;
    assert.equal(answer.status(), 404);
    assert.equal((await answer.json()).errcode, "ORG.WARDLINE.NO_EPR");
    await page.locator(".conversation header").getByRole("button", { name: "Details" }).waitFor(WAIT);
    await page.locator(".conversation header").getByRole("button", { name: "Patient…" }).waitFor({ state: "detached", ...WAIT });
    await page.screenshot({ path: path.join(ARTIFACTS, "patients-desktop-no-epr.png"), fullPage: true });
    assert.equal(await page.locator(".conversation header").getByRole("button", { name: "Patient…" }).count(), 0, "no way to a feature that is not there");
  } finally {
    await context.close();
    await stopWard(ward);
  }
});
