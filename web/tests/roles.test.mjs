// Browser tests of roles and on-call (issue 13) that need no messaging: who is on call by
// department (holders, since when, "Nobody on shift" in words), a role's page with its rota
// for the next 24 hours and its handover history, swiping in (and being refused when not
// eligible), swiping out of a role that must not be left empty by naming a successor, and the
// administrators' role editor. Real `wardline` binary, Debian's Chromium; phone and desktop.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";

import { REPO_ROOT } from "../../tests/clients/wardline-server.mjs";
import { WAIT, call, signIn, stopWard, until } from "./support.mjs";
import { DESKTOP, PHONE, addRole, importRota, roleNow, setHolders, startRoleWard } from "./roleward.mjs";

const ARTIFACTS = path.join(REPO_ROOT, "web", "test-artifacts");

let server;
let browser;
const people = {};

before(async () => {
  ({ server, browser } = await startRoleWard(people));
  mkdirSync(ARTIFACTS, { recursive: true });
  await addRole(server, people, {
    role_id: "switchboard",
    name: "Switchboard",
    department: "Switchboard",
    bleep: "0",
    eligibility: { users: ["sam"] },
  });
  await addRole(server, people, {
    role_id: "cardio-reg",
    name: "Cardiology Registrar",
    department: "Cardiology",
    site: "North Wing",
    bleep: "4321",
    eligibility: { job_titles: ["Specialty Registrar"] },
    fallback: "switchboard",
  });
  await addRole(server, people, {
    role_id: "ward7-nic",
    name: "Ward 7 Nurse in Charge",
    department: "Ward 7",
    bleep: "7007",
    eligibility: { departments: ["Ward 7"] },
  });
  await addRole(server, people, {
    role_id: "gen-reg",
    name: "General Medicine Registrar",
    department: "Medicine",
    bleep: "5555",
    eligibility: { job_titles: ["Specialty Registrar"] },
    may_be_empty: false,
  });
  await setHolders(server, people, "switchboard", ["sam"]);
  await setHolders(server, people, "ward7-nic", ["nora"]);
  // The cardiology rota: Omar from two hours from now, then Priya; neither on shift yet.
  await importRota(server, people, [
    ["cardio-reg", "omar", 2, 14],
    ["cardio-reg", "priya", 14, 26],
  ]);
});

after(() => stopWard({ server, browser }));

test("who is on call, by department: holders and since when, nobody marked in words; a role's 24-hour rota and history", async () => {
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  try {
    await signIn(page, server, "omar");
    await page.getByRole("button", { name: "On call" }).click();
    const oncall = page.getByRole("region", { name: "On call" });

    const ward7 = oncall.getByRole("region", { name: "Ward 7" });
    const nic = ward7.getByRole("listitem", { name: "Ward 7 Nurse in Charge" });
    await nic.getByText(/Held by Nora Quinn since today \d\d:\d\d \(set by an administrator\)/).waitFor(WAIT);
    await nic.getByText("bleep 7007").waitFor(WAIT);

    const cardio = oncall.getByRole("region", { name: "Cardiology" }).getByRole("listitem", { name: "Cardiology Registrar" });
    await cardio.getByText("Nobody on shift").waitFor(WAIT);
    await cardio.getByText(/goes to Switchboard/).waitFor(WAIT);
    // Not colour alone: a sign and words.
    assert.match(await cardio.locator(".nobody").innerText(), /⚠\s*Nobody on shift/);
    await oncall.getByRole("region", { name: "Switchboard" }).getByText("Held by Sam Reid").waitFor(WAIT);
    assert.equal(await oncall.getByRole("region", { name: "Medicine" }).getByRole("listitem").count(), 1);
    await page.screenshot({ path: path.join(ARTIFACTS, "phone-on-call.png") });

    // The filter finds roles by name, department, site or bleep.
    await oncall.getByLabel("Find a role").fill("north wing");
    await until(async () => (await oncall.getByRole("listitem").count()) === 1, "only the North Wing role is listed");
    await oncall.getByLabel("Find a role").fill("");

    // The cardiology registrar's page: the next 24 hours of the rota, by name, in order.
    await cardio.getByRole("button", { name: "Cardiology Registrar", exact: true }).click();
    const rota = page.getByRole("region", { name: "Rota, next 24 hours" });
    await rota.getByText("Dr Omar Farouk").waitFor(WAIT);
    const shifts = await rota.getByRole("listitem").allInnerTexts();
    assert.equal(shifts.length, 2, shifts.join(" | "));
    assert.match(shifts[0], /Dr Omar Farouk/);
    assert.match(shifts[1], /Dr Priya Shah/);
    assert.doesNotMatch(shifts.join(" "), /on shift now/, "neither shift has started");
    await page.getByText("Bleep 4321").waitFor(WAIT);
    await page.getByText(/While nobody holds it, messages go to Switchboard/).waitFor(WAIT);
    await page.getByRole("region", { name: "Handover history" }).getByText("Nobody has held this role yet.").waitFor(WAIT);
    await page.screenshot({ path: path.join(ARTIFACTS, "phone-role-rota.png") });

    // The nurse in charge's history names the administrator's change.
    await page.getByRole("button", { name: "Back to on call" }).click();
    await oncall.getByRole("region", { name: "Ward 7" }).getByRole("button", { name: "Ward 7 Nurse in Charge", exact: true }).click();
    await page
      .getByRole("region", { name: "Handover history" })
      .getByText(/An administrator gave it to Nora Quinn/)
      .waitFor(WAIT);
    await page.getByRole("region", { name: "Rota, next 24 hours" }).getByText("No rota shifts in the next 24 hours.").waitFor(WAIT);
  } finally {
    await context.close();
  }
});

