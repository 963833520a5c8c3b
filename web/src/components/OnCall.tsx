// Who is on call: every role, grouped by department, with who holds it now and since when, its
// bleep, and "Nobody on shift" in words; my own roles first, to swipe out or hand over.

import { useCallback, useEffect, useState } from "preact/hooks";

import { closeRoom } from "../conversation";
import { failure, listRoles } from "../roles";
import type { RoleView } from "../roles";
import { useStore } from "../state";
import { MyRoles } from "./MyRoles";
import { RoleCard } from "./RoleCard";

const NO_DEPARTMENT = "Other roles";

function byDepartment(roles: RoleView[], filter: string): [string, RoleView[]][] {
  const q = filter.trim().toLowerCase();
  const groups = new Map<string, RoleView[]>();
  for (const r of roles) {
    if (r.retired) continue;
    const text = [r.name, r.department, r.site, r.bleep].filter(Boolean).join(" ").toLowerCase();
    if (q && !q.split(/\s+/).every((w) => text.includes(w))) continue;
    const d = r.department?.trim() || NO_DEPARTMENT;
    groups.set(d, [...(groups.get(d) ?? []), r]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a === NO_DEPARTMENT ? 1 : b === NO_DEPARTMENT ? -1 : a.localeCompare(b)))
    .map(([d, rs]) => [d, rs.sort((a, b) => a.name.localeCompare(b.name))]);
}

export function OnCall() {
  const roles = useStore((s) => s.oncall.roles);
  const listed = useStore((s) => s.oncall.listed);
  const [filter, setFilter] = useState("");
  const [error, setError] = useState("");
  const load = useCallback(() => {
    listRoles()
      .then(() => setError(""))
      .catch((e) => setError(failure(e, "Who is on call cannot be shown")));
  }, []);
  useEffect(load, []);
  const groups = byDepartment(Object.values(roles), filter);
  return (
    <>
      <header>
        <button class="plain back" onClick={closeRoom} aria-label="Back to conversations">
          Back
        </button>
        <h2>On call</h2>
        <button type="button" class="plain" onClick={load}>
          Refresh
        </button>
      </header>
      <div class="oncall" role="region" aria-label="On call">
        <MyRoles onChanged={load} />
        <label for="role-filter">Find a role</label>
        <input
          id="role-filter"
          type="search"
          placeholder="Role, department, site or bleep"
          value={filter}
          onInput={(ev) => setFilter((ev.currentTarget as HTMLInputElement).value)}
        />
        <p class="error" role="alert">
          {error}
        </p>
        {!listed && !error && <p class="muted">Asking the server…</p>}
        {listed && !groups.length && <p class="muted">No role{filter ? " matches" : " yet"}.</p>}
        {groups.map(([department, rs]) => (
          <section key={department} class="department" aria-label={department}>
            <h3>{department}</h3>
            <ul class="role-list">
              {rs.map((r) => (
                <RoleCard key={r.role_id} role={r} onChanged={load} />
              ))}
            </ul>
          </section>
        ))}
      </div>
    </>
  );
}
