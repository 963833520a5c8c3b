// A notice from a role's own user (`org.wardline.role_notice`), posted by the server: for
// "unheld", a message reached a role nobody held, and went to its fallback or to nobody. Drawn
// as a warning with a sign and words, never colour alone; other kinds show their text.

import { RoleName } from "../components/RoleStatus";
import type { Renderer } from "./types";
import { text } from "./types";

export const ROLE_NOTICE = "org.wardline.role_notice";

interface Notice {
  kind?: unknown;
  role?: unknown;
  fallback?: unknown;
}

export const roleNoticeRenderer: Renderer = {
  view: ({ item }) => {
    const n = (item.content[ROLE_NOTICE] ?? {}) as Notice;
    const body = text(item.content.body);
    if (n.kind !== "unheld" || typeof n.role !== "string") {
      return <div class="text role-notice">{body}</div>;
    }
    return (
      <div class="text role-notice" role="note">
        <strong>
          <span aria-hidden="true">⚠ </span>Nobody is on <RoleName id={n.role} /> now
        </strong>
        {" — "}
        {typeof n.fallback === "string" ? (
          <>
            sent on to <RoleName id={n.fallback} />
          </>
        ) : (
          "nobody holding this role has received the message"
        )}
        {body && <span class="muted role-notice-body">{body}</span>}
      </div>
    );
  },
  preview: (c) => text(c.body, "Nobody on shift"),
};
