// A message sent to a role nobody holds is never silently parked: the server's answer to the
// send lists those roles (`org.wardline.unheld_roles`: the role, its fallback if any, and
// whether someone holding the fallback received it), and the sender is told at once, by the
// composer and on the message. The server also posts a notice from the role into the
// conversation, which everyone sees (renderers/rolenotice.tsx).

import { updateOnCall } from "./roles";
import type { UnheldRole } from "./rolestate";
import { store } from "./state";

export type { UnheldRole } from "./rolestate";

function parse(v: unknown): UnheldRole | null {
  const r = v as Record<string, unknown> | null;
  if (!r || typeof r !== "object" || typeof r.id !== "string") return null;
  const f = r.fallback as Record<string, unknown> | null | undefined;
  const fallback = f && typeof f.id === "string" ? { id: f.id, name: typeof f.name === "string" ? f.name : f.id } : null;
  return {
    id: r.id,
    name: typeof r.name === "string" ? r.name : r.id,
    fallback,
    reached: r.reached === true,
    bleep: typeof r.bleep === "string" && r.bleep ? r.bleep : null,
  };
}

/** What the server answered to a message of mine being sent (outbox.ts). */
export function noteSendAnswer(roomId: string, eventId: string, answer: Record<string, unknown>): void {
  const list = answer["org.wardline.unheld_roles"];
  const roles = Array.isArray(list) ? list.map(parse).filter((r): r is UnheldRole => r !== null) : [];
  if (!roles.length) {
    // Reached someone this time: an earlier warning in this conversation is history now.
    if (store.get().oncall.warning[roomId]) dismissWarning(roomId);
    return;
  }
  updateOnCall((o) => ({
    unheld: { ...o.unheld, [eventId]: roles },
    warning: { ...o.warning, [roomId]: { eventId, roles } },
  }));
}

export function dismissWarning(roomId: string): void {
  updateOnCall((o) => {
    const warning = { ...o.warning };
    delete warning[roomId];
    return { warning };
  });
}

/**
 * "Nobody is on Medical Registrar On-call now — sent to Switchboard", or "— nobody has received
 * it: bleep 1234" (the role's bleep, else its fallback's).
 */
export function unheldText(r: UnheldRole, bleep: string | null): string {
  const head = `Nobody is on ${r.name} now`;
  if (r.fallback && r.reached) return `${head} — sent to ${r.fallback.name}`;
  const fallbackToo = r.fallback ? ` (nobody is on ${r.fallback.name} either)` : "";
  return `${head} — nobody has received it${fallbackToo}${bleep ? `: bleep ${bleep}` : ". Phone the ward or switchboard."}`;
}

/** The bleep to use instead: the role's own (from the answer, else the store), else its fallback's. */
export function bleepFor(r: UnheldRole): string | null {
  const roles = store.get().oncall.roles;
  return r.bleep ?? roles[r.id]?.bleep ?? (r.fallback ? (roles[r.fallback.id]?.bleep ?? null) : null);
}
