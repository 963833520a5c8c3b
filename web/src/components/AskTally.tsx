// On my message that asks: "Acknowledged by 1 of 3" (and how many declined), the escalation
// ("Escalating — step 2 at 09:54", "Accepted by Dr Reg", "FAILSAFE reached"), and each
// recipient: not delivered yet, delivered, read, or their answer with its time and reason;
// answers of people it was not sent to; the escalation's steps. From the server's status,
// asked again when an answer, a reaction or an escalation notice about it arrives.

import type { AskDetail, Deadline, Escalation } from "../answers";
import { ACK_OR_DECLINE, answerWords } from "../priority";
import type { Ask } from "../priority";
import type { TimelineItem } from "../state";
import { clockTime, comingTime } from "../time";
import { allAnswers, nameOf, useAsk } from "./useAsk";

const SIGN = { accept: "✓", decline: "✗", info: "ℹ" } as const;

type Recipient = AskDetail["recipients"][number];

function recipientState(r: Recipient): { words: string; cls: string } {
  const a = r.answer;
  if (a) {
    return {
      words: `${SIGN[a.means] ?? ""} ${answerWords(a.option, a.label)} at ${clockTime(a.ts)}${a.reason ? `: ${a.reason}` : ""}`,
      cls: a.means,
    };
  }
  if (r.read_ts !== null) return { words: `Read at ${clockTime(r.read_ts)}, no answer yet`, cls: "read" };
  if (r.delivered_ts !== null) return { words: `Delivered at ${clockTime(r.delivered_ts)}, not read yet`, cls: "delivered" };
  return { words: "Not delivered yet", cls: "waiting" };
}

function EscalationState({ esc, detail }: { esc: Escalation; detail: AskDetail }) {
  if (esc.state === "open") {
    return (
      <p class="escalation-state open">
        <span aria-hidden="true">↑ </span>
        {esc.next_step && esc.next_due_ts
          ? `Escalating — step ${esc.next_step} at ${comingTime(esc.next_due_ts)}`
          : "Escalating"}
      </p>
    );
  }
  if (esc.state === "accepted") {
    const by = allAnswers(detail).find((a) => a.means === "accept");
    return (
      <p class="escalation-state accepted">
        <span aria-hidden="true">✓ </span>
        {by ? `Accepted by ${nameOf(by.user_id)}` : "Accepted"}
        {esc.ended_ts ? ` at ${clockTime(esc.ended_ts)}` : ""} — escalation stopped
      </p>
    );
  }
  if (esc.state === "failsafe") {
    const last = esc.steps[esc.steps.length - 1];
    return (
      <p class="escalation-state failsafe">
        <span aria-hidden="true">‼ </span>
        <strong>FAILSAFE reached</strong>
        {esc.ended_ts ? ` at ${clockTime(esc.ended_ts)}` : ""}
        {last ? `: ${last.summary}` : ""}
      </p>
    );
  }
  return <p class="escalation-state cancelled">Escalation cancelled</p>;
}

/** The question's deadline, as its sender sees it. */
function DeadlineState({ d, accepted }: { d: Deadline; accepted: boolean }) {
  // (Once someone accepted there is nothing to be told; the server ends it quietly when due.)
  if (d.state === "waiting" && !accepted) return <p class="deadline-state">You will be told if nobody has accepted by {comingTime(d.due_ts)}</p>;
  if (d.state === "not_accepted") {
    return (
      <p class="deadline-state missed">
        <span aria-hidden="true">! </span>
        <strong>Nobody accepted by {clockTime(d.due_ts)}</strong>
      </p>
    );
  }
  if (d.state === "failed") return <p class="deadline-state missed">The deadline at {clockTime(d.due_ts)} could not be told</p>;
  return null;
}

export function AskTally({ item, ask }: { item: TimelineItem; ask: Ask }) {
  const { detail, failed } = useAsk(item);
  if (!item.eventId) return null;
  if (!detail) {
    return <p class="ask-tally muted">{failed ? "Answers cannot be shown right now." : "Asking who has answered…"}</p>;
  }
  const total = detail.recipients.length;
  const accepted = detail.counts.accepted ?? detail.recipients.filter((r) => r.answer?.means === "accept").length;
  const declined = detail.counts.declined ?? detail.recipients.filter((r) => r.answer?.means === "decline").length;
  const plain = ask.options.length === 2 && ask.options.every((o, i) => o.id === ACK_OR_DECLINE[i].id);
  // Quick responses: how many chose each option.
  const chosen = plain
    ? []
    : ask.options
        .map((o) => ({ label: o.label, n: allAnswers(detail).filter((a) => a.option === o.id).length }))
        .filter((o) => o.n > 0);
  const others = detail.other_answers ?? [];
  const esc = detail.escalation;
  return (
    <div class="ask-tally" role="group" aria-label="Answers">
      <p class="ask-count">
        <strong>
          {plain ? "Acknowledged" : "Accepted"} by {accepted} of {total}
        </strong>
        {declined > 0 && <span class="declined-count"> · {declined} declined</span>}
      </p>
      {chosen.length > 0 && <p class="ask-chosen">{chosen.map((o) => `${o.label}: ${o.n}`).join(" · ")}</p>}
      {esc && <EscalationState esc={esc} detail={detail} />}
      {detail.deadline && <DeadlineState d={detail.deadline} accepted={accepted > 0} />}
      <ul class="ask-recipients">
        {detail.recipients.map((r) => {
          const s = recipientState(r);
          return (
            <li key={r.user_id} data-user={r.user_id}>
              <span class="ask-who">{nameOf(r.user_id)}</span> <span class={`ask-state ${s.cls}`}>{s.words}</span>
            </li>
          );
        })}
      </ul>
      {others.length > 0 && (
        <>
          <p class="ask-others-title">Also answered</p>
          <ul class="ask-recipients others">
            {others.map((a) => (
              <li key={a.user_id} data-user={a.user_id}>
                <span class="ask-who">{nameOf(a.user_id)}</span>{" "}
                <span class={`ask-state ${a.means}`}>
                  {`${SIGN[a.means] ?? ""} ${answerWords(a.option, a.label)} at ${clockTime(a.ts)}${a.reason ? `: ${a.reason}` : ""}`}
                </span>
              </li>
            ))}
          </ul>
        </>
      )}
      {esc && esc.steps.length > 0 && (
        <details class="escalation-steps">
          <summary>Escalation steps ({esc.steps.length})</summary>
          <ol>
            {esc.steps.map((s, i) => (
              <li key={i}>
                {clockTime(s.ts)}: {s.summary}
              </li>
            ))}
          </ol>
        </details>
      )}
    </div>
  );
}
