// An administrator's form for a new integration account: its id (never changes), name, what
// kind of system it is, what it may do (scopes) and which kinds of alarm it may raise (none
// ticked: any). The server checks it; its refusal is shown beside the form.

import { useState } from "preact/hooks";

import { createIntegration } from "../alarmadmin";
import type { Scope } from "../alarmadminstate";
import { KINDS } from "../alarms";
import type { AlarmKind } from "../alarms";
import { failure } from "../roles";

export const SCOPES: [Scope, string][] = [
  ["alarms.write", "Raise, update, cancel and reset alarms (HTTP)"],
  ["alarms.read", "Read its own alarms and their status"],
  ["webhook.manage", "Set the webhook its status reports go to"],
  ["hl7.alarms", "Report alarms over HL7 v2 (ORU^R40)"],
  ["hl7.adt", "Keep patients' wards and beds current (HL7 ADT)"],
  ["hl7.observations", "Send observation results (HL7 ORU^R01)"],
  ["wctp", "Page over WCTP"],
];

export const KIND_LIST = Object.keys(KINDS) as AlarmKind[];

export function IntegrationForm(props: { onDone: (id: string | null) => void }) {
  const [id, setId] = useState("");
  const [name, setName] = useState("");
  const [kind, setKind] = useState("");
  const [scopes, setScopes] = useState<Scope[]>(["alarms.write", "alarms.read", "webhook.manage"]);
  const [kinds, setKinds] = useState<AlarmKind[]>([]);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const toggle = <T,>(list: T[], v: T, on: boolean) => (on ? [...list.filter((x) => x !== v), v] : list.filter((x) => x !== v));
  const submit = async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    setError("");
    try {
      await createIntegration({ integration_id: id.trim(), name: name.trim(), kind: kind.trim(), scopes, allowed_kinds: kinds });
      props.onDone(id.trim());
    } catch (e) {
      setError(failure(e, "The integration was not created"));
      setBusy(false);
    }
  };
  const input = (key: string, label: string, value: string, set: (v: string) => void, hint?: string) => (
    <>
      <label for={`integration-${key}`}>{label}</label>
      <input
        id={`integration-${key}`}
        type="text"
        required
        value={value}
        aria-describedby={hint ? `integration-${key}-hint` : undefined}
        onInput={(ev) => set((ev.currentTarget as HTMLInputElement).value)}
      />
      {hint && (
        <p class="muted" id={`integration-${key}-hint`}>
          {hint}
        </p>
      )}
    </>
  );
  return (
    <form class="role-form admin-form" aria-label="New integration" onSubmit={(ev) => void submit(ev)}>
      <h3>New integration</h3>
      {input("id", "Integration id", id, setId, "Lowercase letters, digits and -, such as ward7-nursecall. It cannot change later.")}
      {input("name", "Name", name, setName)}
      {input("kind", "Kind of system", kind, setKind, "Such as nurse call, fire panel, monitoring gateway.")}
      <fieldset>
        <legend>What it may do</legend>
        {SCOPES.map(([s, words]) => (
          <label class="check" key={s}>
            <input type="checkbox" checked={scopes.includes(s)} onChange={(ev) => setScopes(toggle(scopes, s, (ev.currentTarget as HTMLInputElement).checked))} /> {words}
          </label>
        ))}
      </fieldset>
      <fieldset>
        <legend>Kinds of alarm it may raise (none ticked: any)</legend>
        {KIND_LIST.map((k) => (
          <label class="check" key={k}>
            <input type="checkbox" checked={kinds.includes(k)} onChange={(ev) => setKinds(toggle(kinds, k, (ev.currentTarget as HTMLInputElement).checked))} /> {KINDS[k].word}
          </label>
        ))}
      </fieldset>
      <p class="error" role="alert">
        {error}
      </p>
      <div class="dialog-actions">
        <button type="button" class="plain" onClick={() => props.onDone(null)}>
          Cancel
        </button>
        <button type="submit" disabled={busy}>
          Create integration
        </button>
      </div>
    </form>
  );
}
