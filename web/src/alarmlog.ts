// The live alarm log for administrators (`GET /_wardline/admin/v1/alarms`): the newest page
// first (`dir=b`), earlier pages on request (`before` = the oldest shown), and while the log is
// on screen and the page visible, a poll every 2 s: the alarms stored since the newest shown
// (`after`), then the newest shown read again so a status that changed (notified → accepted)
// is never shown stale. Filters (kind, state, outcome) are the server's; changing one starts
// again. Kept in the store (state.alarmAdmin.log); a failed poll keeps what was shown and says
// when it was last current.

import type { AlarmDetail, AlarmLog, LogAlarm, LogFilters } from "./alarmadminstate";
import { initialLog } from "./alarmadminstate";
import { updateAlarmAdmin } from "./alarmadmin";
import { KINDS, describeLocation } from "./alarms";
import { failure, wardline } from "./roles";
import { store } from "./state";

export const OUTCOMES: [string, string][] = [
  ["pending", "Pending"],
  ["notified", "Notified"],
  ["accepted", "Accepted"],
  ["failsafe", "At the failsafe"],
  ["undeliverable", "Undeliverable"],
  ["recorded", "Recorded only"],
  ["closed", "Closed"],
];

export const STATES: [string, string][] = [
  ["active", "Active"],
  ["reset", "Reset"],
  ["cancelled", "Cancelled"],
];

export function outcomeWord(o: string): string {
  return OUTCOMES.find(([k]) => k === o)?.[1] ?? o;
}

/** Outcomes that need an administrator's eye. */
export function badOutcome(o: string): boolean {
  return o === "failsafe" || o === "undeliverable";
}

const BASE = "/_wardline/admin/v1/alarms";
export const POLL_MS = 2000;
const PAGE = 50;
/** The newest shown that each poll reads again for their status. */
const REFRESH = 100;
/** Pages of new alarms read in one poll before drawing (an alarm storm is read over several). */
const NEW_PAGES = 5;

function updateLog(change: Partial<AlarmLog> | ((l: AlarmLog) => Partial<AlarmLog>)): void {
  updateAlarmAdmin((a) => ({ log: { ...a.log, ...(typeof change === "function" ? change(a.log) : change) } }));
}

function query(filters: LogFilters, extra: Record<string, string | number>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
  for (const [k, v] of Object.entries(extra)) q.set(k, String(v));
  return `${BASE}?${q.toString()}`;
}

async function page(filters: LogFilters, extra: Record<string, string | number>): Promise<LogAlarm[]> {
  return (await wardline<{ alarms: LogAlarm[] }>("GET", query(filters, extra))).alarms;
}

/** Bumped when the filters change or the log is left: an answer to an older ask is dropped. */
let generation = 0;

/** The newest page, for the filters in the store. */
async function first(): Promise<void> {
  const mine = ++generation;
  const { filters } = store.get().alarmAdmin.log;
  try {
    const rows = await page(filters, { dir: "b", limit: PAGE });
    if (mine !== generation) return;
    updateLog({ rows, loaded: true, more: rows.length === PAGE, error: "", asOf: Date.now() });
  } catch (e) {
    if (mine === generation) updateLog({ error: failure(e, "The alarm log cannot be shown") });
  }
}

/** One poll: what is new, then the newest shown again. */
async function poll(): Promise<void> {
  const mine = generation;
  const { filters, rows, loaded } = store.get().alarmAdmin.log;
  if (!loaded) return first();
  try {
    let newest = rows[0]?.seq ?? 0;
    const fresh: LogAlarm[] = [];
    for (let i = 0; i < NEW_PAGES; i++) {
      const got = await page(filters, { after: newest, limit: PAGE });
      fresh.push(...got);
      if (got.length) newest = got[got.length - 1].seq;
      if (got.length < PAGE) break;
    }
    const shown = Math.min(REFRESH, Math.max(rows.length + fresh.length, 1));
    const again = await page(filters, { dir: "b", before: newest + 1, limit: shown });
    if (mine !== generation) return;
    const announce = fresh.length ? newWords(fresh) : undefined;
    updateLog((l) => ({ rows: merge(l.rows, fresh, again), error: "", asOf: Date.now(), announce: announce ?? l.announce }));
  } catch (e) {
    if (mine === generation) updateLog({ error: failure(e, "The alarm log is not current") });
  }
}

