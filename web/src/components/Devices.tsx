// My devices: where I am signed in, and ending any of those sessions.

import { useEffect, useState } from "preact/hooks";

import { closeRoom } from "../conversation";
import { matrix } from "../signedin";
import { clockTime } from "../time";

interface Device {
  device_id: string;
  display_name?: string;
  last_seen_ts?: number;
}

export function Devices() {
  const [devices, setDevices] = useState<Device[] | null>(null);
  const [error, setError] = useState("");
  const load = async () => {
    const { devices } = await matrix().getDevices();
    setDevices(devices);
  };
  useEffect(() => {
    load().catch(() => setError("Your devices cannot be shown right now."));
  }, []);

  const end = async (d: Device) => {
    const password = window.prompt(`Your password, to end the session on ${d.display_name ?? d.device_id}`);
    if (!password) return;
    setError("");
    const c = matrix();
    try {
      await c.deleteDevice(d.device_id).catch(async (e: { data?: { session?: string } }) => {
        await c.deleteDevice(d.device_id, {
          type: "m.login.password",
          identifier: { type: "m.id.user", user: c.getUserId() ?? "" },
          password,
          session: e.data?.session,
        });
      });
      await load();
    } catch {
      setError("That session could not be ended. Check your password.");
    }
  };

  const mine = matrix().getDeviceId();
  return (
    <>
      <header>
        <h2>Devices</h2>
      </header>
      <div class="newchat" role="region" aria-label="Devices">
        <p>You are signed in on these devices. End any you no longer use.</p>
        <ul class="devices" aria-label="Signed-in devices">
          {(devices ?? []).map((d) => {
            const current = d.device_id === mine;
            return (
              <li key={d.device_id}>
                <strong>{d.display_name ?? d.device_id}</strong>
                {current ? " (this device) " : " "}
                <span class="muted">{d.last_seen_ts ? `last active ${clockTime(d.last_seen_ts)}` : ""}</span>
                {!current && (
                  <button type="button" class="plain" onClick={() => void end(d)}>
                    End session
                  </button>
                )}
              </li>
            );
          })}
        </ul>
        <p class="error" role="alert">
          {error}
        </p>
        <button type="button" class="plain" onClick={closeRoom}>
          Close
        </button>
      </div>
    </>
  );
}
