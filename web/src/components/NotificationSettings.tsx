// This device's notifications: phone or desktop notifications when Wardline is not open (Web
// Push, webpush.ts) and the sound of routine messages (a setting of this browser). Each
// conversation's own choice is in its details.

import { useEffect, useState } from "preact/hooks";

import { closeRoom } from "../conversation";
import { devicePush, notePushOn, routineSound, setRoutineSound, turnOffPush, turnOnPush } from "../webpush";
import type { DevicePush } from "../webpush";

export function NotificationSettings() {
  const [push, setPush] = useState<DevicePush | null>(null);
  const [sound, setSound] = useState(routineSound());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  useEffect(() => {
    devicePush()
      .then(setPush)
      .catch(() => setPush("off"));
  }, []);

  const togglePush = async (on: boolean) => {
    setBusy(true);
    setError("");
    try {
      if (on) await turnOnPush();
      else await turnOffPush();
    } catch (e) {
      setError(e instanceof Error ? e.message : "That did not work. Try again.");
    } finally {
      const now = await devicePush().catch((): DevicePush => "off");
      notePushOn(now === "on");
      setPush(now);
      setBusy(false);
    }
  };

  return (
    <>
      <header>
        <h2>Notifications</h2>
      </header>
      <div class="newchat settings" role="region" aria-label="Notification settings">
        <h3>On this device</h3>
        <label class="choice">
          <input
            type="checkbox"
            checked={push === "on"}
            disabled={busy || push === null || push === "unsupported" || push === "blocked"}
            onChange={(ev) => void togglePush((ev.currentTarget as HTMLInputElement).checked)}
          />
          Notifications on this device
        </label>
        <p class="muted">
          {push === "unsupported"
            ? "This browser cannot show notifications when Wardline is closed."
            : push === "blocked"
              ? "Notifications are blocked for Wardline in this browser's settings."
              : "A notification when a message comes and Wardline is not open. It never shows the message."}
        </p>
        <p class="error" role="alert">
          {error}
        </p>
        <label class="choice">
          <input
            type="checkbox"
            checked={sound}
            onChange={(ev) => {
              const on = (ev.currentTarget as HTMLInputElement).checked;
              setRoutineSound(on);
              setSound(on);
            }}
          />
          Sound for routine messages
        </label>
        <p class="muted">Urgent and emergency messages always ring. Each conversation's notifications are in its details.</p>
        <button type="button" class="plain" onClick={closeRoom}>
          Close
        </button>
      </div>
    </>
  );
}
