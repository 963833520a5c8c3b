// The signed-in client: matrix-js-sdk syncs; this module turns what it hears into the store's
// state (conversations, the open timeline, presence, typing, the connection) and carries out
// what the person does (open a conversation, send, read, sign out). Components only read the
// store and call these functions.

import {
  ClientEvent,
  HttpApiEvent,
  KnownMembership,
  MatrixClient,
  MemoryStore,
  NotificationCountType,
  ReceiptType,
  RoomEvent,
  RoomMemberEvent,
  SetPresence,
  SyncState,
  UserEvent,
} from "./mx";
import type { MatrixEvent, Room } from "./mx";
import { media } from "./media";
import { contentOf, Outbox } from "./outbox";
import { receiptTarget, unseenAfter } from "./reading";
import type { ReadingEvent } from "./reading";
import { isShown, previewOf } from "./renderers";
import { forgetEverything } from "./session";
import type { Session } from "./session";
import { initialChatState, store } from "./state";
import type { Connection, OutboxEntry, PresenceView, Reaction, RoomSummary, TimelineItem } from "./state";
import { countsFromEphemeral, fetchStatus, STATUS_EVENT, StatusRefused } from "./statuses";

let client: MatrixClient | null = null;
let outbox: Outbox | null = null;
let session: Session | null = null;
let unbind: (() => void) | null = null;

export function matrix(): MatrixClient {
  if (!client) throw new Error("not signed in");
  return client;
}

export function me(): string {
  return session?.userId ?? "";
}

export function token(): string {
  return session?.accessToken ?? "";
}

// ---- conversations -------------------------------------------------------------------------

/** Drawn as a message of its own: not an edit (shown on the message it changes). */
function drawn(e: MatrixEvent): boolean {
  return isShown(e.getType()) && !e.isRelation("m.replace");
}

function lastMessage(room: Room): MatrixEvent | undefined {
  const events = room.getLiveTimeline().getEvents();
  for (let i = events.length - 1; i >= 0; i--) {
    if (drawn(events[i])) return events[i];
  }
  return undefined;
}

/** The other person of a two-person conversation. */
export function otherPerson(room: Room): string | null {
  const others = room
    .getMembers()
    .filter((m) => m.userId !== me())
    .filter((m) => m.membership === KnownMembership.Join || m.membership === KnownMembership.Invite);
  return others.length === 1 ? others[0].userId : null;
}

function summaries(): RoomSummary[] {
  const c = matrix();
  const previous = new Map(store.get().rooms.map((r) => [r.id, r]));
  return c
    .getVisibleRooms()
    .filter((r) => r.getMyMembership() === KnownMembership.Join)
    .sort((a, b) => b.getLastActiveTimestamp() - a.getLastActiveTimestamp())
    .map((r) => {
      const last = lastMessage(r);
      const next: RoomSummary = {
        id: r.roomId,
        name: r.name,
        lastTs: last?.getTs() ?? 0,
        preview: last ? previewOf(last.getType(), last.getContent(), last.isRedacted()) : "",
        unread: r.getUnreadNotificationCount(NotificationCountType.Total),
        other: otherPerson(r),
      };
      const old = previous.get(r.roomId);
      // Unchanged conversations keep their object: their list items are not redrawn.
      return old && (Object.keys(next) as (keyof RoomSummary)[]).every((k) => old[k] === next[k]) ? old : next;
    });
}

// ---- the open conversation -----------------------------------------------------------------

const items = new WeakMap<MatrixEvent, TimelineItem>();

function nameIn(room: Room, userId: string): string {
  return room.getMember(userId)?.name ?? userId;
}

/** Reactions to `e`, by key, in the order they were first made. */
function reactionsTo(room: Room, e: MatrixEvent): Reaction[] | undefined {
  const id = e.getId();
  const annotations = id
    ? room.relations.getChildEventsForEvent(id, "m.annotation", "m.reaction")
    : undefined;
  const sorted = annotations?.getSortedAnnotationsByKey();
  if (!sorted?.length) return undefined;
  const out: Reaction[] = [];
  for (const [key, events] of [...sorted].reverse()) {
    const live = [...events].filter((r) => !r.isRedacted());
    if (!live.length) continue;
    const mine = live.find((r) => r.getSender() === me());
    out.push({ key, who: live.map((r) => nameIn(room, r.getSender() ?? "")), mine: mine?.getId() ?? undefined });
  }
  return out.length ? out : undefined;
}

