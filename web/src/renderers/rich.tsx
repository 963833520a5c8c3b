// A message's HTML form (`formatted_body`), drawn without ever putting its HTML in the page:
// it is parsed (DOMParser runs no script and loads nothing) and only its text, line breaks,
// emphasis, web links and mentions (matrix.to links to a user) are drawn, as Preact elements.

import type { ComponentChildren } from "preact";

import { me } from "../signedin";

const MENTION = /^https:\/\/matrix\.to\/#\/(@[^/?]+)/;
const BLOCKS = new Set(["P", "DIV", "LI", "BLOCKQUOTE", "PRE", "H1", "H2", "H3", "H4", "H5", "H6", "TR"]);
const STYLES: Record<string, "strong" | "em" | "code" | "del"> = {
  B: "strong",
  STRONG: "strong",
  I: "em",
  EM: "em",
  CODE: "code",
  DEL: "del",
  S: "del",
};

function draw(nodes: NodeListOf<ChildNode>): ComponentChildren[] {
  const out: ComponentChildren[] = [];
  nodes.forEach((node) => {
    if (node.nodeType === Node.TEXT_NODE) {
      out.push(node.textContent ?? "");
      return;
    }
    if (!(node instanceof Element)) return;
    const tag = node.tagName;
    // A reply's quoted fallback: the quote above the message shows it.
    if (tag === "MX-REPLY" || tag === "SCRIPT" || tag === "STYLE") return;
    if (tag === "BR") {
      out.push("\n");
      return;
    }
    const inner = draw(node.childNodes);
    if (tag === "A") {
      const href = node.getAttribute("href") ?? "";
      const user = MENTION.exec(href)?.[1];
      if (user) {
        let id = user;
        try {
          id = decodeURIComponent(user);
        } catch {
          // Not encoded after all: the id as written.
        }
        out.push(
          <span class={`mention${id === me() ? " me" : ""}`} data-user={id}>
            {inner}
          </span>,
        );
      } else if (/^https?:\/\//i.test(href)) {
        out.push(
          <a href={href} target="_blank" rel="noopener noreferrer">
            {inner}
          </a>,
        );
      } else {
        out.push(...inner);
      }
      return;
    }
    const Style = STYLES[tag];
    if (Style) {
      out.push(<Style>{inner}</Style>);
      return;
    }
    out.push(...inner);
    if (BLOCKS.has(tag) && node.nextSibling) out.push("\n");
  });
  return out;
}

/** The message's HTML as elements, or null when there is none to use. */
export function richBody(content: Record<string, unknown>): ComponentChildren[] | null {
  if (content.format !== "org.matrix.custom.html" || typeof content.formatted_body !== "string") return null;
  const doc = new DOMParser().parseFromString(content.formatted_body, "text/html");
  return draw(doc.body.childNodes);
}
