// The text a message shows, decided once for everywhere it is shown: the timeline, the
// conversation list, reply quotes, search results, the forward preview, what screen readers
// announce. Plain text from `body`, never `formatted_body` (another client may have written its
// HTML to say something else than its text): an edit's newest text, without the quoted lines
// other clients put at the top of a reply, and the people it mentions (the names its HTML links
// to them, as the spec's mentions do) marked where they are in the text. A priority message's
// text is without the server's "[URGENT]" and "React 1️⃣ …" (priority.ts).

import { asks, withoutFallback } from "./priority";

/** A run of the text: plain, or a mention of someone (their user id, the name as written). */
export type TextPart = string | { mention: string; text: string };

const MENTION = /^https:\/\/matrix\.to\/#\/(@[^/?]+)/;

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/** An edit's own content carries the new text in `m.new_content`; anything else is as it is. */
function latest(content: Record<string, unknown>): Record<string, unknown> {
  const next = content["m.new_content"];
  return typeof next === "object" && next !== null ? (next as Record<string, unknown>) : content;
}

/** A reply's body may start with the quoted message ("> <@ben:x> text", then a blank line). */
function withoutReplyFallback(content: Record<string, unknown>, body: string): string {
  const replying = (content["m.relates_to"] as { "m.in_reply_to"?: unknown } | undefined)?.["m.in_reply_to"];
  if (!replying || !body.startsWith("> ")) return body;
  const lines = body.split("\n");
  let i = 0;
  while (i < lines.length && lines[i].startsWith(">")) i++;
  if (lines[i] === "") i++;
  return lines.slice(i).join("\n");
}

/** The people the HTML form links to (user id, and their name as the link says it). */
function mentionedNames(content: Record<string, unknown>): { userId: string; name: string }[] {
  const html = content.format === "org.matrix.custom.html" ? str(content.formatted_body) : "";
  if (!html.includes("matrix.to") || typeof DOMParser === "undefined") return [];
  // (DOMParser runs no script and loads nothing; only the links' targets and words are read.)
  const doc = new DOMParser().parseFromString(html, "text/html");
  const out: { userId: string; name: string }[] = [];
  for (const a of doc.querySelectorAll("a[href]")) {
    const user = MENTION.exec(a.getAttribute("href") ?? "")?.[1];
    const name = a.textContent ?? "";
    if (!user || !name.trim()) continue;
    let userId = user;
    try {
      userId = decodeURIComponent(user);
    } catch {
      // Not encoded after all: the id as written.
    }
    out.push({ userId, name });
  }
  return out;
}

/** The text a message shows, and the same cut into plain runs and mentions. */
export function messageText(original: Record<string, unknown>): { text: string; parts: TextPart[] } {
  const content = latest(original);
  const said = withoutReplyFallback(original, str(content.body));
  // A priority message's tag and list of reactions, added by the server for stock clients:
  // the badge and the buttons say them here.
  const text = asks(original) ? withoutFallback(said) : said;
  // Longest names first, so "Ben Carter" wins over "Ben".
  const names = mentionedNames(content).sort((a, b) => b.name.length - a.name.length);
  if (!names.length) return { text, parts: [text] };
  const parts: TextPart[] = [];
  let plain = "";
  for (let i = 0; i < text.length; ) {
    const m = names.find((n) => text.startsWith(n.name, i));
    if (m) {
      if (plain) parts.push(plain);
      plain = "";
      parts.push({ mention: m.userId, text: m.name });
      i += m.name.length;
    } else {
      plain += text[i];
      i++;
    }
  }
  if (plain) parts.push(plain);
  return { text, parts };
}

/** Web links in plain text (cut at the odd indexes), to draw them as links. */
export function webLinks(text: string): string[] {
  return text.split(/(https?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]'])/i);
}
