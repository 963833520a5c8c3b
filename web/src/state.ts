// The client's one state store: which screen is shown, and everything the conversation
// screens draw (conversations, the open timeline, the outbox, message statuses, presence…).
// Written by the session and chat modules; read by components through `useStore`.

import { initialOnCall } from "./rolestate";
import type { OnCall } from "./rolestate";
import type { Enrolment, Session } from "./session";
import { createStore, useSelector } from "./store";
import type { DndInfo } from "./dnd";
import type { AskView } from "./answers";
import type { WaitingItem } from "./waiting";
import type { Incident } from "./incidents";
import { initialAlarmAdmin } from "./alarmadminstate";
import type { AlarmAdmin } from "./alarmadminstate";
import type { Subscriptions } from "./topics";
import type { Patients } from "./patients";

export type Screen =
  | { kind: "loading" }
  | { kind: "sign-in"; notice?: string }
  | { kind: "code"; mfaSession: string; password: string }
  | { kind: "new-password"; session: Session; oldPassword: string }
  | { kind: "enrol"; session: Session; enrolment: Enrolment }
  | { kind: "recovery-codes"; session: Session; codes: string[] }
  | { kind: "chat"; session: Session };

/** The connection as the person should understand it; "restored" shows "Back online" briefly. */
export type Connection = "online" | "offline" | "reconnecting" | "restored";

export interface RoomSummary {
  id: string;
  name: string;
  lastTs: number;
  preview: string;
  unread: number;
  /** The other person of a two-person conversation. */
  other: string | null;
  /** The role (id) a conversation with a role is with (rolechat.ts). */
  role: string | null;
}

/** One message in the open conversation, from the server or from the outbox. */
export interface TimelineItem {
  /** Stable across the outbox → server hand-over: the transaction id when this device sent it. */
  key: string;
  eventId?: string;
  txnId?: string;
  sender: string;
  senderName: string;
  /** The role it was sent as (org.wardline.as_role): shown beside the person's name. */
  asRole?: string;
  mine: boolean;
  ts: number;
  type: string;
  content: Record<string, unknown>;
  redacted: boolean;
  /** The file of a message still in the outbox, shown before the server has it. */
  localFile?: Blob;
  /** Changed by its sender since it was sent (m.replace): the content shown is the latest. */
  edited?: boolean;
  /** The latest edit's event id (its status is shown on my edited messages). */
  editId?: string;
  /** The message this one answers (m.in_reply_to). */
  replyTo?: string;
  reactions?: Reaction[];
}

/** Reactions with one key (👍) to a message. */
export interface Reaction {
  key: string;
  /** Who reacted, by name. */
  who: string[];
  /** My reaction's event id, to take it back. */
  mine?: string;
}

export type NotSentReason = { kind: "network" | "refused" | "too-large"; text: string };

/**
 * A message, a reaction or a deletion (redaction) kept until the server accepted it (see
 * outbox.ts). Entries saved before reactions and deletions went through the outbox have no
 * `kind`: they are messages.
 */
export interface OutboxEntry {
  txnId: string;
  /** Not a message: my reaction to a message, or deleting an event (a message, my reaction). */
  kind?: "reaction" | "redaction";
  /** The event reacted to or deleted (a deletion of a reaction not yet accepted: set on acceptance). */
  target?: string;
  /** A deletion of my reaction still in the outbox: that reaction's transaction id. */
  targetTxn?: string;
  /** A reaction's key (👍). */
  key?: string;
  roomId: string;
  /** The conversation's name when it was written (shown before the first sync). */
  roomName: string;
  ts: number;
  msgtype: string;
  /** The text, or the file's name. */
  body: string;
  file?: { type: string; size: number; durationMs?: number; w?: number; h?: number };
  /** The file's mxc:// URI once uploaded (a retry does not upload it again). */
  url?: string;
  /** More of the content: a reply's or an edit's `m.relates_to`, an edit's `m.new_content`. */
  extra?: Record<string, unknown>;
  /** The message this one edits: shown on that message, not as a message of its own. */
  replaces?: string;
  state: "sending" | "failed" | "sent";
  reason?: NotSentReason;
  eventId?: string;
  /** A file being made ready (measured, stored on this device): the messages after it wait. */
  preparing?: boolean;
  /** Has gone out at least once: it may be on the server, whatever answer came back. */
  tried?: boolean;
  /** Who wrote it (user id): another person's entries left in this tab are never sent. */
  author?: string;
  /**
   * A file this device could not keep (storage full or refused): sent from the page's memory,
   * so a reload before it is sent loses it, and the person is told so.
   */
  unkept?: boolean;
}

/** Counts of a message of mine, from the server (`org.wardline.message_status`). */
export interface Counts {
  recipients: number;
  delivered: number;
  read: number;
}

export interface PresenceView {
  state: "online" | "unavailable" | "offline";
  dnd: boolean;
}

export type Panel =
  | "none"
  | "room"
  | "new-chat"
  | "devices"
  | "notifications"
  | "on-call"
  | "role"
  | "role-admin"
  | "broadcasts"
  | "incidents"
  | "topics"
  | "alarm-admin";

