import { useMedia } from "../media";
import type { Renderer, RendererProps } from "./types";
import { text } from "./types";

const MAX_W = 320;
const MAX_H = 256;

/** The size the photo will take, known before it loads (from info.w/h), so nothing moves. */
export function boxSize(info: unknown): { width: number; height: number } | null {
  const i = info as { w?: unknown; h?: unknown } | undefined;
  const w = Number(i?.w);
  const h = Number(i?.h);
  if (!(w > 0 && h > 0)) return null;
  const scale = Math.min(1, MAX_W / w, MAX_H / h);
  return { width: Math.round(w * scale), height: Math.round(h * scale) };
}

function ImageView({ item }: RendererProps) {
  const { url, failed } = useMedia(item.content.url, true, item.localFile);
  const name = text(item.content.body, "Photo");
  const size = boxSize(item.content.info);
  if (failed) return <span>Photo unavailable</span>;
  const style = size ? { width: `${size.width}px`, aspectRatio: `${size.width} / ${size.height}` } : undefined;
  return (
    <div class={`photo${size ? " sized" : ""}`} style={style}>
      <img alt={name} src={url} />
    </div>
  );
}

export const imageRenderer: Renderer = { view: ImageView, preview: () => "Photo" };
