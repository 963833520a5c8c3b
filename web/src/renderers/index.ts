// The table of message renderers, by kind. A kind is the msgtype of an m.room.message, or
// "deleted"; content that makes a message something else (a role's notice, a priority message
// or quick responses, an answer to one, the server's escalation notice, a hospital system's
// alarm, the server's notice of the conversation's patient) gets its own kind here.

import { ALARM, fromIntegration } from "../alarms";
import { ESCALATION, PRIORITY, RESPONSE, asks, serverMember } from "../priority";
import { me } from "../signedin";
import { alarmRenderer } from "./alarm";
import { escalationRenderer } from "./escalation";
import { fileRenderer } from "./file";
import { imageRenderer } from "./image";
import { PATIENT_CONTEXT, patientRenderer } from "./patient";
import { audioRenderer, videoRenderer } from "./player";
import { priorityRenderer } from "./priority";
import { responseRenderer } from "./response";
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
  [PRIORITY]: priorityRenderer,
  [RESPONSE]: responseRenderer,
  [ESCALATION]: escalationRenderer,
  [ALARM]: alarmRenderer,
  [PATIENT_CONTEXT]: patientRenderer,
};

/** Message event types not drawn as messages of their own (shown on the message they are about). */
const NOT_DRAWN = new Set(["m.reaction", "m.room.redaction"]);

/** Is a (non-state) event of this type drawn in the timeline? Unknown kinds get a placeholder. */
export function isShown(type: string): boolean {
  return !NOT_DRAWN.has(type) && type !== "org.wardline.message_status" && !type.startsWith("m.call.");
}

function block(content: Record<string, unknown>, key: string): boolean {
  return typeof content[key] === "object" && content[key] !== null;
}

/**
 * The kind of an event. `sender` (when known) lets the server's own member's escalation notices
 * be drawn as such; the same block from anyone else is drawn as the text it is.
 */
export function kindOf(type: string, content: Record<string, unknown>, redacted: boolean, sender?: string): string {
  if (redacted) return "deleted";
  if (type === "m.room.message") {
    // A role's notice (nobody on shift): a kind of its own, whatever its msgtype.
    if (block(content, ROLE_NOTICE)) return ROLE_NOTICE;
    if (block(content, ESCALATION) && sender !== undefined && sender === serverMember(me())) return ESCALATION;
    // The server's notice that the conversation's patient changed: its own member's only.
    if (block(content, PATIENT_CONTEXT) && sender !== undefined && sender === serverMember(me())) return PATIENT_CONTEXT;
    // A hospital system's alarm (or its notice that the alarm ended): from its integration's user only.
    if (block(content, ALARM) && fromIntegration(sender)) return ALARM;
    if (block(content, RESPONSE)) return RESPONSE;
    const msgtype = typeof content.msgtype === "string" ? content.msgtype : "";
    // A priority message or quick responses: its text, badge and answers (not a file's).
    if (asks(content) && typeof content.url !== "string") return PRIORITY;
    if (renderers[msgtype]) return msgtype;
    return typeof content.url === "string" ? "m.file" : "m.text";
  }
  return type;
}

export function rendererFor(type: string, content: Record<string, unknown>, redacted: boolean, sender?: string): Renderer {
  const kind = kindOf(type, content, redacted, sender);
  return renderers[kind] ?? (type === "m.room.message" ? unknownRenderer : placeholderRenderer);
}

export function previewOf(type: string, content: Record<string, unknown>, redacted: boolean): string {
  return rendererFor(type, content, redacted).preview(content);
}