function itemOf(room: Room, e: MatrixEvent): TimelineItem {
  const senderName = nameIn(room, e.getSender() ?? "");
  const content = e.getContent();
  const reactions = reactionsTo(room, e);
  const edited = Boolean(e.replacingEventId());
  const old = items.get(e);
  if (
    old &&
    old.content === content &&
    old.redacted === e.isRedacted() &&
    old.senderName === senderName &&
    old.eventId === e.getId() &&
    old.edited === edited &&
    JSON.stringify(old.reactions) === JSON.stringify(reactions)
  ) {
    return old;
  }
  const txnId = e.getSender() === me() ? (e.getUnsigned().transaction_id as string | undefined) : undefined;
  const item: TimelineItem = {
    key: old?.key ?? txnId ?? e.getId() ?? "",
    eventId: e.getId() ?? undefined,
    txnId,
    sender: e.getSender() ?? "",
    senderName,
    mine: e.getSender() === me(),
    ts: e.getTs(),
    type: e.getType(),
    content,
    redacted: e.isRedacted(),
    edited,
    replyTo: e.isRedacted() ? undefined : e.replyEventId,
    reactions: e.isRedacted() ? undefined : reactions,
  };
  items.set(e, item);
  return item;
}

/** The message `eventId` of the open conversation as the timeline draws it, if loaded. */
export function findItem(eventId: string): TimelineItem | undefined {
  const room = openRoomObject();
  const e = room?.findEventById(eventId);
  return room && e ? itemOf(room, e) : undefined;
}

const pendingItems = new WeakMap<OutboxEntry, TimelineItem>();

/** An outbox message, drawn like the message it will be. */
export function outboxItem(e: OutboxEntry): TimelineItem {
  let item = pendingItems.get(e);
  if (!item) {
    item = {
      key: e.txnId,
      txnId: e.txnId,
      eventId: e.eventId,
      sender: me(),
      senderName: "",
      mine: true,
      ts: e.ts,
      type: "m.room.message",
      content: contentOf(e),
      redacted: false,
      localFile: outbox?.files.get(e.txnId),
      replyTo: (e.extra?.["m.relates_to"] as { "m.in_reply_to"?: { event_id?: string } } | undefined)?.["m.in_reply_to"]
        ?.event_id,
    };
    pendingItems.set(e, item);
  }
  return item;
}

function openRoomObject(): Room | null {
  const id = store.get().current;
  return id && client ? client.getRoom(id) : null;
}

/** Events of the open conversation as read tracking sees them, and where my receipt is. */
function readingView(room: Room): { events: ReadingEvent[]; receiptIndex: number; all: MatrixEvent[] } {
  const all = room.getLiveTimeline().getEvents();
  const events = all.map((e) => ({ id: e.getId() ?? "", mine: e.getSender() === me(), shown: drawn(e) }));
  const readUpTo = store.get().readUpTo;
  const receiptIndex = readUpTo ? all.findIndex((e) => e.getId() === readUpTo) : -1;
  return { events, receiptIndex, all };
}

/** Ids of others' messages seen on screen in the open conversation (see reading.ts). */
let seen = new Set<string>();
let onScreen = new Set<string>();

function refreshTimeline(): void {
  const room = openRoomObject();
  if (!room) return;
  const timeline = room
    .getLiveTimeline()
    .getEvents()
    .filter(drawn)
    .map((e) => itemOf(room, e));
  const typing = room
    .getMembers()
    .filter((m) => m.typing && m.userId !== me())
    .map((m) => m.name);
  // My receipt moves on when I read on another device too.
  const elsewhere = room.getEventReadUpTo(me(), true);
  const all = room.getLiveTimeline().getEvents();
  const position = (id: string | null) => (id ? all.findIndex((e) => e.getId() === id) : -1);
  if (elsewhere && position(elsewhere) > position(store.get().readUpTo)) store.update({ readUpTo: elsewhere });
  const { events, receiptIndex } = readingView(room);
  store.update({
    timeline,
    typing,
    canLoadEarlier: room.getLiveTimeline().getPaginationToken("b" as never) !== null,
    unseenBelow: unseenAfter(events, receiptIndex, (id) => seen.has(id)),
  });
  fetchMissingStatuses(room, timeline);
}

const statusRequested = new Set<string>();

