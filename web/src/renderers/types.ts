// A renderer draws one kind of message (text, photo, voice note…) in the timeline, and says in
// a few words what it is for the conversation list. New kinds (priority messages,
// acknowledgements, messages sent as a role) are new renderers in index.ts's table.

import type { FunctionComponent } from "preact";

import type { TimelineItem } from "../state";

export interface RendererProps {
  item: TimelineItem;
  /** Drawn to show what it is (the forward dialog), not to be acted on: no buttons, no asking the server. */
  preview?: boolean;
}

export interface Renderer {
  view: FunctionComponent<RendererProps>;
  /** The conversation list's one-line preview. */
  preview(content: Record<string, unknown>): string;
}

export function text(v: unknown, fallback = ""): string {
  return typeof v === "string" ? v : fallback;
}
