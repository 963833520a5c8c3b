// The open conversation's messages. Opening lands on the first unread message under a "New
// messages" line; at the bottom the view follows new messages; scrolled up, a "N new messages ↓"
// button. What the reader is looking at never moves: earlier messages, a photo finishing
// loading, a typing line all keep the message at the top of the view where it was. Messages
// are keyed, so a playing voice note keeps playing while the timeline changes around it.

import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";

import { loadEarlier, onScreenChanged, outboxItem } from "../conversation";
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
  const shown: TimelineItem[] = [
    ...items,
    ...pending
      .filter((e) => !e.replaces && !inTimeline.has(e.txnId) && !(e.eventId && inTimeline.has(e.eventId)))
      .map(outboxItem),
  ];

  const remember = () => {
    const el = scroller.current;
    if (!el) return;
    follow.current = atBottom(el);
    setBottom(follow.current);
    const top = el.scrollTop;
    for (const child of content.current?.children ?? []) {
      const c = child as HTMLElement;
      if (c.offsetTop + c.offsetHeight > top && c.dataset.key) {
        anchor.current = { key: c.dataset.key, offset: c.offsetTop - top };
        return;
      }
    }
    anchor.current = null;
  };

  /** Puts the view back where the reader was, after anything changed size or was added. */
  const keep = () => {
    const el = scroller.current;
    if (!el) return;
    if (!landed.current) {
      landed.current = true;
      const line = marker ? el.querySelector<HTMLElement>(".unread-line") : null;
      el.scrollTop = line ? line.offsetTop - 8 : el.scrollHeight;
      remember();
      return;
    }
    if (follow.current) {
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

  // Which messages of others are on screen (read tracking: reading.ts).
  const observer = useRef<IntersectionObserver | null>(null);
  useEffect(() => {
    const root = scroller.current;
    if (!root) return undefined;
    const io = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          const id = (entry.target as HTMLElement).dataset.seen;
          if (!id) continue;
          const rootHeight = entry.rootBounds?.height ?? root.clientHeight;
          const visible =
            entry.isIntersecting &&
            (entry.intersectionRatio >= 0.5 || entry.intersectionRect.height >= rootHeight * 0.5);
          onScreenChanged(id, visible);
        }
      },
      { root, threshold: [0, 0.25, 0.5, 0.75, 1] },
    );
    observer.current = io;
    return () => {
      io.disconnect();
      observer.current = null;
    };
  }, []);
  useEffect(() => {
    const io = observer.current;
    if (!io) return;
    for (const el of content.current?.querySelectorAll<HTMLElement>("[data-seen]") ?? []) {
      if (!el.dataset.observed) {
        el.dataset.observed = "1";
        io.observe(el);
      }
    }
  });

  const onScroll = () => {
    remember();
    const el = scroller.current;
    if (el && el.scrollTop < 80 && canLoadEarlier) void loadEarlier();
  };

  const toBottom = () => {
    const el = scroller.current;
    if (!el) return;
    follow.current = true;
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
          {shown.flatMap((item) => {
            const message = <Message key={item.key} item={item} />;
            if (!marker || item.eventId !== marker) return [message];
            return [
              <div class="unread-line" key="unread-line" data-key="unread-line" role="separator">
                <span>New messages</span>
              </div>,
              message,
            ];
          })}
        </div>
      </div>
      {!bottom && unseen > 0 && (
        <button type="button" class="jump" onClick={toBottom}>
          {unseen} new message{unseen === 1 ? "" : "s"} ↓
        </button>
      )}
    </div>
  );
}
