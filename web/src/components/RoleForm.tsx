// An administrator's form for one role: its id (new roles only; an id never changes), name,
// department, site, bleep, who may hold it (people, job titles, departments, one per line),
// whether it may be left empty, and where messages go while nobody holds it.

import { useState } from "preact/hooks";

import { createRole, updateRole } from "../admin";
import type { RoleFields } from "../admin";
import { failure } from "../roles";
import type { RoleView } from "../roles";

interface Draft {
  role_id: string;
  name: string;
  department: string;
  site: string;
  bleep: string;
  users: string;
  job_titles: string;
  departments: string;
  may_be_empty: boolean;
  fallback: string;
}

function draftOf(role: RoleView | null): Draft {
  const e = role?.eligibility;
  return {
    role_id: role?.role_id ?? "",
    name: role?.name ?? "",
    department: role?.department ?? "",
    site: role?.site ?? "",
    bleep: role?.bleep ?? "",
    users: (e?.users ?? []).join("\n"),
    job_titles: (e?.job_titles ?? []).join("\n"),
    departments: (e?.departments ?? []).join("\n"),
    may_be_empty: role ? role.may_be_empty : true,
    fallback: role?.fallback ?? "",
  };
}

function lines(text: string): string[] {
  return text
    .split(/\n/)
    .map((l) => l.trim())
    .filter(Boolean);
}

type TextKey = Exclude<keyof Draft, "may_be_empty">;

export function RoleForm(props: { role: RoleView | null; others: RoleView[]; onSaved: (r: RoleView) => void; onCancel: () => void }) {
  const { role } = props;
  const [d, setDraft] = useState<Draft>(() => draftOf(role));
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const set = (key: TextKey) => (ev: Event) => {
    const value = (ev.currentTarget as HTMLInputElement).value;
    setDraft((old) => ({ ...old, [key]: value }));
  };
  const text = (key: TextKey, label: string, opts: { required?: boolean; hint?: string } = {}) => (
    <>
      <label for={`role-${key}`}>{label}</label>
      <input
        id={`role-${key}`}
        type="text"
        value={d[key]}
        required={opts.required}
        aria-describedby={opts.hint ? `role-${key}-hint` : undefined}
        onInput={set(key)}
      />
      {opts.hint && (
        <p class="muted" id={`role-${key}-hint`}>
          {opts.hint}
        </p>
      )}
    </>
  );
  const list = (key: TextKey, label: string) => (
    <>
      <label for={`role-${key}`}>{label}</label>
      <textarea id={`role-${key}`} rows={3} value={d[key]} onInput={set(key)} />
    </>
  );
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const fields: RoleFields = {
      name: d.name.trim(),
      department: d.department.trim() || null,
      site: d.site.trim() || null,
      bleep: d.bleep.trim() || null,
      eligibility: { users: lines(d.users), job_titles: lines(d.job_titles), departments: lines(d.departments) },
      may_be_empty: d.may_be_empty,
      fallback: d.fallback || null,
    };
    setBusy(true);
    setError("");
    try {
      const saved = role ? await updateRole(role.role_id, fields) : await createRole({ ...fields, role_id: d.role_id.trim() });
      props.onSaved(saved);
    } catch (e) {
      setError(failure(e, "The role was not saved"));
      setBusy(false);
    }
  };
  return (
    <form class="role-form" aria-label={role ? `Edit ${role.name}` : "New role"} onSubmit={(ev) => void submit(ev)}>
      <h3>{role ? `Edit ${role.name}` : "New role"}</h3>
      {role ? (
        <p class="muted">Id: {role.role_id}</p>
      ) : (
        text("role_id", "Role id", { required: true, hint: "Lowercase letters, digits and -, such as med-reg-oncall. It cannot change later." })
      )}
      {text("name", "Name", { required: true })}
      {text("department", "Department")}
      {text("site", "Site")}
      {text("bleep", "Bleep or extension")}
      {list("users", "Eligible people (usernames, one per line)")}
      {list("job_titles", "Eligible job titles (one per line)")}
      {list("departments", "Eligible departments (one per line)")}
      <label class="check">
        <input
          type="checkbox"
          checked={d.may_be_empty}
          onChange={(ev) => {
            const on = (ev.currentTarget as HTMLInputElement).checked;
            setDraft((old) => ({ ...old, may_be_empty: on }));
          }}
        />{" "}
        May be left empty
      </label>
      <label for="role-fallback">While nobody holds it, messages go to</label>
      <select id="role-fallback" value={d.fallback} onChange={set("fallback")}>
        <option value="">Nobody else</option>
        {props.others
          .filter((o) => !o.retired && o.role_id !== role?.role_id)
          .map((o) => (
            <option key={o.role_id} value={o.role_id}>
              {o.name}
            </option>
          ))}
      </select>
      <p class="error" role="alert">
        {error}
      </p>
      <div class="dialog-actions">
        <button type="button" class="plain" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="submit" disabled={busy}>
          {role ? "Save role" : "Create role"}
        </button>
      </div>
    </form>
  );
}
