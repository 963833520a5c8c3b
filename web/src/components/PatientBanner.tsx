// The banner of a conversation about a patient, at the top of it: the patient's name (tap: the
// conversations about this patient), date of birth with age, NHS number and where they are;
// "Open in the EPR" (their record, in a new tab, when the server gives its link), "File to
// record…" and the latest filing's state (Filing.tsx), "Change"
// (find another patient) and "Remove" (after a confirmation). Asked of the server when the
// conversation is opened and when the server's notice of a change arrives (patients.ts); kept
// in memory only. Compact on a phone: one line of facts that wraps, one row of actions.

import { useEffect, useRef, useState } from "preact/hooks";

import { openRoom } from "../conversation";
import {
  bornWords,
  groupedNhs,
  launchUrl,
  loadRoomPatient,
  patientFailure,
  placeSource,
  placeWords,
  recordFlags,
  roomsAbout,
  showPatientDialog,
  untiePatient,
} from "../patients";
import type { RoomAbout } from "../patients";
import { hasClient, matrix } from "../signedin";
import { store, useStore } from "../state";
import { clockTime } from "../time";
import { Dialog } from "./Dialog";
import { FilingStatus } from "./Filing";
import { showToast } from "./Toast";

export function PatientBanner({ roomId }: { roomId: string }) {
  const view = useStore((s) => s.patients.rooms[roomId]);
  const epr = useStore((s) => s.patients.epr);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const confirmRef = useRef<HTMLDivElement>(null);
  // Opening the conversation asks whom it is about now; so do coming back to the screen,
  // the connection coming back, and every two minutes while it is open (a move to another bed
  // sends no notice: the server brings the place up to date on each read).
  useEffect(() => {
    void loadRoomPatient(roomId);
    const again = () => {
      if (document.visibilityState === "visible") void loadRoomPatient(roomId);
    };
    const every = setInterval(again, 120_000);
    document.addEventListener("visibilitychange", again);
    let connection = store.get().connection;
    const unsubscribe = store.subscribe(() => {
      const now = store.get().connection;
      if (now !== connection && now !== "offline") again();
      connection = now;
    });
    return () => {
      clearInterval(every);
      document.removeEventListener("visibilitychange", again);
      unsubscribe();
    };
  }, [roomId]);
  useEffect(() => {
    if (confirming) confirmRef.current?.querySelector<HTMLElement>("button")?.focus();
  }, [confirming]);
  if (!epr) return null;
  const tie = view?.tie;
  if (!tie) {
    return view?.error ? (
      <p class="patient-banner-error error" role="alert">
        {view.error}{" "}
        <button type="button" class="plain small" onClick={() => void loadRoomPatient(roomId)}>
          Try again
        </button>
      </p>
    ) : null;
  }
  const p = tie.patient;
  const link = launchUrl(tie.launch_url);
  // When the last read failed, what was known may be out of date: where they are is not shown.
  const stale = Boolean(view.error);
  const where = stale ? "" : placeWords(p.place);
  const remove = async () => {
    setBusy(true);
    setError("");
    try {
      await untiePatient(roomId);
      setConfirming(false);
      showToast("The conversation is no longer about a patient");
    } catch (e) {
      setError(patientFailure(e, "Not removed"));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="patient-banner" aria-label="Patient">
      <div class="patient-who">
        <button type="button" class="patient-name link" aria-haspopup="dialog" onClick={() => showPatientDialog(roomId, "rooms")}>
          {p.name}
          <span class="sr-only"> — conversations about this patient</span>
        </button>
        <span class="patient-facts">
          {recordFlags(p).map((f) => (
            <span key={f} class="patient-restricted">
              {f}
            </span>
          ))}
          {stale && <span class="patient-stale">May be out of date</span>}
          {p.birth_date && <span>Born {bornWords(p.birth_date)}</span>}
          {p.nhs_number ? <span>NHS {groupedNhs(p.nhs_number)}</span> : p.hospital_number && <span>Hospital no. {p.hospital_number}</span>}
          {where ? (
            <span class="patient-where" title={`Where: from the ${placeSource(p.place)}`}>
              {where}
            </span>
          ) : (
            p.place_unknown && <span class="muted">Where they are could not be read</span>
          )}
        </span>
      </div>
      <div class="patient-actions">
        {link && (
          <a class="button-link" href={link} target="_blank" rel="noopener noreferrer">
            Open in the EPR<span class="sr-only"> (opens in a new tab)</span>
          </a>
        )}
        <button type="button" class="plain small" aria-haspopup="dialog" onClick={() => showPatientDialog(roomId, "file")}>
          File to record…
        </button>
        <button type="button" class="plain small" aria-haspopup="dialog" onClick={() => showPatientDialog(roomId, "search")}>
          Change
        </button>
        <button type="button" class="plain small" onClick={() => setConfirming(true)} disabled={confirming}>
          Remove
        </button>
      </div>
      <FilingStatus roomId={roomId} />
      {confirming && (
        <div class="confirm" role="group" aria-label="Remove the patient" ref={confirmRef}>
          <p>Remove {p.name} from this conversation? It will no longer be about a patient.</p>
          <button type="button" class="danger" disabled={busy} onClick={() => void remove()}>
            {busy ? "Removing…" : "Remove"}
          </button>
          <button type="button" class="plain" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      )}
      <p class="error" role="alert">
        {error || view.error}
      </p>
    </section>
  );
}

/**
 * The conversation's details say whom it is about, and find a patient: on a phone, the way to
 * it (its header has no room for "Patient…").
 */
export function PatientDetail({ roomId }: { roomId: string }) {
  const epr = useStore((s) => s.patients.epr);
  const view = useStore((s) => s.patients.rooms[roomId]);
  const name = view?.tie?.patient.name ?? null;
  if (!epr) return null;
  // Until the server has answered, nothing is said (never "not about a patient" by default).
  if (!view?.known || (view.loading && !view.tie)) {
    return (
      <div class="detail">
        <h3>Patient</h3>
        <p class="muted">Checking…</p>
      </div>
    );
  }
  if (view.error && !view.tie) {
    return (
      <div class="detail">
        <h3>Patient</h3>
        <p class="error" role="alert">
          {view.error}
        </p>
      </div>
    );
  }
  const find = () => {
    store.update({ details: false });
    showPatientDialog(roomId, "search");
  };
  return (
    <div class="detail">
      <h3>Patient</h3>
      <p>{name ? `About ${name}.` : <span class="muted">Not about a patient.</span>}</p>
      <button type="button" class="plain" aria-haspopup="dialog" onClick={find}>
        {name ? "Change the patient…" : "Patient…"}
      </button>
    </div>
  );
}

/** Someone's name as this device knows them. */
function nameOf(roomId: string, userId: string): string {
  if (!hasClient()) return userId;
  return matrix().getRoom(roomId)?.getMember(userId)?.name ?? matrix().getUser(userId)?.displayName ?? userId;
}

/** The conversations about the open conversation's patient that I am in; one tapped opens. */
export function PatientRooms({ roomId }: { roomId: string }) {
  const tie = useStore((s) => s.patients.rooms[roomId]?.tie ?? null);
  const [rooms, setRooms] = useState<RoomAbout[] | null>(null);
  const [error, setError] = useState("");
  const close = () => showPatientDialog(null);
  const patientId = tie?.patient.id;
  useEffect(() => {
    if (!patientId) return undefined;
    let live = true;
    setError("");
    roomsAbout(patientId)
      .then((r) => live && setRooms(r))
      .catch((e) => live && setError(patientFailure(e, "The conversations cannot be shown")));
    return () => {
      live = false;
    };
  }, [patientId]);
  const open = (id: string) => {
    if (!hasClient() || !matrix().getRoom(id)) {
      setError("That conversation is not on this device yet: try again in a moment.");
      return;
    }
    close();
    if (id !== roomId) openRoom(id);
  };
  return (
    <Dialog label="Conversations about this patient" onClose={close} class="patient-rooms">
      <div class="details-head">
        <h2>Conversations about {tie?.patient.name ?? "this patient"}</h2>
        <button type="button" class="plain" onClick={close}>
          Close
        </button>
      </div>
      {!tie ? (
        <p>This conversation is no longer about a patient.</p>
      ) : rooms === null && !error ? (
        <p class="muted">Asking…</p>
      ) : (
        rooms && (
          <ul class="pick-list" aria-label="Conversations">
            {rooms.map((r) => (
              <li key={r.room_id}>
                <button type="button" class="plain pick" aria-current={r.room_id === roomId ? "true" : undefined} onClick={() => open(r.room_id)}>
                  <span class="pick-name">{r.name || "Unnamed conversation"}</span>
                  <span class="muted">
                    {r.room_id === roomId ? "This conversation · " : ""}since {clockTime(r.tied_at)}, by {nameOf(r.room_id, r.tied_by)}
                  </span>
                </button>
              </li>
            ))}
          </ul>
        )
      )}
      <p class="error" role="alert">
        {error}
      </p>
    </Dialog>
  );
}
