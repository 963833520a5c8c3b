// The signed-in client: starts matrix-js-sdk and the outbox, turns what the sync hears into the
// store (through conversation.ts and presence.ts), tracks the connection for the banner,
// notifies, and ends it all at sign-out, leaving nothing behind. Components read the store and
// call the functions of conversation.ts, compose.ts and presence.ts.

import { primeAlerts } from "./alert";
import { forgetAnswers, noteAnswerEvent, refreshAsk } from "./answers";
import { forgetWaiting, noteWaitingEvent, refreshWaiting } from "./waiting";
import { forgetIncidents, noteIncidentEvent, noteIncidentRoom, refreshIncidents } from "./incidents";
import { savedDrafts } from "./compose";
import { closeRoom, countsComeWithSync, drawn, later, noteSeen, resetConversation, summaries } from "./conversation";
import { forgetDirectory } from "./directory";
import { forgetFilingWaits, noteFilingEvent } from "./filing";
import { forgetPatients, notePatientEvent } from "./patients";
import { forgetRoles } from "./roles";
import { media } from "./media";
import { DND_KIND, forgetDnd, loadMyDnd, noteMyDnd } from "./dnd";
import { mentionsMe } from "./mentions";
import {
  ClientEvent,
  HttpApiEvent,
  KnownMembership,
  MatrixClient,
  MemoryStore,
  RoomEvent,
  RoomMemberEvent,
  SyncState,
  UserEvent,
} from "./mx";
import type { MatrixEvent, Room } from "./mx";
import { Outbox, waitingInWords } from "./outbox";
import { refreshPresence } from "./presence";
import { escalationOf, levelOf, serverMember } from "./priority";
import type { Level } from "./priority";
import { forgetRoomNotify, pushRulesChanged, roomNotify } from "./roomnotify";
import { checkPush, followDeepLink, forgetPush, listenToWorker, pushIsOn, soundArrival } from "./webpush";
import { previewOf } from "./renderers";
import { forgetEverything } from "./session";
import type { Session } from "./session";
import { hasClient, matrix, me, outbox, signedIn, signedOut as forgetSignedIn } from "./signedin";
import { initialChatState, store } from "./state";
import type { Connection } from "./state";
import { countsFromEphemeral, STATUS_EVENT } from "./statuses";
import { forgetTypists, noteMessage, noteSync, noteTyping } from "./typists";

let unbind: (() => void) | null = null;

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
    outbox()?.kick();
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

/**
 * How loudly a message asks for me: its priority, or for the server's escalation notice that
 * names me, the priority of the message it is about.
 */
function levelFor(e: MatrixEvent, room: Room): Level {
  const content = e.getContent();
  const escalation = e.getSender() === serverMember(me()) ? escalationOf(content) : null;
  if (!escalation) return levelOf(content);
  if (!mentionsMe(content)) return "routine";
  const message = room.findEventById(escalation.message);
  return message ? levelOf(message.getContent()) : "urgent";
}

/**
 * "New message in Ward 7", or "Ben Carter mentioned you in Ward 7": never the text, which a lock
 * screen would show (NHS guidance). Urgent and emergency messages say so, stay until dismissed
 * (emergency) and sound (alert.ts); do-not-disturb silences everything but an emergency.
 */
function notify(e: MatrixEvent, room: Room): void {
  const s = store.get();
  if (!s.ready || e.getSender() === me() || !drawn(e)) return;
  const level = levelFor(e, room);
  if (s.dnd && level !== "emergency") return;
  if (document.visibilityState === "visible" && room.roomId === s.current) return;
  // The conversation's choice (my push rules): urgent and emergency ring whatever it is.
  const choice = roomNotify(room.roomId);
  if (level === "routine" && (choice === "off" || (choice === "mentions" && !mentionsMe(e.getContent())))) return;
  soundArrival(e.getId() ?? null, room.roomId, level);
  // With pushes on, the service worker shows the notification (push.ts), not the page.
  if (pushIsOn()) return;
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const who = room.getMember(e.getSender() ?? "")?.name ?? e.getSender();
  if (level !== "routine") {
    const what = level === "emergency" ? "EMERGENCY" : "Urgent message";
    new Notification(`Wardline — ${level === "emergency" ? "EMERGENCY" : "URGENT"}`, {
      body: `${what} from ${who} in ${room.name}`,
      tag: `${room.roomId}:${level}`,
      requireInteraction: level === "emergency",
    });
    return;
  }
  const body = mentionsMe(e.getContent()) ? `${who} mentioned you in ${room.name}` : `New message in ${room.name}`;
  new Notification("Wardline", { body, tag: room.roomId });
}

