// Starting a conversation: find colleagues in the directory (name, job title, department),
// choose one or more, name the group; or find a role ("on-call registrar") and message it.

import { useEffect, useRef, useState } from "preact/hooks";

import { closeRoom, openRoom } from "../conversation";
import { searchDirectory } from "../directory";
import type { Person } from "../directory";
import type { RoleView } from "../roles";
import { matrix } from "../signedin";
import { ClientEvent } from "../mx";
import { Presence } from "./Presence";
import { RoleResults } from "./RoleResults";

export function NewChat() {
  const [results, setResults] = useState<Person[]>([]);
  const [roles, setRoles] = useState<RoleView[]>([]);
  const [chosen, setChosen] = useState<Map<string, string>>(new Map());
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const seq = useRef(0);
  const term = useRef<HTMLInputElement>(null);
  useEffect(() => term.current?.focus(), []);

  const search = async (q: string) => {
    const mine = ++seq.current;
    if (!q.trim()) {
      setRoles([]);
      return setResults([]);
    }
    // Search once typing pauses, not on every keystroke (each search scans the directory).
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (mine !== seq.current) return;
    const found = await searchDirectory(q).catch(() => null);
    if (mine !== seq.current || !found) return;
    setResults(found.people);
    setRoles(found.roles);
  };

  const toggle = (p: Person, on: boolean) => {
    const next = new Map(chosen);
    if (on) next.set(p.userId, p.name);
    else next.delete(p.userId);
    setChosen(next);
  };

  const submit = async (ev: Event) => {
    ev.preventDefault();
    const form = ev.currentTarget as HTMLFormElement;
    if (chosen.size === 0) {
      setError("Choose at least one person.");
      return;
    }
    setBusy(true);
    setError("");
    try {
      const c = matrix();
      const direct = chosen.size === 1;
      const groupName = (form.elements.namedItem("group-name") as HTMLInputElement).value.trim();
      const { room_id } = await c.createRoom({
        invite: [...chosen.keys()],
        is_direct: direct,
        name: direct ? undefined : groupName || [...chosen.values()].join(", "),
      });
      await new Promise<void>((resolve) => {
        const ready = () => {
          if (!c.getRoom(room_id)) return;
          c.off(ClientEvent.Room, ready);
          resolve();
        };
        c.on(ClientEvent.Room, ready);
        ready();
      });
      openRoom(room_id);
    } catch (e) {
      setError(e instanceof Error ? e.message : "Could not start the chat.");
      setBusy(false);
    }
  };

  return (
    <>
      <header>
        <h2>New chat</h2>
      </header>
      <form class="newchat" aria-label="New chat" onSubmit={submit}>
        <label for="people-search">Find people or roles</label>
        <input
          ref={term}
          type="search"
          id="people-search"
          placeholder="Name, job title, department or role"
          onInput={(ev) => void search((ev.currentTarget as HTMLInputElement).value)}
        />
        <RoleResults roles={roles} />
        {roles.length > 0 && results.length > 0 && <h3 class="found-kind">People</h3>}
        <ul aria-label="People">
          {results.map((p) => (
            <li key={p.userId}>
              <label>
                <input
                  type="checkbox"
                  checked={chosen.has(p.userId)}
                  onChange={(ev) => toggle(p, (ev.currentTarget as HTMLInputElement).checked)}
                />
                <Presence userId={p.userId} />
                <span>
                  {`${p.name}${p.role ? ` — ${p.role}` : ""}`}
                  {p.holds?.length ? <span class="muted"> · on shift as {p.holds.join(", ")}</span> : null}
                </span>
              </label>
            </li>
          ))}
        </ul>
        <label for="group-name">Group name</label>
        <input type="text" id="group-name" name="group-name" placeholder="Group name (for 2 or more people)" />
        <p class="error" role="alert">
          {error}
        </p>
        <button type="submit" disabled={busy}>
          Start chat
        </button>
        <button type="button" class="plain" onClick={closeRoom}>
          Cancel
        </button>
      </form>
    </>
  );
}
