// The sidebar's "Broadcast" entry, shown only to those an administrator allowed to broadcast
// (asked of the server once signed in; the server checks every call regardless).

import { useEffect } from "preact/hooks";

import { checkBroadcaster, openBroadcasts } from "../broadcasts";
import { useStore } from "../state";

export function BroadcastNav() {
  const may = useStore((s) => s.broadcaster);
  useEffect(() => {
    checkBroadcaster().catch(() => undefined);
  }, []);
  if (!may) return null;
  return (
    <button class="plain" onClick={() => openBroadcasts(null)}>
      Broadcast
    </button>
  );
}
