// An alarm from a hospital system (alarms.ts), from its integration's user only: its kind as a
// sign, a word and a colour (a cardiac arrest or fire red, a nurse call amber), the priority
// badge, the place on a line of its own in large type, the patient when the source names one,
// the source's text and the system's name; a clinical alert also its topic ("NEWS2 ≥ 7"), the
// result that raised it ("NEWS2 score 9 score") and who of those it went to has seen it (the
// read status, ReadersDialog); below, the answers it asks with its own labels ("Coming" /
// "Can't come"; a clinical alert's "Take", then "Taken by …") through the AnswerBox. Once the source resets or cancels it (a
// notice replying to it), or its incident is closed, that is shown instead of the buttons. The
// notice itself is a line of its own.

import { KINDS, alarmOf, alarmText, describeLocation, describeObservation, describePatient, endedWords, fromIntegration } from "../alarms";
import type { Alarm } from "../alarms";
import { AlarmIcon } from "../components/AlarmIcon";
import { AnswerBox } from "../components/AnswerBox";
import { PriorityBadge } from "../components/PriorityBadge";
import { ToMessage } from "../components/ToMessage";
import { nameOf, useAsk } from "../components/useAsk";
import { incidentOf } from "../incidents";
import { messageText } from "../messagetext";
import { askOf, levelOf } from "../priority";
import { store, useStore } from "../state";
import type { TimelineItem } from "../state";
import { clockTime } from "../time";
import type { Renderer } from "./types";

/** How it ended, if the source said so in a notice replying to it ([state, when]), else null. */
function useEnded(eventId: string | undefined): [string, number] | null {
  return useStore((s) => {
    if (!eventId) return null;
    const notice = s.timeline.find((t) => t.replyTo === eventId && fromIntegration(t.sender) && alarmOf(t.content)?.state !== "active");
    const state = notice ? alarmOf(notice.content)?.state : undefined;
    return notice && state ? [state, notice.ts] : null;
  });
}

function Outcome({ item, alarm, preview }: { item: TimelineItem; alarm: Alarm; preview?: boolean }) {
  const ended = useEnded(item.eventId);
  const closed = useStore((s) => incidentOf(s.incidents, s.current)?.state === "closed");
  const ask = askOf(item.content);
  if (ended) {
    const [state, ts] = ended;
    return (
      <p class={`alarm-outcome ${state}`}>
        <span aria-hidden="true">{state === "cancelled" ? "⊘ " : "✓ "}</span>
        {endedWords(state === "cancelled" ? "cancelled" : "reset")} at {clockTime(ts)}
      </p>
    );
  }
  if (closed) {
    return (
      <p class="alarm-outcome closed">
        <span aria-hidden="true">✓ </span>Incident closed
      </p>
    );
  }
  if (preview || !ask || item.redacted || item.mine) return null;
  // (Keyed by the alarm: its reason field and "Change answer" are its own.)
  return <AnswerBox key={alarm.alarmId} item={item} ask={ask} />;
}

/** "Seen by 1 of 2: Nora Quinn", opening who has read it and when (the server's read status). */
function SeenBy({ item }: { item: TimelineItem }) {
  const { detail } = useAsk(item);
  const eventId = item.eventId;
  if (!eventId || !detail) return null;
  const seen = detail.recipients.filter((r) => r.read_ts !== null);
  const of = detail.recipients.length;
  return (
    <p class="alarm-seen">
      <button type="button" class="plain small" aria-label={`Seen by ${seen.length} of ${of}: show who has seen it`} onClick={() => store.update({ readersFor: eventId })}>
        Seen by {seen.length} of {of}
      </button>
      {seen.length > 0 && <span class="alarm-seen-names">{seen.map((r) => nameOf(r.user_id)).join(", ")}</span>}
    </p>
  );
}

function AlarmCard({ item, preview }: { item: TimelineItem; preview?: boolean }) {
  const alarm = alarmOf(item.content);
  if (!alarm) return <div class="text">{messageText(item.content).text}</div>;
  const { word, tone } = KINDS[alarm.kind];
  const level = levelOf(item.content);
  const where = describeLocation(alarm.location);
  const observed = alarm.observation ? describeObservation(alarm.observation) : "";
  const text = alarmText(item.content, alarm);
  return (
    <div class={`alarm-msg tone-${tone}`} role="group" aria-label={`${word} alarm${where ? `, ${where}` : ""}`}>
      <div class="alarm-head">
        <span class="alarm-kind">
          <AlarmIcon kind={alarm.kind} />
          {word.toUpperCase()}
        </span>
        {level !== "routine" && <PriorityBadge level={level} />}
      </div>
      {alarm.topic && (
        <p class="alarm-topic">
          <span class="alarm-label">Topic </span>
          {alarm.topic.name}
        </p>
      )}
      {alarm.specialty && (
        <p class="alarm-specialty">
          <span class="alarm-label">Specialty </span>
          {alarm.specialty}
        </p>
      )}
      {where && <p class="alarm-location">{where}</p>}
      {alarm.patient && (
        <p class="alarm-patient">
          <span class="alarm-label">Patient </span>
          {describePatient(alarm.patient)}
        </p>
      )}
      {observed && <p class="alarm-observation">{observed}</p>}
      {/* (A result's own text is its observation again: said once.) */}
      {text !== observed && <p class="alarm-text">{text}</p>}
      <p class="alarm-source">From {item.senderName}</p>
      {alarm.topic && !preview && <SeenBy item={item} />}
      <Outcome item={item} alarm={alarm} preview={preview} />
    </div>
  );
}

/** The source's notice that it reset or cancelled its alarm: a line of its own. */
function AlarmEnded({ item, preview }: { item: TimelineItem; preview?: boolean }) {
  const alarm = alarmOf(item.content);
  const cancelled = alarm?.state === "cancelled";
  return (
    <div class={`alarm-ended-line${cancelled ? " cancelled" : ""}`} role="note">
      <span aria-hidden="true">{cancelled ? "⊘ " : "✓ "}</span>
      {messageText(item.content).text}
      {item.replyTo && !preview && <ToMessage eventId={item.replyTo} label="Show the alarm" />}
    </div>
  );
}

export const alarmRenderer: Renderer = {
  view: ({ item, preview }) =>
    alarmOf(item.content)?.state === "active" ? <AlarmCard item={item} preview={preview} /> : <AlarmEnded item={item} preview={preview} />,
  preview: (c) => {
    const alarm = alarmOf(c);
    const text = messageText(c).text;
    if (alarm?.state !== "active") return text;
    const level = levelOf(c);
    return level === "emergency" ? `EMERGENCY: ${text}` : level === "urgent" ? `Urgent: ${text}` : text;
  },
};
