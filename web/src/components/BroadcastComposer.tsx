// Writing a broadcast: who it goes to (the organisation, a department, a role's holders), its
// title (the conversation's name: no patient details), the message, its priority and whether
// to ask for acknowledgement; then a confirmation that says how many people it reaches. One
// transaction id per broadcast reviewed, so sending again after a lost answer sends it once.

import { useEffect, useState } from "preact/hooks";

import { audienceSize, openBroadcasts, sendBroadcast } from "../broadcasts";
import type { Audience, Level } from "../broadcasts";
import { failure, listRoles } from "../roles";
import type { RoleView } from "../roles";
import { showToast } from "./Toast";

type Kind = Audience["kind"];

const newTxnId = (): string => `b${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;

export function BroadcastComposer({ departments }: { departments: string[] }) {
  // One per broadcast reviewed: "Send" again after a lost answer reuses it (the server sends
  // once); "Change" and a new review make a new one (a different broadcast, never the old id).
  const [txnId, setTxnId] = useState(newTxnId);
  const [kind, setKind] = useState<Kind>("department");
  const [department, setDepartment] = useState(departments[0] ?? "");
  const [roles, setRoles] = useState<RoleView[]>([]);
  const [role, setRole] = useState("");
  const [title, setTitle] = useState("");
  const [body, setBody] = useState("");
  const [level, setLevel] = useState<Level>("routine");
  const [acknowledge, setAcknowledge] = useState(true);
  const [confirming, setConfirming] = useState<number | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    listRoles()
      .then((rs) => {
        const live = rs.filter((r) => !r.retired);
        setRoles(live);
        if (live[0]) setRole((r) => r || live[0].role_id);
      })
      .catch(() => undefined);
  }, []);
  const audience = (): Audience =>
    kind === "organisation" ? { kind } : kind === "department" ? { kind, department } : { kind, roles: [role] };
  const review = async (ev: Event) => {
    ev.preventDefault();
    setError("");
    if (!title.trim() || !body.trim()) {
      setError("Give the broadcast a title and a message.");
      return;
    }
    setBusy(true);
    try {
      setTxnId(newTxnId());
      setConfirming(await audienceSize(audience()));
    } catch (e) {
      setError(failure(e, "The audience cannot be counted"));
    } finally {
      setBusy(false);
    }
  };
  const send = async () => {
    setBusy(true);
    setError("");
    try {
      const b = await sendBroadcast({ audience: audience(), title, body, level, acknowledge: acknowledge || level !== "routine", txn_id: txnId });
      showToast(`Broadcast sent to ${b.recipients} people`);
      openBroadcasts(b.broadcast_id);
    } catch (e) {
      setError(failure(e, "The broadcast was not sent"));
      setBusy(false);
    }
  };
  if (confirming !== null) {
    return (
      <section class="broadcast-confirm" aria-label="Confirm the broadcast">
        <p class="broadcast-count">
          This goes to <strong>{confirming}</strong> {confirming === 1 ? "person" : "people"}.
        </p>
        <p>
          <strong>{title}</strong>
          {level !== "routine" && <span class={`badge ${level}`}> {level === "urgent" ? "Urgent" : "Emergency"}</span>}
        </p>
        <p class="broadcast-body">{body}</p>
        {(acknowledge || level !== "routine") && <p class="muted">Each person is asked to acknowledge it.</p>}
        <p class="error" role="alert">
          {error}
        </p>
        <div class="role-actions">
          <button type="button" disabled={busy || confirming === 0} onClick={() => void send()}>
            Send to {confirming} {confirming === 1 ? "person" : "people"}
          </button>
          <button type="button" class="plain" disabled={busy} onClick={() => setConfirming(null)}>
            Change
          </button>
        </div>
      </section>
    );
  }
  return (
    <form class="broadcast-form" aria-label="New broadcast" onSubmit={(ev) => void review(ev)}>
      <fieldset>
        <legend>Send to</legend>
        <label>
          <input type="radio" name="kind" checked={kind === "department"} onChange={() => setKind("department")} /> A department
        </label>
        <label>
          <input type="radio" name="kind" checked={kind === "role"} onChange={() => setKind("role")} /> Whoever holds a role
        </label>
        <label>
          <input type="radio" name="kind" checked={kind === "organisation"} onChange={() => setKind("organisation")} /> The whole
          organisation
        </label>
      </fieldset>
      {kind === "department" && (
        <label>
          Department
          <select aria-label="Department" value={department} onChange={(ev) => setDepartment((ev.currentTarget as HTMLSelectElement).value)}>
            {departments.map((d) => (
              <option key={d} value={d}>
                {d}
              </option>
            ))}
          </select>
        </label>
      )}
      {kind === "role" && (
        <label>
          Role
          <select aria-label="Role" value={role} onChange={(ev) => setRole((ev.currentTarget as HTMLSelectElement).value)}>
            {roles.map((r) => (
              <option key={r.role_id} value={r.role_id}>
                {r.name}
              </option>
            ))}
          </select>
        </label>
      )}
      <label>
        Title (no patient details)
        <input maxLength={80} value={title} onInput={(ev) => setTitle((ev.currentTarget as HTMLInputElement).value)} />
      </label>
      <label>
        Message
        <textarea rows={5} maxLength={4000} value={body} onInput={(ev) => setBody((ev.currentTarget as HTMLTextAreaElement).value)} />
      </label>
      <label>
        Priority
        <select aria-label="Priority" value={level} onChange={(ev) => setLevel((ev.currentTarget as HTMLSelectElement).value as Level)}>
          <option value="routine">Routine</option>
          <option value="urgent">Urgent</option>
          <option value="emergency">Emergency</option>
        </select>
      </label>
      <label class="check">
        <input
          type="checkbox"
          checked={acknowledge || level !== "routine"}
          disabled={level !== "routine"}
          onChange={(ev) => setAcknowledge((ev.currentTarget as HTMLInputElement).checked)}
        />{" "}
        Ask for acknowledgement
      </label>
      <p class="error" role="alert">
        {error}
      </p>
      <button type="submit" disabled={busy}>
        Review
      </button>
    </form>
  );
}
