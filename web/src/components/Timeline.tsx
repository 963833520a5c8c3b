// The open conversation's messages. Opening lands on the first unread message under a "New
// messages" line; at the bottom the view follows new messages; scrolled up, a "N new messages ↓"
// button (counting only unseen messages below the view, never skipped ones above it). What the reader is looking at never moves: earlier messages, a photo finishing
// loading, a typing line, the newest messages after a limited sync (below a gap loaded on
// asking) all keep the message at the top of the view where it was. Messages
// are keyed, so a playing voice note keeps playing while the timeline changes around it.

import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";

import {
  goToLatest,
  loadEarlier,
  loadGap,
  loadGapAt,
  loadLater,
  noteActivity,
  noteSeen,
  noteView,
  outboxItem,
  setSeenMeasure,
} from "../conversation";
import { isMessage } from "../outbox";
import { useStore } from "../state";
import type { TimelineItem } from "../state";
import { Message } from "./Message";

/** How close to the bottom counts as "at the bottom" (px). */
const NEAR = 48;

function atBottom(el: HTMLElement): boolean {
  return el.scrollHeight - el.scrollTop - el.clientHeight <= NEAR;
}

/** Keyed by the conversation: a new one starts afresh. */
export function Timeline({ roomId, roomName }: { roomId: string; roomName: string }) {
  const items = useStore((s) => s.timeline);
  const pending = useStore((s) => s.outbox.filter((e) => e.roomId === roomId));
  const marker = useStore((s) => s.unreadMarker);
  const unseen = useStore((s) => s.unseenBelow);
  const canLoadEarlier = useStore((s) => s.canLoadEarlier);
  const gapAbove = useStore((s) => s.gapAbove);
  const gaps = useStore((s) => s.gaps);
  const fillingGap = useStore((s) => s.fillingGap);
  const loadingEarlier = useStore((s) => s.loadingEarlier);
  const live = useStore((s) => s.live);
  const canLoadLater = useStore((s) => s.canLoadLater);
  const jumpTo = useStore((s) => s.jumpTo);
  /** The message pointed out (a search result), for a moment. */
  const [found, setFound] = useState<string | null>(null);
  const jumped = useRef(0);
  const scroller = useRef<HTMLDivElement>(null);
  const content = useRef<HTMLDivElement>(null);
  /** Following new messages (the view is at the bottom). */
  const follow = useRef(true);
  /** The message at the top of the view, and how far below the top edge it is. */
  const anchor = useRef<{ key: string; offset: number } | null>(null);
  const landed = useRef(false);
  const lastKey = useRef<string | null>(null);
  const [bottom, setBottom] = useState(true);

  // Outbox messages the timeline does not have yet, after it, in the order written.
  const inTimeline = new Set<string>();
  for (const i of items) {
    if (i.txnId) inTimeline.add(i.txnId);
    if (i.eventId) inTimeline.add(i.eventId);
  }
  // (An earlier part of the conversation, found by search, shows only what the server has.)
  const shown: TimelineItem[] = live
    ? [
        ...items,
        ...pending
          .filter((e) => isMessage(e) && !e.replaces && !inTimeline.has(e.txnId) && !(e.eventId && inTimeline.has(e.eventId)))
          .map(outboxItem),
      ]
    : items;

  const remember = () => {
    const el = scroller.current;
    if (!el) return;
    follow.current = atBottom(el);
    setBottom(follow.current);
    const top = el.scrollTop;
    // The last message on screen: "N new messages ↓" counts only what is below it.
    let last: string | null = null;
    for (const m of content.current?.querySelectorAll<HTMLElement>(".msg[data-key]") ?? []) {
      if (m.offsetTop >= top + el.clientHeight) break;
      last = m.dataset.key ?? null;
    }
    noteView(follow.current, last);
    for (const child of content.current?.children ?? []) {
      let c = child as HTMLElement;
      // A gap at the top: what is loaded into it goes below the message before it, which stays.
      if (c.offsetTop + c.offsetHeight > top && c.dataset.gap !== undefined && c.previousElementSibling) {
        c = c.previousElementSibling as HTMLElement;
      }
      if (c.offsetTop + c.offsetHeight > top && c.dataset.key) {
        anchor.current = { key: c.dataset.key, offset: c.offsetTop - top };
        return;
      }
    }
    anchor.current = null;
  };

  /** Brings a message to the middle of the view, points it out and gives it the focus. */
  const pointOut = (eventId: string): boolean => {
    const el = scroller.current;
    const target = content.current?.querySelector<HTMLElement>(`[data-event="${CSS.escape(eventId)}"]`);
    if (!el || !target) return false;
    el.scrollTop = target.offsetTop - Math.max(0, (el.clientHeight - target.offsetHeight) / 2);
    remember();
    // Being read: messages arriving (or loaded) below do not take the view away from it.
    follow.current = false;
    target.focus({ preventScroll: true });
    setFound(eventId);
    return true;
  };

  /** Puts the view back where the reader was, after anything changed size or was added. */
  const keep = () => {
    const el = scroller.current;
    if (!el) return;
    if (jumpTo && jumpTo.seq !== jumped.current && pointOut(jumpTo.eventId)) {
      jumped.current = jumpTo.seq;
      landed.current = true;
      return;
    }
    if (!landed.current) {
      landed.current = true;
      const line = marker ? el.querySelector<HTMLElement>(".unread-line") : null;
      el.scrollTop = line ? line.offsetTop - 8 : el.scrollHeight;
      remember();
      return;
    }
    // An earlier part of the conversation: later messages loaded below do not move the view.
    if (follow.current && live) {
      el.scrollTop = el.scrollHeight;
    } else if (anchor.current) {
      const a = content.current?.querySelector<HTMLElement>(`[data-key="${CSS.escape(anchor.current.key)}"]`);
      if (a) el.scrollTop = a.offsetTop - anchor.current.offset;
    }
  };

  const keepLatest = useRef(keep);
  keepLatest.current = keep;

  useLayoutEffect(() => {
    // A message I just wrote: show it, wherever I was.
    const last = shown[shown.length - 1];
    if (last && last.key !== lastKey.current && last.mine && !last.eventId && lastKey.current !== null) {
      follow.current = true;
    }
    lastKey.current = last?.key ?? null;
    keep();
    // An earlier part too short to scroll (a search result's surroundings): the next messages
    // are loaded at once, as scrolling down would.
    const el = scroller.current;
    if (el && canLoadLater && el.scrollHeight - el.scrollTop - el.clientHeight < NEAR) void loadLater();
  });

  // Photos loading, a voice note's player appearing, the typing line taking room: sizes change
  // without a render of this component.
  useEffect(() => {
    if (!content.current || !scroller.current || typeof ResizeObserver === "undefined") return undefined;
    const ro = new ResizeObserver(() => keepLatest.current());
    ro.observe(content.current);
    ro.observe(scroller.current);
    return () => ro.disconnect();
  }, []);

  // Which messages of others are on screen (read tracking: reading.ts): measured every moment
  // while the conversation is open; conversation.ts decides whether someone is reading.
  useEffect(() => {
    const root = scroller.current;
    if (!root) return undefined;
    setSeenMeasure(() => {
      const view = root.getBoundingClientRect();
      const out: string[] = [];
      for (const el of content.current?.querySelectorAll<HTMLElement>("[data-seen]") ?? []) {
        const box = el.getBoundingClientRect();
        if (box.bottom <= view.top || box.top >= view.bottom) continue;
        const shownHeight = Math.min(box.bottom, view.bottom) - Math.max(box.top, view.top);
        const visible =
          box.height <= view.height
            ? shownHeight >= box.height * 0.5
            : // Taller than the view: read to its end (its bottom edge in view).
              box.bottom <= view.bottom + 1 && shownHeight >= view.height * 0.5;
        if (visible && el.dataset.seen) out.push(el.dataset.seen);
      }
      return out;
    });
    const tick = setInterval(noteSeen, 250);
    // Screen readers in browse mode send no keys or pointer events to the page: their reading
    // shows as clicks and focus moving, which count as someone there too. (Not `scroll`: the
    // view scrolls by itself to follow new messages.)
    const events = ["pointermove", "pointerdown", "keydown", "wheel", "touchstart", "touchmove", "click", "focusin"];
    for (const e of events) window.addEventListener(e, noteActivity, { capture: true, passive: true });
    return () => {
      clearInterval(tick);
      setSeenMeasure(null);
      for (const e of events) window.removeEventListener(e, noteActivity, { capture: true });
    };
  }, []);

  // The pointed-out message stays marked for a moment.
  useEffect(() => {
    if (!found) return undefined;
    const t = setTimeout(() => setFound(null), 4000);
    return () => clearTimeout(t);
  }, [found]);

  const onScroll = () => {
    remember();
    const el = scroller.current;
    if (el && el.scrollTop < 80 && canLoadEarlier) void loadEarlier();
    if (el && canLoadLater && el.scrollHeight - el.scrollTop - el.clientHeight < 80) void loadLater();
  };

  const toBottom = () => {
    const el = scroller.current;
    if (!el) return;
    follow.current = true;
    if (!live) goToLatest();
    el.scrollTop = el.scrollHeight;
    remember();
  };

  return (
    <div class="timeline-wrap">
      <div
        class="timeline"
        ref={scroller}
        onScroll={onScroll}
        role="region"
        aria-label={`Messages in ${roomName}`}
        tabIndex={0}
      >
        <div class="timeline-content" ref={content}>
          {gapAbove && (
            <div class="gap" key="gap" data-key="gap" role="status">
              <span>Earlier unread messages</span>{" "}
              <button type="button" class="plain" onClick={loadGap} disabled={loadingEarlier} aria-label="Load earlier unread messages">
                Load
              </button>
            </div>
          )}
          {shown.flatMap((item) => {
            const message = <Message key={item.key} item={item} found={item.eventId === found} />;
            const gap = gaps.indexOf(item.key);
            const before = gap >= 0 ? [<Gap key={`gap-${item.key}`} index={gap} busy={fillingGap} />] : [];
            if (!marker || item.eventId !== marker) return [...before, message];
            return [
              ...before,
              <div class="unread-line" key="unread-line" data-key="unread-line" role="separator">
                <span>New messages</span>
              </div>,
              message,
            ];
          })}
          {gaps.indexOf("") >= 0 && <Gap key="gap-end" index={gaps.indexOf("")} busy={fillingGap} />}
        </div>
      </div>
      {!live ? (
        <button type="button" class="jump" onClick={toBottom}>
          Latest messages ↓
        </button>
      ) : (
        !bottom &&
        unseen > 0 && (
          <button type="button" class="jump" onClick={toBottom}>
            {unseen} new message{unseen === 1 ? "" : "s"} ↓
          </button>
        )
      )}
    </div>
  );
}

/** Messages not loaded between two that are (after a limited sync): loaded when asked. */
function Gap({ index, busy }: { index: number; busy: boolean }) {
  return (
    <div class="gap" data-gap={index} role="status">
      <span>More messages here, not shown yet</span>{" "}
      <button type="button" class="plain" onClick={() => void loadGapAt(index)} disabled={busy} aria-label="Load the messages not shown yet">
        Load
      </button>
    </div>
  );
}
