// What happened to a message of mine, as the server counts it: delivered to a recipient's
// device, read by them (their read receipt reached it). Nothing here is guessed on the client.
//   GET /_wardline/client/v1/rooms/{roomId}/status/{eventId}  (who, and when)
//   /sync ephemeral `org.wardline.message_status` {"$event": {recipients, delivered, read}}

import type { Counts } from "./state";

export const STATUS_EVENT = "org.wardline.message_status";

export interface Recipient {
  user_id: string;
  delivered_ts: number | null;
  read_ts: number | null;
  /** The role this recipient holds the message for, when the role seated them. */
  as_role?: { id: string; name: string };
}

export interface StatusDetail {
  event_id: string;
  sender: string;
  recipients: Recipient[];
  counts: Counts;
}

/** "Read by 2 of 5", "Delivered to 3 of 5" or "Sent". */
export function statusLabel(c: Counts | undefined): string {
  if (!c || c.recipients === 0) return "Sent";
  if (c.read > 0) return `Read by ${c.read} of ${c.recipients}`;
  if (c.delivered > 0) return `Delivered to ${c.delivered} of ${c.recipients}`;
  return "Sent";
}

function isCounts(v: unknown): v is Counts {
  const c = v as Counts;
  return (
    typeof c === "object" &&
    c !== null &&
    typeof c.recipients === "number" &&
    typeof c.delivered === "number" &&
    typeof c.read === "number"
  );
}

/** The counts carried by one `org.wardline.message_status` event, by event id. */
export function countsFromEphemeral(content: Record<string, unknown>): Record<string, Counts> {
  const out: Record<string, Counts> = {};
  for (const [eventId, v] of Object.entries(content)) {
    if (eventId.startsWith("$") && isCounts(v)) {
      out[eventId] = { recipients: v.recipients, delivered: v.delivered, read: v.read };
    }
  }
  return out;
}

/** The server answered, and not with the status (the message is not mine, or unknown). */
export class StatusRefused extends Error {}

export async function fetchStatus(token: string, roomId: string, eventId: string): Promise<StatusDetail> {
  const r = await fetch(
    `/_wardline/client/v1/rooms/${encodeURIComponent(roomId)}/status/${encodeURIComponent(eventId)}`,
    { headers: { Authorization: `Bearer ${token}` } },
  );
  if (r.status >= 400 && r.status < 500) throw new StatusRefused(`status refused (${r.status})`);
  if (!r.ok) throw new Error(`status unavailable (${r.status})`);
  const json = (await r.json()) as StatusDetail;
  if (!isCounts(json.counts) || !Array.isArray(json.recipients)) throw new Error("status malformed");
  return json;
}
