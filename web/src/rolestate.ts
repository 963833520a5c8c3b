// The part of the one store about roles and on-call (issue 13): the roles as the server last
// said (by id), the role page open, whether I am an administrator, people's own names (their
// profile, not a room's name for them), and what the server answered about messages sent to a
// role nobody holds. Types only and the initial value: roles.ts and rolechat.ts write it.

export interface Holder {
  user_id: string;
  since_ts: number;
  /** How they came to hold it: swipe_in, handover, rota, admin… */
  how: string;
  /** Who handed it to them. */
  from: string | null;
}

export interface Eligibility {
  users: string[];
  job_titles: string[];
  departments: string[];
}

/** A role as the staff endpoints (and the directory) describe it. */
export interface RoleView {
  role_id: string;
  /** The role's own Matrix user id, `@role.<id>:server`. */
  user_id: string | null;
  name: string;
  department: string | null;
  site: string | null;
  bleep: string | null;
  may_be_empty: boolean;
  fallback: string | null;
  retired?: boolean;
  holders: Holder[];
  /** Only from a role's own page and the administration API. */
  eligibility?: Eligibility;
  version?: number;
}

/** A role a message of mine was sent to while nobody held it (the send's answer). */
export interface UnheldRole {
  id: string;
  name: string;
  fallback: { id: string; name: string } | null;
  /** Did the fallback (someone holding it) receive the message? */
  reached: boolean;
  /** The role's bleep, to use instead. */
  bleep: string | null;
}

export interface OnCall {
  roles: Record<string, RoleView>;
  /** The whole list has been read (the on-call view, New message). */
  listed: boolean;
  /** The role whose page is shown (panel "role"). */
  page: string | null;
  /** The role being edited by an administrator ("" a new one), or null: the list. */
  editing: string | null;
  admin: boolean;
  /** People's own names, by user id (GET /profile). */
  names: Record<string, string>;
  /** My messages sent to a role nobody held, by event id. */
  unheld: Record<string, UnheldRole[]>;
  /** The latest such message per conversation: shown by the composer until dismissed. */
  warning: Record<string, { eventId: string; roles: UnheldRole[] }>;
}

export const initialOnCall: OnCall = {
  roles: {},
  listed: false,
  page: null,
  editing: null,
  admin: false,
  names: {},
  unheld: {},
  warning: {},
};
