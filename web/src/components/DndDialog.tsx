// Turning on do-not-disturb: until when (an hour, until 08:00, or a time I choose) and, if I
// want, a colleague who covers, found in the directory. Someone on do-not-disturb cannot cover:
// they are marked so and cannot be chosen, and the server's refusal is shown as it said it.

import { useEffect, useRef, useState } from "preact/hooks";

import { searchPeople } from "../directory";
import type { Person } from "../directory";
import { lookUpDnd, nextEight, startDnd } from "../dnd";
import { comingTime } from "../time";
import type { DndInfo } from "../dnd";
import { Dialog } from "./Dialog";
import { Presence } from "./Presence";

type Choice = "hour" | "eight" | "custom";

/** `HH:MM` today, or tomorrow when that time has passed. */
function timeToday(hhmm: string): number | null {
  const m = /^(\d{2}):(\d{2})$/.exec(hhmm);
  if (!m) return null;
  const d = new Date();
  d.setHours(Number(m[1]), Number(m[2]), 0, 0);
  if (d.getTime() <= Date.now()) d.setDate(d.getDate() + 1);
  return d.getTime();
}

function CoverPicker(props: { chosen: Person | null; onChoose: (p: Person | null) => void }) {
  const [results, setResults] = useState<Person[]>([]);
  const [away, setAway] = useState<Record<string, DndInfo | null>>({});
  const seq = useRef(0);
  const search = async (q: string) => {
    const mine = ++seq.current;
    if (!q.trim()) return setResults([]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (mine !== seq.current) return;
    const found = await searchPeople(q, 10).catch(() => null);
    if (mine !== seq.current || !found) return;
    setResults(found);
    // Who is on do-not-disturb (they cannot cover), asked of the server for each.
    for (const p of found) {
      void lookUpDnd(p.userId)
        .then((d) => setAway((a) => ({ ...a, [p.userId]: d })))
        .catch(() => undefined);
    }
  };
  if (props.chosen) {
    return (
      <p class="chosen-cover">
        Cover: <strong>{props.chosen.name}</strong>
        <button type="button" class="plain" aria-label={`Remove ${props.chosen.name} as cover`} onClick={() => props.onChoose(null)}>
          ✕
        </button>
      </p>
    );
  }
  return (
    <div class="picker">
      <label for="dnd-cover">Cover (optional)</label>
      <input
        id="dnd-cover"
        type="search"
        placeholder="Name, job title or department"
        onInput={(ev) => void search((ev.currentTarget as HTMLInputElement).value)}
      />
      <ul class="pick-list" aria-label="People found">
        {results.map((p) => {
          const d = away[p.userId];
          return (
            <li key={p.userId}>
              <button type="button" class="pick" disabled={!!d} onClick={() => props.onChoose(p)}>
                <Presence userId={p.userId} />
                {p.name}
                {p.role && <span class="muted"> — {p.role}</span>}
                {d && <span class="muted"> · on do-not-disturb until {comingTime(d.until)}: cannot cover</span>}
              </button>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

export function DndDialog({ onClose }: { onClose: () => void }) {
  const [choice, setChoice] = useState<Choice>("hour");
  const [custom, setCustom] = useState("");
  const [cover, setCover] = useState<Person | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);
  const until = (): number | null =>
    choice === "hour" ? Date.now() + 3_600_000 : choice === "eight" ? nextEight() : timeToday(custom);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const t = until();
    if (t === null) return setError("Choose a time.");
    setBusy(true);
    setError("");
    try {
      await startDnd(t, cover?.userId ?? null);
      onClose();
    } catch (e) {
      setError(e instanceof Error ? e.message : "Do not disturb could not be turned on.");
      setBusy(false);
    }
  };
  const radio = (value: Choice, label: string) => (
    <label class="choice">
      <input
        ref={value === "hour" ? first : undefined}
        type="radio"
        name="dnd-until"
        value={value}
        checked={choice === value}
        onChange={() => setChoice(value)}
      />
      {label}
    </label>
  );
  return (
    <Dialog label="Do not disturb" onClose={onClose} class="dnd-dialog">
      <form onSubmit={submit}>
        <h2>Do not disturb</h2>
        <p class="muted">No sounds or notifications until then. Messages to you also go to your cover, if you name one.</p>
        <fieldset>
          <legend>Until</legend>
          {radio("hour", "1 hour")}
          {radio("eight", `Until 08:00${new Date(nextEight()).getDate() !== new Date().getDate() ? " tomorrow" : ""}`)}
          {radio("custom", "A time I choose")}
          {choice === "custom" && (
            <input type="time" aria-label="Until (time)" value={custom} onInput={(ev) => setCustom((ev.currentTarget as HTMLInputElement).value)} />
          )}
        </fieldset>
        <CoverPicker chosen={cover} onChoose={setCover} />
        <p class="error" role="alert">
          {error}
        </p>
        <div class="dialog-actions">
          <button type="button" class="plain" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" disabled={busy}>
            Turn on do not disturb
          </button>
        </div>
      </form>
    </Dialog>
  );
}
