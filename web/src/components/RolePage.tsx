// A role's own page: what it is, its bleep, who holds it now and since when, message it, swipe
// in or out, its rota for the next 24 hours and its handover history.

import { useCallback, useEffect, useState } from "preact/hooks";

import { openOnCall } from "../rolepanel";
import { failure, getRole, rota } from "../roles";
import type { HistoryEntry, Shift } from "../roles";
import { useStore } from "../state";
import { RoleActions } from "./RoleActions";
import { RoleHistory } from "./RoleHistory";
import { RoleRota } from "./RoleRota";
import { HeldBy, RoleName } from "./RoleStatus";

export function RolePage({ roleId }: { roleId: string }) {
  const role = useStore((s) => s.oncall.roles[roleId]);
  const [history, setHistory] = useState<HistoryEntry[] | null>(null);
  const [shifts, setShifts] = useState<Shift[] | null>(null);
  const [rotaFailed, setRotaFailed] = useState(false);
  const [error, setError] = useState("");
  const load = useCallback(() => {
    getRole(roleId)
      .then((r) => {
        setHistory(r.history);
        setError("");
      })
      .catch((e) => setError(failure(e, "This role cannot be shown")));
    rota(roleId, 24)
      .then((s) => {
        setShifts(s);
        setRotaFailed(false);
      })
      .catch(() => setRotaFailed(true));
  }, [roleId]);
  useEffect(load, [roleId]);
  const where = role ? [role.department, role.site].filter(Boolean).join(", ") : "";
  return (
    <>
      <header>
        <button class="plain" onClick={openOnCall} aria-label="Back to on call">
          Back
        </button>
        <h2>{role?.name ?? roleId}</h2>
      </header>
      <div class="oncall role-page" role="region" aria-label={role?.name ?? roleId}>
        <p class="error" role="alert">
          {error}
        </p>
        {role && (
          <>
            <p>
              {where}
              {role.bleep && (
                <>
                  {where && " · "}
                  <strong>Bleep {role.bleep}</strong>
                </>
              )}
            </p>
            <section aria-label="On shift now">
              <h3>On shift now</h3>
              <p class="role-holders">
                <HeldBy role={role} detail />
              </p>
              <RoleActions role={role} onChanged={load} />
            </section>
            <p class="muted">
              {role.may_be_empty ? "May be left empty." : "Must not be left empty: whoever leaves it names who takes over."}
              {role.fallback && (
                <>
                  {" "}
                  While nobody holds it, messages go to <RoleName id={role.fallback} />.
                </>
              )}
            </p>
          </>
        )}
        <RoleRota shifts={shifts} failed={rotaFailed} />
        <RoleHistory history={history} />
      </div>
    </>
  );
}
