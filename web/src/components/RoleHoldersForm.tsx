// An administrator sets who holds a role: exactly the people listed (each must be eligible; a
// role that must not be empty cannot be emptied: the server refuses, and says why).

import { useState } from "preact/hooks";

import { setHolders } from "../admin";
import type { Person } from "../directory";
import { failure } from "../roles";
import type { RoleView } from "../roles";
import { PeoplePicker } from "./PeoplePicker";
import { Who } from "./Who";

export function RoleHoldersForm({ role, onSaved }: { role: RoleView; onSaved: (r: RoleView) => void }) {
  const [holders, setList] = useState<{ userId: string; name?: string }[]>(role.holders.map((h) => ({ userId: h.user_id })));
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const add = (p: Person) => {
    if (!holders.some((h) => h.userId === p.userId)) setList([...holders, { userId: p.userId, name: p.name }]);
  };
  const save = async () => {
    setBusy(true);
    setError("");
    try {
      onSaved(await setHolders(role.role_id, holders.map((h) => h.userId), "set in the role editor"));
    } catch (e) {
      setError(failure(e, "The holders were not changed"));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="role-holders-form" aria-label={`Who holds ${role.name}`}>
      <h3>Who holds {role.name}</h3>
      {holders.length ? (
        <ul class="people">
          {holders.map((h) => (
            <li key={h.userId}>
              <span class="person">
                <Who userId={h.userId} fallback={h.name} />
              </span>
              <button type="button" class="plain" onClick={() => setList(holders.filter((x) => x.userId !== h.userId))}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p>
          <strong>Nobody</strong> will hold it.
        </p>
      )}
      <PeoplePicker label="Add a holder" onPick={add} exclude={holders.map((h) => h.userId)} />
      <p class="error" role="alert">
        {error}
      </p>
      <button type="button" disabled={busy} onClick={() => void save()}>
        Save holders
      </button>
    </section>
  );
}
