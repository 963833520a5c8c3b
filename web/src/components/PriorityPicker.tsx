// The composer's priority: Routine, Urgent or Emergency, as a row of big radio buttons (arrows
// move between them; a sign and a word each, never colour alone). Emergency asks first: it
// breaks through do-not-disturb and escalates every minute. Beside it, quick responses.

import { useState } from "preact/hooks";

import type { Level } from "../priority";

const CHOICES: { level: Level; sign: string; word: string }[] = [
  { level: "routine", sign: "", word: "Routine" },
  { level: "urgent", sign: "⚠", word: "Urgent" },
  { level: "emergency", sign: "‼", word: "Emergency" },
];

export function PriorityPicker(props: {
  /** Shown on a phone too (always shown on a larger screen). */
  open: boolean;
  level: Level;
  onLevel: (level: Level) => void;
  responses: boolean;
  onResponses: () => void;
  disabled?: boolean;
}) {
  const [confirming, setConfirming] = useState(false);
  return (
    <div class={`priority-row${props.open ? " open" : ""}`}>
      <fieldset class="priority-picker" disabled={props.disabled}>
        <legend class="sr-only">Priority</legend>
        {CHOICES.map((c) => (
          <label key={c.level} class={`priority-choice ${c.level}${props.level === c.level ? " chosen" : ""}`}>
            <input
              type="radio"
              name="priority"
              value={c.level}
              checked={props.level === c.level}
              onChange={() => (c.level === "emergency" ? setConfirming(true) : props.onLevel(c.level))}
            />
            {c.sign && <span aria-hidden="true">{c.sign} </span>}
            {c.word}
          </label>
        ))}
      </fieldset>
      <button
        type="button"
        class={`plain quick-toggle${props.responses ? " on" : ""}`}
        aria-expanded={props.responses ? "true" : "false"}
        disabled={props.disabled}
        onClick={props.onResponses}
      >
        Quick responses
      </button>
      {confirming && (
        <div class="emergency-confirm" role="alertdialog" aria-label="Send as an emergency?" aria-describedby="emergency-why">
          <p id="emergency-why">
            <strong>Emergency</strong> breaks through do-not-disturb and escalates every minute until someone accepts.
          </p>
          <button
            type="button"
            class="danger"
            autoFocus
            onClick={() => {
              props.onLevel("emergency");
              setConfirming(false);
            }}
          >
            Yes, emergency
          </button>
          <button type="button" class="plain" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      )}
    </div>
  );
}
