// Integration accounts (hospital systems): each with what it may do, the alarm kinds it may
// raise, its keys (when last used; revoke one, add one: the secret shown once), where its
// status reports go (its webhook, set by the system itself; a test report can be queued), its
// HL7 v2 binding (read only), and revoking the whole account. New accounts through the form.

import { useEffect, useState } from "preact/hooks";

import { addKey, loadIntegrations, revokeIntegration, revokeKey, testWebhook, updateAlarmAdmin } from "../alarmadmin";
import type { Integration, IntegrationKey } from "../alarmadminstate";
import { KINDS } from "../alarms";
import { failure } from "../roles";
import { useStore } from "../state";
import { logTime } from "../time";
import { IntegrationForm, SCOPES } from "./IntegrationForm";
import { KeyDialog } from "./KeyDialog";
import { memo } from "./memo";
import { showToast } from "./Toast";

function KeyRow({ integration, k, onError }: { integration: Integration; k: IntegrationKey; onError: (e: string) => void }) {
  const name = k.label ? `${k.label} (${k.key_id})` : k.key_id;
  const revoke = async () => {
    if (!window.confirm(`Revoke the key ${name} of ${integration.name}? The system can no longer use it.`)) return;
    try {
      await revokeKey(integration.integration_id, k.key_id);
      showToast(`Revoked the key ${name}`);
    } catch (e) {
      onError(failure(e, "The key was not revoked"));
    }
  };
  const expired = k.expires_ts !== null && k.expires_ts <= Date.now();
  return (
    <li class={`key-row${k.revoked_ts || expired ? " revoked" : ""}`}>
      <span class="key-name">{name}</span>
      <span class="muted">
        {k.revoked_ts ? `revoked ${logTime(k.revoked_ts)}` : expired ? "expired" : "active"}
        {" · "}
        {k.last_used_ts ? `last used ${logTime(k.last_used_ts)}` : "never used"}
        {" · "}made {logTime(k.created_ts)}
        {k.expires_ts && !expired ? ` · expires ${logTime(k.expires_ts)}` : ""}
      </span>
      {!k.revoked_ts && !expired && integration.active && (
        <button type="button" class="plain" aria-label={`Revoke key ${name}`} onClick={() => void revoke()}>
          Revoke
        </button>
      )}
    </li>
  );
}