/** "2 new alarms: Cardiac arrest, Main, Ward 7; Fire alarm, Ward 9" (the newest three named). */
function newWords(fresh: LogAlarm[]): string {
  const named = fresh
    .slice(-3)
    .reverse()
    .map((a) => [KINDS[a.kind]?.word ?? a.kind, describeLocation(a.location ?? {})].filter(Boolean).join(", "));
  return `${fresh.length} new alarm${fresh.length === 1 ? "" : "s"}: ${named.join("; ")}`;
}

/**
 * The rows after a poll: `again` (the newest, newest first, read after `fresh`) replaces every
 * row from its oldest up (a row there it no longer has has left the filter); new ones older
 * than that (an alarm storm) and the older rows stay below.
 */
export function merge(rows: LogAlarm[], fresh: LogAlarm[], again: LogAlarm[]): LogAlarm[] {
  // Nothing at all now fits the filter: nothing is shown.
  const oldest = again.length ? again[again.length - 1].seq : -Infinity;
  const newer = fresh.filter((a) => a.seq < oldest);
  const older = rows.filter((r) => r.seq < oldest && !newer.some((f) => f.seq === r.seq));
  return [...again, ...newer, ...older].sort((x, y) => y.seq - x.seq);
}

/** The page before the oldest shown. */
export async function loadEarlierAlarms(): Promise<void> {
  const mine = generation;
  const { filters, rows } = store.get().alarmAdmin.log;
  const oldest = rows[rows.length - 1]?.seq;
  if (oldest === undefined) return;
  try {
    const earlier = await page(filters, { dir: "b", before: oldest, limit: PAGE });
    if (mine !== generation) return;
    updateLog((l) => ({ rows: [...l.rows, ...earlier.filter((a) => a.seq < oldest)], more: earlier.length === PAGE, error: "" }));
  } catch (e) {
    if (mine === generation) updateLog({ error: failure(e, "Earlier alarms cannot be shown") });
  }
}

export function setLogFilter(change: Partial<LogFilters>): void {
  generation++;
  updateLog((l) => ({ filters: { ...l.filters, ...change }, rows: [], loaded: false, more: false, error: "" }));
  void first();
}

/**
 * Follows the log while it is on screen: the first page now, then a poll every 2 s while the
 * page is visible (at once when it becomes visible again). Returns what stops it.
 */
export function followLog(): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const tick = async () => {
    timer = undefined;
    if (stopped) return;
    if (document.visibilityState === "visible") await poll();
    if (!stopped) timer = setTimeout(() => void tick(), POLL_MS);
  };
  const visible = () => {
    // (A poll under way — no timer set — goes on and sets the next one itself.)
    if (document.visibilityState !== "visible" || stopped || timer === undefined) return;
    clearTimeout(timer);
    void tick();
  };
  void tick();
  document.addEventListener("visibilitychange", visible);
  return () => {
    stopped = true;
    generation++;
    if (timer !== undefined) clearTimeout(timer);
    document.removeEventListener("visibilitychange", visible);
    // What was shown goes when the log is left: opening it again shows it current.
    updateLog((l) => ({ ...initialLog, filters: l.filters }));
  };
}

/** One alarm with its timeline. */
export async function alarmDetail(alarmId: string): Promise<AlarmDetail> {
  return wardline<AlarmDetail>("GET", `${BASE}/${encodeURIComponent(alarmId)}`);
}

export function openAlarm(alarmId: string | null): void {
  updateLog({ open: alarmId });
}
