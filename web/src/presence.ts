// Presence beside names (online, away, do not disturb, offline), and my do-not-disturb.

import { SetPresence } from "./mx";
import { hasClient, matrix } from "./signedin";
import { store } from "./state";
import type { PresenceView } from "./state";


/**
 * What the server last said of someone's presence, or nothing if it has said nothing (someone
 * who never signed in, or shares no conversation with me). The client never infers presence:
 * no "offline" for silence, nothing worked out from how long ago someone was active; the
 * server expires presence itself and says so.
 */
function presenceOf(userId: string): PresenceView | undefined {
  const user = hasClient() ? matrix().getUser(userId) : null;
  const event = user?.events.presence;
  if (!user || !event) return undefined;
  const said = event.getContent().presence;
  if (said !== "online" && said !== "unavailable" && said !== "offline") return undefined;
  return { state: said, dnd: said === "unavailable" && user.presenceStatusMsg === "Do not disturb" };
}

export function refreshPresence(userId: string): void {
  const next = presenceOf(userId);
  if (!next) return;
  const old = store.get().presence[userId];
  if (old && old.state === next.state && old.dnd === next.dnd) return;
  store.update((s) => ({ presence: { ...s.presence, [userId]: next } }));
}

/** Presence of someone found elsewhere (e.g. in the directory), if the server has said it. */
export function watchPresence(userId: string): void {
  if (!store.get().presence[userId]) refreshPresence(userId);
}

export async function setDnd(on: boolean): Promise<void> {
  store.update({ dnd: on });
  const c = matrix();
  // Syncs would otherwise mark me online again.
  void c.setSyncPresence(on ? SetPresence.Unavailable : SetPresence.Online);
  await c.setPresence({ presence: on ? "unavailable" : "online", status_msg: on ? "Do not disturb" : "" }).catch(() => undefined);
}