const Card = memo(function Card({ integration: i }: { integration: Integration }) {
  const [error, setError] = useState("");
  const [label, setLabel] = useState("");
  const [shown, setShown] = useState<{ keyId: string; secret: string } | null>(null);
  const add = async (ev: Event) => {
    ev.preventDefault();
    setError("");
    try {
      const made = await addKey(i.integration_id, label.trim());
      setLabel("");
      setShown({ keyId: made.key_id, secret: made.key });
    } catch (e) {
      setError(failure(e, "No key was made"));
    }
  };
  const revoke = async () => {
    if (!window.confirm(`Revoke ${i.name}? Every key of it stops working at once. Its alarms and records are kept.`)) return;
    try {
      await revokeIntegration(i.integration_id);
      showToast(`Revoked ${i.name}`);
    } catch (e) {
      setError(failure(e, "The integration was not revoked"));
    }
  };
  const test = async () => {
    try {
      await testWebhook(i.integration_id);
      showToast(`A test report is on its way to ${i.name}`);
    } catch (e) {
      setError(failure(e, "No test report was queued"));
    }
  };
  const scopeWords = SCOPES.filter(([s]) => i.scopes.includes(s)).map(([s]) => s);
  const keys = i.keys ?? [];
  const usable = keys.filter((k) => !k.revoked_ts && !(k.expires_ts !== null && k.expires_ts <= Date.now())).length;
  return (
    <li class={`integration-card${i.active ? "" : " revoked"}`} aria-labelledby={`integration-${i.integration_id}`}>
      <h3 id={`integration-${i.integration_id}`}>
        {i.name} <span class="muted">({i.integration_id})</span>
        {i.active ? <span class="state-badge ok">Active</span> : <span class="state-badge revoked">Revoked</span>}
      </h3>
      <dl class="facts">
        <dt>Kind</dt>
        <dd>{i.kind}</dd>
        <dt>May</dt>
        <dd>{scopeWords.length ? scopeWords.join(", ") : "nothing"}</dd>
        <dt>Alarm kinds</dt>
        <dd>{i.allowed_kinds.length ? i.allowed_kinds.map((k) => KINDS[k]?.word ?? k).join(", ") : "any"}</dd>
        <dt>Webhook</dt>
        <dd>
          {i.webhook ? (
            <>
              {i.webhook.origin}{" "}
              {i.active && (
                <button type="button" class="plain" aria-label={`Send a test report to ${i.name}`} onClick={() => void test()}>
                  Send a test report
                </button>
              )}
            </>
          ) : (
            <span class="muted">none (the system sets its own)</span>
          )}
        </dd>
        <dt>HL7 v2</dt>
        <dd>
          {i.hl7 ? (
            <>
              MSH-3 {i.hl7.sending_application}
              {i.hl7.sending_facility && `, MSH-4 ${i.hl7.sending_facility}`}
              {" · from "}
              {i.hl7.allowed_addresses.join(", ") || "anywhere"}
              {" · "}
              {KINDS[i.hl7.default_kind]?.word ?? i.hl7.default_kind}
              {i.hl7.test ? " · test system" : ""}
            </>
          ) : (
            <span class="muted">not bound</span>
          )}
        </dd>
        {i.revoked_ts && (
          <>
            <dt>Revoked</dt>
            <dd>{logTime(i.revoked_ts)}</dd>
          </>
        )}
      </dl>
      <h4>
        Keys <span class="muted">({usable} usable)</span>
      </h4>
      {keys.length ? (
        <ul class="key-list" aria-label={`Keys of ${i.name}`}>
          {keys.map((k) => (
            <KeyRow key={k.key_id} integration={i} k={k} onError={setError} />
          ))}
        </ul>
      ) : (
        <p class="muted">No key yet: the system cannot sign in until it has one.</p>
      )}
      {i.active && (
        <form class="add-key" onSubmit={(ev) => void add(ev)} aria-label={`Add a key to ${i.name}`}>
          <label for={`key-label-${i.integration_id}`}>Label of a new key (optional)</label>
          <div class="add-key-row">
            <input id={`key-label-${i.integration_id}`} type="text" value={label} onInput={(ev) => setLabel((ev.currentTarget as HTMLInputElement).value)} />
            <button type="submit">Add key</button>
          </div>
        </form>
      )}
      <p class="error" role="alert">
        {error}
      </p>
      {i.active && (
        <div class="role-actions">
          <button type="button" class="plain danger-text" aria-label={`Revoke ${i.name}`} onClick={() => void revoke()}>
            Revoke integration
          </button>
        </div>
      )}
      {shown && <KeyDialog integration={i.name} keyId={shown.keyId} secret={shown.secret} onClose={() => setShown(null)} />}
    </li>
  );
});

export function IntegrationList() {
  const integrations = useStore((s) => s.alarmAdmin.integrations);
  const creating = useStore((s) => s.alarmAdmin.creating);
  const error = useStore((s) => s.alarmAdmin.errors.integrations ?? "");
  useEffect(() => void loadIntegrations(), []);
  return (
    <section aria-label="Integrations">
      <div class="admin-bar">
        <p class="muted">Hospital systems that raise alarms and hear what became of them.</p>
        {!creating && (
          <button type="button" onClick={() => updateAlarmAdmin({ creating: true })}>
            New integration
          </button>
        )}
      </div>
      <p class="error" role="alert">
        {error}
      </p>
      {creating && (
        <IntegrationForm
          onDone={(id) => {
            updateAlarmAdmin({ creating: false });
            if (id) showToast(`Created ${id}: add a key for it`);
          }}
        />
      )}
      {integrations === null ? (
        !error && <p class="muted">Asking the server…</p>
      ) : !integrations.length ? (
        <p>No integrations yet. Create one for each hospital system with New integration.</p>
      ) : (
        <ul class="integration-list">
          {integrations.map((i) => (
            <Card key={i.integration_id} integration={i} />
          ))}
        </ul>
      )}
    </section>
  );
}
