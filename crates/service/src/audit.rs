//! The audit recorder: every security-relevant action and every access to clinical content
//! becomes a record in the store's hash chain, and signed checkpoints pin the chain down.
//!
//! Writes that change rooms carry their records into the same transaction as the events
//! (see `RoomService`), so a durable message always has its audit record. Everything else
//! (reads, sign-ins) goes through [`AuditService::record`], which queues the record and lets a
//! background writer store queued records in batches, so auditing never makes a reader wait
//! for the disk. The queue is bounded. A batch the store refuses is kept and retried, never
//! dropped; while it is refused, and while the queue is full, [`AuditService::record`] fails,
//! so the action it would record fails too instead of happening unaudited.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};
use ruma::{OwnedDeviceId, OwnedUserId};
use tokio::sync::{mpsc, oneshot, watch};
use wardline_store::Store;
use wardline_types::Clock;
use wardline_types::audit::{AuditAction, Checkpoint, NewAuditRecord, Outcome};

use crate::{ServiceError, ServiceResult};

/// Who did something, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The user.
    pub user_id: OwnedUserId,
    /// Their device, if the action came through a session.
    pub device_id: Option<OwnedDeviceId>,
    /// Their address.
    pub ip: Option<IpAddr>,
}

impl Actor {
    /// An actor without a session (the command line, the server itself).
    #[must_use]
    pub fn system(user_id: OwnedUserId) -> Self {
        Self { user_id, device_id: None, ip: None }
    }
}

/// Who did an administrative action: a signed-in member of staff, or an operator at the
/// server's command line.
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    /// A signed-in member of staff (an administrator, or the user themself).
    Staff(&'a Actor),
    /// An operator at the server's command line.
    Operator(&'a Operator),
    /// The server itself (the first administrator, made at first start; test and benchmark
    /// seeding).
    Server,
}

impl By<'_> {
    /// The staff member, if it was one.
    #[must_use]
    pub fn actor(&self) -> Option<&Actor> {
        match self {
            Self::Staff(a) => Some(a),
            Self::Operator(_) | Self::Server => None,
        }
    }

    /// `what` for a record's detail, followed by the operator when it was the command line.
    #[must_use]
    pub fn detail(&self, what: &str) -> String {
        match self {
            Self::Staff(_) => what.to_owned(),
            Self::Operator(o) if what.is_empty() => o.describe(),
            Self::Operator(o) => format!("{what} {}", o.describe()),
            Self::Server if what.is_empty() => "via=server".to_owned(),
            Self::Server => format!("{what} via=server"),
        }
    }
}

/// An operator at the server's command line: the operating-system account that ran a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The login name the command was run under (`$SUDO_USER`, else `$USER`): as the
    /// operating system reported it to the command, which could set it.
    pub os_user: String,
    /// The numeric user id the command ran as: as the kernel reported it (the control socket's
    /// peer credentials, or the command's own), which the command cannot forge.
    pub os_uid: Option<u32>,
}

impl Operator {
    /// `via=cli os_user=NAME os_uid=N`, with the name reduced to characters that cannot break
    /// the record's `key=value` detail.
    #[must_use]
    pub fn describe(&self) -> String {
        let name: String = self
            .os_user
            .chars()
            .take(64)
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@') { c } else { '?' })
            .collect();
        let name = if name.is_empty() { "unknown".to_owned() } else { name };
        match self.os_uid {
            Some(uid) => format!("via=cli os_user={name} os_uid={uid}"),
            None => format!("via=cli os_user={name}"),
        }
    }
}

/// Signs and checks checkpoints with an Ed25519 key.
#[derive(Clone)]
pub struct CheckpointKey(SigningKey);

impl std::fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CheckpointKey").field(&self.public_hex()).finish()
    }
}

