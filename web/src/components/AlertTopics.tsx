// Clinical alert topics for administrators (topics.ts): each with who may subscribe and how many
// have, to edit or delete (asked first: its subscriptions go, its alerts' conversations stay);
// a new topic through the form. Rules send results to a topic (RuleForm's "Clinical alert topic").

import { useEffect, useState } from "preact/hooks";

import { adminRoles } from "../admin";
import { updateAlarmAdmin } from "../alarmadmin";
import type { AdminTopic, Target } from "../alarmadminstate";
import { failure, personName } from "../roles";
import type { RoleView } from "../roles";
import { targetWord } from "../rulewords";
import { useStore } from "../state";
import { loadTopics, removeTopic } from "../topics";
import { showToast } from "./Toast";
import { TopicForm } from "./TopicForm";

function TopicCard(props: { topic: AdminTopic; target: (t: Target) => string; onError: (e: string) => void }) {
  const { topic: t } = props;
  const remove = async () => {
    if (!window.confirm(`Delete the topic ${t.name}? Its ${t.subscribers} subscriptions go; the conversations of its alerts stay.`)) return;
    try {
      await removeTopic(t.id);
      showToast(`Deleted ${t.name}`);
    } catch (e) {
      props.onError(failure(e, "The topic was not deleted"));
    }
  };
  return (
    <li class="rule-card topic-admin-card" aria-labelledby={`admin-topic-${t.id}`}>
      <h3 id={`admin-topic-${t.id}`}>
        {t.name} <span class="muted">({t.id})</span>
      </h3>
      {t.description && <p>{t.description}</p>}
      <p>
        <span class="alarm-label">Open to: </span>
        {t.open_to.length ? t.open_to.map(props.target).join(", ") : "nobody"}
      </p>
      <p>
        <span class="alarm-label">Subscribers: </span>
        {t.subscribers}
      </p>
      <p class="muted">Version {t.version}</p>
      <div class="role-actions">
        <button type="button" class="plain" aria-label={`Edit ${t.name}`} onClick={() => updateAlarmAdmin({ editingTopic: t.id })}>
          Edit
        </button>
        <button type="button" class="plain" aria-label={`Delete ${t.name}`} onClick={() => void remove()}>
          Delete
        </button>
      </div>
    </li>
  );
}

export function AlertTopics() {
  const topics = useStore((s) => s.alarmAdmin.topics);
  const editing = useStore((s) => s.alarmAdmin.editingTopic);
  const error = useStore((s) => s.alarmAdmin.errors.topics ?? "");
  const [roles, setRoles] = useState<RoleView[]>([]);
  const [local, setLocal] = useState("");
  /** Bumped by "Reload the topic": the form starts again from what the server has now. */
  const [round, setRound] = useState(0);
  useEffect(() => {
    void loadTopics();
    adminRoles()
      .then(setRoles)
      .catch((e) => setLocal(failure(e, "The roles cannot be listed")));
  }, []);
  const roleName = (id: string) => roles.find((r) => r.role_id === id)?.name ?? id;
  const target = (t: Target) => targetWord(t, roleName, (u) => personName(u));
  if (editing !== null && topics) {
    const stored = topics.find((t) => t.id === editing) ?? null;
    if (editing && !stored) {
      return (
        <section aria-label="Alert topics">
          <p>That topic is gone: someone deleted it.</p>
          <button type="button" onClick={() => updateAlarmAdmin({ editingTopic: null })}>
            Back to the topics
          </button>
        </section>
      );
    }
    return (
      <section aria-label="Alert topics">
        <TopicForm
          key={`${editing} ${stored?.version ?? 0} ${round}`}
          stored={stored}
          roles={roles}
          onSaved={(name) => {
            showToast(`Saved the topic ${name}`);
            updateAlarmAdmin({ editingTopic: null });
          }}
          onCancel={() => updateAlarmAdmin({ editingTopic: null })}
          onReload={() => {
            void loadTopics().then(() => setRound((n) => n + 1));
          }}
        />
      </section>
    );
  }
  return (
    <section aria-label="Alert topics">
      <div class="admin-bar">
        <p class="muted">Clinical alerts (NEWS2 ≥ 7, sepsis) that staff subscribe to by ward or specialty. A rule sends results to a topic.</p>
        <button type="button" onClick={() => updateAlarmAdmin({ editingTopic: "" })}>
          New topic
        </button>
      </div>
      <p class="error" role="alert">
        {error || local}
      </p>
      {topics === null ? (
        !error && <p class="muted">Asking the server…</p>
      ) : topics.length ? (
        <ul class="rule-list" aria-label="Topics">
          {topics.map((t) => (
            <TopicCard key={t.id} topic={t} target={target} onError={setLocal} />
          ))}
        </ul>
      ) : (
        <p>No alert topics yet. Create one with New topic.</p>
      )}
    </section>
  );
}
