// What waits for my answer: the urgent and emergency messages still escalating in my
// conversations that I did not send and have not answered, as the server computes them
// (`GET /_wardline/client/v1/escalations/waiting`, the same rule as the message's status). The
// red (emergency) or amber (urgent) banner shows them until each is answered or its escalation
// ends. Asked again whenever something that may change it arrives (a priority message, an
// answer, a reaction, a deletion, an escalation notice, a hospital system's notice that its alarm
// ended, an incident closed) and at start; a failed ask keeps what was known (never silently
// clears it).

import { ALARM, INCIDENT } from "./alarms";
import { ESCALATION, PRIORITY, RESPONSE } from "./priority";
import { token } from "./signedin";
import { store } from "./state";

export interface WaitingItem {
  room_id: string;
  event_id: string;
  level: "urgent" | "emergency";
  sender: string;
  sent_ts: number;
  joined: boolean;
}

let asking: Promise<void> | null = null;
let again = false;

async function load(): Promise<void> {
  try {
    const r = await fetch("/_wardline/client/v1/escalations/waiting", { headers: { Authorization: `Bearer ${token()}` } });
    if (!r.ok) return;
    const body = (await r.json()) as { waiting?: unknown };
    if (!Array.isArray(body.waiting)) return;
    const waiting = (body.waiting as WaitingItem[]).filter(
      (w) => typeof w?.event_id === "string" && typeof w.room_id === "string" && (w.level === "urgent" || w.level === "emergency"),
    );
    store.update({ waiting });
  } catch {
    // Offline: what was waiting still is, as far as anyone here knows.
  }
}

/** Asks the server again (once at a time; again after, if wanted meanwhile). */
export function refreshWaiting(): void {
  if (asking) {
    again = true;
    return;
  }
  asking = load().finally(() => {
    asking = null;
    if (again) {
      again = false;
      refreshWaiting();
    }
  });
}

/** An event arrived: asked again if it may change what waits for me. */
export function noteWaitingEvent(type: string, content: Record<string, unknown>): void {
  // (The server opens a message's escalation as it answers its sender; a recipient's sync can
  // be a moment quicker, so a new priority message is asked about once more shortly after.)
  if (PRIORITY in content) setTimeout(refreshWaiting, 2_000);
  if (
    type === "m.reaction" ||
    type === "m.room.redaction" ||
    PRIORITY in content ||
    RESPONSE in content ||
    ESCALATION in content ||
    ALARM in content ||
    type === INCIDENT
  ) {
    refreshWaiting();
  }
}

/** Forgets it (sign-out). */
export function forgetWaiting(): void {
  again = false;
  store.update({ waiting: [] });
}
