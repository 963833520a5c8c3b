import { richBody } from "./rich";
import type { Renderer } from "./types";
import { text } from "./types";

/** A text: its HTML form when it has one (mentions, emphasis), else its plain text. Line breaks show. */
export const textRenderer: Renderer = {
  view: ({ item }) => <div class="text">{richBody(item.content) ?? text(item.content.body)}</div>,
  preview: (c) => text(c.body),
};

/** A message from a service (m.notice): shown apart from people's messages. */
export const noticeRenderer: Renderer = {
  view: ({ item }) => <div class="text notice-text">{text(item.content.body)}</div>,
  preview: (c) => text(c.body),
};

/** "/me is on the ward" (m.emote). */
export const emoteRenderer: Renderer = {
  view: ({ item }) => (
    <div class="text">
      <em>
        {item.senderName} {text(item.content.body)}
      </em>
    </div>
  ),
  preview: (c) => text(c.body),
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
  view: ({ item }) => <div class="text">{text(item.content.body, "Message this version of Wardline cannot show")}</div>,
  preview: (c) => text(c.body, "Message"),
};

/** An event of a kind this client cannot show (a sticker, an encrypted message, another app's). */
export const placeholderRenderer: Renderer = {
  view: () => <div class="text placeholder">A message this app cannot show</div>,
  preview: () => "A message this app cannot show",
};