/** Counts of my messages the sync has not told about yet (loaded history): asked once each. */
function fetchMissingStatuses(room: Room, timeline: TimelineItem[]): void {
  const { statuses } = store.get();
  const mine = timeline.filter((i) => i.mine && i.eventId && !statuses[i.eventId] && !statusRequested.has(i.eventId));
  for (const item of mine.slice(-20)) {
    const eventId = item.eventId as string;
    statusRequested.add(eventId);
    fetchStatus(token(), room.roomId, eventId)
      .then((d) => {
        // A count the sync brought meanwhile is newer.
        if (!store.get().statuses[eventId]) store.update((s) => ({ statuses: { ...s.statuses, [eventId]: d.counts } }));
      })
      // Asked again on a later redraw only if the network or the server failed.
      .catch((e) => e instanceof StatusRefused || statusRequested.delete(eventId));
  }
}

/** The message a "New messages" line goes above: the first of others after my receipt. */
function firstUnread(room: Room): string | null {
  const { events, receiptIndex } = readingView(room);
  // A reply of mine shows I saw what came before it.
  let lastMine = -1;
  events.forEach((e, i) => e.shown && e.mine && (lastMine = i));
  if (receiptIndex >= 0 || lastMine >= 0) {
    for (let i = Math.max(receiptIndex, lastMine) + 1; i < events.length; i++) {
      if (events[i].shown && !events[i].mine) return events[i].id;
    }
    return null;
  }
  // The receipt is older than what is loaded (or there is none): the server's unread count says
  // how many of the last messages are new.
  const unread = room.getUnreadNotificationCount(NotificationCountType.Total);
  if (unread <= 0) return null;
  const others = events.filter((e) => e.shown && !e.mine);
  return others[Math.max(0, others.length - unread)]?.id ?? null;
}

export function openRoom(roomId: string): void {
  const room = client?.getRoom(roomId);
  if (!room) return;
  seen = new Set();
  onScreen = new Set();
  const readUpTo = room.getEventReadUpTo(me(), true);
  store.update({
    current: roomId,
    panel: "room",
    readersFor: null,
    actionsFor: null,
    replyingTo: null,
    editing: null,
    readUpTo,
    timeline: [],
    unreadMarker: null,
  });
  store.update({ unreadMarker: firstUnread(room) });
  refreshTimeline();
}

export function closeRoom(): void {
  store.update({ current: null, panel: "none", readersFor: null, timeline: [], unreadMarker: null });
}

export function showPanel(panel: "new-chat" | "devices"): void {
  store.update({ current: null, panel, readersFor: null, timeline: [] });
}

export async function loadEarlier(): Promise<void> {
  const room = openRoomObject();
  if (!room || store.get().loadingEarlier) return;
  store.update({ loadingEarlier: true });
  try {
    await matrix().scrollback(room, 30);
  } catch {
    // Offline: the button stays, to try again.
  } finally {
    store.update({ loadingEarlier: false });
    refreshTimeline();
  }
}

// ---- reading -------------------------------------------------------------------------------

let receiptTimer: ReturnType<typeof setTimeout> | undefined;

/** The timeline reports which messages of others are on screen. */
export function onScreenChanged(eventId: string, visible: boolean): void {
  if (visible) onScreen.add(eventId);
  else onScreen.delete(eventId);
  noteSeen();
}

function noteSeen(): void {
  if (document.visibilityState !== "visible" || !store.get().current) return;
  for (const id of onScreen) seen.add(id);
  if (receiptTimer === undefined) {
    receiptTimer = setTimeout(() => {
      receiptTimer = undefined;
      advanceReceipt();
    }, 50);
  }
}

function advanceReceipt(): void {
  const room = openRoomObject();
  if (!room) return;
  const { events, receiptIndex, all } = readingView(room);
  const isSeen = (id: string) => seen.has(id);
  const target = receiptTarget(events, receiptIndex, isSeen);
  if (target) {
    const event = all.find((e) => e.getId() === target);
    store.update({ readUpTo: target });
    if (event) matrix().sendReadReceipt(event, ReceiptType.Read).catch(() => undefined);
  }
  const after = readingView(room);
  store.update({ unseenBelow: unseenAfter(after.events, after.receiptIndex, isSeen) });
}

// ---- sending -------------------------------------------------------------------------------

function roomName(roomId: string): string {
  return client?.getRoom(roomId)?.name ?? "";
}