/** A new message from someone else in the open conversation, read out by screen readers. */
function announce(e: MatrixEvent, room: Room): void {
  const s = store.get();
  if (!s.ready || room.roomId !== s.current || e.getSender() === me() || !drawn(e)) return;
  const who = room.getMember(e.getSender() ?? "")?.name ?? e.getSender();
  store.update({ announcement: `${who}: ${previewOf(e.getType(), e.getContent(), e.isRedacted())}` });
}

// ---- start and end -------------------------------------------------------------------------

export function startChat(s: Session, signedOut: (reason?: string) => void): void {
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
  const box = new Outbox(s);
  signedIn(c, box, s);
  void box.start();

  // Invitations from colleagues are accepted at once, as being added to a ward group is.
  c.on(RoomMemberEvent.Membership, (_ev, member) => {
    // (Invitations found by the first sync are accepted once it is done, below.)
    if (store.get().ready && member.userId === me() && member.membership === KnownMembership.Invite) {
      c.joinRoom(member.roomId).catch(() => undefined);
    }
    later("rooms");
    if (member.roomId === store.get().current) later("timeline");
  });
  c.on(RoomEvent.Timeline, (e, room, toStartOfTimeline, _removed, data) => {
    if (!room) return;
    const txnId = e.getSender() === me() ? e.getUnsigned().transaction_id : undefined;
    if (txnId) outbox()?.echoed(txnId, e.getId() ?? undefined);
    // Arriving now (not an earlier part of a conversation loaded for a search result).
    const arriving = !toStartOfTimeline && data.liveEvent !== false;
    // A message of mine arriving now has no counts to fetch: the sync brings them as they change.
    if (store.get().ready && arriving && e.getSender() === me() && e.getId()) countsComeWithSync(e.getId() as string);
    if (arriving) {
      notify(e, room);
      // An answer or an escalation notice: the answers shown of its message are asked again.
      noteAnswerEvent(e.getType(), e.getContent());
      noteWaitingEvent(e.getType(), e.getContent());
      noteIncidentEvent(e, room);
      // The server's notice that the conversation's patient changed: its banner is asked again.
      notePatientEvent(e, room);
      // An edit or a deletion of a message the record holds: what the record has of it, asked again.
      noteFilingEvent(e, room);
      announce(e, room);
      // Their message is here: they are not typing it any more.
      if (drawn(e) || e.isRelation("m.replace")) noteMessage(room.roomId, e.getSender() ?? "");
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
  c.on(RoomEvent.Receipt, (e, room) => {
    later("rooms");
    if (room.roomId !== store.get().current) return;
    later("timeline");
    // Someone read up to a message whose answers are shown (who has seen an alert): asked again.
    for (const eventId of Object.keys(e.getContent())) refreshAsk(eventId);
  });
  c.on(RoomMemberEvent.Typing, (_e, member) => {
    if (member.roomId === store.get().current) later("timeline");
  });
  c.on(RoomEvent.Name, () => later("rooms"));
  c.on(RoomEvent.MyMembership, (room, membership) => {
    later("rooms");
    noteIncidentRoom(room);
    // Removed from the open conversation (by someone with the power to): it closes, saying so.
    if (room.roomId === store.get().current && membership !== KnownMembership.Join && membership !== KnownMembership.Invite) {
      closeRoom();
      store.update({ toast: `You are no longer in ${room.name}` });
    }
  });
  // My do-not-disturb, set or ended here, on another device, or by the clock (the server's).
  c.on(ClientEvent.AccountData, (e) => {
    if (e.getType() === DND_KIND) noteMyDnd(e.getContent());
    if (e.getType() === "m.push_rules") pushRulesChanged();
  });
  c.on(ClientEvent.Event, (e) => {
    if (e.getType() === "m.typing") {
      // (A typing notice names no room: the open conversation's line is worked out again.)
      noteTyping(e.getContent().user_ids);
      later("timeline");
    }
    if (e.getType() !== STATUS_EVENT) return;
    const counts = countsFromEphemeral(e.getContent());
    if (Object.keys(counts).length) store.update((st) => ({ statuses: { ...st.statuses, ...counts } }));
  });
  c.on(ClientEvent.Sync, (state) => {
    noteSync();
    connectionFromSync(state);
    if (state === SyncState.Prepared) {
      store.update({ ready: true, rooms: summaries() });
      // Opened at a message's link (a tapped notification): that message opens.
      followDeepLink();
      // Do-not-disturb set before a reload (or on another device) stays on.
      loadMyDnd();
      refreshWaiting();
      refreshIncidents();
      for (const room of c.getRooms()) {
        if (room.getMyMembership() === KnownMembership.Invite) c.joinRoom(room.roomId).catch(() => undefined);
        // Messages whose "accepted" answer was lost before a reload, but which the server has.
        for (const e of room.getLiveTimeline().getEvents()) {
          const txnId = e.getSender() === me() ? e.getUnsigned().transaction_id : undefined;
          if (txnId) outbox()?.echoed(txnId, e.getId() ?? undefined);
        }
      }
    }
  });
  // The session was ended elsewhere (signed out from another device, deactivated, timed out).
  c.on(HttpApiEvent.SessionLoggedOut, (err) => {
    // Said before the outbox is wiped: which conversations lose messages (names, never text).
    const lost = unsentNote();
    void end();
    signedOut([endedBecause(err), lost].filter(Boolean).join(" "));
  });

  const online = () => {
    c.retryImmediately();
    outbox()?.kick();
    connectionFromSync(c.getSyncState());
    if (store.get().connection === "offline") setConnection("reconnecting");
  };
  const offline = () => setConnection("offline");
  const visibility = () => noteSeen();
  const unprime = primeAlerts();
  const unlisten = listenToWorker();
  checkPush();
  window.addEventListener("online", online);
  window.addEventListener("offline", offline);
  document.addEventListener("visibilitychange", visibility);
  unbind = () => {
    window.removeEventListener("online", online);
    window.removeEventListener("offline", offline);
    document.removeEventListener("visibilitychange", visibility);
    unprime();
    unlisten();
  };
  c.startClient({ initialSyncLimit: 30 }).catch(() => {
    const lost = unsentNote();
    void end();
    signedOut(lost || undefined);
  });
}

/** Stops the client and leaves nothing behind: storage, stored files, cached media. */
async function end(): Promise<void> {
  const c = hasClient() ? matrix() : null;
  const o = outbox();
  forgetSignedIn();
  unbind?.();
  unbind = null;
  clearTimeout(restoredTimer);
  resetConversation();
  forgetDirectory();
  forgetRoles();
  forgetTypists();
  forgetAnswers();
  forgetWaiting();
  forgetIncidents();
  forgetPatients();
  forgetFilingWaits();
  c?.stopClient();
  c?.removeAllListeners();
  forgetDnd();
  forgetRoomNotify();
  // Ended elsewhere: the server has removed the pusher with the session; the subscription goes too.
  const unpushed = forgetPush();
  media.clear();
  const wiped = o?.wipe();
  forgetEverything();
  store.update({ ...initialChatState });
  await wiped;
  await unpushed;
}

export async function signOut(): Promise<void> {
  // Nothing more is pushed to this device for the person leaving (before the token goes).
  await forgetPush();
  try {
    if (hasClient()) await matrix().logout(true);
  } catch {
    // Signing out locally is what matters; the server ends the session on its own later.
  }
  await end();
}

/** Messages, reactions and deletions in the outbox the server does not have yet. */
export function unsent(): { words: string; n: number } {
  return waitingInWords(store.get().outbox);
}

/**
 * "2 messages were not sent.": said when a session ends with messages in the outbox, or "" when
 * there are none. Only the count, never conversation names (which often name patients) nor text:
 * this screen stays on a shared ward PC after its user has walked away.
 */
export function unsentNote(): string {
  const { words, n } = unsent();
  if (!n) return "";
  const rooms = new Set(store.get().outbox.filter((e) => e.state !== "sent").map((e) => e.roomId)).size;
  const where = rooms > 1 ? ` in ${rooms} conversations` : "";
  return `${words} ${n === 1 ? "was" : "were"} not sent${where}.`;
}

/** Why the server ended a session, for the sign-in screen. */
function endedBecause(err: unknown): string {
  const data = (err as { data?: Record<string, unknown> } | undefined)?.data ?? {};
  if (data["org.wardline.deactivated"] === true) {
    return "Your account has been deactivated, so you have been signed out. Ask your administrator if this is a mistake.";
  }
  return "Your session has ended. Sign in again to continue.";
}