test("swiping in (refused when not eligible), and out of a role that must not be left empty by naming a successor", async () => {
  const nurse = await browser.newContext(PHONE);
  const registrar = await browser.newContext(DESKTOP);
  const n = await nurse.newPage();
  const r = await registrar.newPage();
  try {
    // A nurse is not eligible for a registrar's role: the server says so, clearly, and nothing changes.
    await signIn(n, server, "nora");
    await n.getByRole("button", { name: "On call" }).click();
    const medicine = n.getByRole("region", { name: "On call" }).getByRole("region", { name: "Medicine" });
    await medicine.getByRole("button", { name: "Swipe in to General Medicine Registrar" }).click();
    await medicine.getByRole("alert").getByText(/You cannot hold General Medicine Registrar/).waitFor(WAIT);
    assert.equal((await roleNow(server, people.nora.token, "gen-reg")).holders.length, 0);

    // Priya swipes in: her roles list it, since when.
    await signIn(r, server, "priya");
    await r.getByRole("button", { name: "On call" }).click();
    const oncall = r.getByRole("region", { name: "On call" });
    await oncall.getByRole("region", { name: "Medicine" }).getByRole("button", { name: "Swipe in to General Medicine Registrar" }).click();
    const mine = oncall.getByRole("region", { name: "Your roles" });
    await mine.getByText(/General Medicine Registrar\s*on shift since today \d\d:\d\d \(swiped in\)/).waitFor(WAIT);
    assert.deepEqual(
      (await roleNow(server, people.priya.token, "gen-reg")).holders.map((h) => h.user_id),
      [people.priya.userId],
    );

    // Swiping out of a role that must not be left empty asks who takes over.
    await mine.getByRole("button", { name: "Swipe out of General Medicine Registrar" }).click();
    const dialog = r.getByRole("dialog", { name: "Hand over General Medicine Registrar" });
    await dialog.getByText(/must not be left empty/).waitFor(WAIT);
    await r.screenshot({ path: path.join(ARTIFACTS, "desktop-successor-required.png") });
    await dialog.getByLabel("Who takes over").fill("Omar");
    await dialog.getByRole("button", { name: /Dr Omar Farouk/ }).click();
    await dialog.getByLabel("Note for the history (optional)").fill("end of day shift");
    await dialog.getByRole("button", { name: "Hand over to Dr Omar Farouk" }).click();
    await dialog.waitFor({ state: "detached", ...WAIT });
    await mine.getByText("You hold no role now.", { exact: false }).waitFor(WAIT);
    const now = await roleNow(server, people.priya.token, "gen-reg");
    assert.deepEqual(now.holders.map((h) => h.user_id), [people.omar.userId]);
    // (Leaving with a successor is recorded as a handover from Priya.)
    assert.equal(now.history[0].reason, "handover");
    assert.equal(now.history[0].from, people.priya.userId);
    assert.equal(now.history[0].note, "end of day shift");

    // The nurse's view follows: Omar holds it now, handed over by Priya.
    await n.getByRole("button", { name: "Refresh" }).click();
    await medicine.getByText(/Held by Dr Omar Farouk since today/).waitFor(WAIT);
    await medicine.getByRole("button", { name: "General Medicine Registrar", exact: true }).click();
    await n.getByRole("region", { name: "Handover history" }).getByText(/Dr Priya Shah handed over to Dr Omar Farouk/).waitFor(WAIT);
    await n.getByRole("region", { name: "Handover history" }).getByText(/“end of day shift”/).waitFor(WAIT);
  } finally {
    await nurse.close();
    await registrar.close();
  }
});

