// Choosing one colleague from the directory (a successor for a role, a holder): people only,
// never roles; the search waits for typing to pause.

import { useEffect, useRef, useState } from "preact/hooks";

import { searchPeople } from "../directory";
import type { Person } from "../directory";
import { Presence } from "./Presence";

export function PeoplePicker(props: { label: string; onPick: (p: Person) => void; exclude?: string[]; autofocus?: boolean }) {
  const [results, setResults] = useState<Person[]>([]);
  const [searched, setSearched] = useState("");
  const seq = useRef(0);
  const input = useRef<HTMLInputElement>(null);
  const id = useRef(`picker-${Math.random().toString(36).slice(2)}`);
  useEffect(() => {
    if (props.autofocus) input.current?.focus();
  }, []);
  const search = async (q: string) => {
    const mine = ++seq.current;
    if (!q.trim()) {
      setSearched("");
      return setResults([]);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (mine !== seq.current) return;
    const found = await searchPeople(q).catch(() => null);
    if (mine !== seq.current || !found) return;
    setSearched(q.trim());
    setResults(found.filter((p) => !props.exclude?.includes(p.userId)));
  };
  return (
    <div class="picker">
      <label for={id.current}>{props.label}</label>
      <input
        ref={input}
        id={id.current}
        type="search"
        placeholder="Name, job title or department"
        onInput={(ev) => void search((ev.currentTarget as HTMLInputElement).value)}
      />
      <ul class="pick-list" aria-label="People found">
        {results.map((p) => (
          <li key={p.userId}>
            <button type="button" class="pick" onClick={() => props.onPick(p)}>
              <Presence userId={p.userId} />
              {p.name}
              {p.role && <span class="muted"> — {p.role}</span>}
              {p.holds?.length ? <span class="muted"> · on shift as {p.holds.join(", ")}</span> : null}
            </button>
          </li>
        ))}
      </ul>
      {searched && !results.length && <p class="muted">Nobody found for “{searched}”.</p>}
    </div>
  );
}
