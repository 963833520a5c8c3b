// The organisation's directory (POST /user_directory/search): colleagues by name, job title or
// department, with their job title and department, which the Matrix profile does not carry;
// and roles ("Medical Registrar On-call"), with who holds them now.

import { watchPresence } from "./presence";
import type { RoleView } from "./rolestate";
import { hasClient, matrix, me } from "./signedin";

export interface Person {
  userId: string;
  name: string;
  /** "Staff Nurse, Ward 7": job title and department, as far as the directory has them. */
  role: string;
  /** The roles they hold now ("Medical Registrar On-call"). */
  holds?: string[];
}

function personFrom(u: { user_id: string; display_name?: string } & Record<string, unknown>): Person {
  return {
    userId: u.user_id,
    name: u.display_name ?? u.user_id,
    role: [u["org.wardline.job_title"], u["org.wardline.department"]].filter((v) => typeof v === "string" && v).join(", "),
    holds: Array.isArray(u["org.wardline.roles"])
      ? (u["org.wardline.roles"] as { name?: unknown }[]).map((r) => r.name).filter((n): n is string => typeof n === "string")
      : undefined,
  };
}

type Entry = { user_id: string; display_name?: string } & Record<string, unknown>;

function people(results: Entry[]): Person[] {
  return results
    .filter((u) => u.user_id !== me())
    // Roles ("Medical Registrar On-call") are in the directory too: a picker of people (a
    // successor, a cover, a new member) offers people only. New message offers both.
    .filter((u) => !("org.wardline.role" in u))
    .map((u) => {
      watchPresence(u.user_id);
      return personFrom(u);
    });
}

/** Colleagues matching `term` (not me), their presence watched. */
export async function searchPeople(term: string, limit = 20): Promise<Person[]> {
  const r = await matrix().searchUserDirectory({ term: term.trim(), limit });
  return people(r.results as Entry[]);
}

/** Roles and colleagues matching `term` ("on-call registrar", "Priya"): roles first. */
export async function searchDirectory(term: string, limit = 20): Promise<{ roles: RoleView[]; people: Person[] }> {
  const r = await matrix().searchUserDirectory({ term: term.trim(), limit });
  const results = r.results as Entry[];
  const roles = results
    .map((u) => u["org.wardline.role"] as RoleView | undefined)
    .filter((role): role is RoleView => typeof role === "object" && role !== null && typeof role.role_id === "string");
  return { roles, people: people(results) };
}

const known = new Map<string, Promise<Person | null>>();

/** One colleague's directory entry (looked up by user id, once per session). */
export function personOf(userId: string): Promise<Person | null> {
  let p = known.get(userId);
  if (!p) {
    p = hasClient()
      ? matrix()
          .searchUserDirectory({ term: userId, limit: 5 })
          .then((r) => {
            const u = r.results.find((x) => x.user_id === userId);
            return u ? personFrom(u as typeof u & Record<string, unknown>) : null;
          })
      : Promise.resolve(null);
    // A failure (offline) is asked again next time.
    p.catch(() => known.delete(userId));
    known.set(userId, p);
  }
  return p;
}

/** Forgets what was looked up (sign-out). */
export function forgetDirectory(): void {
  known.clear();
}
