// The pusher this device asks the server for (POST /_matrix/client/v3/pushers/set), made from
// the browser's push subscription: kind "webpush" (MSC4174), the subscription's public key as
// the pushkey, its endpoint and auth secret as data. The server encrypts each push to that key
// (RFC 8291) and signs it with its VAPID key. Turning it off: the same app_id and pushkey with
// kind null. Pure (tests/pusher.test.mjs).

export const APP_ID = "org.wardline.web";

/** A push subscription as the browser gives it (`PushSubscription.toJSON()`). */
export interface Subscription {
  endpoint?: string;
  keys?: Record<string, string>;
}

export interface WebPusher {
  kind: "webpush";
  app_id: string;
  pushkey: string;
  app_display_name: string;
  device_display_name: string;
  lang: string;
  data: { url: string; auth: string };
}

/** The pusher for a subscription, or null when the browser gave no keys (it cannot be encrypted to). */
export function webPusher(sub: Subscription, device: string, lang: string): WebPusher | null {
  const pushkey = sub.keys?.p256dh;
  const auth = sub.keys?.auth;
  if (!sub.endpoint || !pushkey || !auth) return null;
  return {
    kind: "webpush",
    app_id: APP_ID,
    pushkey,
    app_display_name: "Wardline",
    device_display_name: device,
    lang: lang.split("-")[0] || "en",
    data: { url: sub.endpoint, auth },
  };
}

/** Removes the pusher of this pushkey. */
export function noPusher(pushkey: string): { kind: null; app_id: string; pushkey: string } {
  return { kind: null, app_id: APP_ID, pushkey };
}

/** "Chrome on Android", "Firefox on Windows": this browser, as the device list names it. */
export function browserName(userAgent: string): string {
  const browser = /Edg\//.test(userAgent)
    ? "Edge"
    : /Firefox\//.test(userAgent)
      ? "Firefox"
      : /Chrom(e|ium)\//.test(userAgent)
        ? "Chrome"
        : /Safari\//.test(userAgent)
          ? "Safari"
          : "Browser";
  const os = /Android/.test(userAgent)
    ? "Android"
    : /iPhone|iPad/.test(userAgent)
      ? "iOS"
      : /Windows/.test(userAgent)
        ? "Windows"
        : /Mac OS X/.test(userAgent)
          ? "macOS"
          : /Linux|CrOS/.test(userAgent)
            ? "Linux"
            : "";
  return os ? `${browser} on ${os}` : browser;
}

/** The bytes of a base64url string (a VAPID public key), for `applicationServerKey`. */
export function base64UrlBytes(text: string): Uint8Array {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  const raw = atob(b64);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}
