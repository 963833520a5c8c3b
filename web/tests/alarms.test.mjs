// The alarm block of a hospital system's message (src/alarms.ts): what it says, its place and
// patient in words, and the source's own text without the server's prefix and the answer list
// it adds for stock clients; a clinical alert's topic and the observation that raised it.

import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const bundled = await build({
  entryPoints: [path.join(here, "..", "src", "alarms.ts")],
  bundle: true,
  format: "esm",
  write: false,
  platform: "neutral",
});
const { alarmOf, alarmText, describeLocation, describeObservation, describePatient, fromIntegration, KINDS } = await import(
  `data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString("base64")}`
);

const block = {
  alarm_id: "al_aaaaaaaaaaaaaaaaaaaa",
  kind: "cardiac_arrest",
  source_priority: "emergency",
  location: { site: "Main", ward: "Ward 7", room: "3", bed: "12" },
  integration: "arrests",
  state: "active",
  patient: { id: "H123456", system: "mrn" },
};
const content = {
  msgtype: "m.text",
  body: "[EMERGENCY] Cardiac arrest — Main, Ward 7, room 3, bed 12: Adult arrest: crash team\n\nReact 1️⃣ Coming · 2️⃣ Can't come",
  "org.wardline.priority": { level: "emergency" },
  "org.wardline.ask": { options: [{ id: "accept", label: "Coming", means: "accept" }, { id: "decline", label: "Can't come", means: "decline" }] },
  "org.wardline.alarm": block,
};

test("an alarm's block: kind, place, patient, state", () => {
  const a = alarmOf(content);
  assert.equal(a.kind, "cardiac_arrest");
  assert.equal(KINDS[a.kind].tone, "red");
  assert.equal(KINDS.nurse_call.tone, "amber");
  assert.equal(describeLocation(a.location), "Main, Ward 7, room 3, bed 12");
  assert.equal(describeLocation({ ward: "Ward 7", bed: "4" }), "Ward 7, bed 4");
  assert.equal(describePatient(a.patient), "H123456 (mrn)");
  assert.equal(describePatient({ id: "943 476 5919", name: "Jo Bloggs", birth_date: "1950-02-01" }), "Jo Bloggs · 943 476 5919 · born 1950-02-01");
  assert.equal(a.state, "active");
  assert.equal(alarmOf({ ...content, "org.wardline.alarm": { ...block, state: "reset" } }).state, "reset");
  // A kind this client does not know yet is an alarm all the same; no block, no alarm.
  assert.equal(alarmOf({ ...content, "org.wardline.alarm": { ...block, kind: "gas_leak" } }).kind, "other");
  assert.equal(alarmOf({ msgtype: "m.text", body: "x" }), null);
  assert.equal(alarmOf({ "org.wardline.alarm": { kind: "fire" } }), null, "an alarm has an id");
  assert.equal(alarmOf({ "org.wardline.alarm": { ...block, patient: { system: "mrn" } } }).patient, null);
});

test("the source's text, without the server's prefix and answer list; any other text as it is", () => {
  const a = alarmOf(content);
  assert.equal(alarmText(content, a), "Adult arrest: crash team");
  const plain = { ...content, body: "Something else entirely" };
  assert.equal(alarmText(plain, a), "Something else entirely");
});

test("only an integration's user raises alarms", () => {
  assert.ok(fromIntegration("@integration.arrests:localhost"));
  assert.ok(!fromIntegration("@priya:localhost"));
  assert.ok(!fromIntegration(undefined));
});

test("a clinical alert's topic and observation, when its block has them", () => {
  const alert = {
    ...block,
    kind: "clinical_alert",
    topic: { id: "news2-high", name: "NEWS2 ≥ 7" },
    observation: { code: "NEWS2", text: "NEWS2 score", value: "9", units: "score" },
    specialty: "Respiratory medicine",
  };
  const a = alarmOf({ ...content, "org.wardline.alarm": alert });
  assert.equal(a.kind, "clinical_alert");
  assert.equal(KINDS[a.kind].tone, "blue");
  assert.deepEqual(a.topic, { id: "news2-high", name: "NEWS2 ≥ 7" });
  assert.equal(describeObservation(a.observation), "NEWS2 score 9 score");
  assert.equal(a.specialty, "Respiratory medicine");
  // Without a text, its code; a number value as it is; without units, none.
  assert.equal(describeObservation(alarmOf({ ...content, "org.wardline.alarm": { ...alert, observation: { code: "K", value: 6.5 } } }).observation), "K 6.5");
  // Neither is there on other alarms; a topic without a name or an observation without a value is not shown.
  assert.equal(alarmOf(content).topic, null);
  assert.equal(alarmOf(content).observation, null);
  assert.equal(alarmOf({ ...content, "org.wardline.alarm": { ...alert, topic: { id: "x" } } }).topic, null);
  assert.equal(alarmOf({ ...content, "org.wardline.alarm": { ...alert, observation: { code: "NEWS2" } } }).observation, null);
});