/** Sends what the composer holds: a new message, a reply, or an edit of one of mine. */
export function sendText(roomId: string, text: string): void {
  const { replyingTo, editing } = store.get();
  if (editing) {
    outbox?.sendText(
      roomId,
      roomName(roomId),
      `* ${text}`,
      {
        "m.new_content": { msgtype: "m.text", body: text },
        "m.relates_to": { rel_type: "m.replace", event_id: editing.eventId },
      },
      editing.eventId,
    );
  } else if (replyingTo) {
    outbox?.sendText(roomId, roomName(roomId), text, { "m.relates_to": { "m.in_reply_to": { event_id: replyingTo } } });
  } else {
    outbox?.sendText(roomId, roomName(roomId), text);
  }
  store.update({ replyingTo: null, editing: null });
  matrix().sendTyping(roomId, false, 0).catch(() => undefined);
}

export function showActions(eventId: string | null): void {
  store.update({ actionsFor: eventId });
}

export function startReply(eventId: string): void {
  store.update({ replyingTo: eventId, editing: null, actionsFor: null });
}

export function startEdit(eventId: string, body: string): void {
  store.update({ editing: { eventId, body }, replyingTo: null, actionsFor: null });
}

export function cancelCompose(): void {
  store.update({ editing: null, replyingTo: null });
}

/** Adds my reaction `key` to a message, or takes it back. */
export async function toggleReaction(eventId: string, key: string): Promise<void> {
  const room = openRoomObject();
  if (!room) return;
  store.update({ actionsFor: null });
  const mine = findItem(eventId)?.reactions?.find((r) => r.key === key)?.mine;
  try {
    if (mine) await matrix().redactEvent(room.roomId, mine);
    else {
      await matrix().sendEvent(room.roomId, "m.reaction" as never, {
        "m.relates_to": { rel_type: "m.annotation", event_id: eventId, key },
      } as never);
    }
  } catch {
    store.update({ announcement: "The reaction could not be sent." });
  }
}

/** Deletes a message of mine for everyone (a redaction). */
export async function deleteMessage(eventId: string): Promise<string | null> {
  const room = openRoomObject();
  if (!room) return null;
  store.update({ actionsFor: null });
  try {
    await matrix().redactEvent(room.roomId, eventId);
    return null;
  } catch (e) {
    return (e as { data?: { error?: string } }).data?.error ?? "The message could not be deleted.";
  } finally {
    later("timeline");
  }
}

export function sendFile(roomId: string, file: File, durationMs?: number): void {
  void outbox?.sendFile(roomId, roomName(roomId), file, durationMs);
}

export function retry(txnId: string): void {
  outbox?.retry(txnId);
}

export function discard(txnId: string): void {
  outbox?.delete(txnId);
}

export function typing(roomId: string, active: boolean): void {
  matrix().sendTyping(roomId, active, 5000).catch(() => undefined);
}

// ---- presence and do-not-disturb -----------------------------------------------------------

function presenceOf(userId: string): PresenceView {
  const user = client?.getUser(userId);
  const state = (user?.presence ?? "offline") as PresenceView["state"];
  return {
    state: state === "online" || state === "unavailable" ? state : "offline",
    dnd: state === "unavailable" && user?.presenceStatusMsg === "Do not disturb",
  };
}

function refreshPresence(userId: string): void {
  const next = presenceOf(userId);
  const old = store.get().presence[userId];
  if (old && old.state === next.state && old.dnd === next.dnd) return;
  store.update((s) => ({ presence: { ...s.presence, [userId]: next } }));
}

/** Presence of someone the client has not heard about yet (e.g. found in the directory). */
export function watchPresence(userId: string): void {
  if (!store.get().presence[userId]) refreshPresence(userId);
}

export async function setDnd(on: boolean): Promise<void> {
  store.update({ dnd: on });
  const c = matrix();
  // Syncs would otherwise mark me online again.
  void c.setSyncPresence(on ? SetPresence.Unavailable : SetPresence.Online);
  await c.setPresence({ presence: on ? "unavailable" : "online", status_msg: on ? "Do not disturb" : "" }).catch(() => undefined);
}

// ---- the connection ------------------------------------------------------------------------

let restoredTimer: ReturnType<typeof setTimeout> | undefined;

function setConnection(next: Connection): void {
  const was = store.get().connection;
  if (next === "online" && (was === "offline" || was === "reconnecting")) {
    next = "restored";
    clearTimeout(restoredTimer);
    restoredTimer = setTimeout(() => {
      if (store.get().connection === "restored") store.update({ connection: "online" });
    }, 4000);
    outbox?.kick();
  }
  if (next === "online" && was === "restored") return;
  store.update({ connection: next });
}

