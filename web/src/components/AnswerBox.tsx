// The answers a message asks of me (not its sender): a big button per option; an option that
// declines asks for a reason first (optional). Sent through the outbox. Once answered: "You
// acknowledged at 09:52" (the server's count, or my answer on its way), with Change answer.

import { useState } from "preact/hooks";

import { answer } from "../answers";
import { contentOf } from "../outbox";
import { answerWords, responseOf } from "../priority";
import type { Ask, AskOption } from "../priority";
import { useStore } from "../state";
import type { TimelineItem } from "../state";
import { clockTime } from "../time";
import { allAnswers, myAnswer, nameOf, useAsk } from "./useAsk";

const SIGN = { accept: "✓", decline: "✗", info: "ℹ" } as const;

/** "You acknowledged", "You declined", "You answered On my way 5 min". */
function youSaid(option: string, label: string): string {
  const words = answerWords(option, label);
  return words === label ? `You answered “${label}”` : `You ${words.toLowerCase()}`;
}

export function AnswerBox({ item, ask }: { item: TimelineItem; ask: Ask }) {
  const eventId = item.eventId;
  const roomId = useStore((s) => s.current);
  const { detail } = useAsk(item);
  // My answer still in the outbox (the latest), shown until the server counts it.
  const pending = useStore((s) => {
    const mine = s.outbox.filter((e) => !e.kind && e.state !== "sent" && responseOf(contentOf(e))?.to === eventId);
    return mine[mine.length - 1];
  });
  const [changing, setChanging] = useState(false);
  const [declining, setDeclining] = useState<AskOption | null>(null);
  const [reason, setReason] = useState("");
  if (!eventId || !roomId) return null;
  const given = myAnswer(detail);
  const send = (option: AskOption, why = "") => {
    answer(roomId, eventId, option, why);
    setChanging(false);
    setDeclining(null);
    setReason("");
  };
  const taken = ask.first_accept ? allAnswers(detail).find((a) => a.means === "accept") : undefined;
  if (pending) {
    const option = ask.options.find((o) => o.id === responseOf(contentOf(pending))?.option);
    return (
      <div class="answer-box" role="group" aria-label="Your answer">
        <p class="answer-given pending">
          {pending.state === "failed"
            ? `Your answer was not sent: ${pending.reason?.text ?? "not sent"} (Retry or Delete it below)`
            : `Sending your answer: ${option?.label ?? ""}…`}
        </p>
      </div>
    );
  }
  if (given && !changing) {
    return (
      <div class="answer-box" role="group" aria-label="Your answer">
        <p class={`answer-given ${given.means}`}>
          <span aria-hidden="true">{SIGN[given.means] ?? ""} </span>
          {youSaid(given.option, given.label)} at {clockTime(given.ts)}
          {given.reason ? `: ${given.reason}` : ""}
        </p>
        <button type="button" class="plain small" onClick={() => setChanging(true)}>
          Change answer
        </button>
      </div>
    );
  }
  return (
    <div class="answer-box" role="group" aria-label="Answer this message">
      {taken && taken.user_id !== item.sender && (
        <p class="answer-taken">
          <span aria-hidden="true">✓ </span>Taken by {nameOf(taken.user_id)} at {clockTime(taken.ts)}
        </p>
      )}
      {declining ? (
        <form
          class="answer-reason"
          onSubmit={(ev) => {
            ev.preventDefault();
            send(declining, reason);
          }}
        >
          <label for={`reason-${eventId}`}>Reason (optional)</label>
          <input
            id={`reason-${eventId}`}
            value={reason}
            maxLength={500}
            autoFocus
            onInput={(ev) => setReason((ev.currentTarget as HTMLInputElement).value)}
          />
          <div class="answer-options">
            <button type="submit" class="answer decline">
              Send: {declining.label}
            </button>
            <button type="button" class="plain" onClick={() => setDeclining(null)}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <div class="answer-options">
          {ask.options.map((o) => (
            <button
              key={o.id}
              type="button"
              class={`answer ${o.means}`}
              onClick={() => (o.means === "decline" ? setDeclining(o) : send(o))}
            >
              <span aria-hidden="true">{SIGN[o.means]} </span>
              {o.label}
            </button>
          ))}
          {changing && (
            <button type="button" class="plain" onClick={() => setChanging(false)}>
              Keep my answer
            </button>
          )}
        </div>
      )}
    </div>
  );
}