impl CheckpointKey {
    /// A key from its 32 secret bytes.
    #[must_use]
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(bytes))
    }

    /// A new random key; returns it with its secret bytes (to be kept by the caller).
    #[must_use]
    pub fn generate() -> (Self, [u8; 32]) {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        (Self::from_bytes(&bytes), bytes)
    }

    /// The public key, hex.
    #[must_use]
    pub fn public_hex(&self) -> String {
        hex::encode(self.0.verifying_key().to_bytes())
    }

    /// Signs a checkpoint.
    #[must_use]
    pub fn sign(&self, seq: u64, hash: &str, ts: wardline_types::Timestamp) -> Checkpoint {
        let sig = self.0.sign(&Checkpoint::message(seq, hash, ts));
        Checkpoint { seq, hash: hash.to_owned(), ts, signature: hex::encode(sig.to_bytes()) }
    }

    /// The public half.
    #[must_use]
    pub fn verifying_key(&self) -> VerifyingKey {
        self.0.verifying_key()
    }

    /// Does the signature of `cp` verify under this key?
    #[must_use]
    pub fn verify(&self, cp: &Checkpoint) -> bool {
        verify_with(&self.0.verifying_key(), cp)
    }
}

/// The public key that checks checkpoints.
pub use ed25519_dalek::VerifyingKey;

/// A public key from its hex form (as `wardline audit public-key` prints it).
#[must_use]
pub fn public_key_from_hex(text: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = hex::decode(text.trim()).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// Checks a checkpoint's signature against a public key.
#[must_use]
pub fn verify_with(key: &VerifyingKey, cp: &Checkpoint) -> bool {
    let Ok(bytes) = hex::decode(&cp.signature) else { return false };
    let Ok(sig) = Signature::from_slice(&bytes) else { return false };
    key.verify(&Checkpoint::message(cp.seq, &cp.hash, cp.ts), &sig).is_ok()
}

enum Msg {
    Record(NewAuditRecord),
    Flush(oneshot::Sender<()>),
}

/// Where checkpoints are copied outside the database (append-only files, the log, an HTTP
/// collector), so cutting records and checkpoints off the database together is still seen.
/// Called off the async runtime (it may write files); it must not wait on the network.
pub type CheckpointSink = Arc<dyn Fn(&Checkpoint) + Send + Sync>;

/// A place in the audit queue, taken by [`AuditService::reserve`] before an action: writing the
/// action's record through it cannot fail.
#[must_use = "an action's record is written through its slot"]
pub struct AuditSlot(mpsc::OwnedPermit<Msg>);

impl std::fmt::Debug for AuditSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditSlot")
    }
}

impl AuditSlot {
    /// Queues the record in this place.
    pub fn record(self, record: NewAuditRecord) {
        // Security events go to the operational log too; the everyday flood of reads, searches
        // and sends only at debug level (they are all in the trail).
        if matches!(record.action, AuditAction::RoomRead | AuditAction::RoomSearch | AuditAction::MessageSend) {
            tracing::debug!(target: "audit", action = %record.action, actor = record.actor.as_deref().unwrap_or("-"), room = record.room_id.as_deref().unwrap_or("-"), "audit");
        } else {
            tracing::info!(target: "audit", action = %record.action, outcome = ?record.outcome, actor = record.actor.as_deref().unwrap_or("-"), target_user = record.target_user.as_deref().unwrap_or("-"), "audit");
        }
        self.0.send(Msg::Record(record));
    }
}

/// The audit recorder.
#[derive(Clone)]
pub struct AuditService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    queue: mpsc::Sender<Msg>,
    rx: Arc<std::sync::Mutex<Option<mpsc::Receiver<Msg>>>>,
    /// `Some(why)` while the writer cannot store its batch; every failed attempt notifies.
    failing: Arc<watch::Sender<Option<String>>>,
    /// Records the writer has taken off the queue and not yet stored.
    storing: Arc<AtomicUsize>,
}

impl std::fmt::Debug for AuditService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditService").finish_non_exhaustive()
    }
}

/// Most records stored in one batch.
const BATCH: usize = 2_000;

