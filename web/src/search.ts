// Message search (POST /_matrix/client/v3/search): the server searches the messages of every
// conversation the person may read, newest first, and says which words matched (`highlights`).

import { messageText } from "./messagetext";
import { token } from "./signedin";

export interface Hit {
  roomId: string;
  eventId: string;
  sender: string;
  ts: number;
  body: string;
}

export interface Found {
  hits: Hit[];
  /** How many messages match in all. */
  count: number;
  /** The words that matched, as they are written in the messages. */
  highlights: string[];
  /** Where the next page starts (More results). */
  nextBatch?: string;
}

interface Result {
  result?: {
    room_id?: unknown;
    event_id?: unknown;
    sender?: unknown;
    origin_server_ts?: unknown;
    type?: unknown;
    content?: Record<string, unknown>;
    unsigned?: { "m.relations"?: { "m.replace"?: { content?: Record<string, unknown> } } };
  };
}

export async function searchMessages(term: string, nextBatch?: string): Promise<Found> {
  const query = nextBatch ? `?next_batch=${encodeURIComponent(nextBatch)}` : "";
  const r = await fetch(`/_matrix/client/v3/search${query}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token()}`, "Content-Type": "application/json" },
    body: JSON.stringify({
      search_categories: { room_events: { search_term: term, keys: ["content.body"], order_by: "recent" } },
    }),
  });
  if (!r.ok) throw new Error(`search failed (${r.status})`);
  const json = (await r.json()) as { search_categories?: { room_events?: Record<string, unknown> } };
  const events = json.search_categories?.room_events ?? {};
  const hits: Hit[] = [];
  for (const { result: e } of (events.results as Result[] | undefined) ?? []) {
    if (!e || e.type !== "m.room.message" || typeof e.content?.body !== "string") continue;
    // An edited message is found by its new text, which comes bundled with it (the edit's
    // content; its text as the timeline shows it, messagetext.ts).
    const edit = e.unsigned?.["m.relations"]?.["m.replace"]?.content;
    const edited = typeof edit?.["m.new_content"] === "object" ? edit : undefined;
    hits.push({
      roomId: String(e.room_id),
      eventId: String(e.event_id),
      sender: String(e.sender),
      ts: Number(e.origin_server_ts) || 0,
      body: messageText(edited ?? e.content).text,
    });
  }
  return {
    hits,
    count: typeof events.count === "number" ? events.count : hits.length,
    highlights: Array.isArray(events.highlights) ? events.highlights.filter((h): h is string => typeof h === "string") : [],
    nextBatch: typeof events.next_batch === "string" ? events.next_batch : undefined,
  };
}

/** The text cut into plain parts and matched words (odd indexes), for <mark>. */
export function markWords(text: string, words: string[]): string[] {
  const usable = words.filter((w) => w.trim()).sort((a, b) => b.length - a.length);
  if (!usable.length) return [text];
  const pattern = new RegExp(`(${usable.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})`, "giu");
  return text.split(pattern);
}
