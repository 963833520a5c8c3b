// On a message of mine that went to a role nobody held: where it went instead, at once (from
// the send's answer), with the bleep to use when nobody received it.

import { bleepFor, unheldText } from "../unheld";
import { useStore } from "../state";

export function UnheldNote({ eventId }: { eventId: string }) {
  const roles = useStore((s) => s.oncall.unheld[eventId]);
  // Redrawn when a bleep becomes known.
  useStore((s) => s.oncall.roles);
  if (!roles) return null;
  return (
    <span class="unheld-note">
      {roles.map((r) => (
        <span key={r.id}>
          <span aria-hidden="true">⚠ </span>
          {unheldText(r, bleepFor(r))}
        </span>
      ))}
    </span>
  );
}