test("an administrator creates a role in the role editor and sets who holds it; staff see no editor", async () => {
  const context = await browser.newContext(DESKTOP);
  const page = await context.newPage();
  try {
    await signIn(page, server, "boss");
    await page.getByRole("button", { name: "Manage roles" }).click();
    const editor = page.getByRole("region", { name: "Manage roles" });
    await editor.getByRole("listitem", { name: "Cardiology Registrar" }).waitFor(WAIT);
    await page.getByRole("button", { name: "New role" }).click();
    const form = editor.getByRole("form", { name: "New role" });
    await form.getByLabel("Role id").fill("icu-outreach");
    await form.getByLabel("Name", { exact: true }).fill("Critical Care Outreach");
    await form.getByLabel("Department", { exact: true }).fill("Critical Care");
    await form.getByLabel("Bleep or extension").fill("2222");
    await form.getByLabel("Eligible job titles (one per line)").fill("Outreach Nurse\nSpecialty Registrar");
    await form.getByLabel("May be left empty").uncheck();
    await form.getByLabel("While nobody holds it, messages go to").selectOption({ label: "Switchboard" });
    await form.getByRole("button", { name: "Create role" }).click();
    const created = editor.getByRole("listitem", { name: "Critical Care Outreach" });
    await created.waitFor(WAIT);
    await created.getByText("Nobody on shift").waitFor(WAIT);

    const role = await roleNow(server, people.nora.token, "icu-outreach");
    assert.equal(role.name, "Critical Care Outreach");
    assert.equal(role.department, "Critical Care");
    assert.equal(role.bleep, "2222");
    assert.equal(role.may_be_empty, false);
    assert.equal(role.fallback, "switchboard");
    assert.deepEqual(role.eligibility.job_titles, ["Outreach Nurse", "Specialty Registrar"]);

    // Holders: Omar.
    await created.getByRole("button", { name: "Edit Critical Care Outreach" }).click();
    const holders = editor.getByRole("region", { name: "Who holds Critical Care Outreach" });
    await holders.getByLabel("Add a holder").fill("Omar");
    await holders.getByRole("button", { name: /Dr Omar Farouk/ }).click();
    await holders.getByRole("button", { name: "Save holders" }).click();
    await until(async () => (await roleNow(server, people.nora.token, "icu-outreach")).holders.length === 1, "Omar holds it");
    await page.screenshot({ path: path.join(ARTIFACTS, "desktop-role-editor.png") });

    // A change of the definition keeps the id.
    const edit = editor.getByRole("form", { name: "Edit Critical Care Outreach" });
    await edit.getByLabel("Bleep or extension").fill("2223");
    await edit.getByRole("button", { name: "Save role" }).click();
    await editor.getByRole("listitem", { name: "Critical Care Outreach" }).getByText(/bleep 2223/).waitFor(WAIT);

    // A nurse has no role editor, and the administration API refuses her.
    const other = await browser.newContext(PHONE);
    const n = await other.newPage();
    await signIn(n, server, "nora");
    await n.getByRole("button", { name: "On call" }).waitFor(WAIT);
    assert.equal(await n.getByRole("button", { name: "Manage roles" }).count(), 0);
    const r = await fetch(`${server.baseUrl}/_wardline/admin/v1/roles`, { headers: { authorization: `Bearer ${people.nora.token}` } });
    assert.equal(r.status, 403);
    await other.close();
  } finally {
    await context.close();
  }
});

test("retiring a role in the editor takes it off the on-call view", async () => {
  await addRole(server, people, { role_id: "old-bleep", name: "Old Night Bleep Holder", department: "Medicine" });
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  try {
    await signIn(page, server, "boss");
    await page.getByRole("button", { name: "Manage roles" }).click();
    const editor = page.getByRole("region", { name: "Manage roles" });
    page.once("dialog", (d) => d.accept());
    await editor.getByRole("button", { name: "Retire Old Night Bleep Holder" }).click();
    await editor.getByRole("listitem", { name: "Old Night Bleep Holder" }).getByText("retired").waitFor(WAIT);
    const { roles } = await call(server.baseUrl, "GET", "/_wardline/client/v1/roles", undefined, people.nora.token);
    assert.ok(!roles.some((r) => r.role_id === "old-bleep"), "staff no longer see it");
  } finally {
    await context.close();
  }
});
