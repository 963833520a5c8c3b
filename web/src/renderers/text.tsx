import type { ComponentChildren } from "preact";

import { messageText, webLinks } from "../messagetext";
import { me } from "../signedin";
import type { Renderer } from "./types";

/** The message's text (messagetext.ts) with its mentions marked and web links to follow. Line breaks show. */
export function Text({ content }: { content: Record<string, unknown> }) {
  const out: ComponentChildren[] = [];
  messageText(content).parts.forEach((p, i) => {
    if (typeof p !== "string") {
      out.push(
        <span key={i} class={`mention${p.mention === me() ? " me" : ""}`} data-user={p.mention}>
          {p.text}
        </span>,
      );
      return;
    }
    webLinks(p).forEach((s, j) =>
      out.push(
        j % 2 ? (
          <a key={`${i}.${j}`} href={s} target="_blank" rel="noopener noreferrer">
            {s}
          </a>
        ) : (
          s
        ),
      ),
    );
  });
  return <>{out}</>;
}

/** A text: mentions marked. */
export const textRenderer: Renderer = {
  view: ({ item }) => (
    <div class="text">
      <Text content={item.content} />
    </div>
  ),
  preview: (c) => messageText(c).text,
};

/** A message from a service (m.notice): shown apart from people's messages. */
export const noticeRenderer: Renderer = {
  view: ({ item }) => (
    <div class="text notice-text">
      <Text content={item.content} />
    </div>
  ),
  preview: (c) => messageText(c).text,
};

/** "/me is on the ward" (m.emote). */
export const emoteRenderer: Renderer = {
  view: ({ item }) => (
    <div class="text">
      <em>
        {item.senderName} <Text content={item.content} />
      </em>
    </div>
  ),
  preview: (c) => messageText(c).text,
};

export const deletedRenderer: Renderer = {
  view: () => (
    <div class="text">
      <em>Message deleted</em>
    </div>
  ),
  preview: () => "Message deleted",
};

/** A kind this client does not know yet: its text fallback, as Matrix asks. */
export const unknownRenderer: Renderer = {
  view: ({ item }) => <div class="text">{messageText(item.content).text || "Message this version of Wardline cannot show"}</div>,
  preview: (c) => messageText(c).text || "Message",
};

/** An event of a kind this client cannot show (a sticker, an encrypted message, another app's). */
export const placeholderRenderer: Renderer = {
  view: () => <div class="text placeholder">A message this app cannot show</div>,
  preview: () => "A message this app cannot show",
};
