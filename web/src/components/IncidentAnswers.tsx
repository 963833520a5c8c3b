// Who is coming to an incident and who cannot, by name with the time they answered, and its
// state as a sign and a word (never colour alone): "‼ OPEN" or "✓ Closed at 10:32 by Bo: ROSC".
// Shared by the incident list and the incident conversation's header.

import { answersLine, closedByName } from "../incidents";
import type { Incident, Responder } from "../incidents";
import { clockTime } from "../time";

function People({ people }: { people: Responder[] }) {
  return (
    <>
      {people.map((p, i) => (
        <span key={p.user_id} class="incident-person" data-user={p.user_id}>
          {i > 0 ? ", " : ""}
          {p.display_name} <time dateTime={new Date(p.ts).toISOString()}>({clockTime(p.ts)})</time>
        </span>
      ))}
    </>
  );
}

/** "2 coming · 1 can't come · 3 alerted", then each list with names and times. */
export function IncidentAnswers({ incident }: { incident: Incident }) {
  const nobody = !incident.coming.length && incident.state === "open";
  return (
    <div class="incident-answers">
      <p class={`incident-count${nobody ? " nobody" : ""}`}>
        {nobody && <span aria-hidden="true">! </span>}
        {answersLine(incident)}
      </p>
      {incident.coming.length > 0 && (
        <p class="incident-coming">
          <span aria-hidden="true">✓ </span>
          <strong>Coming: </strong>
          <People people={incident.coming} />
        </p>
      )}
      {incident.not_coming.length > 0 && (
        <p class="incident-not-coming">
          <span aria-hidden="true">✗ </span>
          <strong>Can't come: </strong>
          <People people={incident.not_coming} />
        </p>
      )}
    </div>
  );
}

/** "‼ OPEN since 10:01", or "✓ CLOSED at 10:32 by Bo Lee: ROSC achieved". */
export function IncidentState({ incident }: { incident: Incident }) {
  if (incident.state === "open") {
    return (
      <p class="incident-state open">
        <span class="incident-badge">
          <span aria-hidden="true">‼ </span>OPEN
        </span>{" "}
        since {clockTime(incident.opened_ts)}
      </p>
    );
  }
  const by = closedByName(incident);
  return (
    <p class="incident-state closed">
      <span class="incident-badge">
        <span aria-hidden="true">✓ </span>CLOSED
      </span>{" "}
      {incident.closed_ts ? `at ${clockTime(incident.closed_ts)}` : ""}
      {by ? ` by ${by}` : ""}
      {incident.reason ? `: ${incident.reason}` : ""}
    </p>
  );
}
