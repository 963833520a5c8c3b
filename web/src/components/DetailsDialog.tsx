// The open conversation's details: its name and topic (changed by those the room's power levels
// allow; read-only for others), its members with their job titles (from the directory), adding
// colleagues (an invitation, accepted by their client at once), whom it is about (a patient: finding
// one from here on a phone), removing a member (for those
// with the power to, after a confirmation) and leaving (after a confirmation).

import { useEffect, useReducer, useRef, useState } from "preact/hooks";

import { closeRoom } from "../conversation";
import { personOf, searchPeople } from "../directory";
import type { Person } from "../directory";
import { KnownMembership, RoomStateEvent } from "../mx";
import type { Room, RoomState } from "../mx";
import { matrix, me } from "../signedin";
import { store } from "../state";
import { Dialog } from "./Dialog";
import { PatientDetail } from "./PatientBanner";
import { Presence } from "./Presence";
import { RoomNotifications } from "./RoomNotifications";

function failure(e: unknown, fallback: string): string {
  const data = (e as { data?: { error?: unknown } } | undefined)?.data;
  return typeof data?.error === "string" && data.error ? data.error : fallback;
}

/** Someone's job title and department, once the directory has answered. */
function Role({ userId }: { userId: string }) {
  const [role, setRole] = useState("");
  useEffect(() => {
    let live = true;
    personOf(userId)
      .then((p) => live && setRole(p?.role ?? ""))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [userId]);
  return role ? <span class="role"> · {role}</span> : null;
}

/** A text of the room (name or topic): a form for those allowed to change it, else the text. */
function Editable(props: { label: string; id: string; value: string; allowed: boolean; save: (v: string) => Promise<unknown> }) {
  const [value, setValue] = useState(props.value);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const saved = useRef(props.value);
  // A change made elsewhere shows, unless this one is being written.
  useEffect(() => {
    if (value === saved.current) setValue(props.value);
    saved.current = props.value;
  }, [props.value]);
  if (!props.allowed) {
    return (
      <div class="detail">
        <h3>{props.label}</h3>
        <p>{props.value || <span class="muted">None</span>}</p>
      </div>
    );
  }
  const submit = async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    setError("");
    try {
      await props.save(value.trim());
    } catch (e) {
      setError(failure(e, `The ${props.label.toLowerCase()} could not be changed.`));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="detail" onSubmit={submit}>
      <label for={props.id}>{props.label}</label>
      <div class="detail-row">
        <input id={props.id} type="text" value={value} onInput={(ev) => setValue((ev.currentTarget as HTMLInputElement).value)} />
        <button type="submit" aria-label={`Save the ${props.label.toLowerCase()}`} disabled={busy || value.trim() === props.value}>
          Save
        </button>
      </div>
      <p class="error" role="alert">
        {error}
      </p>
    </form>
  );
}

/** Finding colleagues in the directory to add to the conversation. */
function AddPeople({ room }: { room: Room }) {
  const [results, setResults] = useState<Person[]>([]);
  const [error, setError] = useState("");
  const seq = useRef(0);
  const search = async (q: string) => {
    const mine = ++seq.current;
    if (!q.trim()) return setResults([]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (mine !== seq.current) return;
    const found = await searchPeople(q).catch(() => null);
    if (mine === seq.current && found) setResults(found);
  };
  const add = async (p: Person) => {
    setError("");
    try {
      await matrix().invite(room.roomId, p.userId);
    } catch (e) {
      setError(failure(e, `${p.name} could not be added.`));
    }
  };
  const isIn = (userId: string) => {
    const m = room.getMember(userId)?.membership;
    return m === KnownMembership.Join || m === KnownMembership.Invite;
  };
  return (
    <div class="detail">
      <label for="add-people">Add people</label>
      <input
        id="add-people"
        type="search"
        placeholder="Name, job title or department"
        onInput={(ev) => void search((ev.currentTarget as HTMLInputElement).value)}
      />
      <ul class="people" aria-label="People to add">
        {results.map((p) => (
          <li key={p.userId}>
            <span class="person">
              <Presence userId={p.userId} />
              {p.name}
              {p.role && <span class="role"> · {p.role}</span>}
            </span>
            {isIn(p.userId) ? (
              <span class="muted">In the conversation</span>
            ) : (
              <button type="button" class="plain" aria-label={`Add ${p.name}`} onClick={() => void add(p)}>
                Add
              </button>
            )}
          </li>
        ))}
      </ul>
      <p class="error" role="alert">
        {error}
      </p>
    </div>
  );
}

type Confirming = { kind: "remove"; userId: string; name: string } | { kind: "leave" } | null;

/** "Remove Cy Okafor?" or "Leave Ward 7?", with the way back; takes the focus. */
function Confirm(props: { question: string; action: string; onYes: () => void; onNo: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => ref.current?.querySelector<HTMLElement>("button")?.focus(), []);
  return (
    <div class="confirm" role="group" aria-label={props.question} ref={ref}>
      <p>{props.question}</p>
      <button type="button" class="danger" onClick={props.onYes}>
        {props.action}
      </button>
      <button type="button" class="plain" onClick={props.onNo}>
        Cancel
      </button>
    </div>
  );
}

export function DetailsDialog({ roomId }: { roomId: string }) {
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  const [confirming, setConfirming] = useState<Confirming>(null);
  const [error, setError] = useState("");
  const c = matrix();
  // Names, topics, members and power levels change while the dialog is open.
  useEffect(() => {
    const changed = (state: RoomState) => state.roomId === roomId && redraw(0);
    c.on(RoomStateEvent.Update, changed);
    return () => {
      c.off(RoomStateEvent.Update, changed);
    };
  }, [roomId]);
  const room = c.getRoom(roomId);
  const close = () => store.update({ details: false });
  if (!room) return null;
  const state = room.currentState;
  const myPower = room.getMember(me())?.powerLevel ?? 0;
  const canRemove = (userId: string) =>
    userId !== me() &&
    room.getMember(userId)?.membership !== KnownMembership.Leave &&
    state.hasSufficientPowerLevelFor("kick", myPower) &&
    (room.getMember(userId)?.powerLevel ?? 0) < myPower;
  const members = room
    .getMembers()
    .filter((m) => m.membership === KnownMembership.Join || m.membership === KnownMembership.Invite)
    .sort((a, b) => (a.userId === me() ? -1 : b.userId === me() ? 1 : a.name.localeCompare(b.name)));
  const topic = (state.getStateEvents("m.room.topic", "")?.getContent().topic as string | undefined) ?? "";
  const name = (state.getStateEvents("m.room.name", "")?.getContent().name as string | undefined) ?? "";

  const remove = async (userId: string, who: string) => {
    setConfirming(null);
    setError("");
    try {
      await c.kick(roomId, userId);
    } catch (e) {
      setError(failure(e, `${who} could not be removed.`));
    }
  };
  const leave = async () => {
    setConfirming(null);
    setError("");
    try {
      await c.leave(roomId);
      store.update({ details: false });
      closeRoom();
    } catch (e) {
      setError(failure(e, "You could not leave the conversation."));
    }
  };

  return (
    <Dialog label="Conversation details" onClose={close} class="details">
      <div class="details-head">
        <h2>{room.name}</h2>
        <button type="button" class="plain" onClick={close}>
          Close
        </button>
      </div>
      <Editable
        label="Name"
        id="room-name"
        value={name}
        allowed={state.maySendStateEvent("m.room.name", me())}
        save={(v) => c.setRoomName(roomId, v)}
      />
      <Editable
        label="Topic"
        id="room-topic"
        value={topic}
        allowed={state.maySendStateEvent("m.room.topic", me())}
        save={(v) => c.setRoomTopic(roomId, v)}
      />
      <PatientDetail roomId={roomId} />
      <RoomNotifications roomId={roomId} />
      <h3>Members ({members.length})</h3>
      <ul class="people" aria-label="Members">
        {members.map((m) => (
          <li key={m.userId}>
            <span class="person">
              <Presence userId={m.userId} />
              {m.userId === me() ? `${m.name} (you)` : m.name}
              <Role userId={m.userId} />
              {m.membership === KnownMembership.Invite && <span class="muted"> · invited</span>}
            </span>
            {canRemove(m.userId) && (
              <button
                type="button"
                class="plain"
                aria-label={`Remove ${m.name}`}
                onClick={() => setConfirming({ kind: "remove", userId: m.userId, name: m.name })}
              >
                Remove
              </button>
            )}
            {confirming?.kind === "remove" && confirming.userId === m.userId && (
              <Confirm
                question={`Remove ${m.name} from this conversation?`}
                action="Remove"
                onYes={() => void remove(m.userId, m.name)}
                onNo={() => setConfirming(null)}
              />
            )}
          </li>
        ))}
      </ul>
      <AddPeople room={room} />
      <p class="error" role="alert">
        {error}
      </p>
      {confirming?.kind === "leave" ? (
        <Confirm
          question={`Leave ${room.name}? Its new messages will no longer reach you.`}
          action="Leave"
          onYes={() => void leave()}
          onNo={() => setConfirming(null)}
        />
      ) : (
        <button type="button" class="plain danger-text" onClick={() => setConfirming({ kind: "leave" })}>
          Leave the conversation
        </button>
      )}
    </Dialog>
  );
}
