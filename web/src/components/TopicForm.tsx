// An administrator's form for one clinical alert topic: its id (new topics only), name,
// description and who may subscribe (roles and people, the TargetPicker's), each with the scopes
// it may choose if limited ("Ward 7, Ward 8": a ward's nurses to their wards; kept across
// edits, never dropped by saving the name). The server checks it
// when saved: its refusal is shown beside the buttons, and a change by someone else since the
// form was opened is explained, with a way to reload.

import { useState } from "preact/hooks";

import type { AdminTopic, Target } from "../alarmadminstate";
import type { RoleView } from "../roles";
import { isTopicConflict, limitScopes, limitText, saveTopic, targetKey, topicRefusal } from "../topics";
import { FormFoot } from "./FormFoot";
import { TargetPicker } from "./TargetPicker";

export function TopicForm(props: { stored: AdminTopic | null; roles: RoleView[]; onSaved: (name: string) => void; onCancel: () => void; onReload: () => void }) {
  const { stored } = props;
  const [id, setId] = useState(stored?.id ?? "");
  const [name, setName] = useState(stored?.name ?? "");
  const [description, setDescription] = useState(stored?.description ?? "");
  const [openTo, setOpenTo] = useState<Target[]>(stored?.open_to ?? []);
  // Each target's scope limit as typed, by its key (blank: any scope).
  const [limits, setLimits] = useState<Record<string, string>>(() =>
    Object.fromEntries((stored?.open_to ?? []).map((o) => [targetKey(o), limitText(o.scopes)])),
  );
  const [error, setError] = useState("");
  const [conflict, setConflict] = useState(false);
  const [busy, setBusy] = useState(false);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    setError("");
    setConflict(false);
    try {
      const open_to = openTo.map((t) => {
        const scopes = limitScopes(limits[targetKey(t)] ?? "");
        return scopes ? { ...t, scopes } : t;
      });
      await saveTopic({ id: id.trim(), name: name.trim(), description: description.trim(), open_to }, stored ? stored.version : null);
      props.onSaved(name.trim());
    } catch (e) {
      setConflict(!!stored && isTopicConflict(e));
      setError(topicRefusal(e, !stored));
      setBusy(false);
    }
  };
  // (Named as it was opened: the name being typed does not rename the form.)
  const title = stored ? `Edit ${stored.name}` : "New topic";
  return (
    <form class="role-form admin-form topic-admin-form" aria-label={title} onSubmit={(ev) => void submit(ev)}>
      <h3>{title}</h3>
      {stored ? (
        <p class="muted">Id: {stored.id}</p>
      ) : (
        <div class="field">
          <label for="topic-id">Topic id</label>
          <input id="topic-id" type="text" required maxLength={32} value={id} aria-describedby="topic-id-hint" onInput={(ev) => setId((ev.currentTarget as HTMLInputElement).value)} />
          <p class="muted" id="topic-id-hint">
            Lowercase letters, digits and -, such as news2-high. It cannot change later.
          </p>
        </div>
      )}
      <div class="field">
        <label for="topic-name">Name</label>
        <input id="topic-name" type="text" required value={name} aria-describedby="topic-name-hint" onInput={(ev) => setName((ev.currentTarget as HTMLInputElement).value)} />
        <p class="muted" id="topic-name-hint">
          As staff see it, such as NEWS2 ≥ 7. It names each alert's conversation.
        </p>
      </div>
      <div class="field">
        <label for="topic-description">Description (optional)</label>
        <input id="topic-description" type="text" value={description} onInput={(ev) => setDescription((ev.currentTarget as HTMLInputElement).value)} />
      </div>
      <TargetPicker label="Who may subscribe" targets={openTo} roles={props.roles} onChange={setOpenTo} />
      {openTo.length > 0 && (
        <fieldset class="topic-limits">
          <legend>Where each may subscribe (blank: any ward, specialty or all)</legend>
          {openTo.map((t) => {
            const key = targetKey(t);
            const who = t.kind === "role" ? (props.roles.find((r) => r.role_id === t.role)?.name ?? t.role) : t.user_id;
            return (
              <div class="field" key={key}>
                <label for={`limit-${key}`}>{who}: only</label>
                <input
                  id={`limit-${key}`}
                  type="text"
                  placeholder="Ward 7, Ward 8, specialty:Renal"
                  value={limits[key] ?? ""}
                  onInput={(ev) => {
                    const v = (ev.currentTarget as HTMLInputElement).value;
                    setLimits((l) => ({ ...l, [key]: v }));
                  }}
                />
              </div>
            );
          })}
        </fieldset>
      )}
      <FormFoot
        error={error}
        conflict={conflict}
        reloadLabel="Reload the topic"
        onReload={props.onReload}
        onCancel={props.onCancel}
        busy={busy}
        saveLabel={stored ? "Save topic" : "Create topic"}
      />
    </form>
  );
}