/// Most records waiting to be stored. The writer stores thousands a second in batches, so a
/// full queue means the store has stopped keeping up, not a burst.
pub const QUEUE_CAPACITY: usize = 50_000;

/// Longest wait between attempts to store a refused batch.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// Why the audit trail is not being written (see [`AuditService::health`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditTrouble {
    /// The store refuses the writer's batch (it is being retried).
    Refused,
    /// The writer has stopped.
    Stopped,
    /// The queue is more than [`crate::health::AUDIT_BACKLOG_PERCENT`] full.
    Backlog,
}

fn unavailable(reason: impl Into<String>) -> ServiceError {
    ServiceError::AuditUnavailable { reason: reason.into() }
}

impl AuditService {
    /// A recorder over `store`. Call [`AuditService::run_writer`] to start storing.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self::with_capacity(store, clock, QUEUE_CAPACITY)
    }

    /// A recorder whose queue holds at most `capacity` records.
    pub fn with_capacity(store: Arc<dyn Store>, clock: Arc<dyn Clock>, capacity: usize) -> Self {
        let (queue, rx) = mpsc::channel(capacity.max(1));
        Self {
            store,
            clock,
            queue,
            rx: Arc::new(std::sync::Mutex::new(Some(rx))),
            failing: Arc::new(watch::channel(None).0),
            storing: Arc::default(),
        }
    }

    /// A record of `action` by `actor`, stamped now.
    #[must_use]
    pub fn entry(&self, actor: Option<&Actor>, action: AuditAction, outcome: Outcome) -> NewAuditRecord {
        let mut r = NewAuditRecord::new(self.clock.now(), action, outcome);
        if let Some(a) = actor {
            r.actor = Some(a.user_id.to_string());
            r.device = a.device_id.as_ref().map(ToString::to_string);
            r.ip = a.ip.map(|i| i.to_string());
        }
        r
    }

    /// A record of an administrative `action` done by `by`, stamped now (an operator's record
    /// names them in its detail, which callers extend with [`By::detail`]).
    #[must_use]
    pub fn entry_by(&self, by: By<'_>, action: AuditAction, outcome: Outcome) -> NewAuditRecord {
        let mut r = self.entry(by.actor(), action, outcome);
        if by.actor().is_none() {
            r.detail = Some(by.detail(""));
        }
        r
    }

    /// Takes a place in the queue for the record of an action about to be done. Take it
    /// *before* acting, and write the record through it after: the action then happens only if
    /// its record can be kept. Fails while the trail cannot be written (the store refuses the
    /// writer's batch) or the queue is full.
    pub fn reserve(&self) -> ServiceResult<AuditSlot> {
        if let Some(why) = self.failing.borrow().as_ref() {
            return Err(unavailable(format!("audit records cannot be stored: {why}")));
        }
        match self.queue.clone().try_reserve_owned() {
            Ok(permit) => Ok(AuditSlot(permit)),
            Err(mpsc::error::TrySendError::Full(_)) => {
                Err(unavailable("the audit queue is full: records arrive faster than they can be stored"))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(unavailable("the audit writer has stopped")),
        }
    }

    /// Is the trail being written: the writer runs, the store takes its batches, and the queue
    /// is not close to full (audited actions are refused once it is full)?
    pub fn health(&self) -> Result<(), AuditTrouble> {
        if self.failing.borrow().is_some() {
            return Err(AuditTrouble::Refused);
        }
        if self.queue.is_closed() {
            return Err(AuditTrouble::Stopped);
        }
        let max = self.queue.max_capacity();
        let waiting = max - self.queue.capacity();
        if waiting * 100 > max * crate::health::AUDIT_BACKLOG_PERCENT {
            return Err(AuditTrouble::Backlog);
        }
        Ok(())
    }

    /// Queues a record; a background writer stores it with others. Fails, and the caller's
    /// action with it, while the trail cannot be written (the store refuses the writer's batch)
    /// or the queue is full. For an action with effects, [`AuditService::reserve`] before it.
    pub fn record(&self, record: NewAuditRecord) -> ServiceResult<()> {
        self.reserve()?.record(record);
        Ok(())
    }

    /// Records waiting to be stored: queued (or places taken for them), and taken by the
    /// writer but not yet stored (a batch the store refuses stays here until it is stored).
    #[must_use]
    pub fn backlog(&self) -> usize {
        let queued = self.queue.max_capacity().saturating_sub(self.queue.capacity());
        queued + self.storing.load(Ordering::Relaxed)
    }

    /// Stores a record before returning (for actions that must not happen unrecorded).
    pub async fn record_now(&self, record: NewAuditRecord) -> ServiceResult<()> {
        tracing::info!(target: "audit", action = %record.action, outcome = ?record.outcome, actor = record.actor.as_deref().unwrap_or("-"), "audit");
        self.store.append_audit(vec![record]).await.map_err(ServiceError::from)
    }

    /// Stores many records before returning.
    pub async fn record_batch_now(&self, records: Vec<NewAuditRecord>) -> ServiceResult<()> {
        self.store.append_audit(records).await.map_err(ServiceError::from)
    }

    /// Waits until every record queued before the call is stored. Fails if the writer reports,
    /// meanwhile, that the store refuses them (they stay queued and are retried).
    pub async fn flush(&self) -> ServiceResult<()> {
        let mut failing = self.failing.subscribe();
        failing.mark_unchanged();
        let (done, wait) = oneshot::channel();
        let stored = async {
            self.queue.send(Msg::Flush(done)).await.map_err(|_| unavailable("the audit writer has stopped"))?;
            wait.await.map_err(|_| unavailable("the audit writer has stopped"))
        };
        let refused = async {
            loop {
                if failing.changed().await.is_err() {
                    return std::future::pending().await;
                }
                if let Some(why) = failing.borrow_and_update().clone() {
                    return unavailable(format!("audit records cannot be stored: {why}"));
                }
            }
        };
        tokio::select! {
            r = stored => r,
            e = refused => Err(e),
        }
    }

    /// Stores queued records in batches until every sender is gone. Run once. A batch the store
    /// refuses is retried (waiting longer each time, up to a few seconds) until it is stored.
    pub async fn run_writer(self) {
        let Some(mut rx) = self.rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() else {
            return;
        };
        let mut batch = Vec::new();
        let mut waiting = Vec::new();
        while let Some(first) = rx.recv().await {
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Record(r) => batch.push(r),
                    Msg::Flush(done) => waiting.push(done),
                }
                if batch.len() < BATCH {
                    next = rx.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                self.storing.store(batch.len(), Ordering::Relaxed);
                self.store_batch(std::mem::take(&mut batch)).await;
                self.storing.store(0, Ordering::Relaxed);
            }
            for done in waiting.drain(..) {
                let _ = done.send(());
            }
        }
    }

    async fn store_batch(&self, batch: Vec<NewAuditRecord>) {
        let mut delay = Duration::from_millis(50);
        loop {
            match self.store.append_audit(batch.clone()).await {
                Ok(()) => {
                    if self.failing.borrow().is_some() {
                        tracing::warn!(target: "audit", "audit records can be stored again; audited actions are allowed again");
                        self.failing.send_replace(None);
                    }
                    return;
                }
                Err(e) => {
                    tracing::error!(target: "audit", error = %e, records = batch.len(), retry_in_ms = delay.as_millis(), "audit records could not be stored; audited actions are refused until they are");
                    // `send` notifies even when the reason is unchanged: each failed attempt is news.
                    self.failing.send_modify(|f| *f = Some(e.to_string()));
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(MAX_RETRY_DELAY);
                }
            }
        }
    }

    /// Signs a checkpoint of the chain's head if it moved since `last` (the position of the
    /// last checkpoint), stores it, then hands it to `sink`; returns the new last position.
    pub async fn checkpoint(
        &self,
        key: &CheckpointKey,
        last: u64,
        sink: Option<&CheckpointSink>,
    ) -> ServiceResult<u64> {
        let (seq, hash) = self.store.audit_head().await?;
        if seq == 0 || seq == last {
            return Ok(last);
        }
        let cp = key.sign(seq, &hash, self.clock.now());
        self.store.put_checkpoint(cp.clone()).await?;
        if let Some(sink) = sink {
            let sink = Arc::clone(sink);
            tokio::task::spawn_blocking(move || sink(&cp))
                .await
                .map_err(|e| ServiceError::Internal(format!("checkpoint copy: {e}")))?;
        }
        Ok(seq)
    }

    /// The position of the last stored checkpoint (0 if none).
    pub async fn last_checkpoint(&self) -> ServiceResult<u64> {
        Ok(self.store.checkpoints().await?.iter().map(|c| c.seq).max().unwrap_or(0))
    }

    /// Signs checkpoints at once, then every `every` until `stop` resolves (never in the middle
    /// of one); returns the position of the last checkpoint.
    ///
    /// The first is signed as the server starts, so that records written while no server ran
    /// (the record of a restore from a backup, those of the command line) are covered by a
    /// checkpoint, and shipped off the machine, before anyone could change them unseen.
    pub async fn run_checkpoints(
        self,
        key: CheckpointKey,
        every: Duration,
        sink: Option<CheckpointSink>,
        stop: impl std::future::Future<Output = ()>,
    ) -> u64 {
        let mut last = self.last_checkpoint().await.unwrap_or(0);
        tokio::pin!(stop);
        loop {
            match self.checkpoint(&key, last, sink.as_ref()).await {
                Ok(seq) => last = seq,
                Err(e) => tracing::error!(target: "audit", error = %e, "audit checkpoint failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = &mut stop => return last,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wardline_store::AuditStore;
    use wardline_store_sqlite::{Durability, SqliteStore};
    use wardline_types::{SystemClock, Timestamp};

    #[test]
    fn an_operator_cannot_break_the_detail_with_their_name() {
        let o = Operator { os_user: "eve os_uid=0\nforged=1".into(), os_uid: Some(1000) };
        assert_eq!(o.describe(), "via=cli os_user=eve?os_uid?0?forged?1 os_uid=1000");
        let o = Operator { os_user: String::new(), os_uid: None };
        assert_eq!(By::Operator(&o).detail("unlock"), "unlock via=cli os_user=unknown");
        let staff = Actor::system(ruma::user_id!("@ada:ward.example").to_owned());
        assert_eq!(By::Staff(&staff).detail("unlock"), "unlock");
    }

    fn open(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
        Arc::new(SqliteStore::open(&dir.path().join("t.db"), Durability::Normal).unwrap())
    }

    fn by(name: &str) -> NewAuditRecord {
        let mut r = NewAuditRecord::new(Timestamp(1), AuditAction::RoomRead, Outcome::Success);
        r.actor = Some(name.into());
        r
    }

    async fn actors(store: &SqliteStore) -> Vec<String> {
        store.audit_records(1, 100).await.unwrap().into_iter().filter_map(|r| r.record.actor).collect()
    }

    #[tokio::test]
    async fn a_refused_batch_is_retried_and_audited_actions_fail_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let audit = AuditService::new(store.clone(), Arc::new(SystemClock));
        tokio::spawn(audit.clone().run_writer());
        // The store refuses audit records (as a full or failing disk would).
        let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
        conn.execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
        )
        .unwrap();
        audit.record(by("first")).unwrap();
        assert!(matches!(audit.flush().await, Err(ServiceError::AuditUnavailable { .. })));
        // While the trail cannot be written, audited actions are refused.
        let refused = audit.record(by("second"));
        assert!(matches!(refused, Err(ServiceError::AuditUnavailable { .. })), "{refused:?}");
        conn.execute_batch("DROP TRIGGER refuse").unwrap();
        // The refused batch was kept: the next attempts store it (a flush may still see one
        // attempt that began before the store recovered).
        let mut flushed = audit.flush().await;
        for _ in 0..3 {
            if flushed.is_ok() {
                break;
            }
            flushed = audit.flush().await;
        }
        flushed.unwrap();
        audit.record(by("third")).unwrap();
        audit.flush().await.unwrap();
        assert_eq!(actors(&store).await, ["first", "third"]);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_new_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let audit = AuditService::with_capacity(store.clone(), Arc::new(SystemClock), 2);
        audit.record(by("a")).unwrap();
        audit.record(by("b")).unwrap();
        match audit.record(by("c")) {
            Err(ServiceError::AuditUnavailable { reason }) => assert!(reason.contains("full"), "{reason}"),
            other => panic!("a full queue accepted a record: {other:?}"),
        }
        tokio::spawn(audit.clone().run_writer());
        audit.flush().await.unwrap();
        audit.record(by("d")).unwrap();
        audit.flush().await.unwrap();
        assert_eq!(actors(&store).await, ["a", "b", "d"]);
    }

    #[tokio::test]
    async fn a_checkpoint_is_signed_once_per_head() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let audit = AuditService::new(store.clone(), Arc::new(SystemClock));
        let (key, _) = CheckpointKey::generate();
        let copies = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink: CheckpointSink = {
            let copies = Arc::clone(&copies);
            Arc::new(move |cp: &Checkpoint| copies.lock().unwrap().push(cp.clone()))
        };
        assert_eq!(audit.checkpoint(&key, 0, Some(&sink)).await.unwrap(), 0, "nothing to sign yet");
        audit.record_now(by("a")).await.unwrap();
        let last = audit.checkpoint(&key, 0, Some(&sink)).await.unwrap();
        assert_eq!(last, 1);
        // A final checkpoint at shutdown (or after a restart) with nothing new signs nothing.
        let last = audit.last_checkpoint().await.unwrap();
        assert_eq!(audit.checkpoint(&key, last, Some(&sink)).await.unwrap(), 1);
        assert_eq!(copies.lock().unwrap().len(), 1);
        assert_eq!(store.checkpoints().await.unwrap(), copies.lock().unwrap().clone());
    }

    #[tokio::test]
    async fn records_written_while_no_server_ran_are_checkpointed_as_it_starts() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let audit = AuditService::new(store.clone(), Arc::new(SystemClock));
        let (key, _) = CheckpointKey::generate();
        audit.record_now(by("a")).await.unwrap();
        audit.checkpoint(&key, 0, None).await.unwrap();
        // A restore (or the command line) appended a record since the last checkpoint.
        audit.record_now(by("restore")).await.unwrap();
        let (copied, first_copy) = oneshot::channel();
        let copied = Arc::new(std::sync::Mutex::new(Some(copied)));
        let sink: CheckpointSink = Arc::new(move |cp: &Checkpoint| {
            if let Some(tx) = copied.lock().unwrap().take() {
                let _ = tx.send(cp.seq);
            }
        });
        // Checkpoints an hour apart: the one covering it comes as the server starts, not after
        // the first hour. The timeout only keeps a regression from hanging the test.
        let run = audit.clone().run_checkpoints(key, Duration::from_secs(3600), Some(sink), async {
            let _ = first_copy.await;
        });
        let last = tokio::time::timeout(Duration::from_secs(120), run).await.expect("no checkpoint at start");
        assert_eq!(last, 2);
        assert_eq!(audit.last_checkpoint().await.unwrap(), 2);
    }

    #[test]
    fn checkpoints_verify_only_unchanged() {
        let (key, _) = CheckpointKey::generate();
        let cp = key.sign(7, "abc", Timestamp(9));
        assert!(key.verify(&cp));
        let mut forged = cp.clone();
        forged.seq = 6;
        assert!(!key.verify(&forged));
        let (other, _) = CheckpointKey::generate();
        assert!(!other.verify(&cp));
    }
}
