// The table of message renderers, by kind. A kind is the msgtype of an m.room.message, or
// "deleted"; an event type of its own (e.g. a future priority message) gets its own kind here.

import { fileRenderer } from "./file";
import { imageRenderer } from "./image";
import { audioRenderer, videoRenderer } from "./player";
import { ROLE_NOTICE, roleNoticeRenderer } from "./rolenotice";
import { deletedRenderer, emoteRenderer, noticeRenderer, placeholderRenderer, textRenderer, unknownRenderer } from "./text";
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
  [ROLE_NOTICE]: roleNoticeRenderer,
};

/** Message event types not drawn as messages of their own (shown on the message they are about). */
const NOT_DRAWN = new Set(["m.reaction", "m.room.redaction"]);

/** Is a (non-state) event of this type drawn in the timeline? Unknown kinds get a placeholder. */
export function isShown(type: string): boolean {
  return !NOT_DRAWN.has(type) && type !== "org.wardline.message_status" && !type.startsWith("m.call.");
}

export function kindOf(type: string, content: Record<string, unknown>, redacted: boolean): string {
  if (redacted) return "deleted";
  if (type === "m.room.message") {
    // A role's notice (nobody on shift): a kind of its own, whatever its msgtype.
    if (typeof content[ROLE_NOTICE] === "object" && content[ROLE_NOTICE] !== null) return ROLE_NOTICE;
    const msgtype = typeof content.msgtype === "string" ? content.msgtype : "";
    if (renderers[msgtype]) return msgtype;
    return typeof content.url === "string" ? "m.file" : "m.text";
  }
  return type;
}

export function rendererFor(type: string, content: Record<string, unknown>, redacted: boolean): Renderer {
  const kind = kindOf(type, content, redacted);
  return renderers[kind] ?? (type === "m.room.message" ? unknownRenderer : placeholderRenderer);
}

export function previewOf(type: string, content: Record<string, unknown>, redacted: boolean): string {
  return rendererFor(type, content, redacted).preview(content);
}
