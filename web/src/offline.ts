// Opening offline: the service worker (src/sw/, served at /sw.js) keeps the app shell, so the
// page loads with no network and shows what is waiting to be sent. Registered once the page has
// loaded, so it never slows the first load.

export function registerWorker(): void {
  if (!("serviceWorker" in navigator)) return;
  const register = () => void navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => undefined);
  if (document.readyState === "complete") register();
  else window.addEventListener("load", register, { once: true });
}
