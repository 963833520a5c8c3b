// Roles found by New chat's search ("on-call registrar"): each with its department, bleep and
// who holds it now ("Held by Dr Priya Shah", "Nobody on shift — goes to Switchboard"). One tap
// opens my conversation with the role, or starts one: it reaches whoever holds the role.

import { useState } from "preact/hooks";

import { messageRole } from "../rolechat";
import type { RoleView } from "../roles";
import { HeldBy } from "./RoleStatus";

export function roleWhere(role: RoleView): string {
  return [role.department, role.site, role.bleep && `bleep ${role.bleep}`].filter(Boolean).join(" · ");
}

export function RoleResults({ roles }: { roles: RoleView[] }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  if (!roles.length) return null;
  const start = async (role: RoleView) => {
    if (!role.user_id || busy) return;
    setBusy(true);
    setError("");
    try {
      await messageRole(role.user_id);
    } catch (e) {
      const said = (e as { data?: { error?: unknown } }).data?.error;
      setError(`${role.name} cannot be messaged now: ${typeof said === "string" && said ? said : "no connection to Wardline"}`);
      setBusy(false);
    }
  };
  return (
    <>
      <h3 class="found-kind">Roles</h3>
      <ul aria-label="Roles" class="role-results">
        {roles.map((r) => (
          <li key={r.role_id}>
            <button type="button" class="pick role-pick" disabled={busy} onClick={() => void start(r)}>
              <span class="role-name">{r.name}</span>
              {roleWhere(r) && <span class="muted">{roleWhere(r)}</span>}
              <span class="role-holders">
                <HeldBy role={r} />
              </span>
            </button>
          </li>
        ))}
      </ul>
      <p class="error" role="alert">
        {error}
      </p>
    </>
  );
}
