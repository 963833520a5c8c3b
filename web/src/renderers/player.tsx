// Voice notes and videos. The element is kept while the timeline changes around it (keyed
// rendering), so a note keeps playing while others type or messages arrive.

import { useMedia } from "../media";
import type { Renderer, RendererProps } from "./types";
import { text } from "./types";

function seconds(info: unknown): string {
  const d = (info as { duration?: unknown } | undefined)?.duration;
  return typeof d === "number" ? ` (${Math.round(d / 1000)} s)` : "";
}

function AudioView({ item }: RendererProps) {
  const { url, failed } = useMedia(item.content.url, false, item.localFile);
  return (
    <div class="player">
      {`Voice note${seconds(item.content.info)}`}
      {failed ? (
        <span> Unavailable</span>
      ) : (
        <audio controls preload="none" aria-label={text(item.content.body, "Voice note")} src={url} />
      )}
    </div>
  );
}

function VideoView({ item }: RendererProps) {
  const { url, failed } = useMedia(item.content.url, false, item.localFile);
  if (failed) return <span>Video unavailable</span>;
  return <video controls preload="none" aria-label={text(item.content.body, "Video")} src={url} />;
}

export const audioRenderer: Renderer = { view: AudioView, preview: () => "Voice note" };
export const videoRenderer: Renderer = { view: VideoView, preview: () => "Video" };