export interface State {
  screen: Screen;
  /** The first sync is done: conversations can be shown. */
  ready: boolean;
  connection: Connection;
  rooms: RoomSummary[];
  filter: string;
  panel: Panel;
  current: string | null;
  /** The open conversation's messages, oldest first. */
  timeline: TimelineItem[];
  /** The open conversation is loading back to its first unread message. */
  opening: boolean;
  /** Where "New messages" was drawn when the conversation was opened (event id), if anywhere. */
  unreadMarker: string | null;
  /** My read receipt in the open conversation (event id). */
  readUpTo: string | null;
  /** Messages of others in the open conversation after the last one seen (for the ↓ button). */
  unseenBelow: number;
  /** Messages between my receipt and what is loaded were never loaded: no receipt until they are. */
  gapAbove: boolean;
  /**
   * Gaps in the open conversation after a limited sync (what was shown stays, the newest follow
   * after a gap): the key of the first message after each ("": at the end).
   */
  gaps: string[];
  /** A gap is being filled. */
  fillingGap: boolean;
  canLoadEarlier: boolean;
  loadingEarlier: boolean;
  typing: string[];
  outbox: OutboxEntry[];
  statuses: Record<string, Counts>;
  /** Answers to messages that ask (priority, quick responses) and their escalation, by event id (answers.ts). */
  asks: Record<string, AskView>;
  /** Urgent and emergency messages waiting for my answer, as the server says (waiting.ts). */
  waiting: WaitingItem[];
  presence: Record<string, PresenceView>;
  /** My do-not-disturb is in force: no notification (dnd.ts). */
  dnd: boolean;
  /** My do-not-disturb: until when, who covers. */
  myDnd: DndInfo | null;
  /** Colleagues' do-not-disturb as last heard (null: none), by user id. */
  dndOf: Record<string, DndInfo | null>;
  readersFor: string | null;
  drafts: Record<string, string>;
  recording: string | null;
  /** The latest message to arrive in the open conversation, for screen readers. */
  announcement: string;
  /** The message whose actions (reply, react, edit, delete) are shown. */
  actionsFor: string | null;
  /** What the composer is doing besides writing a new message. */
  replyingTo: string | null;
  editing: { eventId: string; body: string } | null;
  /** The message being forwarded: the picker of conversations is open. */
  forwarding: string | null;
  /** The photo shown full size. */
  photo: PhotoView | null;
  /** The open conversation's details (name, topic, members) are shown. */
  details: boolean;
  /** A message to bring into view and point out (a search result), once it is drawn. */
  jumpTo: { eventId: string; seq: number } | null;
  /** The open conversation shows its latest messages (not only an earlier part, found by search). */
  live: boolean;
  /** An earlier part is shown, and there is more after it to load. */
  canLoadLater: boolean;
  /** A short confirmation shown for a moment ("Forwarded to Ward 7"). */
  toast: string;
  /** Roles and on-call (rolestate.ts). */
  oncall: OnCall;
  /** I may send broadcasts (broadcasts.ts; the server decides). */
  broadcaster: boolean;
  /** The broadcasts panel shows my list (null), the composer (""), or a report (its id). */
  broadcastView: string | null;
  /** The incident conversations I am in, open first, as the server last said (null: not asked yet; incidents.ts). */
  incidents: Incident[] | null;
  /** The administrators' alarm screens: integrations, rules, the live log, the outbox (alarmadminstate.ts). */
  alarmAdmin: AlarmAdmin;
  /** Clinical alert topics and my subscriptions to them, as the server last said (topics.ts). */
  subscriptions: Subscriptions;
  /** Whom conversations are about, from the patient record (patients.ts): memory only, never stored. */
  patients: Patients;
}

/** A photo in the viewer: the server's file, or this device's copy before it was sent. */
export interface PhotoView {
  name: string;
  mxc?: string;
  local?: Blob;
}

export const initialChatState: Omit<State, "screen"> = {
  ready: false,
  connection: "online",
  rooms: [],
  filter: "",
  panel: "none",
  current: null,
  timeline: [],
  opening: false,
  unreadMarker: null,
  readUpTo: null,
  unseenBelow: 0,
  gapAbove: false,
  gaps: [],
  fillingGap: false,
  canLoadEarlier: true,
  loadingEarlier: false,
  typing: [],
  outbox: [],
  statuses: {},
  asks: {},
  waiting: [],
  presence: {},
  dnd: false,
  myDnd: null,
  dndOf: {},
  readersFor: null,
  drafts: {},
  recording: null,
  announcement: "",
  actionsFor: null,
  replyingTo: null,
  editing: null,
  forwarding: null,
  photo: null,
  details: false,
  jumpTo: null,
  live: true,
  canLoadLater: false,
  toast: "",
  oncall: initialOnCall,
  broadcaster: false,
  broadcastView: null,
  incidents: null,
  alarmAdmin: initialAlarmAdmin,
  subscriptions: { topics: null, error: "" },
  patients: { epr: true, rooms: {}, dialog: null, filings: {}, choosing: null },
};

export const store = createStore<State>({ screen: { kind: "loading" }, ...initialChatState });

export function useStore<T>(select: (s: State) => T): T {
  return useSelector(store, select);
}
