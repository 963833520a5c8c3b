// Above the composer, at once, when my message went to a role nobody holds: "Nobody is on
// Medical Registrar On-call now — sent to Switchboard", or "— nobody has received it: bleep
// 1234". An alert (read out at once); it stays until dismissed or a later message reaches
// someone.

import { useEffect } from "preact/hooks";

import { want } from "../roles";
import { useStore } from "../state";
import { bleepFor, dismissWarning, unheldText } from "../unheld";

export function UnheldWarning({ roomId }: { roomId: string }) {
  const warning = useStore((s) => s.oncall.warning[roomId]);
  useStore((s) => s.oncall.roles);
  // The bleep numbers to give.
  useEffect(() => {
    for (const r of warning?.roles ?? []) {
      want(r.id);
      if (r.fallback) want(r.fallback.id);
    }
  }, [warning]);
  if (!warning) return null;
  return (
    <div class="unheld-warning" role="alert">
      <div>
        {warning.roles.map((r) => (
          <p key={r.id}>
            <span aria-hidden="true">⚠ </span>
            {unheldText(r, bleepFor(r))}
          </p>
        ))}
      </div>
      <button type="button" class="plain" onClick={() => dismissWarning(roomId)}>
        OK
      </button>
    </div>
  );
}
