// The table of message renderers, by kind. A kind is the msgtype of an m.room.message, or
// "deleted"; an event type of its own (e.g. a future priority message) gets its own kind here.

import { fileRenderer } from "./file";
import { imageRenderer } from "./image";
import { audioRenderer, videoRenderer } from "./player";
import { deletedRenderer, emoteRenderer, noticeRenderer, textRenderer, unknownRenderer } from "./text";
import type { Renderer } from "./types";

export type { Renderer, RendererProps } from "./types";

const renderers: Record<string, Renderer> = {
  "m.text": textRenderer,
  "m.notice": noticeRenderer,
  "m.emote": emoteRenderer,
  "m.image": imageRenderer,
  "m.file": fileRenderer,
  "m.audio": audioRenderer,
  "m.video": videoRenderer,
  deleted: deletedRenderer,
};

/** Event types drawn in the timeline. */
const TIMELINE_TYPES = new Set(["m.room.message"]);

export function isShown(type: string): boolean {
  return TIMELINE_TYPES.has(type);
}

export function kindOf(type: string, content: Record<string, unknown>, redacted: boolean): string {
  if (redacted) return "deleted";
  if (type === "m.room.message") {
    const msgtype = typeof content.msgtype === "string" ? content.msgtype : "";
    if (renderers[msgtype]) return msgtype;
    return typeof content.url === "string" ? "m.file" : "m.text";
  }
  return type;
}

export function rendererFor(type: string, content: Record<string, unknown>, redacted: boolean): Renderer {
  return renderers[kindOf(type, content, redacted)] ?? unknownRenderer;
}

export function previewOf(type: string, content: Record<string, unknown>, redacted: boolean): string {
  return rendererFor(type, content, redacted).preview(content);
}
