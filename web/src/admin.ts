// What administrators do to roles (/_wardline/admin/v1/roles): create, change, retire, set who
// holds them. Whether I am an administrator comes from whoami (`org.wardline.admin`); the
// server checks every call regardless.

import { updateOnCall, wardline } from "./roles";
import type { Eligibility, RoleView } from "./rolestate";

const BASE = "/_wardline/admin/v1/roles";
const id = (roleId: string) => encodeURIComponent(roleId);

/** Asks the server whether the signed-in person is an administrator. */
export async function checkAdmin(): Promise<void> {
  const who = await wardline<Record<string, unknown>>("GET", "/_matrix/client/v3/account/whoami");
  updateOnCall({ admin: who["org.wardline.admin"] === true });
}

/** What an administrator says a role is (`role_id` only when creating one). */
export interface RoleFields {
  role_id?: string;
  name: string;
  department: string | null;
  site: string | null;
  bleep: string | null;
  eligibility: Eligibility;
  may_be_empty: boolean;
  fallback: string | null;
}

/** Every role, retired ones too, with who may hold it. */
export async function adminRoles(): Promise<RoleView[]> {
  return (await wardline<{ roles: RoleView[] }>("GET", BASE)).roles;
}

export async function createRole(fields: RoleFields): Promise<RoleView> {
  return wardline<RoleView>("POST", BASE, fields);
}

export async function updateRole(roleId: string, fields: RoleFields): Promise<RoleView> {
  const { role_id: _, ...rest } = fields;
  return wardline<RoleView>("PUT", `${BASE}/${id(roleId)}`, rest);
}

/** Retires a role: nobody holds it any more; its history stays. */
export async function retireRole(roleId: string): Promise<void> {
  await wardline("DELETE", `${BASE}/${id(roleId)}`);
}

/** Exactly these people hold the role. */
export async function setHolders(roleId: string, holders: string[], note?: string): Promise<RoleView> {
  return wardline<RoleView>("PUT", `${BASE}/${id(roleId)}/holders`, note ? { holders, note } : { holders });
}
