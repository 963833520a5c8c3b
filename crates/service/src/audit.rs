//! The audit recorder: every security-relevant action and every access to clinical content
//! becomes a record in the store's hash chain, and signed checkpoints pin the chain down.
//!
//! Writes that change rooms carry their records into the same transaction as the events
//! (see `RoomService`), so a durable message always has its audit record. Everything else
//! (reads, sign-ins) goes through [`AuditService::record`], which queues the record and lets a
//! background writer store queued records in batches, so auditing never makes a reader wait.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use ruma::{OwnedDeviceId, OwnedUserId};
use tokio::sync::{mpsc, oneshot};
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

/// Where checkpoints are copied outside the database (an append-only file, a log shipped
/// elsewhere), so cutting records and checkpoints off the database together is still seen.
pub type CheckpointSink = Arc<dyn Fn(&Checkpoint) + Send + Sync>;

/// The audit recorder.
#[derive(Clone)]
pub struct AuditService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    queue: mpsc::UnboundedSender<Msg>,
    rx: Arc<std::sync::Mutex<Option<mpsc::UnboundedReceiver<Msg>>>>,
}

impl std::fmt::Debug for AuditService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditService").finish_non_exhaustive()
    }
}

/// Most records stored in one batch.
const BATCH: usize = 2_000;

impl AuditService {
    /// A recorder over `store`. Call [`AuditService::run_writer`] to start storing.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        let (queue, rx) = mpsc::unbounded_channel();
        Self { store, clock, queue, rx: Arc::new(std::sync::Mutex::new(Some(rx))) }
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

    /// Queues a record; a background writer stores it with others.
    pub fn record(&self, record: NewAuditRecord) {
        // Security events go to the operational log too; the everyday flood of reads and sends
        // only at debug level (they are all in the trail).
        if matches!(record.action, AuditAction::RoomRead | AuditAction::MessageSend) {
            tracing::debug!(target: "audit", action = %record.action, actor = record.actor.as_deref().unwrap_or("-"), room = record.room_id.as_deref().unwrap_or("-"), "audit");
        } else {
            tracing::info!(target: "audit", action = %record.action, outcome = ?record.outcome, actor = record.actor.as_deref().unwrap_or("-"), target_user = record.target_user.as_deref().unwrap_or("-"), "audit");
        }
        if self.queue.send(Msg::Record(record)).is_err() {
            tracing::error!("audit writer has stopped; a record was not stored");
        }
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

    /// Waits until every queued record is stored.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Msg::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// Stores queued records in batches until every sender is gone. Run once.
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
                let records = std::mem::take(&mut batch);
                if let Err(e) = self.store.append_audit(records).await {
                    tracing::error!(error = %e, "audit records could not be stored");
                }
            }
            for done in waiting.drain(..) {
                let _ = done.send(());
            }
        }
    }

    /// Signs a checkpoint of the chain's head if it moved since `last`; returns the new head.
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
            sink(&cp);
        }
        Ok(seq)
    }

    /// Signs checkpoints every `every` until dropped.
    pub async fn run_checkpoints(self, key: CheckpointKey, every: Duration, sink: Option<CheckpointSink>) {
        let mut last = self.store.checkpoints().await.ok().and_then(|c| c.last().map(|c| c.seq)).unwrap_or(0);
        loop {
            tokio::time::sleep(every).await;
            match self.checkpoint(&key, last, sink.as_ref()).await {
                Ok(seq) => last = seq,
                Err(e) => tracing::error!(error = %e, "audit checkpoint failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wardline_types::Timestamp;

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
