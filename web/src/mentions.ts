// Mentions (the spec's intentional mentions): the composer completes "@…" from the
// conversation's members; the message carries `m.mentions.user_ids`, the display name in its
// body, and in `formatted_body` a matrix.to link around the name. A message mentioning me is
// highlighted.

import { hasClient, matrix, me } from "./signedin";

export interface Mentioned {
  userId: string;
  name: string;
}

const MAX_OPTIONS = 6;

/** "@be" just before the caret: where the "@" is and what follows it. */
export function mentionQuery(text: string, caret: number): { start: number; text: string } | null {
  const m = /(^|\s)@([^\s@]{0,40})$/.exec(text.slice(0, caret));
  return m ? { start: caret - m[2].length - 1, text: m[2] } : null;
}

/** Members of the conversation (not me) whose name or user id starts a word with `query`. */
export function mentionOptions(roomId: string, query: string): Mentioned[] {
  const room = hasClient() ? matrix().getRoom(roomId) : null;
  if (!room) return [];
  const q = query.toLowerCase();
  const score = (m: Mentioned): number => {
    const name = m.name.toLowerCase();
    if (name.startsWith(q) || m.userId.toLowerCase().startsWith(`@${q}`)) return 0;
    return name.split(/\s+/).some((w) => w.startsWith(q)) ? 1 : 2;
  };
  return room
    .getJoinedMembers()
    .filter((m) => m.userId !== me())
    .map((m) => ({ userId: m.userId, name: m.name || m.userId }))
    .filter((m) => score(m) < 2)
    .sort((a, b) => score(a) - score(b) || a.name.localeCompare(b.name))
    .slice(0, MAX_OPTIONS);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The matrix.to link of a user (the spec's user mention format). */
export function userLink(userId: string): string {
  return `https://matrix.to/#/${userId}`;
}

/**
 * What a text adds to its content for mentions: always `m.mentions` (so no server or client
 * guesses mentions from the words), and, when someone is mentioned by name in `text`, the HTML
 * form with each name linked.
 */
export function mentionContent(text: string, picked: Mentioned[]): Record<string, unknown> {
  const present = picked.filter((m, i) => text.includes(m.name) && picked.findIndex((o) => o.userId === m.userId) === i);
  if (!present.length) return { "m.mentions": {} };
  // Longest names first, so "Ben Carter" wins over "Ben".
  const names = [...present].sort((a, b) => b.name.length - a.name.length);
  let html = "";
  for (let i = 0; i < text.length; ) {
    const m = names.find((n) => text.startsWith(n.name, i));
    if (m) {
      html += `<a href="${escapeHtml(userLink(m.userId))}">${escapeHtml(m.name)}</a>`;
      i += m.name.length;
    } else {
      html += text[i] === "\n" ? "<br>" : escapeHtml(text[i]);
      i++;
    }
  }
  return {
    "m.mentions": { user_ids: present.map((m) => m.userId) },
    format: "org.matrix.custom.html",
    formatted_body: html,
  };
}

/** Does this content mention me (by `m.mentions`)? */
export function mentionsMe(content: Record<string, unknown>): boolean {
  const ids = (content["m.mentions"] as { user_ids?: unknown } | undefined)?.user_ids;
  return Array.isArray(ids) && ids.includes(me());
}

/** The people a message of mine mentions, as the composer picks them (to edit it). */
export function mentionedIn(roomId: string, content: Record<string, unknown> | undefined): Mentioned[] {
  const ids = (content?.["m.mentions"] as { user_ids?: unknown } | undefined)?.user_ids;
  if (!Array.isArray(ids)) return [];
  const room = hasClient() ? matrix().getRoom(roomId) : null;
  return ids
    .filter((id): id is string => typeof id === "string")
    .map((userId) => ({ userId, name: room?.getMember(userId)?.name ?? userId }));
}
