// What a Web Push from Wardline's server says, and how it is shown: shared by the service
// worker (which shows it) and the page (deep links, its sound). The payload (after the browser
// decrypts it) is {"room_id", "event_id", "prio": "high"|"low", "unread": n,
// "level": "routine"|"urgent"|"emergency"}: ids and counts, never text. (A push gateway's
// {"notification": {...}} wrapping is accepted too.)

export type PushLevel = "routine" | "urgent" | "emergency";

export interface PushNotice {
  roomId: string;
  /** Null: no new message (the unread count changed, e.g. read on another device). */
  eventId: string | null;
  level: PushLevel;
  unread: number | null;
  title: string;
  /** The vibration pattern (ms on, off, on…): each level its own, so a pocket can tell them apart. */
  vibrate: number[];
}

/** postMessage from the worker to a window: a push came (the window sounds it). */
export const PUSH_MESSAGE = "wardline.push";
/** postMessage from the worker to a window: a notification was tapped; open this message. */
export const OPEN_MESSAGE = "wardline.open";

const TITLE: Record<PushLevel, string> = { routine: "New message", urgent: "Urgent message", emergency: "Emergency" };
const VIBRATE: Record<PushLevel, number[]> = {
  routine: [200],
  urgent: [300, 150, 300, 150, 300],
  emergency: [800, 200, 800, 200, 800, 200, 800],
};

function field(o: Record<string, unknown>, key: string): unknown {
  return o[key];
}

/** The notice a push payload asks for, or null (not Wardline's, or no conversation in it). */
export function pushNotice(data: unknown): PushNotice | null {
  if (!data || typeof data !== "object") return null;
  let o = data as Record<string, unknown>;
  const inner = field(o, "notification");
  if (inner && typeof inner === "object") o = inner as Record<string, unknown>;
  const roomId = field(o, "room_id");
  if (typeof roomId !== "string" || !roomId) return null;
  const eventId = field(o, "event_id");
  const raw = field(o, "level");
  // Unknown level: "high" priority is at least urgent-looking; anything else routine.
  const level: PushLevel =
    raw === "urgent" || raw === "emergency" || raw === "routine" ? raw : field(o, "prio") === "high" ? "urgent" : "routine";
  const counts = field(o, "counts");
  const unread =
    typeof field(o, "unread") === "number"
      ? (field(o, "unread") as number)
      : counts && typeof counts === "object" && typeof (counts as { unread?: unknown }).unread === "number"
        ? ((counts as { unread: number }).unread)
        : null;
  return {
    roomId,
    eventId: typeof eventId === "string" && eventId ? eventId : null,
    level,
    unread,
    title: TITLE[level],
    vibrate: VIBRATE[level],
  };
}

/** The client's link to a message: `/#/room/{roomId}/{eventId}` (or to the conversation). */
export function deepLink(roomId: string, eventId: string | null): string {
  return `/#/room/${encodeURIComponent(roomId)}${eventId ? `/${encodeURIComponent(eventId)}` : ""}`;
}

/** The conversation and message a deep link is for (`location.hash`), or null. */
export function parseDeepLink(hash: string): { roomId: string; eventId: string | null } | null {
  const m = /^#\/room\/([^/]+)(?:\/([^/]+))?$/.exec(hash);
  if (!m) return null;
  try {
    return { roomId: decodeURIComponent(m[1]), eventId: m[2] ? decodeURIComponent(m[2]) : null };
  } catch {
    return null;
  }
}
