// The sidebar's way to the administrators' alarm screens (integrations, rules, alert topics,
// the live log, failed reports): for administrators only, as whoami says (RolesNav asks it
// once signed in).

import { openAlarmAdmin } from "../alarmadmin";
import { useStore } from "../state";

export function AlarmAdminNav() {
  const admin = useStore((s) => s.oncall.admin);
  if (!admin) return null;
  return (
    <button class="plain" onClick={() => openAlarmAdmin()}>
      Alarms admin
    </button>
  );
}
