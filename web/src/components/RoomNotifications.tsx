// A conversation's notifications, in its details: all messages, mentions and urgent only, or
// off. Whatever is chosen, urgent and emergency messages still ring (said beside the choices).

import { useState } from "preact/hooks";

import { roomNotify, setRoomNotify } from "../roomnotify";
import type { RoomNotify } from "../roomnotify";

const CHOICES: [RoomNotify, string][] = [
  ["all", "All messages"],
  ["mentions", "Mentions and urgent only"],
  ["off", "Off"],
];

export function RoomNotifications({ roomId }: { roomId: string }) {
  const [value, setValue] = useState<RoomNotify>(() => roomNotify(roomId));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const choose = async (v: RoomNotify) => {
    const before = value;
    setValue(v);
    setBusy(true);
    setError("");
    try {
      await setRoomNotify(roomId, v);
    } catch {
      setValue(before);
      setError("The change was not saved. Try again.");
    } finally {
      setBusy(false);
    }
  };
  return (
    <fieldset class="detail notify-choice" aria-busy={busy}>
      <legend>
        <h3>Notifications</h3>
      </legend>
      {CHOICES.map(([v, label]) => (
        <label key={v} class="choice">
          <input type="radio" name={`notify-${roomId}`} value={v} checked={value === v} disabled={busy} onChange={() => void choose(v)} />
          {label}
        </label>
      ))}
      <p class="muted">Urgent and emergency messages always ring.</p>
      <p class="error" role="alert">
        {error}
      </p>
    </fieldset>
  );
}
