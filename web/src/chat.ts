// The conversation list and a conversation: live timeline, sending text and files, typing,
// and read tracking on my messages ("Read by 3 of 5", and who has and hasn't).

import {
  ClientEvent,
  EventType,
  HttpApiEvent,
  KnownMembership,
  MsgType,
  NotificationCountType,
  ReceiptType,
  RoomEvent,
  RoomMemberEvent,
  SetPresence,
  SyncState,
  UserEvent,
  createClient,
} from "matrix-js-sdk";
import type { MatrixClient, MatrixEvent, Room } from "matrix-js-sdk";

import { devicesPanel } from "./devices";
import { clockTime, h } from "./dom";
import type { Session } from "./session";
import { startRecording } from "./voice";

/** Media is only served with the access token: fetched, then shown from a blob URL. */
class MediaCache {
  private urls = new Map<string, Promise<string>>();
  constructor(private token: string) {}

  url(mxc: string, thumbnail: boolean): Promise<string> {
    const key = `${mxc}|${thumbnail}`;
    let p = this.urls.get(key);
    if (!p) {
      const m = /^mxc:\/\/([A-Za-z0-9.:\-\[\]]+)\/([A-Za-z0-9_-]+)$/.exec(mxc);
      if (!m) return Promise.reject(new Error("not a file of this server"));
      const [server, id] = [encodeURIComponent(m[1]), encodeURIComponent(m[2])];
      const path = thumbnail
        ? `/_matrix/client/v1/media/thumbnail/${server}/${id}?width=320&height=240&method=scale`
        : `/_matrix/client/v1/media/download/${server}/${id}`;
      p = fetch(path, { headers: { Authorization: `Bearer ${this.token}` } }).then(async (r) => {
        if (!r.ok) throw new Error(`file unavailable (${r.status})`);
        return URL.createObjectURL(await r.blob());
      });
      this.urls.set(key, p);
    }
    return p;
  }

  clear(): void {
    for (const p of this.urls.values()) p.then((u) => URL.revokeObjectURL(u)).catch(() => undefined);
    this.urls.clear();
  }
}

function lastMessage(room: Room): MatrixEvent | undefined {
  const events = room.getLiveTimeline().getEvents();
  for (let i = events.length - 1; i >= 0; i--) {
    if (events[i].getType() === EventType.RoomMessage) return events[i];
  }
  return undefined;
}

function preview(e: MatrixEvent | undefined): string {
  if (!e) return "";
  const c = e.getContent();
  if (e.isRedacted()) return "Message deleted";
  switch (c.msgtype) {
    case MsgType.Image:
      return "Photo";
    case MsgType.File:
      return `File: ${c.body ?? ""}`;
    case MsgType.Audio:
      return "Voice note";
    case MsgType.Video:
      return "Video";
    default:
      return String(c.body ?? "");
  }
}

