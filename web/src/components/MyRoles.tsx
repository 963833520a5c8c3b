// "Your roles": the roles I hold now, since when, with swipe out and hand over.

import { howWords, shiftTime } from "../roles";
import { me } from "../signedin";
import { useStore } from "../state";
import { RoleActions } from "./RoleActions";

export function MyRoles({ onChanged }: { onChanged: () => void }) {
  const roles = useStore((s) => s.oncall.roles);
  const listed = useStore((s) => s.oncall.listed);
  const mine = Object.values(roles)
    .filter((r) => !r.retired && r.holders.some((h) => h.user_id === me()))
    .sort((a, b) => a.name.localeCompare(b.name));
  return (
    <section class="my-roles" aria-label="Your roles">
      <h3>Your roles</h3>
      {mine.length ? (
        <ul class="role-list">
          {mine.map((r) => {
            const h = r.holders.find((x) => x.user_id === me());
            return (
              <li key={r.role_id} class="role-card">
                <strong>{r.name}</strong>
                {h && (
                  <span class="muted">
                    {" "}
                    on shift since {shiftTime(h.since_ts)} ({howWords(h.how)})
                  </span>
                )}
                <RoleActions role={r} message={false} onChanged={onChanged} />
              </li>
            );
          })}
        </ul>
      ) : (
        listed && <p class="muted">You hold no role now. Swipe in to one below at the start of your shift.</p>
      )}
    </section>
  );
}
