// Notifications on this device when no Wardline tab is open: Web Push through the browser's
// push service to the service worker (src/sw/push.ts). Turning it on asks the browser's
// permission, subscribes with the server's VAPID key (GET /_wardline/client/v1/push/vapid) and
// registers the subscription as this device's pusher (pusher.ts); turning it off, or signing
// out, removes the pusher and the subscription. The worker tells an open window of each push
// (it sounds routine messages itself) and of a tapped notification (the message opens).

import { playAlert } from "./alert";
import { openAt, openRoom } from "./conversation";
import { APP_ID, base64UrlBytes, browserName, noPusher, webPusher } from "./pusher";
import { hasClient, matrix, token } from "./signedin";
import { store } from "./state";
import { OPEN_MESSAGE, PUSH_MESSAGE, parseDeepLink } from "./sw/pushnotice";
import type { PushLevel } from "./sw/pushnotice";

/** Said when the browser cannot reach its push service (offline, or none: some networks block it). */
export const UNREACHABLE = "This browser's push service is not reachable. Wardline still notifies you while it is open.";
/** How long the browser's push service gets to answer a subscription. */
const SUBSCRIBE_MS = 20_000;

export type DevicePush = "unsupported" | "blocked" | "off" | "on";

function supported(): boolean {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

async function registration(): Promise<ServiceWorkerRegistration> {
  const existing = await navigator.serviceWorker.getRegistration("/");
  if (existing) return existing;
  return navigator.serviceWorker.register("/sw.js", { scope: "/" });
}

/** Whether this device gets notifications when no tab is open. */
export async function devicePush(): Promise<DevicePush> {
  if (!supported()) return "unsupported";
  if (Notification.permission === "denied") return "blocked";
  const reg = await navigator.serviceWorker.getRegistration("/");
  const sub = await reg?.pushManager.getSubscription();
  return sub && Notification.permission === "granted" ? "on" : "off";
}

async function api(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${token()}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await r.json().catch(() => ({}))) as Record<string, unknown>;
  if (!r.ok) throw Object.assign(new Error(typeof json.error === "string" ? json.error : `status ${r.status}`), { status: r.status });
  return json;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timed out")), ms);
    p.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

/** Turns notifications on for this device; an Error with words for the person on failure. */
export async function turnOnPush(): Promise<void> {
  if (!supported()) throw new Error("This browser cannot show notifications.");
  const permission = await Notification.requestPermission();
  if (permission !== "granted") {
    throw new Error("Notifications are blocked for Wardline in this browser's settings. Allow them there, then try again.");
  }
  let key: string;
  try {
    const r = await api("GET", "/_wardline/client/v1/push/vapid");
    if (typeof r.public_key !== "string" || !r.public_key) throw new Error("no key");
    key = r.public_key;
  } catch {
    throw new Error("The server cannot send notifications to devices right now. Try again later.");
  }
  const reg = await registration();
  let sub: PushSubscription;
  try {
    await withTimeout(navigator.serviceWorker.ready, SUBSCRIBE_MS);
    sub = await withTimeout(
      reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlBytes(key) as BufferSource }),
      SUBSCRIBE_MS,
    );
  } catch {
    throw new Error(UNREACHABLE);
  }
  const pusher = webPusher(sub.toJSON(), browserName(navigator.userAgent), navigator.language || "en");
  try {
    if (!pusher) throw new Error("no keys");
    await api("POST", "/_matrix/client/v3/pushers/set", pusher);
  } catch {
    await sub.unsubscribe().catch(() => false);
    throw new Error("The server did not accept this device for notifications. Try again later.");
  }
}

/** Turns notifications off for this device: the server's pusher, then the subscription. */
export async function turnOffPush(): Promise<void> {
  if (!supported()) return;
  const reg = await navigator.serviceWorker.getRegistration("/");
  const sub = await reg?.pushManager.getSubscription();
  if (!sub) return;
  const pushkey = sub.toJSON().keys?.p256dh;
  if (pushkey && hasClient()) await api("POST", "/_matrix/client/v3/pushers/set", noPusher(pushkey)).catch(() => undefined);
  await sub.unsubscribe().catch(() => false);
}

