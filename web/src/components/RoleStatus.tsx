// Who holds a role now, in words (never colour alone): "Held by Dr Priya Shah since today
// 08:00", or "Nobody on shift — goes to Switchboard"; and a role's name by its id.

import { useEffect } from "preact/hooks";

import { howWords, shiftTime, want } from "../roles";
import type { RoleView } from "../roles";
import { me } from "../signedin";
import { useStore } from "../state";
import { Who } from "./Who";

/** A role's name, by id (read from the server if the store does not have it). */
export function RoleName({ id }: { id: string }) {
  const name = useStore((s) => s.oncall.roles[id]?.name);
  useEffect(() => want(id), [id]);
  return <>{name ?? id}</>;
}

/** "Nobody on shift — goes to Switchboard": marked with a sign and a word. */
export function Nobody({ role }: { role: RoleView }) {
  return (
    <span class="nobody">
      <strong>
        <span aria-hidden="true">⚠ </span>Nobody on shift
      </strong>
      {role.fallback ? (
        <>
          {" "}
          — goes to <RoleName id={role.fallback} />
        </>
      ) : (
        role.bleep && ` — bleep ${role.bleep}`
      )}
    </span>
  );
}

/** Who holds the role now; `detail` adds since when and how. */
export function HeldBy({ role, detail }: { role: RoleView; detail?: boolean }) {
  if (!role.holders.length) return <Nobody role={role} />;
  return (
    <span class="held">
      Held by{" "}
      {role.holders.map((h, i) => (
        <span key={h.user_id}>
          {i > 0 && ", "}
          {h.user_id === me() ? "you" : <Who userId={h.user_id} />}
          {detail && (
            <span class="muted">
              {" "}
              since {shiftTime(h.since_ts)} ({howWords(h.how)}
              {h.from && h.how === "handover" ? (
                <>
                  {" "}
                  by <Who userId={h.from} />
                </>
              ) : null}
              )
            </span>
          )}
        </span>
      ))}
    </span>
  );
}
