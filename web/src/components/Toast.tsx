// A short confirmation at the bottom of the screen ("Forwarded to Ward 7"), gone after a moment.

import { useEffect } from "preact/hooks";

import { store, useStore } from "../state";

export function showToast(text: string): void {
  store.update({ toast: text });
}

export function Toast() {
  const toast = useStore((s) => s.toast);
  useEffect(() => {
    if (!toast) return undefined;
    const t = setTimeout(() => store.update((s) => (s.toast === toast ? { toast: "" } : {})), 4000);
    return () => clearTimeout(t);
  }, [toast]);
  // A polite live region (read out when it changes), not a second "status" beside the banner.
  return (
    <div class="toast" aria-live="polite">
      {toast}
    </div>
  );
}
