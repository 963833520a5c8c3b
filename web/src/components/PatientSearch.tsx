// Finding a patient in the patient record for the open conversation, and tying it to them. Three
// ways, as tabs: the NHS number (its check digit checked here first, as the server checks it),
// the hospital number, or the family name and date of birth. Each patient found shows their
// name ("SMITH, John"), date of birth with age, NHS number (3 3 4), hospital number and where
// they are (and who says so), with "Tie to this conversation". The search says which
// conversation it is for (the server checks I am in it, and audits it so). Nothing typed or
// found is kept anywhere but this dialog (the inputs ask the browser not to remember them).

import { useRef, useState } from "preact/hooks";

import {
  bornWords,
  groupedNhs,
  patientFailure,
  placeSource,
  placeWords,
  readNhsNumber,
  recordFlags,
  searchPatients,
  showPatientDialog,
  tiePatient,
} from "../patients";
import type { Found, Patient, PatientQuery } from "../patients";
import { Refused } from "../roles";
import { useStore } from "../state";
import { Dialog } from "./Dialog";
import { showToast } from "./Toast";

type Way = "nhs" | "hospital" | "name";

const WAYS: [Way, string][] = [
  ["nhs", "NHS number"],
  ["hospital", "Hospital number"],
  ["name", "Name and date of birth"],
];

