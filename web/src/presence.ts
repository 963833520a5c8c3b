// Presence beside names (online, away, do not disturb, offline).

import { DND_KIND, noteDndFromPresence } from "./dnd";
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
  // The server's do-not-disturb (with its status message "Do not disturb until …"), or one a
  // client chose with the plain status message.
  const dnd = said === "unavailable" && (DND_KIND in event.getContent() || (user.presenceStatusMsg ?? "").startsWith("Do not disturb"));
  return { state: said, dnd };
}

export function refreshPresence(userId: string): void {
  const event = hasClient() ? matrix().getUser(userId)?.events.presence : undefined;
  if (event) noteDndFromPresence(userId, event.getContent());
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
