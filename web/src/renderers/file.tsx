import { media } from "../media";
import { safeBlob } from "../mediatype";
import type { Renderer, RendererProps } from "./types";
import { text } from "./types";

function FileView({ item }: RendererProps) {
  const name = text(item.content.body, "file");
  const download = async (ev: Event) => {
    ev.preventDefault();
    const href = item.localFile
      ? URL.createObjectURL(safeBlob(item.localFile))
      : await media.url(text(item.content.url), false).catch(() => null);
    if (!href) return;
    // A separate, throw-away link carries the download.
    const save = document.createElement("a");
    save.href = href;
    save.download = name;
    save.click();
  };
  return (
    <a href="#" onClick={download}>
      {name}
    </a>
  );
}

export const fileRenderer: Renderer = { view: FileView, preview: (c) => `File: ${text(c.body)}` };
