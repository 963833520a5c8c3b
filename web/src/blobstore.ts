// Files waiting in the outbox, kept in IndexedDB so a reload of the tab does not lose them.
// Each is tagged with the signed-in tab session that wrote it: deleted at that session's
// sign-out, and swept at start when that session is no longer open in any tab.

const DB = "wardline-outbox";
const STORE = "files";

interface Row {
  txnId: string;
  owner: string;
  blob: Blob;
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "txnId" });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run<T>(mode: IDBTransactionMode, work: (s: IDBObjectStore) => IDBRequest<T> | void): Promise<T | undefined> {
  const db = await open();
  try {
    return await new Promise<T | undefined>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req ? req.result : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

export async function putFile(owner: string, txnId: string, blob: Blob): Promise<void> {
  await run("readwrite", (s) => {
    s.put({ txnId, owner, blob } satisfies Row);
  });
}

export async function getFile(txnId: string): Promise<Blob | undefined> {
  const row = (await run<Row | undefined>("readonly", (s) => s.get(txnId))) as Row | undefined;
  return row?.blob;
}

export async function deleteFile(txnId: string): Promise<void> {
  await run("readwrite", (s) => {
    s.delete(txnId);
  });
}

/** Deletes every file whose owner `keep` does not accept. */
export async function sweep(keep: (owner: string) => boolean): Promise<void> {
  await run("readwrite", (s) => {
    const req = s.openCursor();
    req.onsuccess = () => {
      const cursor = req.result;
      if (!cursor) return;
      if (!keep((cursor.value as Row).owner)) cursor.delete();
      cursor.continue();
    };
  });
}

// Which tab sessions are open: each tab holds a shared Web Lock named after its session while
// it runs. Without the Locks API (older browsers, plain http), only this tab's session counts.
const LOCK_PREFIX = "wardline-session:";

export function holdSessionLock(owner: string): () => void {
  let release: () => void = () => undefined;
  if (navigator.locks) {
    const held = new Promise<void>((resolve) => (release = resolve));
    navigator.locks.request(LOCK_PREFIX + owner, { mode: "shared" }, () => held).catch(() => undefined);
  }
  return () => release();
}

export async function openSessions(): Promise<Set<string>> {
  const open = new Set<string>();
  if (!navigator.locks) return open;
  const state = await navigator.locks.query();
  for (const lock of [...(state.held ?? []), ...(state.pending ?? [])]) {
    if (lock.name?.startsWith(LOCK_PREFIX)) open.add(lock.name.slice(LOCK_PREFIX.length));
  }
  return open;
}

/**
 * Files of tab sessions no longer open anywhere (signed out, tab closed, browser crashed) are
 * deleted, except `keep` (this tab's own session, about to resume after a reload). Without the
 * Locks API only `keep` is kept. Run at boot and once the outbox is loaded, each time a moment
 * later ({@link SWEEP_GRACE_MS}): tabs the browser restores together each take their session's
 * lock as they start, and a sweep by the first must not take the files of one still starting.
 * (A tab the browser restores only when it is clicked holds no lock until then: its files are
 * swept, and its messages say the file is no longer on this device.)
 */
export async function sweepOrphans(keep: string | null): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, SWEEP_GRACE_MS));
  const open = await openSessions();
  await sweep((owner) => owner === keep || open.has(owner));
}

/** How long after a tab starts its sweep of other sessions' files waits. */
export const SWEEP_GRACE_MS = 3000;
