// An alarm from a hospital system (alarms.ts), from its integration's user only: its kind as a
// sign, a word and a colour (a cardiac arrest or fire red, a nurse call amber), the priority
// badge, the place on a line of its own in large type, the patient when the source names one,
// the source's text and the system's name; below, the answers it asks with its own labels
// ("Coming" / "Can't come") through the AnswerBox. Once the source resets or cancels it (a
// notice replying to it), or its incident is closed, that is shown instead of the buttons. The
// notice itself is a line of its own.

import { KINDS, alarmOf, alarmText, describeLocation, describePatient, endedWords, fromIntegration } from "../alarms";
import type { Alarm } from "../alarms";
import { AlarmIcon } from "../components/AlarmIcon";
import { AnswerBox } from "../components/AnswerBox";
import { PriorityBadge } from "../components/PriorityBadge";
import { ToMessage } from "../components/ToMessage";
import { incidentOf } from "../incidents";
import { messageText } from "../messagetext";
import { askOf, levelOf } from "../priority";
import { useStore } from "../state";
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

function AlarmCard({ item, preview }: { item: TimelineItem; preview?: boolean }) {
  const alarm = alarmOf(item.content);
  if (!alarm) return <div class="text">{messageText(item.content).text}</div>;
  const { word, tone } = KINDS[alarm.kind];
  const level = levelOf(item.content);
  const where = describeLocation(alarm.location);
  return (
    <div class={`alarm-msg tone-${tone}`} role="group" aria-label={`${word} alarm${where ? `, ${where}` : ""}`}>
      <div class="alarm-head">
        <span class="alarm-kind">
          <AlarmIcon kind={alarm.kind} />
          {word.toUpperCase()}
        </span>
        {level !== "routine" && <PriorityBadge level={level} />}
      </div>
      {where && <p class="alarm-location">{where}</p>}
      {alarm.patient && (
        <p class="alarm-patient">
          <span class="alarm-label">Patient </span>
          {describePatient(alarm.patient)}
        </p>
      )}
      <p class="alarm-text">{alarmText(item.content, alarm)}</p>
      <p class="alarm-source">From {item.senderName}</p>
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
