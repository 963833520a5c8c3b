// The server's notice about an escalation (`org.wardline.escalation`, from its own member
// "Wardline" only): a compact system line linked to the message. A failsafe is drawn to alarm
// (red, a sign and the word), one that reached nobody most of all: call switchboard.

import { ToMessage } from "../components/ToMessage";
import { escalationOf, unreachable } from "../priority";
import type { Renderer } from "./types";
import { text } from "./types";

// (Text signs, not emoji: a ward PC may have no emoji font. The server's "accepted" text starts with its own ✓.)
const SIGN: Record<string, string> = { renotify: "↻", add_cover: "+", add: "+", failsafe: "‼", accepted: "", deadline: "!" };

export const escalationRenderer: Renderer = {
  view: ({ item, preview }) => {
    const n = escalationOf(item.content);
    const body = text(item.content.body);
    const nobody = unreachable(item.content);
    const kind = n?.kind ?? "";
    return (
      <div class={`escalation-line ${kind}${nobody ? " unreachable" : ""}`} role="note">
        {SIGN[kind] !== "" && <span aria-hidden="true">{SIGN[kind] ?? "↑"} </span>}
        {kind === "failsafe" ? <strong>{body}</strong> : <span>{body}</span>}
        {n && !preview && <ToMessage eventId={n.message} label="Show the message" />}
      </div>
    );
  },
  preview: (c) => text(c.body, "Escalation"),
};
