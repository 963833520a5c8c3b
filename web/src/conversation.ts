// The conversation list and the open conversation, from matrix-js-sdk's rooms into the store:
// summaries, timeline items (with reactions, edits, replies), the "New messages" line, loading
// earlier messages, counts of my messages the sync has not told about, and read receipts only
// for messages seen (reading.ts).

import { KnownMembership, NotificationCountType, ReceiptType } from "./mx";
import type { MatrixEvent, Room } from "./mx";
import { contentOf } from "./outbox";
import { Attention, GAP, markReadUpTo, receiptTarget } from "./reading";
import type { ReadingEvent } from "./reading";
import { isShown, previewOf } from "./renderers";
import { conversationName, nameIn as ownNameIn, roleOfRoom, senderOf } from "./rolechat";
import { hasClient, matrix, me, outbox, token } from "./signedin";
import { store } from "./state";
import type { OutboxEntry, Panel, Reaction, RoomSummary, TimelineItem } from "./state";
import { fetchStatus, StatusRefused } from "./statuses";
import { typists } from "./typists";
import {
  canLoadBefore,
  fillGap,
  isShownEvent,
  loadAfter,
  loadBefore,
  showAround,
  showLatest,
  shownRuns,
  showsLatest,
  startsEarlier,
} from "./view";


/**
 * Drawn as a message of its own: any message event (not a state change, reaction or deletion),
 * not an edit (shown on the message it changes). Kinds this client cannot show (stickers,
 * encrypted messages, types from other apps) are drawn as a placeholder: a receipt covers only
 * what was on screen, so they must be seen too.
 */
export function drawn(e: MatrixEvent): boolean {
  return !e.isState() && isShown(e.getType()) && !e.isRelation("m.replace");
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

export function summaries(): RoomSummary[] {
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
        name: conversationName(r),
        lastTs: last?.getTs() ?? 0,
        preview: last ? previewOf(last.getType(), last.getContent(), last.isRedacted()) : "",
        unread: r.getUnreadNotificationCount(NotificationCountType.Total),
        other: otherPerson(r),
        role: roleOfRoom(r)?.id ?? null,
      };
      const old = previous.get(r.roomId);
      // Unchanged conversations keep their object: their list items are not redrawn.
      return old && (Object.keys(next) as (keyof RoomSummary)[]).every((k) => old[k] === next[k]) ? old : next;
    });
}

// ---- the open conversation -----------------------------------------------------------------

const items = new WeakMap<MatrixEvent, TimelineItem>();

function nameIn(room: Room, userId: string): string {
  return ownNameIn(room, userId);
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
  const { name: senderName, asRole } = senderOf(room, e);
  const content = e.getContent();
  const reactions = reactionsTo(room, e);
  const editId = e.replacingEventId() ?? undefined;
  const edited = Boolean(editId);
  const old = items.get(e);
  if (
    old &&
    old.content === content &&
    old.redacted === e.isRedacted() &&
    old.senderName === senderName &&
    old.asRole === asRole &&
    old.eventId === e.getId() &&
    old.edited === edited &&
    old.editId === editId &&
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
    asRole,
    mine: e.getSender() === me(),
    ts: e.getTs(),
    type: e.getType(),
    content,
    redacted: e.isRedacted(),
    edited,
    editId,
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
      localFile: outbox()?.files.get(e.txnId),
      replyTo: (e.extra?.["m.relates_to"] as { "m.in_reply_to"?: { event_id?: string } } | undefined)?.["m.in_reply_to"]
        ?.event_id,
    };
    pendingItems.set(e, item);
  }
  return item;
}

export function openRoomObject(): Room | null {
  const id = store.get().current;
  return id && hasClient() ? matrix().getRoom(id) : null;
}

/**
 * Events of the open conversation as read tracking sees them, and where my receipt is. Between
 * two runs of loaded messages (after a limited sync), a `GAP`: no receipt ever covers what is
 * not loaded there (reading.ts).
 */
