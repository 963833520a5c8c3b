// An incident conversation's header. Its name: the kind's sign and words ("Cardiac arrest", or
// the rule's own title) in its colour. Under it: open or closed (when, by whom, why) with "Close
// incident" while open, the place in large type, the patient, and who is coming and who cannot
// with their times. From the server's incident list (incidents.ts); until that has it, from the
// conversation's own `org.wardline.incident` state.

import { useState } from "preact/hooks";

import { KINDS, describeLocation, describePatient } from "../alarms";
import type { AlarmKind } from "../alarms";
import { INCIDENT, incidentOf, titleWhat } from "../incidents";
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

/** The incident of a conversation, and whether the server's list has it (with its answers). */
function useIncident(roomId: string): { incident: Incident | undefined; known: boolean } {
  const known = useStore((s) => incidentOf(s.incidents, roomId));
  return { incident: known ?? fromRoomState(roomId), known: known !== undefined };
}

function kindOf(i: Incident): AlarmKind {
  return i.kind in KINDS ? i.kind : "other";
}

/** The conversation's name for an incident: its sign and what it is, without the place (below, larger). */
export function IncidentTitle({ roomId, name }: { roomId: string; name: string }) {
  const { incident } = useIncident(roomId);
  if (!incident) return <>{name}</>;
  const kind = kindOf(incident);
  return (
    <span class={`incident-title tone-${KINDS[kind].tone}`}>
      <AlarmIcon kind={kind} />
      {titleWhat(incident)}
    </span>
  );
}

export function IncidentHeader({ roomId }: { roomId: string }) {
  const { incident, known } = useIncident(roomId);
  const [closing, setClosing] = useState(false);
  if (!incident) return null;
  const where = describeLocation(incident.location ?? {});
  return (
    <section class={`incident-header tone-${KINDS[kindOf(incident)].tone} ${incident.state}`} aria-label="Incident">
      <div class="incident-top">
        <IncidentState incident={incident} />
        {incident.state === "open" && (
          <button type="button" class="danger close-incident" aria-haspopup="dialog" onClick={() => setClosing(true)}>
            Close incident
          </button>
        )}
      </div>
      {where && <p class="incident-where">{where}</p>}
      {incident.patient?.id && <p class="incident-patient">Patient {describePatient(incident.patient)}</p>}
      {known ? <IncidentAnswers incident={incident} /> : <p class="muted">Asking who is coming…</p>}
      {closing && <CloseIncidentDialog incident={incident} onClose={() => setClosing(false)} />}
    </section>
  );
}
