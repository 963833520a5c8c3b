// An incident conversation's header, under its name: the kind (sign, word, colour), the place in
// large type, the patient, open or closed (when, by whom, why), who is coming and who cannot
// with their times, and "Close incident" while it is open. From the server's incident list
// (incidents.ts); until that has it, from the conversation's own `org.wardline.incident` state.

import { useState } from "preact/hooks";

import { KINDS, describeLocation, describePatient } from "../alarms";
import { INCIDENT, incidentOf } from "../incidents";
import type { Incident } from "../incidents";
import { hasClient, matrix } from "../signedin";
import { useStore } from "../state";
import { AlarmIcon } from "./AlarmIcon";
import { CloseIncidentDialog } from "./CloseIncidentDialog";
import { IncidentAnswers, IncidentState } from "./IncidentAnswers";

/** The conversation's own incident state, before the server's list has it. */
function fromRoomState(roomId: string): Incident | undefined {
  const ev = hasClient() ? matrix().getRoom(roomId)?.currentState.getStateEvents(INCIDENT, "") : null;
  if (!ev) return undefined;
  const c = ev.getContent();
  if (typeof c.title !== "string") return undefined;
  return { ...(c as Omit<Incident, "room_id" | "alerted" | "coming" | "not_coming">), room_id: roomId, alerted: 0, coming: [], not_coming: [] };
}

export function IncidentHeader({ roomId }: { roomId: string }) {
  const known = useStore((s) => incidentOf(s.incidents, roomId));
  const [closing, setClosing] = useState(false);
  const incident = known ?? fromRoomState(roomId);
  if (!incident) return null;
  const kind = incident.kind in KINDS ? incident.kind : "other";
  const { word, tone } = KINDS[kind];
  const where = describeLocation(incident.location ?? {});
  return (
    <section class={`incident-header ${tone} ${incident.state}`} aria-label="Incident">
      <div class="incident-top">
        <p class="incident-what">
          <AlarmIcon kind={kind} />
          <span>{word.toUpperCase()}</span>
        </p>
        <IncidentState incident={incident} />
      </div>
      {where && <p class="incident-where">{where}</p>}
      {incident.patient?.id && <p class="incident-patient">Patient {describePatient(incident.patient)}</p>}
      {known ? <IncidentAnswers incident={incident} /> : <p class="muted">Asking who is coming…</p>}
      {incident.state === "open" && (
        <button type="button" class="danger close-incident" aria-haspopup="dialog" onClick={() => setClosing(true)}>
          Close incident
        </button>
      )}
      {closing && <CloseIncidentDialog incident={incident} onClose={() => setClosing(false)} />}
    </section>
  );
}
