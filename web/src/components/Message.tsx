// One message: who, whether it mentions me or was forwarded, what it answers, the content (drawn by its kind's renderer), reactions,
// when, and for my own messages what happened to it; what the patient's record holds of it (and
// its checkbox while messages are chosen to file); its actions behind "⋯".

import { ALARM, alarmOf } from "../alarms";
import { discard, FORWARDED, forwardedFrom, retry } from "../compose";
import { mentionsMe } from "../mentions";
import { kindOf, rendererFor } from "../renderers";
import { PATIENT_CONTEXT } from "../patients";
import { ESCALATION, PRIORITY } from "../priority";
import { useStore } from "../state";
import type { TimelineItem } from "../state";
import { clockTime } from "../time";
import { CoverLabel, isCoverCopy, withoutCoverLabel } from "./CoverLabel";
import { memo } from "./memo";
import { MessageActions, ReplyQuote } from "./MessageExtras";
import { ChooseBox, FiledBadge } from "./Filing";
import { EditStatus, MessageStatus } from "./MessageStatus";
import { PendingDelete } from "./PendingDelete";
import { Presence } from "./Presence";
import { Reactions } from "./Reactions";
import { UnheldNote } from "./UnheldNote";

/** An edit of mine still in the outbox: shown in place of the text, with its own status. */
function PendingEdit({ txnId }: { txnId: string }) {
  const entry = useStore((s) => s.outbox.find((e) => e.txnId === txnId));
  if (!entry || entry.state === "sent") return null;
  if (entry.state === "sending") return <span class="edit-status">Saving the change…</span>;
  return (
    <span class="not-sent">
      <span class="reason">
        <span aria-hidden="true">⚠ </span>Change not saved: {entry.reason?.text ?? "not sent"}
      </span>
      <button type="button" class="plain small" onClick={() => retry(txnId)}>
        Retry
      </button>
      <button type="button" class="plain small" onClick={() => discard(txnId)}>
        Delete
      </button>
    </span>
  );
}

/** "Forwarded from Ward 7" (the name as I see it), or only "Forwarded" when I cannot know it. */
function ForwardedFrom({ content }: { content: Record<string, unknown> }) {
  // Redrawn with the conversation list: a name known or changed later shows.
  useStore((s) => s.rooms);
  const from = forwardedFrom(content);
  return <>{from ? `Forwarded from ${from}` : "Forwarded"}</>;
}

export const Message = memo(function Message({ item, found }: { item: TimelineItem; found?: boolean }) {
  const edit = useStore((s) => (item.eventId ? s.outbox.find((e) => e.replaces === item.eventId) : undefined));
  const newContent = edit?.extra?.["m.new_content"] as Record<string, unknown> | undefined;
  const shown = withoutCoverLabel(edit && newContent ? { ...item, content: newContent } : item);
  const View = rendererFor(shown.type, shown.content, shown.redacted, shown.sender).view;
  const kind = kindOf(shown.type, shown.content, shown.redacted, shown.sender);
  const forwarded = !shown.redacted && typeof shown.content[FORWARDED] === "object" && !isCoverCopy(shown);
  // (A priority message names all its recipients, and its badge says more than "Mentions you".)
  const alarm = kind === ALARM;
  const serverLine = kind === ESCALATION || kind === PATIENT_CONTEXT;
  const forMe = !item.mine && !shown.redacted && kind !== PRIORITY && !serverLine && !alarm && mentionsMe(shown.content);
  // (An alarm names its source system itself; the source's notice that it ended is a line of its own.)
  const system = serverLine || (alarm && alarmOf(shown.content)?.state !== "active") ? " system" : "";
  return (
    <article
      class={`msg${item.mine ? " mine" : ""}${forMe ? " mentions-me" : ""}${found ? " found" : ""}${system}`}
      data-event={item.eventId ?? ""}
      data-key={item.key}
      data-seen={!item.mine && item.eventId ? item.eventId : undefined}
      tabIndex={-1}
    >
      {!system && !shown.redacted && item.eventId && <ChooseBox item={item} />}
      {!item.mine && !alarm && (
        <div class="who">
          <Presence userId={item.sender} />
          {item.senderName}
          {item.asRole && <span class="as-role"> · as {item.asRole}</span>}
        </div>
      )}
      {item.mine && item.asRole && <div class="who as-role">You · as {item.asRole}</div>}
      {forMe && (
        <div class="mentions-me-label">
          <span aria-hidden="true">@ </span>Mentions you
        </div>
      )}
      {forwarded && (
        <div class="forwarded">
          <span aria-hidden="true">↪ </span>
          <ForwardedFrom content={shown.content} />
        </div>
      )}
      <CoverLabel item={item} />
      {item.replyTo && !alarm && <ReplyQuote eventId={item.replyTo} />}
      <div class="body">
        <View item={shown} />
      </div>
      <Reactions item={item} />
      {item.eventId && <FiledBadge eventId={item.eventId} />}
      {item.mine && item.eventId && <UnheldNote eventId={item.eventId} />}
      <div class="meta">
        {item.edited && !item.redacted && (item.mine && item.editId ? <EditStatus editId={item.editId} /> : <span class="edited">edited</span>)}
        <time dateTime={new Date(item.ts).toISOString()}>{clockTime(item.ts)}</time>
        {item.mine && <MessageStatus item={item} />}
        {edit && <PendingEdit txnId={edit.txnId} />}
        {item.mine && item.eventId && <PendingDelete eventId={item.eventId} />}
        <MessageActions item={item} />
      </div>
    </article>
  );
});
