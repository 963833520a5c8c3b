// The administrators' role editor: every role (retired ones marked), creating and editing one,
// retiring one (its history is kept), and setting who holds it. The server checks every call.

import { useCallback, useEffect, useState } from "preact/hooks";

import { adminRoles, retireRole } from "../admin";
import { closeRoom } from "../conversation";
import { openRoleAdmin } from "../rolepanel";
import { failure, remember } from "../roles";
import type { RoleView } from "../roles";
import { useStore } from "../state";
import { RoleForm } from "./RoleForm";
import { RoleHoldersForm } from "./RoleHoldersForm";
import { HeldBy } from "./RoleStatus";
import { showToast } from "./Toast";

export function RoleAdmin() {
  const editing = useStore((s) => s.oncall.editing);
  const [roles, setRoles] = useState<RoleView[] | null>(null);
  const [error, setError] = useState("");
  const load = useCallback(() => {
    adminRoles()
      .then((rs) => {
        setRoles(rs);
        setError("");
      })
      .catch((e) => setError(failure(e, "The roles cannot be shown")));
  }, []);
  useEffect(load, []);
  const saved = (r: RoleView) => {
    remember([r]);
    showToast(`Saved ${r.name}`);
    load();
    openRoleAdmin(null);
  };
  const retire = async (r: RoleView) => {
    if (!window.confirm(`Retire ${r.name}? Nobody will hold it any more; its history is kept.`)) return;
    try {
      await retireRole(r.role_id);
      showToast(`Retired ${r.name}`);
      load();
    } catch (e) {
      setError(failure(e, "The role was not retired"));
    }
  };
  const current = editing ? roles?.find((r) => r.role_id === editing) : undefined;
  return (
    <>
      <header>
        <button class="plain back" onClick={closeRoom} aria-label="Back to conversations">
          Back
        </button>
        <h2>Manage roles</h2>
        {editing === null && (
          <button type="button" onClick={() => openRoleAdmin("")}>
            New role
          </button>
        )}
      </header>
      <div class="oncall" role="region" aria-label="Manage roles">
        <p class="error" role="alert">
          {error}
        </p>
        {editing !== null ? (
          editing === "" || current ? (
            <>
              <RoleForm key={editing} role={current ?? null} others={roles ?? []} onSaved={saved} onCancel={() => openRoleAdmin(null)} />
              {current && !current.retired && (
                <RoleHoldersForm
                  key={`${current.role_id} ${current.holders.map((h) => h.user_id).join(" ")}`}
                  role={current}
                  onSaved={(r) => {
                    remember([r]);
                    showToast(`Holders of ${r.name} saved`);
                    load();
                  }}
                />
              )}
            </>
          ) : (
            <p class="muted">Asking the server…</p>
          )
        ) : !roles ? (
          <p class="muted">Asking the server…</p>
        ) : !roles.length ? (
          <p>No roles yet. Create the first one with New role.</p>
        ) : (
          <ul class="role-list" aria-label="Roles">
            {roles.map((r) => (
              <li key={r.role_id} class="role-card" aria-label={r.name}>
                <strong>{r.name}</strong> <span class="muted">({r.role_id})</span>
                {r.retired && <strong class="retired"> · retired</strong>}
                <span class="muted"> {[r.department, r.site, r.bleep && `bleep ${r.bleep}`].filter(Boolean).join(" · ")}</span>
                {!r.retired && (
                  <p class="role-holders">
                    <HeldBy role={r} />
                  </p>
                )}
                <div class="role-actions">
                  <button type="button" class="plain" aria-label={`Edit ${r.name}`} onClick={() => openRoleAdmin(r.role_id)}>
                    Edit
                  </button>
                  {!r.retired && (
                    <button type="button" class="plain" aria-label={`Retire ${r.name}`} onClick={() => void retire(r)}>
                      Retire
                    </button>
                  )}
                </div>
              </li>
            ))}
          </ul>
        )}
      </div>
    </>
  );
}
