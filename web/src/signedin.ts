// Who is signed in, for the modules that act for them: the matrix-js-sdk client, the outbox
// and the session (set by chat.ts at start, cleared at sign-out).

import type { MatrixClient } from "./mx";
import type { Outbox } from "./outbox";
import type { Session } from "./session";

let client: MatrixClient | null = null;
let box: Outbox | null = null;
let session: Session | null = null;

export function signedIn(c: MatrixClient, o: Outbox, s: Session): void {
  client = c;
  box = o;
  session = s;
}

export function signedOut(): void {
  client = null;
  box = null;
  session = null;
}

export function matrix(): MatrixClient {
  if (!client) throw new Error("not signed in");
  return client;
}

export function hasClient(): boolean {
  return client !== null;
}

export function outbox(): Outbox | null {
  return box;
}

export function me(): string {
  return session?.userId ?? "";
}

export function token(): string {
  return session?.accessToken ?? "";
}
