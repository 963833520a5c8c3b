// The on-call panels, for the shell: who is on call, a role's page, the role editor.

import type { Panel } from "../state";
import { useStore } from "../state";
import { OnCall } from "./OnCall";
import { RoleAdmin } from "./RoleAdmin";
import { RolePage } from "./RolePage";

function Page() {
  const page = useStore((s) => s.oncall.page);
  return page ? <RolePage key={page} roleId={page} /> : <OnCall />;
}

/** The panel's content if it is one of these, else null. */
export function rolePanel(panel: Panel) {
  if (panel === "on-call") return <OnCall />;
  if (panel === "role") return <Page />;
  if (panel === "role-admin") return <RoleAdmin />;
  return null;
}