export function startChat(app: HTMLElement, s: Session, signedOut: (reason?: string) => void): void {
  const client: MatrixClient = createClient({
    baseUrl: window.location.origin,
    accessToken: s.accessToken,
    userId: s.userId,
    deviceId: s.deviceId,
    timelineSupport: true,
  });
  const media = new MediaCache(s.accessToken);
  let current: string | null = null;
  let filter = "";
  let readersFor: string | null = null;
  let ready = false;
  /** For the open room: the latest event the server delivered to each member's device. */
  let delivered: Record<string, { event_id: string; ts: number }> = {};
  let deliveredJson = "{}";

  async function refreshDeliveries(): Promise<void> {
    const roomId = current;
    if (!roomId || !ready) return;
    try {
      const r = await fetch(`/_wardline/client/v1/rooms/${encodeURIComponent(roomId)}/delivery`, {
        headers: { Authorization: `Bearer ${s.accessToken}` },
      });
      if (!r.ok || roomId !== current) return;
      const json = JSON.stringify(((await r.json()) as { delivered: unknown }).delivered ?? {});
      if (json !== deliveredJson) {
        deliveredJson = json;
        delivered = JSON.parse(json);
        renderRoom();
      }
    } catch {
      // Delivery status is a nicety; read receipts still show.
    }
  }
  const deliveryTimer = window.setInterval(() => void refreshDeliveries(), 3000);

  /** Has the server delivered `eventId` to `userId`'s device (or have they read it)? */
  function wasDelivered(room: Room, userId: string, eventId: string): boolean {
    if (room.hasUserReadEvent(userId, eventId)) return true;
    const d = delivered[userId];
    if (!d) return false;
    const events = room.getLiveTimeline().getEvents();
    const mine = events.findIndex((e) => e.getId() === eventId);
    const theirs = events.findIndex((e) => e.getId() === d.event_id);
    return mine >= 0 && theirs >= mine;
  }

  const roomList = h("ul", { className: "rooms", "aria-label": "Conversations" });
  let dnd = false;
  const dndButton = h("button", { className: "plain", "aria-pressed": "false" }, "Do not disturb: off");
  dndButton.addEventListener("click", async () => {
    dnd = !dnd;
    dndButton.textContent = `Do not disturb: ${dnd ? "on" : "off"}`;
    dndButton.setAttribute("aria-pressed", String(dnd));
    // Syncs would otherwise mark me online again.
    client.setSyncPresence(dnd ? SetPresence.Unavailable : SetPresence.Online);
    await client
      .setPresence({ presence: dnd ? "unavailable" : "online", status_msg: dnd ? "Do not disturb" : "" })
      .catch(() => undefined);
  });
  const search = h("input", {
    type: "search",
    placeholder: "Search conversations",
    "aria-label": "Search conversations",
    oninput: (ev: Event) => {
      filter = (ev.target as HTMLInputElement).value.toLowerCase();
      renderList();
    },
  });
  const sidebar = h(
    "section",
    { className: "sidebar", "aria-label": "Conversations" },
    h(
      "header",
      {},
      h("h1", {}, "Wardline"),
      h("button", { className: "plain", onclick: () => newChat() }, "New chat"),
      h("button", { className: "plain", onclick: () => showDevices() }, "Devices"),
      h("button", { className: "plain", onclick: () => signOut() }, "Sign out"),
    ),
    h(
      "div",
      { className: "toolbar" },
      dndButton,
      "Notification" in window && Notification.permission === "default"
        ? h(
            "button",
            {
              className: "plain",
              onclick: (ev: Event) => {
                Notification.requestPermission().finally(() => (ev.target as HTMLElement).remove());
              },
            },
            "Turn on notifications",
          )
        : "",
    ),
    h("div", { className: "search" }, search),
    roomList,
  );
  const conversation = h("section", { className: "conversation", "aria-label": "Conversation" });
  const shell = h("div", { className: "shell" }, sidebar, conversation);
  conversation.append(h("p", { className: "loading" }, "Choose a conversation."));

  async function signOut(): Promise<void> {
    try {
      await client.logout(true);
    } catch {
      // Signing out locally is what matters; the server ends the session on its own later.
    }
    client.stopClient();
    window.clearInterval(deliveryTimer);
    media.clear();
    signedOut();
  }

  /** A dot and a label for someone's presence (online, do not disturb, away). */
  function presence(userId: string): HTMLElement {
    const user = client.getUser(userId);
    const state = user?.presence ?? "offline";
    const dndOn = state === "unavailable" && user?.presenceStatusMsg === "Do not disturb";
    const label = dndOn ? "do not disturb" : state === "online" ? "online" : state === "unavailable" ? "away" : "offline";
    return h("span", { className: `presence ${state}${dndOn ? " dnd" : ""}`, role: "img", "aria-label": label, title: label });
  }

  /** The other person of a two-person conversation. */
  function otherPerson(room: Room): string | null {
    const others = room.getMembers().filter((m) => m.userId !== s.userId);
    return others.length === 1 ? others[0].userId : null;
  }

  function rooms(): Room[] {
    return client
      .getVisibleRooms()
      .filter((r) => r.getMyMembership() === KnownMembership.Join)
      .sort((a, b) => b.getLastActiveTimestamp() - a.getLastActiveTimestamp());
  }

  function renderList(): void {
    const items = rooms()
      .filter((r) => !filter || r.name.toLowerCase().includes(filter))
      .map((r) => {
        const unread = r.getUnreadNotificationCount(NotificationCountType.Total);
        const last = lastMessage(r);
        const li = h(
          "li",
          {
            tabindex: 0,
            "data-room": r.roomId,
            "aria-current": r.roomId === current ? "true" : "false",
            onclick: () => openRoom(r.roomId),
            onkeydown: (ev: KeyboardEvent) => ev.key === "Enter" && openRoom(r.roomId),
          },
          h("span", { className: "name" }, otherPerson(r) ? presence(otherPerson(r) as string) : "", r.name),
          h("span", { className: "time" }, last ? clockTime(last.getTs()) : ""),
          h("span", { className: "last" }, preview(last)),
          unread > 0 ? h("span", { className: "badge", "aria-label": `${unread} unread` }, String(unread)) : "",
        );
        return li;
      });
    roomList.replaceChildren(...items);
  }

  /** Everyone else a message was sent to: members, and people invited who have not joined yet. */
  function audience(room: Room) {
    return room
      .getMembers()
      .filter((m) => m.userId !== s.userId)
      .filter((m) => m.membership === KnownMembership.Join || m.membership === KnownMembership.Invite);
  }

  function readStatus(room: Room, e: MatrixEvent): HTMLElement {
    const others = audience(room);
    const id = e.getId();
    if (!id || e.isSending()) return h("span", {}, "Sending…");
    const read = others.filter((m) => room.hasUserReadEvent(m.userId, id));
    const reached = others.filter((m) => wasDelivered(room, m.userId, id));
    const n = others.length;
    const label =
      n === 0
        ? "Sent"
        : read.length > 0
          ? `Read by ${read.length} of ${n}`
          : reached.length > 0
            ? `Delivered to ${reached.length} of ${n}`
            : "Sent";
    return h(
      "button",
      {
        className: `status${read.length === n && n > 0 ? " read" : ""}`,
        "aria-label": `${label}: show who has read it`,
        onclick: () => {
          readersFor = id;
          renderRoom();
        },
      },
      label,
    );
  }

  function readersPanel(room: Room, eventId: string): HTMLElement {
    const others = audience(room);
    const read = others.filter((m) => room.hasUserReadEvent(m.userId, eventId));
    const reached = others.filter((m) => !read.includes(m) && wasDelivered(room, m.userId, eventId));
    const waiting = others.filter((m) => !read.includes(m) && !reached.includes(m));
    const when = (ts: number | undefined) => (ts ? ` at ${clockTime(ts)}` : "");
    return h(
      "div",
      { className: "readers", role: "dialog", "aria-label": "Who has read this message" },
      h("h3", {}, `Read (${read.length})`),
      h(
        "ul",
        { className: "read-list" },
        read.map((m) => h("li", {}, `${m.name}${when(room.getReadReceiptForUserId(m.userId, false, ReceiptType.Read)?.data?.ts)}`)),
      ),
      h("h3", {}, `Delivered, not read yet (${reached.length})`),
      h("ul", { className: "delivered-list" }, reached.map((m) => h("li", {}, `${m.name}${when(delivered[m.userId]?.ts)}`))),
      h("h3", {}, `Not delivered yet (${waiting.length})`),
      h("ul", { className: "unread-list" }, waiting.map((m) => h("li", {}, m.name))),
      h(
        "button",
        {
          onclick: () => {
            readersFor = null;
            renderRoom();
          },
        },
        "Close",
      ),
    );
  }

  function bubble(room: Room, e: MatrixEvent): HTMLElement {
    const mine = e.getSender() === s.userId;
    const c = e.getContent();
    let body: HTMLElement;
    if (e.isRedacted()) {
      body = h("div", { className: "body" }, h("em", {}, "Message deleted"));
    } else if (c.msgtype === MsgType.Image && typeof c.url === "string") {
      const img = h("img", { alt: String(c.body ?? "Photo") });
      media
        .url(c.url, true)
        .then((u) => (img.src = u))
        .catch(() => img.replaceWith(h("span", {}, "Photo unavailable")));
      body = h("div", { className: "body" }, img);
    } else if ((c.msgtype === MsgType.Audio || c.msgtype === MsgType.Video) && typeof c.url === "string") {
      const audio = c.msgtype === MsgType.Audio;
      const player = audio
        ? h("audio", { controls: true, preload: "none", "aria-label": String(c.body ?? "Voice note") })
        : h("video", { controls: true, preload: "none", "aria-label": String(c.body ?? "Video") });
      media
        .url(c.url, false)
        .then((u) => (player.src = u))
        .catch(() => player.replaceWith(h("span", {}, "Unavailable")));
      const seconds = typeof c.info?.duration === "number" ? ` (${Math.round(c.info.duration / 1000)} s)` : "";
      body = h("div", { className: "body" }, audio ? `Voice note${seconds}` : "", player);
    } else if (typeof c.url === "string") {
      const name = String(c.body ?? "file");
      const link = h("a", { href: "#" }, String(c.body ?? "File"));
      link.addEventListener("click", async (ev) => {
        ev.preventDefault();
        // A separate, throw-away link carries the download, so this handler does not run again.
        const save = h("a", { href: await media.url(String(c.url), false), download: name });
        save.click();
      });
      body = h("div", { className: "body" }, link);
    } else {
      body = h("div", { className: "body" }, String(c.body ?? ""));
    }
    const sender = room.getMember(e.getSender() ?? "")?.name ?? e.getSender() ?? "";
    return h(
      "article",
      { className: `msg${mine ? " mine" : ""}`, "data-event": e.getId() ?? "" },
      mine ? "" : h("div", { className: "who" }, presence(e.getSender() ?? ""), sender),
      body,
      h("div", { className: "meta" }, h("time", {}, clockTime(e.getTs())), mine ? readStatus(room, e) : ""),
    );
  }

  /** "New message in Ward 7": never the text, which a lock screen would show (NHS guidance). */
  function notify(e: MatrixEvent, room: Room | undefined, old: boolean): void {
    if (old || !room || !ready || dnd || e.getSender() === s.userId || e.getType() !== EventType.RoomMessage) return;
    if (document.visibilityState === "visible" && room.roomId === current) return;
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    new Notification("Wardline", { body: `New message in ${room.name}`, tag: room.roomId });
  }

  function markRead(room: Room): void {
    const events = room.getLiveTimeline().getEvents();
    const last = events[events.length - 1];
    if (!last || document.visibilityState !== "visible" || current !== room.roomId) return;
    if (room.hasUserReadEvent(s.userId, last.getId() ?? "")) return;
    client.sendReadReceipt(last, ReceiptType.Read).catch(() => undefined);
  }

  function renderRoom(): void {
    const room = current ? client.getRoom(current) : null;
    if (!room) return;
    const timeline = conversation.querySelector(".timeline");
    const atBottom = !timeline || timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 40;
    const events = room.getLiveTimeline().getEvents().filter((e) => e.getType() === EventType.RoomMessage);
    const list = h("div", { className: "timeline", role: "log", "aria-label": `Messages in ${room.name}` });
    list.append(...events.map((e) => bubble(room, e)));
    const typing = room
      .getMembers()
      .filter((m) => m.typing && m.userId !== s.userId)
      .map((m) => m.name);
    const typingLine = h("div", { className: "typing", "aria-live": "polite" }, typing.length ? `${typing.join(", ")} typing…` : "");
    const input = h("input", { type: "text", placeholder: "Message", "aria-label": "Message", autocomplete: "off" });
    input.addEventListener("input", () => client.sendTyping(room.roomId, input.value.length > 0, 5000).catch(() => undefined));
    const fileInput = h("input", {
      type: "file",
      accept: "image/*,audio/*,video/*,application/pdf",
      "aria-label": "Attach a file",
      hidden: true,
    });
    fileInput.addEventListener("change", () => {
      const file = fileInput.files?.[0];
      if (file) sendFile(room, file);
    });
    const composer = h(
      "form",
      { className: "composer", "aria-label": "Send a message" },
      h("button", { type: "button", className: "plain", onclick: () => fileInput.click() }, "Attach"),
      fileInput,
      voiceButton(room),
      input,
      h("button", { type: "submit" }, "Send"),
    );
    composer.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      input.value = "";
      client.sendTyping(room.roomId, false, 0).catch(() => undefined);
      client.sendTextMessage(room.roomId, text).catch(() => undefined);
    });
    const previous = document.activeElement === conversation.querySelector(".composer input[type=text]");
    const draft = (conversation.querySelector(".composer input[type=text]") as HTMLInputElement | null)?.value ?? "";
    input.value = draft;
    conversation.replaceChildren(
      h(
        "header",
        {},
        h("button", { className: "plain back", onclick: () => closeRoom(), "aria-label": "Back to conversations" }, "Back"),
        h("h2", {}, room.name),
        h("button", { className: "plain", onclick: () => client.scrollback(room, 30).then(renderRoom) }, "Earlier"),
      ),
      list,
      typingLine,
      composer,
      readersFor ? readersPanel(room, readersFor) : "",
    );
    if (atBottom) list.scrollTop = list.scrollHeight;
    else if (timeline) list.scrollTop = timeline.scrollTop;
    if (previous) input.focus();
  }

  /** A voice note being recorded; kept outside the composer, which is redrawn on every event. */
  let recording: { roomId: string; stop: () => Promise<{ blob: Blob; durationMs: number }> } | null = null;

  function voiceButton(room: Room): HTMLElement {
    const active = recording?.roomId === room.roomId;
    const button = h(
      "button",
      { type: "button", className: "plain", "aria-pressed": String(active) },
      active ? "Stop and send" : "Record",
    );
    button.addEventListener("click", async () => {
      if (!recording) {
        try {
          recording = { roomId: room.roomId, stop: await startRecording() };
        } catch {
          button.textContent = "No microphone";
          return;
        }
        renderRoom();
        return;
      }
      if (recording.roomId !== room.roomId) return;
      const { stop } = recording;
      recording = null;
      renderRoom();
      const note = await stop();
      const ext = note.blob.type.includes("ogg") ? "ogg" : note.blob.type.includes("mp4") ? "m4a" : "webm";
      const file = new File([note.blob], `Voice note.${ext}`, { type: note.blob.type });
      await sendFile(room, file, note.durationMs);
    });
    return button;
  }

  function showDevices(): void {
    current = null;
    shell.classList.add("open");
    const close = () => closeRoom();
    devicesPanel(client, close).then((panel) =>
      conversation.replaceChildren(h("header", {}, h("h2", {}, "Devices")), panel),
    );
  }

  async function sendFile(room: Room, file: File, durationMs?: number): Promise<void> {
    const kind = file.type.split("/")[0];
    const msgtype = kind === "image" ? MsgType.Image : kind === "audio" ? MsgType.Audio : kind === "video" ? MsgType.Video : MsgType.File;
    const info: Record<string, unknown> = { mimetype: file.type, size: file.size };
    if (durationMs !== undefined) info.duration = durationMs;
    if (msgtype === MsgType.Image) {
      try {
        const bitmap = await createImageBitmap(file);
        info.w = bitmap.width;
        info.h = bitmap.height;
        bitmap.close();
      } catch {
        // Dimensions are optional.
      }
    }
    const { content_uri } = await client.uploadContent(file, { name: file.name, type: file.type });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    await client.sendMessage(room.roomId, { msgtype, body: file.name, url: content_uri, info } as any);
  }

  function openRoom(roomId: string): void {
    current = roomId;
    readersFor = null;
    shell.classList.add("open");
    conversation.replaceChildren();
    renderRoom();
    renderList();
    const room = client.getRoom(roomId);
    if (room) markRead(room);
    delivered = {};
    deliveredJson = "{}";
    void refreshDeliveries();
    (conversation.querySelector(".composer input[type=text]") as HTMLInputElement | null)?.focus();
  }

  function closeRoom(): void {
    current = null;
    shell.classList.remove("open");
    renderList();
  }

  function newChat(): void {
    const chosen = new Map<string, string>();
    const results = h("ul", { "aria-label": "People" });
    const nameInput = h("input", { type: "text", id: "group-name", placeholder: "Group name (for 2 or more people)" });
    const term = h("input", { type: "search", id: "people-search", placeholder: "Name, job title or department" });
    const error = h("p", { className: "error", role: "alert" });
    let seq = 0;
    term.addEventListener("input", async () => {
      const mine = ++seq;
      const q = term.value.trim();
      if (!q) return results.replaceChildren();
      // Search once typing pauses, not on every keystroke (each search scans the directory).
      await new Promise((resolve) => setTimeout(resolve, 200));
      if (mine !== seq) return;
      const r = await client.searchUserDirectory({ term: q, limit: 20 });
      if (mine !== seq) return;
      results.replaceChildren(
        ...r.results
          .filter((u) => u.user_id !== s.userId)
          .map((u) => {
            const box = h("input", { type: "checkbox", checked: chosen.has(u.user_id) });
            box.addEventListener("change", () => {
              if (box.checked) chosen.set(u.user_id, u.display_name ?? u.user_id);
              else chosen.delete(u.user_id);
            });
            const raw = u as Record<string, unknown>;
            const role = [raw["org.wardline.job_title"], raw["org.wardline.department"]].filter(Boolean).join(", ");
            return h(
              "li",
              {},
              h("label", {}, box, presence(u.user_id), `${u.display_name ?? u.user_id}${role ? ` — ${role}` : ""}`),
            );
          }),
      );
    });
    const start = h("button", { type: "submit" }, "Start chat");
    const formEl = h(
      "form",
      { className: "newchat", "aria-label": "New chat" },
      h("label", { for: "people-search" }, "Find people"),
      term,
      results,
      h("label", { for: "group-name" }, "Group name"),
      nameInput,
      error,
      start,
      h("button", { type: "button", className: "plain", onclick: () => closeRoom() }, "Cancel"),
    );
    formEl.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (chosen.size === 0) {
        error.textContent = "Choose at least one person.";
        return;
      }
      start.disabled = true;
      try {
        const direct = chosen.size === 1;
        const { room_id } = await client.createRoom({
          invite: [...chosen.keys()],
          is_direct: direct,
          name: direct ? undefined : nameInput.value.trim() || [...chosen.values()].join(", "),
        });
        await new Promise<void>((resolve) => {
          const ready = () => {
            if (!client.getRoom(room_id)) return;
            client.off(ClientEvent.Room, ready);
            resolve();
          };
          client.on(ClientEvent.Room, ready);
          ready();
        });
        openRoom(room_id);
      } catch (e) {
        error.textContent = e instanceof Error ? e.message : "Could not start the chat.";
        start.disabled = false;
      }
    });
    current = null;
    shell.classList.add("open");
    conversation.replaceChildren(h("header", {}, h("h2", {}, "New chat")), formEl);
    term.focus();
  }

  // Invitations from colleagues are accepted at once, as being added to a ward group is.
  client.on(RoomMemberEvent.Membership, (_ev, member) => {
    if (member.userId === s.userId && member.membership === KnownMembership.Invite) {
      client.joinRoom(member.roomId).catch(() => undefined);
    }
  });
  client.on(RoomEvent.Timeline, (e, room, toStartOfTimeline) => {
    notify(e, room ?? undefined, Boolean(toStartOfTimeline));
    renderList();
    if (room && room.roomId === current) {
      renderRoom();
      markRead(room);
    }
  });
  client.on(UserEvent.Presence, () => {
    renderList();
    if (current) renderRoom();
  });
  // My message went from "Sending…" to sent (or failed).
  client.on(RoomEvent.LocalEchoUpdated, (_e, room) => {
    if (room.roomId === current) renderRoom();
  });
  client.on(RoomEvent.Receipt, (_e, room) => {
    renderList();
    if (room.roomId === current) renderRoom();
  });
  client.on(RoomMemberEvent.Typing, (_e, member) => {
    if (member.roomId === current) renderRoom();
  });
  client.on(RoomEvent.Name, () => renderList());
  client.on(RoomEvent.MyMembership, () => renderList());
  client.on(ClientEvent.Sync, (state) => {
    if (state === SyncState.Prepared) {
      ready = true;
      app.replaceChildren(shell);
      renderList();
      for (const room of client.getRooms()) {
        if (room.getMyMembership() === KnownMembership.Invite) client.joinRoom(room.roomId).catch(() => undefined);
      }
    }
  });
  // The session was ended elsewhere (signed out from another device, deactivated, timed out).
  client.on(HttpApiEvent.SessionLoggedOut, (err) => {
    window.clearInterval(deliveryTimer);
    client.stopClient();
    media.clear();
    signedOut(endedBecause(err));
  });
  document.addEventListener("visibilitychange", () => {
    const room = current ? client.getRoom(current) : null;
    if (room) markRead(room);
  });
  client.startClient({ initialSyncLimit: 30 }).catch(() => signedOut());
}

/** Why the server ended a session, for the sign-in screen. */
function endedBecause(err: unknown): string {
  const data = (err as { data?: Record<string, unknown> } | undefined)?.data ?? {};
  if (data["org.wardline.deactivated"] === true) {
    return "Your account has been deactivated, so you have been signed out. Ask your administrator if this is a mistake.";
  }
  return "Your session has ended. Sign in again to continue.";
}
