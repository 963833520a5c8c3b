// Incidents (`/_wardline/client/v1/incidents`): the incident conversations I am in (a cardiac
// arrest, a fire: each its own conversation, with the `org.wardline.incident` state), open ones
// first, with who is coming and who is not, as the server counts the answers to its alarm; and
// closing one (any member may: the responder who stands the team down). Kept in the store
// (state.incidents); asked again when the sync brings something that may change it (an alarm,
// an answer, the incident's state, a conversation joined) and when the list is opened. A failed
// ask keeps what was known.

import type { MatrixEvent, Room } from "./mx";
import { RESPONSE } from "./priority";
import { ALARM, INCIDENT } from "./alarms";
import type { AlarmKind, Location, Patient } from "./alarms";
import { nameIn } from "./rolechat";
import { wardline } from "./roles";
import { hasClient, matrix } from "./signedin";
import { store } from "./state";

export { INCIDENT };
const BASE = "/_wardline/client/v1/incidents";

export interface Responder {
  user_id: string;
  display_name: string;
  ts: number;
}

export interface Incident {
  room_id: string;
  alarm_id: string;
  kind: AlarmKind;
  title: string;
  location: Location;
  patient?: Patient;
  state: "open" | "closed";
  opened_ts: number;
  closed_ts?: number;
  closed_by?: string;
  reason?: string;
  /** How many the alarm was sent to. */
  alerted: number;
  coming: Responder[];
  not_coming: Responder[];
}

let asking: Promise<void> | null = null;
let again = false;

async function load(): Promise<void> {
  try {
    const r = await wardline<{ incidents?: unknown }>("GET", BASE);
    // (Signed out meanwhile: nothing of it stays.)
    if (!hasClient() || !Array.isArray(r.incidents)) return;
    const incidents = (r.incidents as Incident[]).filter(
      (i) => typeof i?.room_id === "string" && typeof i.title === "string" && Array.isArray(i.coming) && Array.isArray(i.not_coming),
    );
    store.update({ incidents });
  } catch {
    // Offline or refused: what was known stays.
  }
}

/** Asks the server again (once at a time; again after, if wanted meanwhile). */
export function refreshIncidents(): void {
  if (!hasClient()) return;
  if (asking) {
    again = true;
    return;
  }
  asking = load().finally(() => {
    asking = null;
    if (again) {
      again = false;
      refreshIncidents();
    }
  });
}

/** Is this conversation an incident's (its state says so)? */
export function isIncidentRoom(room: Room | null): boolean {
  return Boolean(room?.currentState.getStateEvents(INCIDENT, ""));
}

/** An event arrived: the list is asked again if it may have changed it. */
export function noteIncidentEvent(e: MatrixEvent, room: Room): void {
  const type = e.getType();
  if (type === INCIDENT) return refreshIncidents();
  if (!isIncidentRoom(room)) return;
  const content = e.getContent();
  if (ALARM in content || RESPONSE in content || type === "m.reaction" || type === "m.room.redaction" || type === "m.room.member") {
    refreshIncidents();
  }
}

/** I joined (or left) a conversation: an incident's changes the list. */
export function noteIncidentRoom(room: Room): void {
  if (isIncidentRoom(room)) refreshIncidents();
}

/** Closes an incident, with an optional reason. Throws the server's refusal (roles.ts's Refused). */
export async function closeIncident(roomId: string, reason: string): Promise<void> {
  const why = reason.trim();
  await wardline("POST", `${BASE}/${encodeURIComponent(roomId)}/close`, why ? { reason: why } : {});
  refreshIncidents();
}

/** The incident of a conversation, as last heard. */
export function incidentOf(incidents: Incident[] | null, roomId: string | null): Incident | undefined {
  return roomId ? incidents?.find((i) => i.room_id === roomId) : undefined;
}

/** "2 coming · 1 can't come · 3 alerted", or "Nobody coming yet · 3 alerted" while it is open. */
export function answersLine(i: Incident): string {
  const parts: string[] = [];
  parts.push(!i.coming.length && i.state === "open" ? "Nobody coming yet" : `${i.coming.length} coming`);
  if (i.not_coming.length) parts.push(`${i.not_coming.length} can't come`);
  if (i.alerted) parts.push(`${i.alerted} alerted`);
  return parts.join(" · ");
}

/** Who closed it: a responder by the name the server gave, else as this conversation knows them (never the role they are seated for). */
export function closedByName(i: Incident): string {
  const by = i.closed_by;
  if (!by) return "";
  const answered = [...i.coming, ...i.not_coming].find((r) => r.user_id === by);
  if (answered) return answered.display_name;
  if (!hasClient()) return by;
  const room = matrix().getRoom(i.room_id);
  return room ? nameIn(room, by) : (matrix().getUser(by)?.displayName ?? by);
}

/** The title's first part ("Cardiac arrest", or the rule's own title), without the place. */
export function titleWhat(i: Incident): string {
  const at = i.title.indexOf(" — ");
  return at > 0 ? i.title.slice(0, at) : i.title;
}

/** Forgets them (sign-out). */
export function forgetIncidents(): void {
  again = false;
  store.update({ incidents: null });
}
