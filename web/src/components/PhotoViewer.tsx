// A photo at full size (the file itself, not the timeline's thumbnail), over everything else.
// On a phone it can be pinched to zoom; "Actual size" shows it pixel for pixel, to scroll
// around. Escape or Close goes back to the conversation.

import { useState } from "preact/hooks";

import { useMedia } from "../media";
import { store, useStore } from "../state";
import type { PhotoView } from "../state";
import { Dialog } from "./Dialog";

function Viewer({ photo }: { photo: PhotoView }) {
  const { url, failed } = useMedia(photo.mxc, false, photo.local);
  const [actual, setActual] = useState(false);
  const close = () => store.update({ photo: null });
  return (
    <Dialog label={`Photo: ${photo.name}`} onClose={close} class="viewer">
      <div class="viewer-bar">
        <span class="viewer-name">{photo.name}</span>
        <button type="button" class="plain" aria-pressed={actual ? "true" : "false"} onClick={() => setActual(!actual)}>
          Actual size
        </button>
        <button type="button" autofocus onClick={close}>
          Close
        </button>
      </div>
      <div class={`viewer-image${actual ? " actual" : ""}`}>
        {failed ? (
          <p>Photo unavailable</p>
        ) : url ? (
          <img src={url} alt={photo.name} />
        ) : (
          <p class="muted">Loading the photo…</p>
        )}
      </div>
    </Dialog>
  );
}

export function PhotoViewer() {
  const photo = useStore((s) => s.photo);
  return photo ? <Viewer key={photo.mxc ?? photo.name} photo={photo} /> : null;
}
