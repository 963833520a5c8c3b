// Broadcasts (/_wardline/client/v1/broadcasts): whether I may send them, sending one (to the
// organisation, a department or roles' holders, optionally asking for acknowledgement), my
// broadcasts and each one's report ("Read by 412 of 530, acknowledged by 390"), and reminding
// those who have not. The server decides who may; this only hides what would be refused.
// Recipients see a broadcast as a conversation whose message asks: the answer buttons answer.

import type { Room } from "matrix-js-sdk";

import { showPanel } from "./conversation";
import { wardline } from "./roles";
import { me } from "./signedin";
import { store } from "./state";

const BASE = "/_wardline/client/v1/broadcasts";

export type Audience =
  | { kind: "organisation" }
  | { kind: "department"; department: string }
  | { kind: "role"; roles: string[] };

export type Level = "routine" | "urgent" | "emergency";

export interface BroadcastView {
  broadcast_id: string;
  room_id: string;
  event_id: string;
  audience: Audience;
  title: string;
  level: Level;
  acknowledge: boolean;
  sent_ts: number;
  recipients: number;
  reminded_ts: number | null;
}

export interface ReportPerson {
  user_id: string;
  display_name: string | null;
  department: string | null;
}

export interface BroadcastReport extends BroadcastView {
  delivered: number;
  read: number;
  acknowledged: number;
  not_read: ReportPerson[];
  not_read_total: number;
  not_acknowledged: ReportPerson[];
  not_acknowledged_total: number;
  next_reminder_ts: number;
}

export interface Mine {
  may_broadcast: boolean;
  broadcasts: BroadcastView[];
  departments: string[];
}

const id = (roomId: string) => encodeURIComponent(roomId);

/** My broadcasts, whether I may send, and the departments to choose from. */
export async function myBroadcasts(): Promise<Mine> {
  const mine = await wardline<Mine>("GET", BASE);
  store.update({ broadcaster: mine.may_broadcast });
  return mine;
}

/** Asks the server once signed in whether to show "Broadcast". */
export async function checkBroadcaster(): Promise<void> {
  await myBroadcasts();
}

/** How many people a broadcast to `audience` would reach now. */
export async function audienceSize(audience: Audience): Promise<number> {
  return (await wardline<{ recipients: number }>("POST", `${BASE}/audience`, { audience })).recipients;
}

export interface NewBroadcast {
  audience: Audience;
  title: string;
  body: string;
  level: Level;
  acknowledge: boolean;
  /** One per composed broadcast: a retry after a lost answer sends nothing twice. */
  txn_id: string;
}

export async function sendBroadcast(b: NewBroadcast): Promise<BroadcastView> {
  return wardline<BroadcastView>("POST", BASE, b);
}

export async function broadcastReport(roomId: string): Promise<BroadcastReport> {
  return wardline<BroadcastReport>("GET", `${BASE}/${id(roomId)}`);
}

/** Reminds those who have not read (or acknowledged): how many were reminded. */
export async function remind(roomId: string): Promise<number> {
  return (await wardline<{ reminded: number }>("POST", `${BASE}/${id(roomId)}/remind`, {})).reminded;
}

/** The broadcasts panel: my list (null), the composer (""), or a broadcast's report (its id). */
export function openBroadcasts(view: string | null = null): void {
  showPanel("broadcasts");
  store.update({ broadcastView: view });
}

export function describeAudience(a: Audience): string {
  if (a.kind === "organisation") return "the whole organisation";
  if (a.kind === "department") return a.department;
  return a.roles.join(", ");
}

/** "Read by 412 of 530, acknowledged by 390". */
export function reportLine(r: BroadcastReport): string {
  const read = `Read by ${r.read} of ${r.recipients}`;
  return r.acknowledge ? `${read}, acknowledged by ${r.acknowledged} of ${r.recipients}` : read;
}

/** The state event that makes a conversation a broadcast's (its content names the sender). */
export const BROADCAST = "org.wardline.broadcast";

/** The sender of the broadcast conversation `room`, or null for any other conversation. */
export function broadcasterOf(room: Room | null): string | null {
  const sender = room?.currentState.getStateEvents(BROADCAST, "")?.getContent().sender;
  return typeof sender === "string" ? sender : null;
}

/** A broadcast's recipients answer with its buttons; only its sender writes. */
export function mayWrite(room: Room | null): boolean {
  const sender = broadcasterOf(room);
  return sender === null || sender === me();
}
