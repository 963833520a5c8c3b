// The outbox: a message, a reaction or a deletion (redaction) is kept until the server has
// accepted it (200 with an event id), through a Wi-Fi drop and a reload of the tab. Each has our
// own transaction id, used for every try, so the server stores it once however often it is
// sent. One conversation's entries go out one at a time, in the order they were made (a
// deletion never overtakes the message it deletes, nor a reaction the message it answers).
//
// Text is kept in sessionStorage (the tab's own, wiped at sign-out); files in IndexedDB
// (blobstore.ts). A refusal by the server (4xx other than 429) is final until the person taps
// Retry; a network failure, 429 or 5xx is tried again with a growing pause, and at once when the
// browser says it is online again.

import { deleteFile, getFile, holdSessionLock, putFile, sweep, sweepOrphans } from "./blobstore";
import { media } from "./media";
import type { Session } from "./session";
import { store } from "./state";
import { noteSendAnswer } from "./unheld";
import type { NotSentReason, OutboxEntry } from "./state";

const KEY = "wardline.outbox";
const MAX_PAUSE_MS = 30_000;

/** A message (not a reaction or a deletion). */
export function isMessage(e: OutboxEntry): boolean {
  return !e.kind;
}

/**
 * What is waiting, in words, and how many: "2 messages", "1 message and 1 deletion". Never the
 * text nor the conversation (this is said on a shared ward PC's sign-in screen too).
 */
export function waitingInWords(entries: OutboxEntry[]): { words: string; n: number } {
  const unsent = entries.filter((e) => e.state !== "sent");
  const of = (kind: OutboxEntry["kind"], one: string, many: string) => {
    const k = unsent.filter((e) => e.kind === kind).length;
    return k ? [`${k} ${k === 1 ? one : many}`] : [];
  };
  const parts = [
    ...of(undefined, "message", "messages"),
    ...of("reaction", "reaction", "reactions"),
    ...of("redaction", "deletion", "deletions"),
  ];
  const words = parts.length > 1 ? `${parts.slice(0, -1).join(", ")} and ${parts[parts.length - 1]}` : (parts[0] ?? "");
  return { words, n: unsent.length };
}

type Outcome =
  | { ok: true; eventId: string }
  | { ok: false; retry: true; reason?: NotSentReason; afterMs?: number }
  | { ok: false; retry: false; reason: NotSentReason };

function newTxnId(): string {
  const random = crypto.getRandomValues(new Uint32Array(2));
  return `wl${Date.now().toString(36)}${random[0].toString(36)}${random[1].toString(36)}`;
}

function msgtypeOf(file: Blob): string {
  const kind = file.type.split("/")[0];
  return kind === "image" ? "m.image" : kind === "audio" ? "m.audio" : kind === "video" ? "m.video" : "m.file";
}

/** The message's content as sent: what the timeline shows for an outbox entry too. */
export function contentOf(e: OutboxEntry): Record<string, unknown> {
  if (!e.file) return { msgtype: e.msgtype, body: e.body, ...e.extra };
  const info: Record<string, unknown> = { mimetype: e.file.type, size: e.file.size };
  if (e.file.durationMs !== undefined) info.duration = e.file.durationMs;
  if (e.file.w && e.file.h) {
    info.w = e.file.w;
    info.h = e.file.h;
  }
  return { msgtype: e.msgtype, body: e.body, url: e.url, info, ...e.extra };
}

