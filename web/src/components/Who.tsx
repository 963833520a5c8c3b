// Someone's own name (their profile), drawn as soon as the server has said it.

import { personName } from "../roles";
import { useStore } from "../state";

export function Who({ userId, fallback }: { userId: string; fallback?: string }) {
  // Redrawn when the name arrives.
  useStore((s) => s.oncall.names[userId]);
  return <>{personName(userId, fallback)}</>;
}
