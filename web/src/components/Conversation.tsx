// The open conversation: its header, timeline, who is typing, the composer, and its dialogs:
// the readers of one of my messages, forwarding a message, the conversation's details; and whom
// it is about (the patient's banner, finding a patient, the conversations about them, filing
// to the record and choosing the messages to file).

import { mayWrite } from "../broadcasts";
import { closeRoom, loadEarlier, otherPerson } from "../conversation";
import { incidentOf, isIncidentRoom } from "../incidents";
import { showPatientDialog } from "../patients";
import { matrix } from "../signedin";
import { store, useStore } from "../state";
import { Composer } from "./Composer";
import { DetailsDialog } from "./DetailsDialog";
import { DndNotice } from "./DndNotice";
import { FileDialog, FilingBar } from "./Filing";
import { ForwardDialog } from "./ForwardDialog";
import { IncidentHeader, IncidentTitle } from "./IncidentHeader";
import { PatientBanner, PatientRooms } from "./PatientBanner";
import { PatientSearch } from "./PatientSearch";
import { Presence } from "./Presence";
import { ReadersDialog } from "./ReadersDialog";
import { RoleLine } from "./RoleLine";
import { Timeline } from "./Timeline";
import { UnheldWarning } from "./UnheldWarning";

export function Conversation({ roomId }: { roomId: string }) {
  const name = useStore((s) => s.rooms.find((r) => r.id === roomId)?.name ?? matrix().getRoom(roomId)?.name ?? "");
  const other = useStore((s) => s.rooms.find((r) => r.id === roomId)?.other ?? null);
  const role = useStore((s) => s.rooms.find((r) => r.id === roomId)?.role ?? null);
  const typing = useStore((s) => s.typing);
  const readersFor = useStore((s) => s.readersFor);
  const canLoadEarlier = useStore((s) => s.canLoadEarlier);
  const loading = useStore((s) => s.loadingEarlier);
  const opening = useStore((s) => s.opening);
  const forwarding = useStore((s) => s.forwarding);
  const details = useStore((s) => s.details);
  // Patients: the header's "Patient…" while the conversation is about nobody (its banner has
  // Change), unless the server has said it has no patient record; on a phone, in Details.
  const epr = useStore((s) => s.patients.epr);
  // (Not until the server has said whether it is about a patient: no button that then goes.)
  const untied = useStore((s) => s.patients.rooms[roomId]?.known === true && !s.patients.rooms[roomId]?.tie);
  const patientDialog = useStore((s) => (s.patients.dialog?.roomId === roomId ? s.patients.dialog.kind : null));
  const room = matrix().getRoom(roomId);
  const incident = useStore((s) => incidentOf(s.incidents, roomId) !== undefined) || isIncidentRoom(room);
  const person = other ?? (room ? otherPerson(room) : null);
  return (
    <>
      <header>
        <button class="plain back" onClick={closeRoom} aria-label="Back to conversations">
          Back
        </button>
        <h2>
          {incident ? <IncidentTitle roomId={roomId} name={name} /> : name}
          {person && (
            <span class="header-presence">
              <Presence userId={person} withWord />
            </span>
          )}
          {role && <RoleLine key={role} roleId={role} roomId={roomId} link />}
        </h2>
        <button class="plain" onClick={() => void loadEarlier()} disabled={loading || !canLoadEarlier}>
          Earlier
        </button>
        {epr && untied && (
          // (On a phone the header has no room for it: it is in Details.)
          <button class="plain wide-only" aria-haspopup="dialog" onClick={() => showPatientDialog(roomId, "search")}>
            Patient…
          </button>
        )}
        <button class="plain" aria-haspopup="dialog" onClick={() => store.update({ details: true })}>
          Details
        </button>
      </header>
      <PatientBanner key={roomId} roomId={roomId} />
      {person && <DndNotice key={person} userId={person} />}
      {incident && <IncidentHeader key={roomId} roomId={roomId} />}
      {opening ? (
        <p class="loading timeline-wrap">Loading messages…</p>
      ) : (
        <Timeline key={roomId} roomId={roomId} roomName={name} />
      )}
      <div class="typing">{typing.length ? `${typing.join(", ")} typing…` : ""}</div>
      <UnheldWarning roomId={roomId} />
      <FilingBar key={roomId} roomId={roomId} />
      {mayWrite(room) ? (
        <Composer key={roomId} roomId={roomId} />
      ) : (
        <p class="muted broadcast-note">A broadcast: answer it with the buttons on the message.</p>
      )}
      {readersFor && <ReadersDialog key={readersFor} roomId={roomId} eventId={readersFor} />}
      {forwarding && <ForwardDialog key={forwarding} eventId={forwarding} />}
      {details && <DetailsDialog key={roomId} roomId={roomId} />}
      {patientDialog === "search" && <PatientSearch key={roomId} roomId={roomId} roomName={name} />}
      {patientDialog === "rooms" && <PatientRooms key={roomId} roomId={roomId} />}
      {patientDialog === "file" && <FileDialog key={roomId} roomId={roomId} />}
    </>
  );
}
