// A copy the server made for a colleague covering someone on do-not-disturb
// (`org.wardline.forwarded` {for, cover, room_id, event_id}): labelled "Forwarded (covering for
// Dr B)"; the label the server put at the start of its text for other clients is not shown twice.

import type { TimelineItem } from "../state";

export const COVER_FIELD = "org.wardline.forwarded";

function coverOf(item: TimelineItem): { for: string } | null {
  const f = item.content[COVER_FIELD] as { for?: unknown; cover?: unknown } | undefined;
  return !item.redacted && f && typeof f === "object" && typeof f.for === "string" && typeof f.cover === "string"
    ? { for: f.for }
    : null;
}

/** Is it a copy made for a cover (rather than a message someone forwarded themselves)? */
export function isCoverCopy(item: TimelineItem): boolean {
  return coverOf(item) !== null;
}

/** The item without the label line the server put at the start of a copy's text. */
export function withoutCoverLabel(item: TimelineItem): TimelineItem {
  const body = item.content.body;
  if (!coverOf(item) || typeof body !== "string" || !body.startsWith("[Forwarded: ")) return item;
  const cut = body.indexOf("]\n");
  if (cut < 0) return item;
  const formatted = item.content.formatted_body;
  const content: Record<string, unknown> = { ...item.content, body: body.slice(cut + 2) };
  if (typeof formatted === "string") content.formatted_body = formatted.replace(/^<p><em>\[Forwarded: [^<]*\]<\/em><\/p>/, "");
  return { ...item, content };
}

/** The name of the person a copy was made for, from the label (the server wrote their name). */
function absentName(item: TimelineItem, userId: string): string {
  const body = item.content.body;
  const m = typeof body === "string" ? /^\[Forwarded: (.+) is on do-not-disturb;/.exec(body) : null;
  return m ? m[1] : userId;
}

export function CoverLabel({ item }: { item: TimelineItem }) {
  const cover = coverOf(item);
  if (!cover) return null;
  return (
    <div class="forwarded cover-copy">
      <span aria-hidden="true">↪ </span>Forwarded (covering for {absentName(item, cover.for)})
    </div>
  );
}