function readingView(room: Room): { events: ReadingEvent[]; receiptIndex: number; all: (MatrixEvent | null)[] } {
  const all = shownRuns(room).flatMap((run, i) => (i ? [null, ...run] : run));
  const events = all.map((e) => (e ? { id: e.getId() ?? "", mine: e.getSender() === me(), shown: drawn(e) } : GAP));
  const readUpTo = store.get().readUpTo;
  const receiptIndex = readUpTo ? all.findIndex((e) => e?.getId() === readUpTo) : -1;
  return { events, receiptIndex, all };
}

/** Where the gaps are: before each, the key of the first message drawn after it ("": none). */
function gapsIn(runs: MatrixEvent[][], room: Room): string[] {
  const out: string[] = [];
  for (let i = 1; i < runs.length; i++) {
    const next = runs.slice(i).flat().find(drawn);
    out.push(next ? itemOf(room, next).key : "");
  }
  return out;
}

let typingTimer: ReturnType<typeof setTimeout> | undefined;

/** Ids of others' messages seen on screen in the open conversation (see reading.ts). */
let seen = new Set<string>();

export function refreshTimeline(): void {
  const room = openRoomObject();
  if (!room) return;
  const live = showsLatest(room);
  const runs = shownRuns(room);
  const timeline = runs
    .flat()
    .filter(drawn)
    .map((e) => itemOf(room, e));
  const gaps = gapsIn(runs, room);
  const { names: typing, until: typingEnds } = typists(room, me());
  // A typing line runs out on its own, without a word from the sync (typists.ts).
  clearTimeout(typingTimer);
  if (typingEnds !== null) typingTimer = setTimeout(() => later("timeline"), Math.max(0, typingEnds - Date.now()) + 50);
  // My receipt moves on when I read on another device too.
  const elsewhere = room.getEventReadUpTo(me(), true);
  const all = room.getLiveTimeline().getEvents();
  const position = (id: string | null) => (id ? all.findIndex((e) => e.getId() === id) : -1);
  // (Compared on the latest messages: where my receipt is matters there.)
  if (elsewhere && position(elsewhere) > position(store.get().readUpTo)) store.update({ readUpTo: elsewhere });
  const gap = live && hasGap(room);
  if (!gap && store.get().gapAbove && !store.get().unreadMarker) store.update({ unreadMarker: firstUnread(room) });
  store.update({
    gapAbove: gap,
    timeline,
    gaps: gaps.length === store.get().gaps.length && gaps.every((g, i) => g === store.get().gaps[i]) ? store.get().gaps : gaps,
    typing,
    canLoadEarlier: canLoadBefore(room),
    live,
    canLoadLater: !live,
    unseenBelow: live ? unseenBelowCount() : 0,
  });
  fetchMissingStatuses(room, timeline);
  if (gap) closeGap();
}

/**
 * Messages between my receipt and the loaded ones were never loaded (a limited sync after the
 * laptop slept brings only the newest): the server counts everything up to a receipt as read,
 * so none may be sent until the gap is loaded, or the loaded part reaches the start.
 */
function hasGap(room: Room): boolean {
  if (!canLoadBefore(room)) return false;
  const { events, receiptIndex } = readingView(room);
  if (receiptIndex >= 0) return false;
  if (store.get().readUpTo) return true;
  // No receipt of mine at all: the server's unread count says how many of the last are new.
  const others = events.filter((e) => e.shown && !e.mine && !e.gap).length;
  return room.getUnreadNotificationCount(NotificationCountType.Total) > others;
}

/** Pages loaded back to close a gap on their own; then "Earlier unread messages — Load". */
const GAP_PAGES = 5;
let gapPages = 0;

function closeGap(): void {
  if (gapPages >= GAP_PAGES || store.get().loadingEarlier) return;
  gapPages++;
  // (loadEarlier redraws, which comes back here while the gap is open.)
  void loadEarlier();
}

