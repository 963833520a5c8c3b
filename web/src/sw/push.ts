// Web Push (RFC 8030, encrypted per RFC 8291 with the server's VAPID key): the server's pusher
// sends a few ids and counts, never the message's text (a lock screen would show it). The
// browser wakes this worker when no Wardline tab is open, too.
//
// - `push`: a notification per conversation (tag), that says how urgent it is and nothing
//   else: "Urgent message" / "Emergency" / "New message", "Open Wardline to read it". Urgent and
//   emergency stay until dismissed and vibrate in their own pattern; each new one alerts again
//   (renotify). With a Wardline window open and in front, a routine message is not shown: the
//   window is told (postMessage) and plays its own sound; nor does a less urgent message replace
//   an urgent one still shown for the conversation. A push without a message (the count
//   went down: read elsewhere) takes the conversation's notification away.
// - `notificationclick`: the message opens: in an open window (focused, told which message), or
//   in a new one at the client's deep link `/#/room/{roomId}/{eventId}`.

import { OPEN_MESSAGE, PUSH_MESSAGE, deepLink, pushNotice } from "./pushnotice";
import type { PushLevel } from "./pushnotice";

const RANK: Record<PushLevel, number> = { routine: 0, urgent: 1, emergency: 2 };

async function windows(sw: ServiceWorkerGlobalScope): Promise<readonly WindowClient[]> {
  return sw.clients.matchAll({ type: "window", includeUncontrolled: true });
}

async function onPush(sw: ServiceWorkerGlobalScope, data: unknown): Promise<void> {
  const notice = pushNotice(data);
  if (!notice) return;
  const open = await windows(sw);
  for (const w of open) w.postMessage({ type: PUSH_MESSAGE, ...notice });
  const tag = `room:${notice.roomId}`;
  if (!notice.eventId) {
    if (notice.unread === 0) for (const n of await sw.registration.getNotifications({ tag })) n.close();
    return;
  }
  // Someone is looking at Wardline: the window sounds a routine message (the push told it).
  if (notice.level === "routine" && open.some((w) => w.visibilityState === "visible" && w.focused)) return;
  // An urgent or emergency notification of the conversation still up is not replaced by a
  // less urgent one (it would lose its place and its stay-until-dismissed): it stays.
  const up = await sw.registration.getNotifications({ tag });
  if (up.some((n) => RANK[(n.data as { level?: PushLevel } | null)?.level ?? "routine"] > RANK[notice.level])) return;
  await sw.registration.showNotification(notice.title, {
    body: "Open Wardline to read it",
    tag,
    renotify: true,
    requireInteraction: notice.level !== "routine",
    vibrate: notice.vibrate,
    icon: "/icon-192.png",
    badge: "/icon-192.png",
    timestamp: Date.now(),
    data: { roomId: notice.roomId, eventId: notice.eventId, level: notice.level },
  } as NotificationOptions);
}

async function onClick(sw: ServiceWorkerGlobalScope, notification: Notification): Promise<void> {
  const { roomId, eventId } = (notification.data ?? {}) as { roomId?: string; eventId?: string };
  notification.close();
  if (!roomId) return;
  const open = await windows(sw);
  const target = open.find((w) => w.focused) ?? open.find((w) => w.visibilityState === "visible") ?? open[0];
  if (target) {
    target.postMessage({ type: OPEN_MESSAGE, roomId, eventId: eventId ?? null });
    await target.focus().catch(() => undefined);
    return;
  }
  await sw.clients.openWindow(deepLink(roomId, eventId ?? null));
}

function payload(event: PushEvent): unknown {
  if (!event.data) return null;
  try {
    return event.data.json();
  } catch {
    return null;
  }
}

export function handlePush(sw: ServiceWorkerGlobalScope): void {
  sw.addEventListener("push", (event) => {
    event.waitUntil(onPush(sw, payload(event)).catch(() => undefined));
  });
  sw.addEventListener("notificationclick", (event) => {
    event.waitUntil(onClick(sw, event.notification).catch(() => undefined));
  });
}
