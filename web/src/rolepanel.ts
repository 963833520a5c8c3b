// Going to the on-call screens: who is on call (with my roles), a role's page, and the
// administrators' role editor. Each is a panel beside (on a phone: instead of) the list.

import { showPanel } from "./conversation";
import { updateOnCall } from "./roles";

export function openOnCall(): void {
  showPanel("on-call");
}

export function openRolePage(roleId: string): void {
  showPanel("role");
  updateOnCall({ page: roleId });
}

/** The role editor: the list, or one role (`""`: a new one). */
export function openRoleAdmin(editing: string | null = null): void {
  showPanel("role-admin");
  updateOnCall({ editing });
}