/** The reader asks for the earlier unread messages (after the pages loaded on their own). */
export function loadGap(): void {
  gapPages = 0;
  void loadEarlier();
}

let fillingGap = false;

/** The reader asks for the messages of the `index`th gap after a limited sync, in reading order. */
export async function loadGapAt(index: number): Promise<void> {
  const room = openRoomObject();
  if (!room || fillingGap) return;
  fillingGap = true;
  store.update({ fillingGap: true });
  try {
    await fillGap(room, index, 30);
  } catch {
    // Offline: the button stays, to try again.
  } finally {
    fillingGap = false;
    store.update({ fillingGap: false });
    refreshTimeline();
  }
}

const statusRequested = new Set<string>();

/** Counts of my messages the sync has not told about yet (loaded history): asked once each. */
function fetchMissingStatuses(room: Room, timeline: TimelineItem[]): void {
  const { statuses } = store.get();
  // My messages, and the latest edit of each edited one ("edited · change read by 0 of 3").
  const ids = timeline.flatMap((i) => (i.mine ? [i.eventId, i.editId] : [])).filter((id): id is string => Boolean(id));
  const mine = ids.filter((id) => !statuses[id] && !statusRequested.has(id));
  for (const eventId of mine.slice(-20)) {
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
      if (events[i].shown && !events[i].mine && !events[i].gap) return events[i].id;
    }
    return null;
  }
  // The receipt is older than what is loaded (or there is none): the server's unread count says
  // how many of the last messages are new.
  const unread = room.getUnreadNotificationCount(NotificationCountType.Total);
  if (unread <= 0) return null;
  const others = events.filter((e) => e.shown && !e.mine && !e.gap);
  return others[Math.max(0, others.length - unread)]?.id ?? null;
}

/**
 * Opens a conversation: at its first unread message, or, with `at`, at that message (a search
 * result), loading the part of the conversation around it if need be.
 */
export function openRoom(roomId: string, at?: { eventId: string; seq: number }): void {
  const room = hasClient() ? matrix().getRoom(roomId) : null;
  if (!room) return;
  seen = new Set();
  attention.restart();
  gapPages = 0;
  atBottom = true;
  lastInView = null;
  showLatest();
  const readUpTo = room.getEventReadUpTo(me(), true);
  store.update({
    current: roomId,
    panel: "room",
    readersFor: null,
    actionsFor: null,
    replyingTo: null,
    editing: null,
    forwarding: null,
    details: false,
    readUpTo,
    timeline: [],
    opening: true,
    unreadMarker: null,
    jumpTo: null,
    live: true,
    canLoadLater: false,
    gapAbove: false,
    gaps: [],
  });
  if (at) {
    void showAround(room, at.eventId)
      // Offline, or the message is gone: the latest messages.
      .catch(() => showLatest())
      .then(() => {
        if (store.get().current !== roomId) return;
        store.update({ opening: false, jumpTo: at });
        refreshTimeline();
      });
    return;
  }
  void reachFirstUnread(room).then(() => {
    if (store.get().current !== roomId) return;
    store.update({ unreadMarker: firstUnread(room), opening: false });
    refreshTimeline();
  });
}

/** Counts the messages pointed out, so the same one can be pointed out again. */
let jumps = 0;

/** Opens a conversation at one of its messages, pointed out (a search result). */
export function openAt(roomId: string, eventId: string): void {
  const s = store.get();
  const at = { eventId, seq: ++jumps };
  const room = hasClient() ? matrix().getRoom(roomId) : null;
  if (room && s.current === roomId && s.panel === "room" && !s.opening && isShownEvent(room, eventId)) {
    store.update({ jumpTo: at });
    return;
  }
  openRoom(roomId, at);
}

/** Back to the latest messages, from an earlier part of the conversation. */
export function goToLatest(): void {
  showLatest();
  store.update({ jumpTo: null });
  refreshTimeline();
}

