// The sidebar's way to the on-call screens: "On call" for everyone, "Manage roles" for
// administrators (asked of the server once signed in).

import { useEffect } from "preact/hooks";

import { checkAdmin } from "../admin";
import { openOnCall, openRoleAdmin } from "../rolepanel";
import { useStore } from "../state";

export function RolesNav() {
  const admin = useStore((s) => s.oncall.admin);
  useEffect(() => {
    checkAdmin().catch(() => undefined);
  }, []);
  return (
    <>
      <button class="plain" onClick={openOnCall}>
        On call
      </button>
      {admin && (
        <button class="plain" onClick={() => openRoleAdmin(null)}>
          Manage roles
        </button>
      )}
    </>
  );
}