function sizeInWords(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round(bytes / 1024 / 1024)} MB` : `${Math.round(bytes / 1024)} KB`;
}

async function fetchWithin(path: string, init: RequestInit, ms: number): Promise<Response> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ms);
  try {
    return await fetch(path, { ...init, signal: abort.signal });
  } finally {
    clearTimeout(timer);
  }
}

export class Outbox {
  /** Files of entries, for sending and for showing before the server has them. */
  readonly files = new Map<string, Blob>();
  private running = new Set<string>();
  /** Entries being sent right now (they may reach the server whatever happens next). */
  private delivering = new Set<string>();
  private timers = new Map<string, ReturnType<typeof setTimeout>>();
  private attempts = new Map<string, number>();
  private stopped = false;
  /** What an earlier page of this tab left is loaded: sending may start (oldest first). */
  private loaded = false;
  private uploadLimit: number | null = null;
  private releaseLock: () => void;

  constructor(private readonly session: Session) {
    this.releaseLock = holdSessionLock(session.deviceId);
  }

  private get owner(): string {
    return this.session.deviceId;
  }

  private get entries(): OutboxEntry[] {
    return store.get().outbox;
  }

  private set(entries: OutboxEntry[]): void {
    // After sign-out nothing is written to the store (L1).
    if (this.stopped) return;
    store.update({ outbox: entries });
    this.persist();
  }

  private patch(txnId: string, change: Partial<OutboxEntry>): void {
    if (this.stopped) return;
    this.set(this.entries.map((e) => (e.txnId === txnId ? { ...e, ...change } : e)));
  }

  private persist(): void {
    if (this.stopped) return;
    const kept = this.entries.filter((e) => e.state !== "sent");
    try {
      if (kept.length) sessionStorage.setItem(KEY, JSON.stringify(kept));
      else sessionStorage.removeItem(KEY);
    } catch {
      // Storage full: the messages are still sent from memory, but would not survive a reload.
      if (!this.warnedFull) {
        this.warnedFull = true;
        store.update({ toast: "This tab's storage is full: messages waiting to be sent would be lost on reload" });
      }
    }
  }

  private warnedFull = false;

  /** Loads what a previous page of this tab left unsent, and sends it. */
  async start(): Promise<void> {
    let saved: OutboxEntry[] = [];
    try {
      saved = JSON.parse(sessionStorage.getItem(KEY) ?? "[]") as OutboxEntry[];
    } catch {
      saved = [];
    }
    const entries = saved
      // Another person's messages, left by a session of theirs in this tab, are not theirs to send.
      .filter((e) => !e.author || e.author === this.session.userId)
      .map((e) =>
        e.state === "failed" && e.reason?.kind !== "network"
          ? e
          : { ...e, state: "sending" as const, reason: undefined, preparing: undefined, unkept: undefined },
      );
    for (const e of entries.filter((e) => e.file)) {
      const blob = await getFile(e.txnId).catch(() => undefined);
      if (this.stopped) return; // Signed out meanwhile: nothing more is written to the store.
      if (blob) this.files.set(e.txnId, blob);
    }
    if (this.stopped) return;
    store.update({ outbox: [...entries, ...this.entries.filter((e) => !entries.some((s) => s.txnId === e.txnId))] });
    this.persist();
    // Files of sessions no longer open in any tab (signed out, closed, expired) are deleted, a
    // moment from now (sweepOrphans). IndexedDB unavailable: nothing was stored there.
    sweepOrphans(this.owner).catch(() => undefined);
    this.loaded = true;
    for (const roomId of new Set(this.entries.map((e) => e.roomId))) this.pump(roomId);
  }

  /** Stops sending and forgets everything, including the stored files (sign-out). */
  async wipe(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    const owner = this.owner;
    this.releaseLock();
    sessionStorage.removeItem(KEY);
    this.files.clear();
    await sweep((o) => o !== owner).catch(() => undefined);
  }

  /** A text; `extra` makes it a reply or an edit (of `replaces`). */
  sendText(roomId: string, roomName: string, body: string, extra?: Record<string, unknown>, replaces?: string): void {
    this.add({ txnId: newTxnId(), roomId, roomName, ts: Date.now(), msgtype: "m.text", body, state: "sending", extra, replaces });
  }

  /**
   * A message whose content is already made (a forwarded one): a file in it is the server's
   * already, so nothing is uploaded.
   */
  sendContent(roomId: string, roomName: string, content: Record<string, unknown>): void {
    const { msgtype, body, url, info, ...extra } = content;
    const i = (info ?? {}) as Record<string, unknown>;
    const num = (v: unknown) => (typeof v === "number" ? v : undefined);
    this.add({
      txnId: newTxnId(),
      roomId,
      roomName,
      ts: Date.now(),
      msgtype: typeof msgtype === "string" ? msgtype : "m.text",
      body: typeof body === "string" ? body : "",
      url: typeof url === "string" ? url : undefined,
      file:
        typeof url === "string"
          ? {
              type: typeof i.mimetype === "string" ? i.mimetype : "",
              size: num(i.size) ?? 0,
              durationMs: num(i.duration),
              w: num(i.w),
              h: num(i.h),
            }
          : undefined,
      extra,
      state: "sending",
    });
  }

  /**
   * A file: listed at once, in its place in the order (a caption typed after it waits behind
   * it), while it is measured and stored on this device for a reload.
   */
  async sendFile(roomId: string, roomName: string, file: File, durationMs?: number): Promise<void> {
    const msgtype = msgtypeOf(file);
    const entry: OutboxEntry = {
      txnId: newTxnId(),
      roomId,
      roomName,
      ts: Date.now(),
      msgtype,
      body: file.name,
      file: { type: file.type, size: file.size, durationMs },
      state: "sending",
      preparing: true,
    };
    this.files.set(entry.txnId, file);
    this.add(entry);
    const ready: Partial<OutboxEntry> = { preparing: undefined };
    if (msgtype === "m.image" && entry.file) {
      try {
        const bitmap = await createImageBitmap(file);
        ready.file = { ...entry.file, w: bitmap.width, h: bitmap.height };
        bitmap.close();
      } catch {
        // Dimensions are optional.
      }
    }
    try {
      await putFile(this.owner, entry.txnId, file);
    } catch {
      // Storage full or refused: the file goes from memory (kept in `files`) rather than not at
      // all; the message says a reload before it is sent would lose it.
      ready.unkept = true;
    }
    if (this.stopped || !this.entries.some((x) => x.txnId === entry.txnId)) return;
    this.patch(entry.txnId, ready);
    this.pump(roomId);
  }

  /** My reaction `key` to the message `eventId`. */
  react(roomId: string, roomName: string, eventId: string, key: string): void {
    const ts = Date.now();
    this.add({ txnId: newTxnId(), roomId, roomName, ts, kind: "reaction", target: eventId, key, msgtype: "", body: key, state: "sending" });
  }

  /**
   * Deletes an event for everyone: a message of mine, or my reaction; `targetTxn`: my reaction
   * still in this outbox (deleted once the server has accepted it).
   */
  redact(roomId: string, roomName: string, target: { eventId: string } | { txnId: string }): void {
    const ts = Date.now();
    const entry: OutboxEntry = { txnId: newTxnId(), roomId, roomName, ts, kind: "redaction", msgtype: "", body: "", state: "sending" };
    if ("eventId" in target) entry.target = target.eventId;
    else {
      const reaction = this.entries.find((e) => e.txnId === target.txnId);
      if (!reaction) return;
      entry.target = reaction.eventId;
      entry.targetTxn = target.txnId;
    }
    this.add(entry);
  }

  /**
   * Takes back an entry not done yet (a reaction or deletion tapped again): forgotten if it has
   * never gone out; false if it may have reached the server (the caller undoes it there).
   */
  withdraw(txnId: string): boolean {
    const entry = this.entries.find((e) => e.txnId === txnId);
    if (!entry) return true;
    // Refused by the server: it is not there.
    const refused = entry.state === "failed" && entry.reason?.kind !== "network";
    if (!refused && (entry.tried || entry.state === "sent" || this.delivering.has(txnId))) return false;
    this.forget(txnId);
    return true;
  }

  private add(entry: OutboxEntry): void {
    if (this.stopped) return;
    // Behind a message waiting for the network, a new one waits too, and says so.
    const waiting = this.timers.has(entry.roomId)
      ? this.entries.find((e) => e.roomId === entry.roomId && e.state === "failed" && e.reason?.kind === "network")
      : undefined;
    const mine = { ...entry, author: this.session.userId };
    this.set([...this.entries, waiting ? { ...mine, state: "failed", reason: waiting.reason } : mine]);
    this.pump(entry.roomId);
  }

  /** The person asked to try again. */
  retry(txnId: string): void {
    const entry = this.entries.find((e) => e.txnId === txnId);
    if (!entry || entry.state === "sent") return;
    this.patch(txnId, { state: "sending", reason: undefined });
    this.attempts.delete(entry.roomId);
    this.now(entry.roomId);
  }

  /** The person gave up on the entry (and on deleting it, if it is a reaction). */
  delete(txnId: string): void {
    for (const e of this.entries.filter((x) => x.targetTxn === txnId && !x.target)) this.forget(e.txnId);
    this.forget(txnId);
  }

  /** The connection is back: try every waiting conversation now. */
  kick(): void {
    for (const roomId of new Set(this.entries.filter((e) => e.state !== "sent").map((e) => e.roomId))) {
      this.now(roomId);
    }
  }

  /** The event came back from the server in the timeline: the outbox is done with it. */
  echoed(txnId: string, eventId?: string): void {
    if (!this.entries.some((e) => e.txnId === txnId)) return;
    if (eventId) this.targetFound(txnId, eventId);
    this.forget(txnId);
  }

  /** A reaction of mine has its event id: deletions of it waiting for that can go. */
  private targetFound(txnId: string, eventId: string): void {
    if (this.entries.some((e) => e.targetTxn === txnId && !e.target)) {
      this.set(this.entries.map((e) => (e.targetTxn === txnId && !e.target ? { ...e, target: eventId } : e)));
    }
  }

  private forget(txnId: string): void {
    this.files.delete(txnId);
    this.set(this.entries.filter((e) => e.txnId !== txnId));
    deleteFile(txnId).catch(() => undefined);
  }

  private now(roomId: string): void {
    const t = this.timers.get(roomId);
    if (t !== undefined) clearTimeout(t);
    this.timers.delete(roomId);
    this.pump(roomId);
  }

  private next(roomId: string): OutboxEntry | undefined {
    return this.entries.find(
      (e) => e.roomId === roomId && e.state !== "sent" && !(e.state === "failed" && e.reason?.kind !== "network"),
    );
  }

  private pump(roomId: string): void {
    if (this.running.has(roomId) || this.timers.has(roomId) || this.stopped || !this.loaded) return;
    this.running.add(roomId);
    void this.drain(roomId).finally(() => this.running.delete(roomId));
  }

  private async drain(roomId: string): Promise<void> {
    for (;;) {
      const entry = this.next(roomId);
      if (!entry) {
        this.attempts.delete(roomId);
        return;
      }
      // A file still being made ready: it and those behind it wait (sendFile pumps again).
      if (entry.preparing) return;
      // Deleting my reaction that the server refused or I gave up on: nothing to delete.
      if (entry.kind === "redaction" && !entry.target) {
        this.forget(entry.txnId);
        continue;
      }
      // This one and those behind it are on their way again.
      this.set(
        this.entries.map((e) =>
          e.roomId === roomId && e.state === "failed" && e.reason?.kind === "network"
            ? { ...e, state: "sending", reason: undefined }
            : e,
        ),
      );
      if (!entry.tried) this.patch(entry.txnId, { tried: true });
      this.delivering.add(entry.txnId);
      const outcome = await this.deliver(entry).finally(() => this.delivering.delete(entry.txnId));
      if (this.stopped) return;
      if (outcome.ok) {
        this.attempts.delete(roomId);
        this.accepted(entry.txnId, outcome.eventId);
        continue;
      }
      if (!outcome.retry) {
        this.patch(entry.txnId, { state: "failed", reason: outcome.reason });
        continue;
      }
      if (outcome.reason) {
        const reason = outcome.reason;
        this.set(
          this.entries.map((e) =>
            e.roomId === roomId && e.state === "sending" ? { ...e, state: "failed", reason } : e,
          ),
        );
      }
      const n = this.attempts.get(roomId) ?? 0;
      this.attempts.set(roomId, n + 1);
      const pause = outcome.afterMs ?? Math.min(MAX_PAUSE_MS, 1000 * 2 ** n) * (0.8 + Math.random() * 0.4);
      this.timers.set(
        roomId,
        setTimeout(() => {
          this.timers.delete(roomId);
          this.pump(roomId);
        }, pause),
      );
      return;
    }
  }

  private accepted(txnId: string, eventId: string): void {
    const entry = this.entries.find((e) => e.txnId === txnId);
    this.targetFound(txnId, eventId);
    if (!entry) return; // Already echoed by the sync.
    this.patch(txnId, { state: "sent", eventId, reason: undefined });
    deleteFile(txnId).catch(() => undefined);
  }

  private auth(): Record<string, string> {
    return { Authorization: `Bearer ${this.session.accessToken}` };
  }

  private async limit(): Promise<number | null> {
    if (this.uploadLimit === null) {
      const r = await fetch("/_matrix/client/v1/media/config", { headers: this.auth() });
      if (r.ok) {
        const size = ((await r.json()) as Record<string, unknown>)["m.upload.size"];
        if (typeof size === "number") this.uploadLimit = size;
      }
    }
    return this.uploadLimit;
  }

  /** PUTs one event; its event id once accepted. */
  private async put(path: string, content: Record<string, unknown>): Promise<Outcome & { answer?: Record<string, unknown> }> {
    const r = await fetchWithin(
      path,
      { method: "PUT", headers: { ...this.auth(), "Content-Type": "application/json" }, body: JSON.stringify(content) },
      30_000,
    );
    if (!r.ok) return await this.refusal(r);
    const answer = (await r.json()) as Record<string, unknown>;
    const eventId = answer.event_id;
    if (typeof eventId !== "string") return { ok: false, retry: true };
    return { ok: true, eventId, answer };
  }

  private async deliver(entry: OutboxEntry): Promise<Outcome> {
    const room = `/_matrix/client/v3/rooms/${encodeURIComponent(entry.roomId)}`;
    const txn = encodeURIComponent(entry.txnId);
    try {
      if (entry.kind === "reaction") {
        return await this.put(`${room}/send/m.reaction/${txn}`, {
          "m.relates_to": { rel_type: "m.annotation", event_id: entry.target, key: entry.key },
        });
      }
      if (entry.kind === "redaction") {
        return await this.put(`${room}/redact/${encodeURIComponent(entry.target ?? "")}/${txn}`, {});
      }
      let url = entry.url;
      if (entry.file && !url) {
        const blob = this.files.get(entry.txnId) ?? (await getFile(entry.txnId).catch(() => undefined));
        if (!blob) return { ok: false, retry: false, reason: { kind: "refused", text: "the file is no longer on this device" } };
        const max = await this.limit();
        if (max !== null && blob.size > max) {
          return { ok: false, retry: false, reason: { kind: "too-large", text: `the limit is ${sizeInWords(max)}` } };
        }
        const r = await fetchWithin(
          `/_matrix/media/v3/upload?filename=${encodeURIComponent(entry.body)}`,
          {
            method: "POST",
            headers: { ...this.auth(), "Content-Type": entry.file.type || "application/octet-stream" },
            body: blob,
          },
          60_000 + blob.size / 10,
        );
        if (!r.ok) return await this.refusal(r);
        url = String(((await r.json()) as Record<string, unknown>).content_uri);
        media.remember(url, blob);
        this.patch(entry.txnId, { url });
      }
      const sent = await this.put(`${room}/send/m.room.message/${txn}`, contentOf({ ...entry, url }));
      // A role nobody holds: the sender is told at once (unheld.ts).
      if (sent.ok && sent.answer) noteSendAnswer(entry.roomId, sent.eventId, sent.answer);
      return sent;
    } catch {
      const text = navigator.onLine ? "no connection to Wardline" : "no network";
      return { ok: false, retry: true, reason: { kind: "network", text } };
    }
  }

  private async refusal(r: Response): Promise<Outcome> {
    const body = (await r.json().catch(() => ({}))) as Record<string, unknown>;
    const text = typeof body.error === "string" && body.error ? body.error : `HTTP ${r.status}`;
    if (r.status === 429) {
      const after = Number(body.retry_after_ms);
      return { ok: false, retry: true, afterMs: Number.isFinite(after) && after > 0 ? after : undefined };
    }
    if (r.status === 401) return { ok: false, retry: true };
    if (r.status >= 500 || r.status < 400) {
      return { ok: false, retry: true, reason: { kind: "network", text: `Wardline did not accept it (HTTP ${r.status})` } };
    }
    if (r.status === 413 || body.errcode === "M_TOO_LARGE") return { ok: false, retry: false, reason: { kind: "too-large", text } };
    return { ok: false, retry: false, reason: { kind: "refused", text } };
  }
}
