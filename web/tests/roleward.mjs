// Shared by the browser tests of roles: a ward with a nurse, two registrars, a switchboard
// operator and an administrator (second factors off, so the administrator signs in with a
// password alone), and roles and rotas made through the administration API, as an
// administrator's tools would.

import { call, startWard } from "./support.mjs";

export const STAFF = [
  ["nora", "Nora Quinn", ["--job-title", "Staff Nurse", "--department", "Ward 7"]],
  ["priya", "Dr Priya Shah", ["--job-title", "Specialty Registrar", "--department", "Medicine"]],
  ["omar", "Dr Omar Farouk", ["--job-title", "Specialty Registrar", "--department", "Medicine"]],
  ["sam", "Sam Reid", ["--job-title", "Switchboard Operator", "--department", "Switchboard"]],
  ["boss", "Alex Admin", ["--admin"]],
];

export const DESKTOP = { viewport: { width: 1280, height: 800 } };
export const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

/** The ward's server and browser; `staff` added to STAFF, `env` added to its settings (a test clock). */
export async function startRoleWard(people, { staff = [], env = {} } = {}) {
  return startWard(people, [...STAFF, ...staff], { env: { WARDLINE_SECURITY__MFA_REQUIRED: "off", ...env } });
}

/** Creates a role as the administrator (`fields` as the administration API takes them). */
export async function addRole(server, people, fields) {
  return call(server.baseUrl, "POST", "/_wardline/admin/v1/roles", fields, people.boss.token);
}

export async function setHolders(server, people, roleId, holders) {
  return call(server.baseUrl, "PUT", `/_wardline/admin/v1/roles/${roleId}/holders`, { holders }, people.boss.token);
}

/** A role as staff see it now. */
export async function roleNow(server, token, roleId) {
  return call(server.baseUrl, "GET", `/_wardline/client/v1/roles/${roleId}`, undefined, token);
}

const HOUR = 3_600_000;

/** A time `hours` from now, to the minute, as RFC 3339. */
export function hoursFromNow(hours) {
  const t = Math.floor((Date.now() + hours * HOUR) / 60_000) * 60_000;
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Imports rota rows `[role, username, startHours, endHours]` (hours from now). */
export async function importRota(server, people, rows) {
  const lines = ["role,username,start,end", ...rows.map(([r, u, s, e]) => `${r},${u},${hoursFromNow(s)},${hoursFromNow(e)}`)];
  return call(server.baseUrl, "POST", "/_wardline/admin/v1/rota", { format: "csv", content: `${lines.join("\n")}\n` }, people.boss.token);
}
