// "File to record" (filing.ts): the banner's button and the latest filing's state, the dialog
// (the whole conversation or chosen messages, and a transcript), the bar while messages are
// chosen, a message's checkbox, and the badge under a message the record holds.

import { useEffect, useState } from "preact/hooks";

import { FILING_POLL_MS, chooseMessages, filedWords, fileToRecord, filingWords, forgetFilings, loadFilings, toggleChosen } from "../filing";
import { showPatientDialog } from "../patients";
import { useStore } from "../state";
import type { TimelineItem } from "../state";
import { clockTime } from "../time";
import { Dialog } from "./Dialog";
import { showToast } from "./Toast";

/**
 * The latest filing's state, in the banner; asks for the filings when the conversation is opened
 * and every 5 s while one is pending (not once none is, nor after leaving the conversation).
 */
export function FilingStatus({ roomId }: { roomId: string }) {
  const latest = useStore((s) => s.patients.filings[roomId]?.filings[0] ?? null);
  const pending = useStore((s) => s.patients.filings[roomId]?.filings.some((f) => f.state === "pending") ?? false);
  const error = useStore((s) => s.patients.filings[roomId]?.error ?? "");
  useEffect(() => {
    void loadFilings(roomId);
    return () => forgetFilings(roomId);
  }, [roomId]);
  useEffect(() => {
    if (!pending) return undefined;
    const every = setInterval(() => void loadFilings(roomId), FILING_POLL_MS);
    return () => clearInterval(every);
  }, [roomId, pending]);
  if (!latest && !error) return null;
  const when = latest ? clockTime(latest.finished_ts ?? latest.requested_ts) : "";
  const what = latest ? `${latest.event_count} message${latest.event_count === 1 ? "" : "s"}${latest.transcript ? " and a transcript" : ""}` : "";
  return (
    <div class="filing-status" role="status">
      {latest &&
        (latest.state !== "pending" && latest.resources.length > 0 ? (
          // Filed, or refused after the record took part of it: what it holds, listed when tapped.
          <details class={`filing-${latest.state}`}>
            <summary title={latest.resources.join(", ")}>
              {/* (One flex item: a long reason wraps as a sentence, not in columns.) */}
              <span>
                <span aria-hidden="true">{latest.state === "filed" ? "✓ " : "⚠ "}</span>
                {filingWords(latest)}
                <span class="muted"> · {what} · {when}</span>
              </span>
            </summary>
            {latest.state === "refused" && (
              <p class="muted filing-partial">
                {latest.refused_by === "wardline"
                  ? "The record took these before filing stopped:"
                  : "The record took these before it refused the rest:"}
              </p>
            )}
            <ul class="filing-resources" aria-label="In the record as">
              {latest.resources.map((r) => (
                <li key={r}>{r}</li>
              ))}
            </ul>
          </details>
        ) : (
          <span class={`filing-${latest.state}`}>
            {latest.state !== "pending" && <span aria-hidden="true">{latest.state === "filed" ? "✓ " : "⚠ "}</span>}
            {filingWords(latest)}
            {latest.state === "pending" && latest.last_error ? `: ${latest.last_error}` : ""}
            <span class="muted"> · {what} · {when}</span>
          </span>
        ))}
      {error && <span class="error"> {error}</span>}
    </div>
  );
}

/** "File to record…": the whole conversation, or messages chosen in the timeline; a transcript too. */
export function FileDialog({ roomId }: { roomId: string }) {
  const name = useStore((s) => s.patients.rooms[roomId]?.tie?.patient.name ?? "");
  const [scope, setScope] = useState<"all" | "choose">("all");
  const [transcript, setTranscript] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const close = () => showPatientDialog(null);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    if (scope === "choose") {
      close();
      chooseMessages(roomId, transcript);
      return;
    }
    setBusy(true);
    setError("");
    try {
      await fileToRecord(roomId, { all: true }, transcript);
      close();
      showToast("Sent to the record");
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      setBusy(false);
    }
  };
  return (
    <Dialog label="File to record" onClose={close} class="file-dialog">
      <form onSubmit={(ev) => void submit(ev)}>
        <h2>File to {name ? `${name}'s` : "the patient's"} record</h2>
        <fieldset>
          <legend>What to file</legend>
          <label class="choice">
            <input type="radio" name="scope" checked={scope === "all"} onChange={() => setScope("all")} /> Whole conversation
          </label>
          <label class="choice">
            <input type="radio" name="scope" checked={scope === "choose"} onChange={() => setScope("choose")} /> Choose messages
          </label>
        </fieldset>
        <label class="choice">
          <input type="checkbox" checked={transcript} onChange={(ev) => setTranscript((ev.target as HTMLInputElement).checked)} /> Also file a
          transcript
        </label>
        <p class="error" role="alert">
          {error}
        </p>
        <div class="form-actions">
          <button type="submit" disabled={busy}>
            {scope === "choose" ? "Choose messages" : busy ? "Filing…" : "File to record"}
          </button>
          <button type="button" class="plain" onClick={close}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/** While messages are chosen: "N selected — File to record / Cancel". */
export function FilingBar({ roomId }: { roomId: string }) {
  const choosing = useStore((s) => (s.patients.choosing?.roomId === roomId ? s.patients.choosing : null));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  if (!choosing) return null;
  const n = choosing.ids.length;
  const file = async () => {
    setBusy(true);
    setError("");
    try {
      await fileToRecord(roomId, { event_ids: choosing.ids }, choosing.transcript);
      chooseMessages(null);
      showToast("Sent to the record");
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="filing-bar" role="group" aria-label="Choose messages to file">
      <span class="filing-count" aria-live="polite">
        {n} selected
      </span>
      <button type="button" disabled={busy || n === 0} onClick={() => void file()}>
        {busy ? "Filing…" : "File to record"}
      </button>
      <button type="button" class="plain" onClick={() => chooseMessages(null)}>
        Cancel
      </button>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/** A message's checkbox while messages are chosen in the open conversation. */
export function ChooseBox({ item }: { item: TimelineItem }) {
  const eventId = item.eventId ?? "";
  const choosing = useStore((s) => s.patients.choosing !== null && s.patients.choosing.roomId === s.current);
  const chosen = useStore((s) => s.patients.choosing?.ids.includes(eventId) ?? false);
  if (!choosing || !eventId) return null;
  return (
    <label class="choose-message">
      <input type="checkbox" checked={chosen} onChange={() => toggleChosen(eventId)} />
      <span class="sr-only">Choose this message</span>
    </label>
  );
}

/** What the record holds of a message of the open conversation, under it. */
export function FiledBadge({ eventId }: { eventId: string }) {
  const filed = useStore((s) => (s.current ? s.patients.filings[s.current]?.events[eventId] : undefined));
  const roomId = useStore((s) => s.current);
  const [busy, setBusy] = useState(false);
  if (!filed || !roomId) return null;
  const again = async () => {
    setBusy(true);
    try {
      await fileToRecord(roomId, { event_ids: [eventId] }, false);
      showToast("Sent to the record");
    } catch (e) {
      showToast(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class={`filed-badge filed-${filed.state}`} title={filed.resource ?? undefined}>
      {filed.state === "changed" ? (
        <>
          Changed since filed —{" "}
          <button type="button" class="plain small" disabled={busy} onClick={() => void again()}>
            file again
          </button>
        </>
      ) : (
        filedWords(filed)
      )}
    </div>
  );
}
