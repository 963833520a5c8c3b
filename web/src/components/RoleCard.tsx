// One role in the on-call view: its name (its page: rota and history), where and its bleep,
// who holds it now and since when, or "Nobody on shift"; message it, swipe in or out.

import { memo } from "./memo";

import { openRolePage } from "../rolepanel";
import type { RoleView } from "../roles";
import { HeldBy } from "./RoleStatus";
import { RoleActions } from "./RoleActions";

export const RoleCard = memo(function RoleCard({ role, onChanged }: { role: RoleView; onChanged: () => void }) {
  const where = [role.site, role.bleep && `bleep ${role.bleep}`].filter(Boolean).join(" · ");
  return (
    <li class={`role-card${role.holders.length ? "" : " unheld"}`} aria-label={role.name}>
      <button type="button" class="role-title plain" onClick={() => openRolePage(role.role_id)}>
        {role.name}
      </button>
      {where && <span class="muted"> {where}</span>}
      <p class="role-holders">
        <HeldBy role={role} detail />
      </p>
      <RoleActions role={role} onChanged={onChanged} />
    </li>
  );
});