function connectionFromSync(state: SyncState | null): void {
  if (!navigator.onLine) return setConnection("offline");
  if (state === SyncState.Error || state === SyncState.Reconnecting) return setConnection("reconnecting");
  if (state === SyncState.Syncing || state === SyncState.Prepared || state === SyncState.Catchup) setConnection("online");
}

// ---- notifications -------------------------------------------------------------------------

/** "New message in Ward 7": never the text, which a lock screen would show (NHS guidance). */
function notify(e: MatrixEvent, room: Room): void {
  const s = store.get();
  if (!s.ready || s.dnd || e.getSender() === me() || !drawn(e)) return;
  if (document.visibilityState === "visible" && room.roomId === s.current) return;
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  new Notification("Wardline", { body: `New message in ${room.name}`, tag: room.roomId });
}

/** A new message from someone else in the open conversation, read out by screen readers. */
function announce(e: MatrixEvent, room: Room): void {
  const s = store.get();
  if (!s.ready || room.roomId !== s.current || e.getSender() === me() || !drawn(e)) return;
  const who = room.getMember(e.getSender() ?? "")?.name ?? e.getSender();
  store.update({ announcement: `${who}: ${previewOf(e.getType(), e.getContent(), e.isRedacted())}` });
}

// ---- drafts --------------------------------------------------------------------------------

const DRAFTS = "wardline.drafts";

/** What is typed and not sent yet, kept per conversation through a reload of the tab. */
export function saveDraft(roomId: string, text: string): void {
  if (!client) return;
  const drafts = { ...store.get().drafts };
  if (text) drafts[roomId] = text;
  else delete drafts[roomId];
  store.update({ drafts });
  if (Object.keys(drafts).length) sessionStorage.setItem(DRAFTS, JSON.stringify(drafts));
  else sessionStorage.removeItem(DRAFTS);
}

function savedDrafts(): Record<string, string> {
  try {
    const d = JSON.parse(sessionStorage.getItem(DRAFTS) ?? "{}") as unknown;
    return typeof d === "object" && d !== null ? (d as Record<string, string>) : {};
  } catch {
    return {};
  }
}

// ---- start and end -------------------------------------------------------------------------

/** Redraws are batched: a sync brings many events at once. */
let queued: { rooms: boolean; timeline: boolean } | null = null;
function later(what: "rooms" | "timeline"): void {
  if (!queued) {
    queued = { rooms: false, timeline: false };
    setTimeout(() => {
      const q = queued;
      queued = null;
      if (!client || !q) return;
      if (q.rooms) store.update({ rooms: summaries() });
      if (q.timeline) refreshTimeline();
    }, 0);
  }
  queued[what] = true;
}

