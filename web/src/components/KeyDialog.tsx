// A new API key of an integration, shown this once: the server keeps only its hash, so the
// administrator copies it now (a copy button, and the key selectable by hand) to give to the
// system. Nothing of it is kept after the dialog closes.

import { useRef, useState } from "preact/hooks";

import { Dialog } from "./Dialog";

export function KeyDialog(props: { integration: string; keyId: string; secret: string; onClose: () => void }) {
  const [copied, setCopied] = useState("");
  const field = useRef<HTMLInputElement>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.secret);
      setCopied("Copied.");
    } catch {
      // No clipboard (an http page, a locked-down PC): the key is selected to copy by hand.
      field.current?.select();
      setCopied("Selected: copy it with Ctrl+C (or your device's Copy).");
    }
  };
  return (
    <Dialog label="New key" onClose={props.onClose} class="key-dialog">
      <h2>New key for {props.integration}</h2>
      <p class="key-warning" role="alert">
        <strong>Copy this key now. You will not see it again:</strong> Wardline keeps only a hash of it. If it is lost, add a new key and revoke this one.
      </p>
      <label for="new-key">Key {props.keyId}</label>
      <input id="new-key" ref={field} class="secret" type="text" readOnly value={props.secret} onFocus={(ev) => (ev.currentTarget as HTMLInputElement).select()} />
      <p class="muted" aria-live="polite">
        {copied}
      </p>
      <div class="dialog-actions">
        <button type="button" onClick={() => void copy()}>
          Copy key
        </button>
        <button type="button" class="plain" onClick={props.onClose}>
          Done
        </button>
      </div>
    </Dialog>
  );
}
