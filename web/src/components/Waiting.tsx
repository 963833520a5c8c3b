// Before the first sync (e.g. the tab was reloaded while the network was down), what is still
// waiting in the outbox is listed here, with its status, so none seems lost: messages as they
// will look, reactions and deletions in a line each.

import { discard, retry } from "../compose";
import { outboxItem } from "../conversation";
import { isMessage } from "../outbox";
import { useStore } from "../state";
import type { OutboxEntry } from "../state";
import { Message } from "./Message";

/** A reaction or a deletion waiting: what it is, and Not sent with Retry and Delete. */
function Change({ e }: { e: OutboxEntry }) {
  const what = e.kind === "reaction" ? `Your reaction ${e.key ?? ""} to a message` : "Deleting a message";
  return (
    <div class="msg mine change">
      <div class="body">{what}</div>
      <div class="meta">
        {e.state === "failed" ? (
          <span class="not-sent">
            <span class="reason">
              <span aria-hidden="true">⚠ </span>Not sent: {e.reason?.text ?? "not sent"}
            </span>
            <button type="button" class="plain small" onClick={() => retry(e.txnId)}>
              Retry
            </button>
            <button type="button" class="plain small" onClick={() => discard(e.txnId)}>
              Delete
            </button>
          </span>
        ) : (
          <span class="status sending">
            <span aria-hidden="true">◷ </span>Sending…
          </span>
        )}
      </div>
    </div>
  );
}

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
              {isMessage(e) ? <Message item={outboxItem(e)} /> : <Change e={e} />}
            </div>
          ))}
        </section>
      )}
    </>
  );
}
