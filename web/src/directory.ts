// The organisation's directory (POST /user_directory/search): colleagues by name, job title or
// department, with their job title and department, which the Matrix profile does not carry.

import { watchPresence } from "./presence";
import { hasClient, matrix, me } from "./signedin";

export interface Person {
  userId: string;
  name: string;
  /** "Staff Nurse, Ward 7": job title and department, as far as the directory has them. */
  role: string;
}

function personFrom(u: { user_id: string; display_name?: string } & Record<string, unknown>): Person {
  return {
    userId: u.user_id,
    name: u.display_name ?? u.user_id,
    role: [u["org.wardline.job_title"], u["org.wardline.department"]].filter((v) => typeof v === "string" && v).join(", "),
  };
}

/** Colleagues matching `term` (not me), their presence watched. */
export async function searchPeople(term: string, limit = 20): Promise<Person[]> {
  const r = await matrix().searchUserDirectory({ term: term.trim(), limit });
  return r.results
    .filter((u) => u.user_id !== me())
    // Roles ("Medical Registrar On-call") are in the directory too; this client cannot open a
    // conversation with a role yet, so it offers people only rather than a choice that fails.
    .filter((u) => !("org.wardline.role" in u))
    .map((u) => {
      watchPresence(u.user_id);
      return personFrom(u as typeof u & Record<string, unknown>);
    });
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