export function startChat(s: Session, signedOut: (reason?: string) => void): void {
  session = s;
  store.update({
    ...initialChatState,
    screen: { kind: "chat", session: s },
    connection: navigator.onLine ? "online" : "offline",
    drafts: savedDrafts(),
  });
  media.start(s.accessToken);
  const c = new MatrixClient({
    baseUrl: window.location.origin,
    accessToken: s.accessToken,
    userId: s.userId,
    deviceId: s.deviceId,
    timelineSupport: true,
    store: new MemoryStore(),
  });
  client = c;
  outbox = new Outbox(s);
  void outbox.start();

  // Invitations from colleagues are accepted at once, as being added to a ward group is.
  c.on(RoomMemberEvent.Membership, (_ev, member) => {
    // (Invitations found by the first sync are accepted once it is done, below.)
    if (store.get().ready && member.userId === me() && member.membership === KnownMembership.Invite) {
      c.joinRoom(member.roomId).catch(() => undefined);
    }
    later("rooms");
    if (member.roomId === store.get().current) later("timeline");
  });
  c.on(RoomEvent.Timeline, (e, room, toStartOfTimeline) => {
    if (!room) return;
    const txnId = e.getSender() === me() ? e.getUnsigned().transaction_id : undefined;
    if (txnId) outbox?.echoed(txnId);
    // A message of mine arriving now has no counts to fetch: the sync brings them as they change.
    if (store.get().ready && !toStartOfTimeline && e.getSender() === me() && e.getId()) statusRequested.add(e.getId() as string);
    if (!toStartOfTimeline) {
      notify(e, room);
      announce(e, room);
    }
    later("rooms");
    if (room.roomId === store.get().current) later("timeline");
  });
  c.on(RoomEvent.Redaction, (_e, room) => {
    later("rooms");
    if (room.roomId === store.get().current) later("timeline");
  });
  // Reactions and deletions of mine on their way, then done (or failed).
  c.on(RoomEvent.LocalEchoUpdated, (_e, room) => {
    if (room.roomId === store.get().current) later("timeline");
  });
  c.on(RoomEvent.TimelineReset, (room) => {
    if (room?.roomId === store.get().current) later("timeline");
  });
  c.on(UserEvent.Presence, (_e, user) => refreshPresence(user.userId));
  c.on(RoomEvent.Receipt, (_e, room) => {
    later("rooms");
    if (room.roomId === store.get().current) later("timeline");
  });
  c.on(RoomMemberEvent.Typing, (_e, member) => {
    if (member.roomId === store.get().current) later("timeline");
  });
  c.on(RoomEvent.Name, () => later("rooms"));
  c.on(RoomEvent.MyMembership, () => later("rooms"));
  c.on(ClientEvent.Event, (e) => {
    if (e.getType() !== STATUS_EVENT) return;
    const counts = countsFromEphemeral(e.getContent());
    if (Object.keys(counts).length) store.update((st) => ({ statuses: { ...st.statuses, ...counts } }));
  });
  c.on(ClientEvent.Sync, (state) => {
    connectionFromSync(state);
    if (state === SyncState.Prepared) {
      store.update({ ready: true, rooms: summaries() });
      // Do-not-disturb set before a reload (or on another device) stays on.
      if (c.getUser(me())?.presenceStatusMsg === "Do not disturb") {
        store.update({ dnd: true });
        void c.setSyncPresence(SetPresence.Unavailable);
      }
      for (const room of c.getRooms()) {
        if (room.getMyMembership() === KnownMembership.Invite) c.joinRoom(room.roomId).catch(() => undefined);
        // Messages whose "accepted" answer was lost before a reload, but which the server has.
        for (const e of room.getLiveTimeline().getEvents()) {
          const txnId = e.getSender() === me() ? e.getUnsigned().transaction_id : undefined;
          if (txnId) outbox?.echoed(txnId);
        }
      }
    }
  });
  // The session was ended elsewhere (signed out from another device, deactivated, timed out).
  c.on(HttpApiEvent.SessionLoggedOut, (err) => {
    void end();
    signedOut(endedBecause(err));
  });

  const online = () => {
    c.retryImmediately();
    outbox?.kick();
    connectionFromSync(c.getSyncState());
    if (store.get().connection === "offline") setConnection("reconnecting");
  };
  const offline = () => setConnection("offline");
  const visibility = () => noteSeen();
  window.addEventListener("online", online);
  window.addEventListener("offline", offline);
  document.addEventListener("visibilitychange", visibility);
  unbind = () => {
    window.removeEventListener("online", online);
    window.removeEventListener("offline", offline);
    document.removeEventListener("visibilitychange", visibility);
  };
  c.startClient({ initialSyncLimit: 30 }).catch(() => {
    void end();
    signedOut();
  });
}

/** Stops the client and leaves nothing behind: storage, stored files, cached media. */
async function end(): Promise<void> {
  const c = client;
  const o = outbox;
  client = null;
  outbox = null;
  session = null;
  unbind?.();
  unbind = null;
  clearTimeout(restoredTimer);
  clearTimeout(receiptTimer);
  receiptTimer = undefined;
  statusRequested.clear();
  c?.stopClient();
  c?.removeAllListeners();
  media.clear();
  const wiped = o?.wipe();
  forgetEverything();
  store.update({ ...initialChatState });
  await wiped;
}

export async function signOut(): Promise<void> {
  try {
    await client?.logout(true);
  } catch {
    // Signing out locally is what matters; the server ends the session on its own later.
  }
  await end();
}

/** Why the server ended a session, for the sign-in screen. */
function endedBecause(err: unknown): string {
  const data = (err as { data?: Record<string, unknown> } | undefined)?.data ?? {};
  if (data["org.wardline.deactivated"] === true) {
    return "Your account has been deactivated, so you have been signed out. Ask your administrator if this is a mistake.";
  }
  return "Your session has ended. Sign in again to continue.";
}