/** Loads earlier messages until the first unread one is there (a few pages at most). */
async function reachFirstUnread(room: Room): Promise<void> {
  for (let page = 0; page < 5; page++) {
    const { events, receiptIndex } = readingView(room);
    if (receiptIndex >= 0) return;
    const unread = room.getUnreadNotificationCount(NotificationCountType.Total);
    const others = events.filter((e) => e.shown && !e.mine).length;
    if (!store.get().readUpTo && others >= unread) return;
    if (room.getLiveTimeline().getPaginationToken("b" as never) === null) return;
    try {
      await matrix().scrollback(room, 30);
    } catch {
      return; // Offline: what is loaded will do.
    }
  }
}

/** The dialogs of a conversation, closed when it is. */
const noDialogs = { forwarding: null, details: false, photo: null, jumpTo: null } as const;

export function closeRoom(): void {
  store.update({ current: null, panel: "none", readersFor: null, timeline: [], unreadMarker: null, opening: false, ...noDialogs });
}

export function showPanel(panel: Exclude<Panel, "none" | "room">): void {
  store.update({ current: null, panel, readersFor: null, timeline: [], ...noDialogs });
}

export async function loadEarlier(): Promise<void> {
  const room = openRoomObject();
  if (!room || store.get().loadingEarlier) return;
  store.update({ loadingEarlier: true });
  try {
    await loadBefore(room, 30);
  } catch {
    // Offline: the button stays, to try again.
  } finally {
    store.update({ loadingEarlier: false });
    refreshTimeline();
  }
}

let loadingLater = false;

/** The next messages after an earlier part of the conversation being read. */
export async function loadLater(): Promise<void> {
  const room = openRoomObject();
  if (!room || loadingLater) return;
  loadingLater = true;
  try {
    await loadAfter(room, 30);
  } catch {
    // Offline: asked again at the next scroll.
  } finally {
    loadingLater = false;
    refreshTimeline();
  }
}

// ---- reading -------------------------------------------------------------------------------

let receiptTimer: ReturnType<typeof setTimeout> | undefined;

/** Someone at the screen: the page visible and focused, and activity in the last minute. */
const attention = new Attention();

/**
 * Which messages of others are on screen now, as the timeline measures them (a message half
 * shown; one taller than the view with its bottom edge in view). Set by the open timeline.
 */
let measure: (() => string[]) | null = null;

export function setSeenMeasure(fn: (() => string[]) | null): void {
  measure = fn;
  attention.restart();
}

export function noteActivity(): void {
  attention.noteActivity();
}

/** Nothing over the timeline (photo, details, forward, readers): it can be read. */
function timelineInView(): boolean {
  const s = store.get();
  return Boolean(s.current) && !s.photo && !s.details && !s.forwarding && !s.readersFor;
}

/** Called every moment the timeline is open: messages on screen long enough become seen. */
export function noteSeen(): void {
  const added = measure ? attention.seenNow(measure(), seen, timelineInView()) : [];
  for (const id of added) seen.add(id);
  if (added.length && receiptTimer === undefined) {
    receiptTimer = setTimeout(() => {
      receiptTimer = undefined;
      advanceReceipt();
    }, 50);
  }
}

function advanceReceipt(): void {
  const room = openRoomObject();
  // Reading an earlier part (a search result) does not move the receipt.
  if (!room || !showsLatest(room)) return;
  const { events, receiptIndex, all } = readingView(room);
  const isSeen = (id: string) => seen.has(id);
  // My receipt is before the part shown, with messages not loaded in between: none of those
  // may be counted as read.
  // Nor may those of a gap after a limited sync (hasGap).
  const target =
    receiptIndex < 0 && (startsEarlier() || hasGap(room)) ? null : receiptTarget(events, receiptIndex, isSeen);
  if (target) {
    const event = all.find((e) => e?.getId() === target);
    store.update({ readUpTo: target });
    if (event) matrix().sendReadReceipt(event, ReceiptType.Read).catch(() => undefined);
  }
  store.update({ unseenBelow: unseenBelowCount() });
}

