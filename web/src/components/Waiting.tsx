// Before the first sync (e.g. the tab was reloaded while the network was down), the messages
// still waiting in the outbox are listed here, with their status, so none seems lost.

import { outboxItem } from "../conversation";
import { useStore } from "../state";
import { Message } from "./Message";

export function Waiting() {
  const ready = useStore((s) => s.ready);
  const waiting = useStore((s) => s.outbox.filter((e) => e.state !== "sent" && !e.replaces));
  if (ready) return null;
  return (
    <>
      <p class="loading">Loading your conversations…</p>
      {waiting.length > 0 && (
        <section class="waiting" aria-label="Waiting to be sent">
          <h2>Waiting to be sent</h2>
          {waiting.map((e) => (
            <div key={e.txnId} class="waiting-item">
              <div class="muted">To {e.roomName || "a conversation"}</div>
              <Message item={outboxItem(e)} />
            </div>
          ))}
        </section>
      )}
    </>
  );
}
