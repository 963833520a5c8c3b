// My devices: where I am signed in, and ending any of those sessions.

import type { MatrixClient } from "matrix-js-sdk";

import { clockTime, h } from "./dom";

export async function devicesPanel(client: MatrixClient, close: () => void): Promise<HTMLElement> {
  const error = h("p", { className: "error", role: "alert" });
  const list = h("ul", { className: "devices", "aria-label": "Signed-in devices" });
  const panel = h(
    "div",
    { className: "newchat", role: "region", "aria-label": "Devices" },
    h("p", {}, "You are signed in on these devices. End any you no longer use."),
    list,
    error,
    h("button", { type: "button", className: "plain", onclick: close }, "Close"),
  );
  const render = async () => {
    const { devices } = await client.getDevices();
    list.replaceChildren(
      ...devices.map((d) => {
        const current = d.device_id === client.getDeviceId();
        const seen = d.last_seen_ts ? `last active ${clockTime(d.last_seen_ts)}` : "";
        const end = h("button", { type: "button", className: "plain" }, "End session");
        end.addEventListener("click", async () => {
          const password = window.prompt(`Your password, to end the session on ${d.display_name ?? d.device_id}`);
          if (!password) return;
          error.textContent = "";
          try {
            await client.deleteDevice(d.device_id).catch(async (e: { data?: { session?: string } }) => {
              await client.deleteDevice(d.device_id, {
                type: "m.login.password",
                identifier: { type: "m.id.user", user: client.getUserId() ?? "" },
                password,
                session: e.data?.session,
              });
            });
            await render();
          } catch {
            error.textContent = "That session could not be ended. Check your password.";
          }
        });
        return h(
          "li",
          {},
          h("strong", {}, d.display_name ?? d.device_id),
          current ? " (this device) " : " ",
          h("span", { className: "muted" }, seen),
          current ? "" : end,
        );
      }),
    );
  };
  await render();
  return panel;
}