/** The reader is at the bottom of the open conversation (following new messages). */
let atBottom = true;
/** The last message on screen (key), as the timeline measured it. */
let lastInView: string | null = null;

/** Where the reader is: at the bottom or not, and the last message on screen (the timeline says). */
export function noteView(bottom: boolean, lastKey: string | null): void {
  atBottom = bottom;
  lastInView = lastKey;
  const n = store.get().live ? unseenBelowCount() : 0;
  if (n !== store.get().unseenBelow) store.update({ unseenBelow: n });
}

/**
 * The "N new messages ↓" count: messages of others below what is on screen, not seen yet (those
 * that arrived since the reader scrolled up, or were unread below when the conversation opened).
 * Never those above the view (skipped on the way down, or read past).
 */
function unseenBelowCount(): number {
  if (atBottom) return 0;
  const { timeline } = store.get();
  const from = lastInView ? timeline.findIndex((i) => i.key === lastInView) : -1;
  let n = 0;
  for (let i = from + 1; i < timeline.length; i++) {
    const t = timeline[i];
    if (!t.mine && t.eventId && !seen.has(t.eventId)) n++;
  }
  return n;
}

/**
 * "Mark as read up to here" on the open conversation's message `eventId` (for keyboard and
 * screen-reader users: the explicit form of reading): the receipt moves to it, never across
 * messages not loaded (reading.ts). What happened, in words.
 */
export function markRead(eventId: string): string {
  const room = openRoomObject();
  if (!room) return "";
  const { events, receiptIndex, all } = readingView(room);
  const index = events.findIndex((e) => e.id === eventId);
  const readUpTo = store.get().readUpTo;
  // My receipt outside the part shown: at or after this message (an earlier part, found by
  // search, of messages read already), or before it with messages not loaded in between.
  const receipt = receiptIndex < 0 && readUpTo ? room.findEventById(readUpTo) : undefined;
  const target = all[index];
  if (receipt && target && receipt.getTs() >= target.getTs()) return "Already read up to here.";
  const mark = markReadUpTo(events, receiptIndex, index, startsEarlier() || hasGap(room) || (receiptIndex < 0 && Boolean(readUpTo)));
  if (mark.kind === "already") return "Already read up to here.";
  if (mark.kind === "gap") return "Earlier unread messages are not loaded yet: load them first, then mark as read.";
  // (Only the messages it reads: never a gap's stand-in, which no rule may count as seen.)
  for (const e of events.slice(receiptIndex + 1, index + 1)) if (e.shown && !e.mine && !e.gap) seen.add(e.id);
  store.update({ readUpTo: mark.id });
  store.update({ unseenBelow: store.get().live ? unseenBelowCount() : 0 });
  matrix().sendReadReceipt(target, ReceiptType.Read).catch(() => undefined);
  return "Marked as read up to this message.";
}

/** A message of mine arriving now: its counts come with the sync as they change. */
export function countsComeWithSync(eventId: string): void {
  statusRequested.add(eventId);
}

/** Redraws are batched: a sync brings many events at once. */
let queued: { rooms: boolean; timeline: boolean } | null = null;
export function later(what: "rooms" | "timeline"): void {
  if (!queued) {
    queued = { rooms: false, timeline: false };
    setTimeout(() => {
      const q = queued;
      queued = null;
      if (!hasClient() || !q) return;
      if (q.rooms) store.update({ rooms: summaries() });
      if (q.timeline) refreshTimeline();
    }, 0);
  }
  queued[what] = true;
}

/** Forgets the signed-in person's conversation state (sign-out). */
export function resetConversation(): void {
  showLatest();
  clearTimeout(receiptTimer);
  clearTimeout(typingTimer);
  receiptTimer = undefined;
  statusRequested.clear();
  seen = new Set();
  attention.restart();
}
