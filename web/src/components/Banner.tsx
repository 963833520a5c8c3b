// The connection, when it matters: offline, reconnecting, and "Back online" for a moment.

import { waitingInWords } from "../outbox";
import { useStore } from "../state";

export function Banner() {
  const connection = useStore((s) => s.connection);
  const { words, n } = waitingInWords(useStore((s) => s.outbox));
  if (connection === "online") return null;
  const queued = n ? ` ${words} ${n === 1 ? "is" : "are"} waiting to be sent.` : "";
  const text =
    connection === "offline"
      ? `Offline: no network.${queued || " Messages you write are sent when the connection returns."}`
      : connection === "reconnecting"
        ? `Reconnecting to Wardline…${queued}`
        : "Back online";
  return (
    <div class={`banner ${connection}`} role="status">
      <span aria-hidden="true">{connection === "restored" ? "✓" : "⚠"}</span> {text}
    </div>
  );
}
