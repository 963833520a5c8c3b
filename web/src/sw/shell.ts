// The app shell offline: the page, its script and its styles (/, /app.js, /app.css), so the
// client opens with no network and shows what waits in the outbox (sessionStorage, IndexedDB).
//
// Network first: online, every load gets the server's current files (a new version at once),
// and the copy is kept; only when the network fails is the kept copy used. Nothing else is
// cached, ever: not the API (/_matrix, /_wardline: messages, names, rooms), not media, nothing
// sent with a token. The three files are public and the same for everyone, so the cache holds
// no patient data and sign-out has nothing to clear here.

/** The cache of this version of the shell's rules; others are deleted when this worker starts. */
const CACHE = "wardline-shell-v1";
const SHELL = ["/", "/app.js", "/app.css"];

/** The shell file a request is for (its cache key), or null: not the worker's business. */
function shellPath(request: Request, origin: string): string | null {
  if (request.method !== "GET" || request.headers.has("authorization")) return null;
  const url = new URL(request.url);
  if (url.origin !== origin || !SHELL.includes(url.pathname)) return null;
  return url.pathname;
}

async function networkFirst(event: FetchEvent, path: string): Promise<Response> {
  try {
    const fresh = await fetch(event.request);
    if (fresh.ok && fresh.type === "basic") {
      const copy = fresh.clone();
      event.waitUntil(caches.open(CACHE).then((c) => c.put(path, copy)).catch(() => undefined));
    }
    return fresh;
  } catch (err) {
    const kept = await caches.open(CACHE).then((c) => c.match(path));
    if (kept) return kept;
    throw err;
  }
}

export function serveShell(sw: ServiceWorkerGlobalScope): void {
  // Kept at once, so the first visit is enough to open offline later (best effort: a file not
  // fetched now is kept at its next load).
  sw.addEventListener("install", (event) => {
    event.waitUntil(
      caches
        .open(CACHE)
        .then((c) => c.addAll(SHELL.map((path) => new Request(path, { cache: "reload" }))))
        .catch(() => undefined)
        .then(() => sw.skipWaiting()),
    );
  });

  sw.addEventListener("activate", (event) => {
    event.waitUntil(
      caches
        .keys()
        .then((keys) => Promise.all(keys.filter((k) => k.startsWith("wardline-shell-") && k !== CACHE).map((k) => caches.delete(k))))
        .then(() => sw.clients.claim()),
    );
  });

  sw.addEventListener("fetch", (event) => {
    const path = shellPath(event.request, sw.location.origin);
    if (path) event.respondWith(networkFirst(event, path));
  });
}
