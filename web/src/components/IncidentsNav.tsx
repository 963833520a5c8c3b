// The sidebar's "Incidents" entry, with how many are open (red, with a sign and the word, when
// any is): the incident conversations I am in (incidents.ts).

import { showPanel } from "../conversation";
import { useStore } from "../state";

export function IncidentsNav() {
  const open = useStore((s) => s.incidents?.filter((i) => i.state === "open").length ?? 0);
  return (
    <button class={`plain incidents-nav${open ? " has-open" : ""}`} onClick={() => showPanel("incidents")}>
      Incidents
      {open > 0 && (
        <span class="incidents-open">
          <span aria-hidden="true"> ‼</span> {open} open
        </span>
      )}
    </button>
  );
}
