// Presence beside names (online, away, do not disturb, offline), and my do-not-disturb.

import { SetPresence } from "./mx";
import { hasClient, matrix } from "./signedin";
import { store } from "./state";
import type { PresenceView } from "./state";


function presenceOf(userId: string): PresenceView {
  const user = hasClient() ? matrix().getUser(userId) : null;
  const state = (user?.presence ?? "offline") as PresenceView["state"];
  return {
    state: state === "online" || state === "unavailable" ? state : "offline",
    dnd: state === "unavailable" && user?.presenceStatusMsg === "Do not disturb",
  };
}

export function refreshPresence(userId: string): void {
  const next = presenceOf(userId);
  const old = store.get().presence[userId];
  if (old && old.state === next.state && old.dnd === next.dnd) return;
  store.update((s) => ({ presence: { ...s.presence, [userId]: next } }));
}

/** Presence of someone the client has not heard about yet (e.g. found in the directory). */
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
