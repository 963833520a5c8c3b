// The incidents panel: the incident conversations I am in, open ones first (as the server
// orders them), each with its kind (sign, word, colour), place in large type, patient, state,
// who is coming and who cannot, and when it opened; choosing one opens its conversation.
// Asked again when opened; the sync keeps it up to date after (incidents.ts).

import { useEffect } from "preact/hooks";

import { KINDS, describeLocation, describePatient } from "../alarms";
import { closeRoom, openRoom } from "../conversation";
import { refreshIncidents, titleWhat } from "../incidents";
import type { Incident } from "../incidents";
import { useStore } from "../state";
import { clockTime } from "../time";
import { AlarmIcon } from "./AlarmIcon";
import { IncidentAnswers, IncidentState } from "./IncidentAnswers";
import { memo } from "./memo";

const Card = memo(function Card({ incident }: { incident: Incident }) {
  const tone = KINDS[incident.kind]?.tone ?? "grey";
  const where = describeLocation(incident.location ?? {});
  return (
    <li class={`incident-card tone-${tone} ${incident.state}`} data-room={incident.room_id}>
      <button type="button" class="incident-open" onClick={() => openRoom(incident.room_id)}>
        <span class="incident-what">
          <AlarmIcon kind={incident.kind in KINDS ? incident.kind : "other"} />
          {titleWhat(incident)}
        </span>
        {where && <span class="incident-where">{where}</span>}
      </button>
      <IncidentState incident={incident} />
      {incident.patient?.id && <p class="incident-patient">Patient {describePatient(incident.patient)}</p>}
      <IncidentAnswers incident={incident} />
      {incident.state === "closed" && <p class="muted">Opened {clockTime(incident.opened_ts)}</p>}
    </li>
  );
});

export function IncidentList() {
  const incidents = useStore((s) => s.incidents);
  useEffect(() => refreshIncidents(), []);
  const open = incidents?.filter((i) => i.state === "open").length ?? 0;
  return (
    <>
      <header>
        <button class="plain back" onClick={closeRoom} aria-label="Back">
          Back
        </button>
        <h2>Incidents{open ? ` (${open} open)` : ""}</h2>
      </header>
      <div class="oncall" role="region" aria-label="Incidents">
        {incidents === null ? (
          <p class="muted">Asking the server…</p>
        ) : !incidents.length ? (
          <p>You are in no incident. When a hospital system raises one for a team you are on, it is listed here.</p>
        ) : (
          <ul class="incident-list" aria-label="Incidents">
            {incidents.map((i) => (
              <Card key={i.room_id} incident={i} />
            ))}
          </ul>
        )}
      </div>
    </>
  );
}
