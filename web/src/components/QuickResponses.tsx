// The answers a message offers (up to 6), each with what it means (accept ends escalation,
// decline escalates at once, info changes nothing); ready-made ones to add with a tap; and
// "first to accept takes it" for a group or a role.

import { DEADLINES, MAX_LABEL, MAX_OPTIONS, PRESETS, askProblem, optionId } from "../priority";
import type { AskOption, Means } from "../priority";

const MEANINGS: { means: Means; word: string }[] = [
  { means: "accept", word: "Accepts" },
  { means: "decline", word: "Declines" },
  { means: "info", word: "Information only" },
];

export function QuickResponses(props: {
  options: AskOption[];
  onOptions: (options: AskOption[]) => void;
  firstAccept: boolean;
  onFirstAccept: (on: boolean) => void;
  /** Minutes after which the sender is told nobody has accepted; 0: never. */
  deadlineMin: number;
  onDeadline: (minutes: number) => void;
}) {
  const { options, onOptions } = props;
  const ids = options.map((o) => o.id);
  const full = options.length >= MAX_OPTIONS;
  const change = (i: number, part: Partial<AskOption>) => onOptions(options.map((o, j) => (i === j ? { ...o, ...part } : o)));
  const problem = askProblem(options);
  return (
    <fieldset class="quick-responses">
      <legend>Quick responses</legend>
      <div class="quick-presets">
        {PRESETS.map((p) => (
          <button
            key={p.id}
            type="button"
            class="plain small"
            disabled={full || options.some((o) => o.label === p.label)}
            onClick={() => onOptions([...options, { ...p, id: ids.includes(p.id) ? optionId(p.label, ids) : p.id }])}
          >
            + {p.label}
          </button>
        ))}
        <button
          type="button"
          class="plain small"
          disabled={full}
          onClick={() => onOptions([...options, { id: optionId(`option ${options.length + 1}`, ids), label: "", means: "info" }])}
        >
          + Other
        </button>
      </div>
      {options.length > 0 && (
        <ol class="quick-list">
          {options.map((o, i) => (
            <li key={i}>
              <input
                aria-label={`Response ${i + 1}`}
                value={o.label}
                maxLength={MAX_LABEL}
                placeholder="What the button says"
                // (Enter here must not send the message being written.)
                onKeyDown={(ev) => ev.key === "Enter" && ev.preventDefault()}
                onInput={(ev) => change(i, { label: (ev.currentTarget as HTMLInputElement).value })}
              />
              <select
                aria-label={`Response ${i + 1} means`}
                value={o.means}
                onChange={(ev) => change(i, { means: (ev.currentTarget as HTMLSelectElement).value as Means })}
              >
                {MEANINGS.map((m) => (
                  <option key={m.means} value={m.means}>
                    {m.word}
                  </option>
                ))}
              </select>
              <button
                type="button"
                class="plain small"
                aria-label={`Remove response ${i + 1}`}
                onClick={() => onOptions(options.filter((_, j) => j !== i))}
              >
                ✕
              </button>
            </li>
          ))}
        </ol>
      )}
      <label class="check">
        <input
          type="checkbox"
          checked={props.firstAccept}
          onChange={(ev) => props.onFirstAccept((ev.currentTarget as HTMLInputElement).checked)}
        />{" "}
        First to accept takes it
      </label>
      <label class="deadline-choice">
        Tell me if nobody accepts in{" "}
        <select
          value={String(props.deadlineMin)}
          onChange={(ev) => props.onDeadline(Number((ev.currentTarget as HTMLSelectElement).value))}
        >
          <option value="0">— (don't)</option>
          {DEADLINES.map((m) => (
            <option key={m} value={String(m)}>
              {m} min
            </option>
          ))}
        </select>
      </label>
      {problem && (
        <p class="error" role="status">
          {problem}
        </p>
      )}
    </fieldset>
  );
}