/** At sign-out: nothing more is pushed to this device for the person leaving. */
export async function forgetPush(): Promise<void> {
  pushOn = false;
  await withTimeout(turnOffPush(), 5_000).catch(() => undefined);
}

// ---- sounds on this device --------------------------------------------------------------------

const ROUTINE_SOUND = "wardline.routine-sound";

/** Routine messages make a sound here (a device setting, kept in this browser; on unless turned off). */
export function routineSound(): boolean {
  try {
    return localStorage.getItem(ROUTINE_SOUND) !== "off";
  } catch {
    return true;
  }
}

export function setRoutineSound(on: boolean): void {
  try {
    localStorage.setItem(ROUTINE_SOUND, on ? "on" : "off");
  } catch {
    // Private mode: the setting lasts as long as the page.
  }
}

/** Messages sounded lately (by event id): the sync and a push both tell of one, it sounds once. */
const sounded = new Set<string>();

/** Sounds a message's arrival once: urgent and emergency always, routine if the device wants it. */
function soundOnce(eventId: string | null, level: PushLevel): void {
  if (eventId) {
    if (sounded.has(eventId)) return;
    sounded.add(eventId);
    if (sounded.size > 200) sounded.delete(sounded.values().next().value as string);
  }
  if (level !== "routine" || routineSound()) playAlert(level);
}

/**
 * A message arriving now, from the sync or told by a push: sounds here, once, unless the person
 * is looking at its conversation or is on do-not-disturb (all but an emergency); urgent and
 * emergency only while the page is not in front (in front, it shows them), routine if wanted.
 */
export function soundArrival(eventId: string | null, roomId: string, level: PushLevel): void {
  const s = store.get();
  const inFront = document.visibilityState === "visible";
  if (s.dnd && level !== "emergency") return;
  if (inFront && s.current === roomId) return;
  if (level !== "routine" && inFront) return;
  soundOnce(eventId, level);
}

// ---- the service worker's messages, and deep links ------------------------------------------

/** Opens the message a link or a tapped notification is for (once the conversations are there). */
function openMessage(roomId: string, eventId: string | null): void {
  const go = () => {
    if (!hasClient() || !matrix().getRoom(roomId)) return;
    if (eventId) openAt(roomId, eventId);
    else openRoom(roomId);
  };
  if (store.get().ready) return go();
  const stop = store.subscribe(() => {
    if (!store.get().ready) return;
    stop();
    go();
  });
}

/** The deep link the page was opened at (`/#/room/…`, a tapped notification): that message opens. */
export function followDeepLink(): void {
  const link = parseDeepLink(location.hash);
  if (!link) return;
  history.replaceState(null, "", location.pathname + location.search);
  openMessage(link.roomId, link.eventId);
}

/** Listens to the service worker while signed in; returns the undoing. */
export function listenToWorker(): () => void {
  if (!("serviceWorker" in navigator)) return () => undefined;
  const onMessage = (event: MessageEvent) => {
    const m = event.data as { type?: string; roomId?: string; eventId?: string | null; level?: PushLevel } | null;
    if (!m || typeof m.roomId !== "string") return;
    if (m.type === OPEN_MESSAGE) openMessage(m.roomId, m.eventId ?? null);
    if (m.type === PUSH_MESSAGE && m.eventId && m.level) soundArrival(m.eventId, m.roomId, m.level);
  };
  navigator.serviceWorker.addEventListener("message", onMessage);
  return () => navigator.serviceWorker.removeEventListener("message", onMessage);
}

/** This device gets pushes: the worker shows notifications, the page makes none of its own. */
let pushOn = false;

export function notePushOn(on: boolean): void {
  pushOn = on;
}

export function pushIsOn(): boolean {
  return pushOn;
}

/** Learns whether this device gets pushes (at the start of a session). */
export function checkPush(): void {
  devicePush()
    .then((d) => notePushOn(d === "on"))
    .catch(() => undefined);
}

export { APP_ID };
