// The open conversation: its header, timeline, who is typing, the composer, and its dialogs:
// the readers of one of my messages, forwarding a message, the conversation's details.

import { mayWrite } from "../broadcasts";
import { closeRoom, loadEarlier, otherPerson } from "../conversation";
import { incidentOf, isIncidentRoom } from "../incidents";
import { matrix } from "../signedin";
import { store, useStore } from "../state";
import { Composer } from "./Composer";
import { DetailsDialog } from "./DetailsDialog";
import { DndNotice } from "./DndNotice";
import { ForwardDialog } from "./ForwardDialog";
import { IncidentHeader, IncidentTitle } from "./IncidentHeader";
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
        <button class="plain" aria-haspopup="dialog" onClick={() => store.update({ details: true })}>
          Details
        </button>
      </header>
      {person && <DndNotice key={person} userId={person} />}
      {incident && <IncidentHeader key={roomId} roomId={roomId} />}
      {opening ? (
        <p class="loading timeline-wrap">Loading messages…</p>
      ) : (
        <Timeline key={roomId} roomId={roomId} roomName={name} />
      )}
      <div class="typing">{typing.length ? `${typing.join(", ")} typing…` : ""}</div>
      <UnheldWarning roomId={roomId} />
      {mayWrite(room) ? (
        <Composer key={roomId} roomId={roomId} />
      ) : (
        <p class="muted broadcast-note">A broadcast: answer it with the buttons on the message.</p>
      )}
      {readersFor && <ReadersDialog key={readersFor} roomId={roomId} eventId={readersFor} />}
      {forwarding && <ForwardDialog key={forwarding} eventId={forwarding} />}
      {details && <DetailsDialog key={roomId} roomId={roomId} />}
    </>
  );
}
