// My clinical alert topics (topics.ts): every topic, each open one with where I want its alerts
// (all wards, or wards and specialties by name, added and removed here; or, when the topic opens
// only some scopes to me, those to tick) and Save; the server's refusal is shown beside Save. A
// topic not open to me is listed as such, without controls.
// Each topic's card keeps what is being changed across updates of the list.

import { useEffect, useState } from "preact/hooks";

import { closeRoom } from "../conversation";
import { useStore } from "../state";
import { ALL, loadMyTopics, scopeString, scopeWords, subscribe, subscriptionRefusal, unsubscribe } from "../topics";
import type { MyTopic } from "../topics";
import { memo } from "./memo";

const same = (a: string[], b: string[]) => [...a].sort().join("\n") === [...b].sort().join("\n");

function Subscribed({ scopes }: { scopes: string[] }) {
  return (
    <p class={`topic-now${scopes.length ? " on" : ""}`}>
      {scopes.length ? (
        <>
          <span aria-hidden="true">✓ </span>You get its alerts for: {scopes.map(scopeWords).join(", ")}
        </>
      ) : (
        "You do not get its alerts."
      )}
    </p>
  );
}

/** The scopes of a topic open to me for any: all wards, or wards and specialties by name. */
function AnyScope(p: {
  t: MyTopic;
  draft: string[];
  places: string[];
  change: (next: string[]) => void;
  kind: "ward" | "specialty";
  setKind: (k: "ward" | "specialty") => void;
  name: string;
  setName: (n: string) => void;
  add: () => void;
  id: string;
}) {
  const { t, draft, places, change, kind, setKind, name, setName, add, id } = p;
  return (
    <>
      <label class="choice">
        <input type="checkbox" checked={draft.includes(ALL)} onChange={(ev) => change((ev.currentTarget as HTMLInputElement).checked ? [ALL, ...places] : places)} />
        All wards
      </label>
      {places.length > 0 && (
        <ul class="topic-scopes" aria-label={`${t.name}: wards and specialties`}>
          {places.map((s) => (
            <li key={s}>
              <span>{scopeWords(s)}</span>
              <button type="button" class="plain" aria-label={`Remove ${scopeWords(s)}`} onClick={() => change(draft.filter((x) => x !== s))}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <label for={`${id}-name`}>Add a ward or specialty by its name</label>
      <div class="add-key-row">
        <select aria-label="Ward or specialty" value={kind} onChange={(ev) => setKind((ev.currentTarget as HTMLSelectElement).value as "ward" | "specialty")}>
          <option value="ward">Ward</option>
          <option value="specialty">Specialty</option>
        </select>
        <input
          id={`${id}-name`}
          type="text"
          maxLength={64}
          value={name}
          onInput={(ev) => setName((ev.currentTarget as HTMLInputElement).value)}
          // Enter adds it (the form is saved by its own button).
          onKeyDown={(ev) => {
            if (ev.key !== "Enter") return;
            ev.preventDefault();
            add();
          }}
        />
        <button type="button" disabled={!name.trim()} onClick={add}>
          Add
        </button>
      </div>
    </>
  );
}

const OpenTopic = memo(function OpenTopic({ topic: t }: { topic: MyTopic }) {
  const [draft, setDraft] = useState<string[]>(t.scopes);
  const [kind, setKind] = useState<"ward" | "specialty">("ward");
  const [name, setName] = useState("");
  const [error, setError] = useState("");
  const [saved, setSaved] = useState("");
  const [busy, setBusy] = useState(false);
  const id = `topic-${t.id}`;
  const change = (next: string[]) => {
    setDraft(next);
    setSaved("");
    setError("");
  };
  const places = draft.filter((s) => s !== ALL);
  const add = () => {
    const s = scopeString(kind, name);
    if (!name.trim()) return;
    if (!draft.includes(s)) change([...draft, s]);
    setName("");
  };
  const run = async (what: () => Promise<string[]>) => {
    setBusy(true);
    setError("");
    setSaved("");
    try {
      const now = await what();
      setDraft(now);
      setSaved(now.length ? "Saved." : "Saved: you no longer get its alerts.");
    } catch (e) {
      setError(subscriptionRefusal(e));
    } finally {
      setBusy(false);
    }
  };
  const save = (ev: Event) => {
    ev.preventDefault();
    void run(() => subscribe(t.id, draft));
  };
  const stop = () =>
    void run(async () => {
      await unsubscribe(t.id);
      return [];
    });
  const changed = !same(draft, t.scopes);
  return (
    <li class="topic-card" aria-labelledby={id}>
      <h3 id={id}>{t.name}</h3>
      {t.description && <p class="muted">{t.description}</p>}
      <Subscribed scopes={t.scopes} />
      <form class="topic-form" aria-label={`Where you get ${t.name}`} onSubmit={save}>
        {t.allowed_scopes ? (
          <fieldset class="topic-allowed">
            <legend>Where it is open to you</legend>
            {t.allowed_scopes.map((s) => (
              <label class="choice" key={s}>
                <input
                  type="checkbox"
                  checked={draft.includes(s)}
                  onChange={(ev) => change((ev.currentTarget as HTMLInputElement).checked ? [...draft, s] : draft.filter((x) => x !== s))}
                />
                {scopeWords(s)}
              </label>
            ))}
          </fieldset>
        ) : (
          <AnyScope t={t} draft={draft} places={places} change={change} kind={kind} setKind={setKind} name={name} setName={setName} add={add} id={id} />
        )}
        <div class="topic-save">
          <button type="submit" disabled={busy}>
            Save
          </button>
          {t.scopes.length > 0 && (
            <button type="button" class="plain" disabled={busy} onClick={stop}>
              Stop all its alerts
            </button>
          )}
          <span class="muted" role="status">
            {changed && !busy ? "Not saved yet." : saved}
          </span>
        </div>
        <p class="error" role="alert">
          {error}
        </p>
      </form>
    </li>
  );
});

function ClosedTopic({ topic: t }: { topic: MyTopic }) {
  return (
    <li class="topic-card not-open" aria-labelledby={`topic-${t.id}`}>
      <h3 id={`topic-${t.id}`}>
        {t.name} <span class="state-badge off">Not open to you</span>
      </h3>
      {t.description && <p class="muted">{t.description}</p>}
      <p class="muted">The administrators choose who may take this topic's alerts.</p>
    </li>
  );
}

export function TopicSubscriptions() {
  const topics = useStore((s) => s.subscriptions.topics);
  const error = useStore((s) => s.subscriptions.error);
  useEffect(() => {
    void loadMyTopics();
  }, []);
  return (
    <>
      <header>
        <h2>Alert topics</h2>
      </header>
      <div class="settings topics-screen" role="region" aria-label="Alert topics">
        <p>
          Clinical alerts, such as a high NEWS2 score, come in a conversation of their own to those who take their topic, for the wards or specialties they choose.
        </p>
        <p class="error" role="alert">
          {error}
        </p>
        {topics === null ? (
          !error && <p class="muted">Asking the server…</p>
        ) : !topics.length ? (
          <p>There are no alert topics yet.</p>
        ) : (
          <ul class="topic-list" aria-label="Topics">
            {topics.map((t) => (t.may_subscribe ? <OpenTopic key={t.id} topic={t} /> : <ClosedTopic key={t.id} topic={t} />))}
          </ul>
        )}
        <button type="button" class="plain" onClick={closeRoom}>
          Close
        </button>
      </div>
    </>
  );
}