/** Today as a date input wants it (no date of birth is later). */
function today(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** Why a search was refused: the server's words for a query it will not take, else the EPR's state in words. */
function searchFailure(e: unknown): string {
  if (e instanceof Refused && e.status === 400) return e.message.charAt(0).toUpperCase() + e.message.slice(1);
  return patientFailure(e, "The search failed");
}

/** One patient found: who, born, numbers, where (and who says so). */
export function PatientLines({ p }: { p: Patient }) {
  const where = placeWords(p.place);
  return (
    <>
      <strong class="patient-name-text">{p.name}</strong>
      <span class="patient-facts">
        {recordFlags(p).map((f) => (
          <span key={f} class="patient-restricted">
            {f}
          </span>
        ))}
        {p.birth_date && <span>Born {bornWords(p.birth_date)}</span>}
        {p.nhs_number && <span>NHS {groupedNhs(p.nhs_number)}</span>}
        {p.hospital_number && <span>Hospital no. {p.hospital_number}</span>}
        {where ? (
          <span>
            {where} <span class="muted">({placeSource(p.place)})</span>
          </span>
        ) : (
          p.place_unknown && <span class="muted">Where they are could not be read</span>
        )}
      </span>
    </>
  );
}

export function PatientSearch({ roomId, roomName }: { roomId: string; roomName: string }) {
  const tiedTo = useStore((s) => s.patients.rooms[roomId]?.tie?.patient.id ?? null);
  const tiedName = useStore((s) => s.patients.rooms[roomId]?.tie?.patient.name ?? null);
  const [replacing, setReplacing] = useState<string | null>(null);
  const [way, setWay] = useState<Way>("nhs");
  const [nhs, setNhs] = useState("");
  const [number, setNumber] = useState("");
  const [family, setFamily] = useState("");
  const [given, setGiven] = useState("");
  const [born, setBorn] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [found, setFound] = useState<Found | null>(null);
  const [tying, setTying] = useState<string | null>(null);
  const [tieError, setTieError] = useState<{ id: string; text: string } | null>(null);
  const seq = useRef(0);
  const tabs = useRef<HTMLDivElement>(null);
  const close = () => showPatientDialog(null);

  // Results are for what was typed when they were asked: choosing another way, or changing
  // what is typed, takes them away (and a search still running is forgotten), so "Tie" is
  // never offered beside another patient's number.
  const forget = () => {
    seq.current++;
    setBusy(false);
    setFound(null);
    setTieError(null);
  };
  const choose = (w: Way) => {
    setWay(w);
    setError("");
    forget();
  };
  // Arrow keys move along the ways (and choose), as a tab list does.
  const keydown = (ev: KeyboardEvent) => {
    const at = WAYS.findIndex(([w]) => w === way);
    const to =
      ev.key === "ArrowRight" ? (at + 1) % WAYS.length : ev.key === "ArrowLeft" ? (at + WAYS.length - 1) % WAYS.length : ev.key === "Home" ? 0 : ev.key === "End" ? WAYS.length - 1 : -1;
    if (to < 0) return;
    ev.preventDefault();
    choose(WAYS[to][0]);
    tabs.current?.querySelectorAll<HTMLElement>("[role=tab]")[to]?.focus();
  };

  /** The query typed, or why it cannot be asked (said here, before the server is asked). */
  const query = (): PatientQuery | string => {
    if (way === "nhs") {
      const r = readNhsNumber(nhs);
      return "error" in r ? r.error : { by: "nhs", nhs: r.digits };
    }
    if (way === "hospital") return number.trim() ? { by: "hospital", number } : "Type the hospital number.";
    if (!family.trim()) return "Type the family name.";
    if (!/^\d{4}-\d{2}-\d{2}$/.test(born)) return "Give the date of birth.";
    if (born > today()) return "The date of birth is in the future.";
    return { by: "name", family, given, born };
  };

  const search = async (ev: Event) => {
    ev.preventDefault();
    const q = query();
    setFound(null);
    setTieError(null);
    if (typeof q === "string") {
      setError(q);
      return;
    }
    const mine = ++seq.current;
    setError("");
    setBusy(true);
    try {
      const r = await searchPatients(q, roomId);
      if (mine === seq.current) setFound(r);
    } catch (e) {
      if (mine === seq.current) setError(searchFailure(e));
    } finally {
      if (mine === seq.current) setBusy(false);
    }
  };

  const tie = async (p: Patient) => {
    // Replacing the patient a conversation is about is asked twice, as removing one is.
    if (tiedTo && replacing !== p.id) {
      setReplacing(p.id);
      return;
    }
    setReplacing(null);
    setTying(p.id);
    setTieError(null);
    try {
      await tiePatient(roomId, p);
      showToast(`${roomName || "The conversation"} is about ${p.name}`);
      close();
    } catch (e) {
      setTieError({ id: p.id, text: patientFailure(e, "Not tied") });
      setTying(null);
    }
  };

  const field = (id: string, label: string, value: string, set: (v: string) => void, extra: Record<string, unknown> = {}) => (
    <>
      <label for={id}>{label}</label>
      <input
        id={id}
        type="text"
        value={value}
        autoComplete="off"
        spellcheck={false}
        onInput={(ev) => {
          set((ev.currentTarget as HTMLInputElement).value);
          forget();
        }}
        {...extra}
      />
    </>
  );

  return (
    <Dialog label="Find a patient" onClose={close} class="patient-search">
      <div class="details-head">
        <h2>Find a patient</h2>
        <button type="button" class="plain" onClick={close}>
          Close
        </button>
      </div>
      <p class="muted">
        For {roomName || "this conversation"}: everyone in it will see whom it is about.
      </p>
      {tiedName && <p class="patient-current">Currently about {tiedName}: tying another patient replaces them for everyone.</p>}
      <div class="admin-tabs ways" role="tablist" aria-label="Find by" ref={tabs} onKeyDown={keydown}>
        {WAYS.map(([w, label]) => (
          <button
            key={w}
            type="button"
            role="tab"
            id={`patient-way-${w}`}
            aria-selected={w === way}
            aria-controls="patient-way-panel"
            tabIndex={w === way ? 0 : -1}
            class={`admin-tab${w === way ? " chosen" : ""}`}
            onClick={() => choose(w)}
          >
            {label}
          </button>
        ))}
      </div>
      <div id="patient-way-panel" role="tabpanel" aria-labelledby={`patient-way-${way}`}>
        <form onSubmit={(ev) => void search(ev)} noValidate>
          {way === "nhs" && field("patient-nhs", "NHS number", nhs, setNhs, { inputMode: "numeric", placeholder: "943 476 5919", maxLength: 12, autoFocus: true })}
          {way === "hospital" && field("patient-hospital", "Hospital number", number, setNumber, { maxLength: 64, autoFocus: true })}
          {way === "name" && (
            <div class="patient-name-fields">
              <div>{field("patient-family", "Family name", family, setFamily, { maxLength: 100, autoFocus: true })}</div>
              <div>{field("patient-given", "Given name (optional)", given, setGiven, { maxLength: 100 })}</div>
              <div>
                <label for="patient-born">Date of birth</label>
                <input id="patient-born" type="date" value={born} max={today()} autoComplete="off" onInput={(ev) => {
                    setBorn((ev.currentTarget as HTMLInputElement).value);
                    forget();
                  }}
                />
              </div>
            </div>
          )}
          <p class="error" role="alert">
            {error}
          </p>
          <div class="dialog-actions">
            <button type="submit" disabled={busy}>
              {busy ? "Searching…" : "Search"}
            </button>
          </div>
        </form>
      </div>
      <p class="sr-only" role="status" aria-live="polite">
        {found ? (found.patients.length === 0 ? "No patient found" : `${found.patients.length} patient${found.patients.length === 1 ? "" : "s"} found`) : ""}
      </p>
      {found && (
        <div class="patient-found">
          {found.patients.length === 0 ? (
            <p>No patient found. Check what you typed, or try another way.</p>
          ) : (
            <ul class="patient-results" aria-label="Patients found">
              {found.patients.map((p) => (
                <li key={p.id}>
                  <div class="patient-lines">
                    <PatientLines p={p} />
                  </div>
                  {p.id === tiedTo ? (
                    <span class="muted">This conversation is about this patient</span>
                  ) : p.merged || p.merged_into ? (
                    <span class="muted">Merged: not the record to use</span>
                  ) : (
                    <button type="button" class={replacing === p.id ? "danger" : undefined} disabled={tying !== null} onClick={() => void tie(p)}>
                      {tying === p.id
                        ? "Tying…"
                        : replacing === p.id
                          ? `Replace ${tiedName ?? "the patient"} with ${p.name}`
                          : tiedTo
                            ? "Replace with this patient"
                            : "Tie to this conversation"}
                    </button>
                  )}
                  {tieError?.id === p.id && (
                    <p class="error" role="alert">
                      {tieError.text}
                    </p>
                  )}
                </li>
              ))}
            </ul>
          )}
          {found.more && <p class="notice">More patients match than are shown: add a given name, or search by NHS number.</p>}
        </div>
      )}
    </Dialog>
  );
}
