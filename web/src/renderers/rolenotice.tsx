// A notice from a role's own user (`org.wardline.role_notice`), posted by the server. "unheld":
// a message reached a role nobody held, and went to its fallback or to nobody: drawn as a
// warning with a sign and words, never colour alone. "handover": the role was handed to me.
// Other kinds show their text.

import { RoleName } from "../components/RoleStatus";
import { Who } from "../components/Who";
import { clockTime } from "../time";
import type { Renderer } from "./types";
import { text } from "./types";

export const ROLE_NOTICE = "org.wardline.role_notice";

interface Notice {
  kind?: unknown;
  role?: unknown;
  fallback?: unknown;
  reached?: unknown;
  from?: unknown;
  ts?: unknown;
}

export const roleNoticeRenderer: Renderer = {
  view: ({ item }) => {
    const n = (item.content[ROLE_NOTICE] ?? {}) as Notice;
    const body = text(item.content.body);
    if (n.kind === "unheld" && typeof n.role === "string") {
      const fallback = typeof n.fallback === "string" ? n.fallback : null;
      return (
        <div class="text role-notice unheld" role="note">
          <strong>
            <span aria-hidden="true">⚠ </span>Nobody on shift — <RoleName id={n.role} />
          </strong>
          <span class="role-notice-body">
            {body ||
              (fallback ? (
                <>
                  The message went to <RoleName id={fallback} />.
                </>
              ) : (
                "Nobody has received the message."
              ))}
          </span>
        </div>
      );
    }
    if (n.kind === "handover" && typeof n.role === "string") {
      return (
        <div class="text role-notice" role="note">
          {typeof n.from === "string" ? <Who userId={n.from} /> : "An administrator"} handed <RoleName id={n.role} /> to you
          {typeof n.ts === "number" ? ` at ${clockTime(n.ts)}` : ""}. You now receive its conversations, with their history.
        </div>
      );
    }
    return <div class="text role-notice">{body}</div>;
  },
  preview: (c) => text(c.body, "A notice about a role"),
};
