// Shared by the browser tests of the patient record (issue 16): the test FHIR R4 server
// (tests/fhir-server: Medplum's FHIR router in memory) that Wardline's [epr] points at, and its
// test controls (`/_test/down`, `/_test/up`, `/_test/reject`, `/_test/seed`, `/_test/requests`…).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import readline from "node:readline";

import { REPO_ROOT } from "../../tests/clients/wardline-server.mjs";
import { startRoleWard } from "./roleward.mjs";

const FHIR_DIR = path.join(REPO_ROOT, "tests", "fhir-server");

/**
 * Starts the test FHIR server (`--port 0`, its port read from its first line). Returns its
 * `origin`, `baseUrl` (the FHIR R4 base for `WARDLINE_EPR__BASE_URL`), `control(method, p, body)`
 * (a test control, `/_test/{p}`, asserted to succeed; its JSON answer) and `stop()`.
 */
export async function startFhir() {
  const child = spawn("node", ["server.mjs", "--port", "0"], { cwd: FHIR_DIR, stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout });
    rl.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`the FHIR server exited (${code}): run \`npm ci\` in tests/fhir-server`)));
  });
  const port = JSON.parse(line).port;
  const origin = `http://127.0.0.1:${port}`;
  async function control(method, p, body) {
    const r = await fetch(`${origin}/_test/${p}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await r.json();
    assert.ok(r.ok, `/_test/${p}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  }
  return { child, port, origin, baseUrl: `${origin}/fhir/R4`, control, stop: () => child.kill() };
}

/** John Smith (NHS 943 476 5919), as the filing tests' record holds him. */
export const JOHN_SMITH = {
  resourceType: "Patient",
  id: "pat-1",
  identifier: [{ system: "https://fhir.nhs.uk/Id/nhs-number", value: "9434765919" }],
  name: [{ use: "official", family: "Smith", given: ["John"] }],
  birthDate: "1970-01-31",
  gender: "male",
};

/**
 * The test FHIR server holding `seed`, and a ward of role-holders (roleward.mjs) whose [epr] it
 * is (a 5 s timeout). Returns `{ fhir, server, browser }`.
 */
export async function startWardWithRecord(people, seed) {
  const fhir = await startFhir();
  await fhir.control("POST", "seed", seed);
  const { server, browser } = await startRoleWard(people, {
    env: { WARDLINE_EPR__BASE_URL: fhir.baseUrl, WARDLINE_EPR__TIMEOUT_SECS: "5" },
  });
  return { fhir, server, browser };
}
