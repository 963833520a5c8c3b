// Choosing who an alarm rule (or one escalation step of it) reaches: roles from the list of
// roles (their holders at the time), people from the directory. Each chosen one can be taken
// off again. The server checks, when the rule is saved, that each still exists.

import { useRef, useState } from "preact/hooks";

import type { Target } from "../alarmadminstate";
import { personName } from "../roles";
import type { RoleView } from "../roles";
import { PeoplePicker } from "./PeoplePicker";

export function TargetPicker(props: { label: string; targets: Target[]; roles: RoleView[]; onChange: (t: Target[]) => void }) {
  const [role, setRole] = useState("");
  const [addingPerson, setAddingPerson] = useState(false);
  const id = useRef(`targets-${Math.random().toString(36).slice(2)}`);
  const name = (t: Target) => (t.kind === "role" ? (props.roles.find((r) => r.role_id === t.role)?.name ?? t.role) : personName(t.user_id));
  const same = (a: Target, b: Target) => (a.kind === "role" ? b.kind === "role" && a.role === b.role : b.kind === "user" && a.user_id === b.user_id);
  const add = (t: Target) => {
    if (!props.targets.some((x) => same(x, t))) props.onChange([...props.targets, t]);
  };
  const roles = props.roles.filter((r) => !r.retired && !props.targets.some((t) => t.kind === "role" && t.role === r.role_id));
  return (
    <fieldset class="target-picker">
      <legend>{props.label}</legend>
      {props.targets.length ? (
        <ul class="chosen-targets" aria-label={`${props.label}: chosen`}>
          {props.targets.map((t) => (
            <li key={t.kind === "role" ? `r ${t.role}` : `u ${t.user_id}`}>
              <span>
                {t.kind === "role" ? "Role: " : "Person: "}
                <strong>{name(t)}</strong>
              </span>
              <button type="button" class="plain" aria-label={`Remove ${name(t)}`} onClick={() => props.onChange(props.targets.filter((x) => !same(x, t)))}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">Nobody chosen yet.</p>
      )}
      <label for={`${id.current}-role`}>Add a role</label>
      <div class="add-key-row">
        <select id={`${id.current}-role`} value={role} onChange={(ev) => setRole((ev.currentTarget as HTMLSelectElement).value)}>
          <option value="">Choose a role…</option>
          {roles.map((r) => (
            <option key={r.role_id} value={r.role_id}>
              {r.name}
            </option>
          ))}
        </select>
        <button
          type="button"
          disabled={!role}
          onClick={() => {
            add({ kind: "role", role });
            setRole("");
          }}
        >
          Add role
        </button>
      </div>
      {addingPerson ? (
        <PeoplePicker
          label="Add a person"
          autofocus
          exclude={props.targets.flatMap((t) => (t.kind === "user" ? [t.user_id] : []))}
          onPick={(p) => {
            add({ kind: "user", user_id: p.userId });
            setAddingPerson(false);
          }}
        />
      ) : (
        <button type="button" class="plain" onClick={() => setAddingPerson(true)}>
          Add a person…
        </button>
      )}
    </fieldset>
  );
}
