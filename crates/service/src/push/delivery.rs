//! Delivery: the background task that follows the stream from a stored cursor, queues a
//! notification for each pusher of each person a new message should reach, and sends what is
//! due, retrying with backoff.
//!
//! **Durability.** Notifications are queued in the same write that moves the cursor, so a
//! restart neither loses nor queues twice a message's notifications. A notification is claimed
//! (a lease, [`LEASE_MS`]) before it is sent and marked sent or failed after; a crash between
//! the send and the mark sends it again once the lease has run out: at most one duplicate.
//! Every attempt ends within [`ATTEMPT_TIMEOUT`] (a slow gateway is cut off and retried), and a
//! pass claims no more than it can finish well inside the lease, so no other node takes a
//! notification over while it is being sent.
//!
//! **Order.** Emergency notifications go first, then urgent ones, then routine ones, each
//! oldest first: a backlog of routine pushes never holds back a phone that must ring.
//!
//! **A failed push is a reason to escalate.** When every notification to one person about a
//! message has failed for good (rejected, gone, out of attempts, or the pusher was removed)
//! and the message is escalating (or is a step's notice about one), the escalation's next step
//! is made due now, and the audit trail says why.

use std::time::Duration;

use futures::StreamExt;
use ruma::{OwnedEventId, OwnedUserId, UserId};
use serde_json::{Value, json};
use wardline_store::{NewPush, PosRange, PushOutcome, Pusher, PusherKind, QueuedPush};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::priority::{self, Level};
use wardline_types::relation::rel_types;
use wardline_types::{Membership, StoredEvent, StreamPos, Timestamp, kinds};

use super::gateway;
use super::webpush;
use super::{PushService, Verdict};
use crate::ServiceResult;
use crate::audit::Actor;

/// The name of the follower's cursor in the store (set by migration 0021 to the stream's end
/// when pushes began).
pub const CURSOR: &str = "push";

/// How long a claimed notification is its sender's before another may take it over.
const LEASE_MS: u64 = 60_000;
/// The longest one attempt may take, reading the pusher and signing included: the HTTP
/// client's own limits are shorter still (`transport.rs`).
pub(super) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most messages read at a time.
const BATCH: usize = 500;
/// Notifications sent at once.
const CONCURRENCY: usize = 16;
/// Most notifications claimed at a time: two rounds of [`CONCURRENCY`].
pub(super) const SEND_BATCH: usize = 2 * CONCURRENCY;
/// Most claims in one pass (more wait for the next pass, after the stream is followed again).
const CLAIMS_PER_PASS: usize = 8;
// The last of a claim starts after the rounds before it, each at most ATTEMPT_TIMEOUT: all of
// them end in less than half the lease.
const _: () = assert!(
    (SEND_BATCH.div_ceil(CONCURRENCY) as u128) * ATTEMPT_TIMEOUT.as_millis() * 2 <= LEASE_MS as u128,
    "a claim must be sent well inside its lease"
);
/// The longest the task sleeps: other nodes' messages are seen within this.
const POLL: Duration = Duration::from_millis(500);
/// The shortest.
const MIN_WAIT: Duration = Duration::from_millis(50);
/// How long finished notifications are kept.
const KEEP_FINISHED_MS: u64 = 7 * 24 * 3600 * 1000;
/// How often they are forgotten.
const FORGET_EVERY_MS: u64 = 3600 * 1000;
/// How long a push service keeps a Web Push message for a device that is offline.
const WEBPUSH_TTL_SECS: u64 = 24 * 3600;

/// How one attempt went.
#[derive(Debug)]
enum Attempt {
    Sent,
    Retry(String),
    Failed(String),
    /// The pusher is no more (rejected by its gateway, the subscription expired): removed.
    Gone(Box<Pusher>, String),
}

impl PushService {
    /// Wakes the task: something was sent.
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// The background task: a pass ([`Self::tick`]) whenever something is sent, a notification
    /// falls due, or [`POLL`] passes.
    pub async fn run_push(self: std::sync::Arc<Self>) {
        loop {
            let wait = match self.tick().await {
                Ok(wait) => wait,
                Err(e) => {
                    tracing::error!(error = %e, "push pass failed; retrying");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One pass: queues the notifications of everything stored since the cursor, then sends
    /// those due by the clock. Returns how long until the next is due (at most [`POLL`]).
    ///
    /// # Errors
    /// A store that cannot be read or written; what was done stays done.
    pub async fn tick(&self) -> ServiceResult<Duration> {
        let followed = async {
            while self.follow().await? {}
            Ok::<(), crate::ServiceError>(())
        }
        .await;
        self.send_due().await?;
        followed?;
        self.forget_finished().await?;
        let now = self.clock.now();
        let wait = match self.store.next_push_due().await? {
            Some(due) => Duration::from_millis(due.0.saturating_sub(now.0)).min(POLL),
            None => POLL,
        };
        Ok(wait.max(MIN_WAIT))
    }

    /// Queues the notifications of the messages stored since the cursor, up to a batch, moving
    /// the cursor past them in the same write. Returns whether more may follow.
    async fn follow(&self) -> ServiceResult<bool> {
        let cached = *self.cursor.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let after = match cached {
            Some(p) => p,
            None => self.store.cursor(CURSOR).await?.unwrap_or(StreamPos::ZERO),
        };
        let now = self.store.current_pos();
        if now <= after {
            return Ok(false);
        }
        let batch = self.store.events_of_kind(kinds::MESSAGE, PosRange::new(after, now), BATCH).await?;
        let more = batch.len() >= BATCH;
        let upto = match batch.last() {
            Some(last) if more => last.stream,
            _ => now,
        };
        let mut pushes = Vec::new();
        for e in &batch {
            match self.pushes_for(e).await {
                Ok(p) => pushes.extend(p),
                Err(err @ crate::ServiceError::Store(_)) => return Err(err),
                // This event's alone (its room is unknown…): logged, and the cursor moves on.
                Err(err) => tracing::error!(error = %err, event = %e.event.event_id, "cannot work out whom to push"),
            }
        }
        let queued = pushes.len();
        self.store.queue_pushes(pushes, CURSOR, upto).await?;
        *self.cursor.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(upto);
        if queued > 0 {
            tracing::debug!(queued, "push notifications queued");
        }
        Ok(more)
    }

    /// The notifications one event calls for: one per pusher of each joined member the verdict
    /// notifies, and of each invitee for an escalating message or a notice about one (someone an
    /// escalation step brings in is invited, and their phone must ring before they join).
    async fn pushes_for(&self, e: &StoredEvent) -> ServiceResult<Vec<NewPush>> {
        let content = &e.event.content;
        let is_edit = wardline_types::relation::relation(content).is_some_and(|r| r.rel_type == rel_types::REPLACE);
        if e.event.state_key.is_some() || e.redacted_because.is_some() || is_edit {
            return Ok(Vec::new());
        }
        let room = &e.event.room_id;
        let (members, invited): (Vec<OwnedUserId>, Vec<OwnedUserId>) = self
            .rooms
            .with_state(room, |s| {
                let others = |m| s.members_with(m).filter(|u| **u != e.event.sender).cloned().collect::<Vec<_>>();
                let mut members = others(Membership::Join);
                let invited = others(Membership::Invite);
                members.extend(invited.iter().cloned());
                (members, invited)
            })
            .await?;
        let pushers = self.store.pushers_of(&members).await?;
        if pushers.is_empty() {
            return Ok(Vec::new());
        }
        let (level, escalation) = self.escalation_of(e).await?;
        let pushers: Vec<&Pusher> =
            pushers.iter().filter(|p| escalation.is_some() || !invited.contains(&p.user_id)).collect();
        let now = self.clock.now();
        let mut out = Vec::new();
        let mut last: Option<(&UserId, Verdict, u64)> = None;
        for p in &pushers {
            let (verdict, unread) = match &last {
                Some((u, v, n)) if *u == p.user_id => (v.clone(), *n),
                _ => {
                    let v = self.rules.verdict(&p.user_id, room, e).await?;
                    let n = if v.notify { self.store.unread_count(room, &p.user_id, e.stream).await? } else { 0 };
                    last = Some((&p.user_id, v.clone(), n));
                    (v, n)
                }
            };
            if !verdict.notify {
                continue;
            }
            out.push(NewPush {
                user_id: p.user_id.clone(),
                app_id: p.app_id.clone(),
                pushkey: p.pushkey.clone(),
                event_id: e.event.event_id.clone(),
                room_id: room.clone(),
                level,
                highlight: verdict.highlight,
                unread,
                escalation: escalation.clone(),
                due: now,
            });
        }
        Ok(out)
    }

    /// The message's level, and the escalating message it is about: itself if urgent or
    /// emergency, or, for a notice the server posted about an escalation, that one.
    async fn escalation_of(&self, e: &StoredEvent) -> ServiceResult<(Level, Option<OwnedEventId>)> {
        let content = &e.event.content;
        if let Ok(Some(r)) = priority::request_of(content)
            && r.level != Level::Routine
        {
            return Ok((r.level, Some(e.event.event_id.clone())));
        }
        if !wardline_types::account::is_server_or_role(&e.event.sender) {
            return Ok((Level::Routine, None));
        }
        let about = content
            .get(crate::escalation::NOTICE)
            .and_then(|n| n.get("message"))
            .and_then(Value::as_str)
            .and_then(|s| OwnedEventId::try_from(s).ok());
        let Some(about) = about else { return Ok((Level::Routine, None)) };
        let level = self.store.escalation(&about).await?.map_or(Level::Routine, |esc| esc.level);
        Ok((level, Some(about)))
    }

    /// Sends the notifications due now, some at once, most pressing first (the store claims
    /// them in that order), a claim of [`SEND_BATCH`] at a time.
    async fn send_due(&self) -> ServiceResult<()> {
        for _ in 0..CLAIMS_PER_PASS {
            let now = self.clock.now();
            let lease_from = Timestamp(now.0.saturating_sub(LEASE_MS));
            let claimed = self.store.claim_due_pushes(now, lease_from, SEND_BATCH).await?;
            let full = claimed.len() == SEND_BATCH;
            let limit = self.attempt_timeout();
            let results: Vec<ServiceResult<()>> = futures::stream::iter(claimed)
                .map(|q| async move {
                    let attempt = match tokio::time::timeout(limit, self.attempt(&q)).await {
                        Ok(attempt) => attempt,
                        Err(_) => Attempt::Retry(format!("no answer within {} ms", limit.as_millis())),
                    };
                    self.settle(q, attempt).await
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            results.into_iter().collect::<ServiceResult<()>>()?;
            if !full {
                break;
            }
        }
        Ok(())
    }

    /// Tries to send one notification.
    async fn attempt(&self, q: &QueuedPush) -> Attempt {
        let p = &q.push;
        let pusher = match self.store.pusher(&p.user_id, &p.app_id, &p.pushkey).await {
            Ok(Some(pusher)) => pusher,
            Ok(None) => return Attempt::Failed("the pusher was removed".into()),
            Err(e) => return Attempt::Retry(format!("store: {e}")),
        };
        // The configuration may have changed since the pusher was set.
        if let Err(e) = self.check_address(pusher.kind, &pusher.pushkey, &pusher.data) {
            return Attempt::Failed(format!("address no longer allowed: {e}"));
        }
        let url = pusher.data.get("url").and_then(Value::as_str).unwrap_or_default().to_owned();
        match pusher.kind {
            PusherKind::Http => {
                let body = gateway::notification(q, &pusher).to_string().into_bytes();
                let headers = vec![("content-type", "application/json".to_owned())];
                match self.transport().post(&url, headers, body).await {
                    Err(e) => Attempt::Retry(format!("gateway: {e}")),
                    Ok(answer) => match gateway::verdict(&answer, &pusher.pushkey) {
                        gateway::Verdict::Sent => Attempt::Sent,
                        gateway::Verdict::Rejected => Attempt::Gone(Box::new(pusher), "rejected by its gateway".into()),
                        gateway::Verdict::Retry(why) => Attempt::Retry(why),
                        gateway::Verdict::Failed(why) => Attempt::Failed(why),
                    },
                }
            }
            PusherKind::WebPush => self.web_push(q, pusher, &url).await,
        }
    }

    /// One Web Push message: the payload encrypted to the subscription, signed with VAPID.
    async fn web_push(&self, q: &QueuedPush, pusher: Pusher, url: &str) -> Attempt {
        let p = &q.push;
        let payload = json!({
            "room_id": p.room_id,
            "event_id": p.event_id,
            "prio": if p.highlight { "high" } else { "low" },
            "unread": p.unread,
            "level": p.level.as_str(),
        });
        let auth = pusher.data.get("auth").and_then(Value::as_str).unwrap_or_default();
        let body = match webpush::encrypt(&pusher.pushkey, auth, payload.to_string().as_bytes()) {
            Ok(b) => b,
            Err(e) => return Attempt::Failed(e.to_string()),
        };
        let endpoint = match self.allowed.webpush_endpoint(url) {
            Ok(u) => u,
            Err(e) => return Attempt::Failed(e.to_string()),
        };
        let authorization = match self.vapid().await.and_then(|v| v.authorization(&endpoint, self.clock.now())) {
            Ok(a) => a,
            Err(e) => return Attempt::Retry(format!("VAPID: {e}")),
        };
        let urgency = if p.level == Level::Routine { "normal" } else { "high" };
        let headers = vec![
            ("content-type", "application/octet-stream".to_owned()),
            ("content-encoding", "aes128gcm".to_owned()),
            ("ttl", WEBPUSH_TTL_SECS.to_string()),
            ("urgency", urgency.to_owned()),
            ("authorization", authorization),
        ];
        match self.transport().post(url, headers, body).await {
            Err(e) => Attempt::Retry(format!("push service: {e}")),
            Ok(a) => match a.status {
                200..=299 => Attempt::Sent,
                404 | 410 => Attempt::Gone(Box::new(pusher), format!("subscription gone ({})", a.status)),
                408 | 429 | 500..=599 => Attempt::Retry(format!("push service answered {}", a.status)),
                s => Attempt::Failed(format!("push service answered {s}")),
            },
        }
    }

    /// Records how an attempt went: sent, failed for good, or to be tried again later.
    async fn settle(&self, q: QueuedPush, attempt: Attempt) -> ServiceResult<()> {
        let now = self.clock.now();
        let reason = match attempt {
            Attempt::Sent => {
                self.store.finish_push(q.id, PushOutcome::Sent, "", now).await?;
                return Ok(());
            }
            Attempt::Retry(why) if q.attempts < self.settings.max_attempts.max(1) => {
                let exp = q.attempts.saturating_sub(1).min(16);
                let wait = self.settings.first_retry_secs.saturating_mul(1000).saturating_mul(1 << exp);
                tracing::info!(user = %q.push.user_id, app_id = %q.push.app_id, attempt = q.attempts, reason = %why, "push failed; will retry");
                self.store.retry_push(q.id, Timestamp(now.0.saturating_add(wait))).await?;
                return Ok(());
            }
            Attempt::Retry(why) => format!("gave up after {} attempts: {why}", q.attempts),
            Attempt::Failed(why) => why,
            Attempt::Gone(pusher, why) => {
                if self.store.delete_pusher(&pusher.user_id, &pusher.app_id, &pusher.pushkey).await? {
                    let actor = Actor::system(self.rooms.server_member()?);
                    let mut r = self.audit.entry(Some(&actor), AuditAction::Pusher, Outcome::Success);
                    r.target_user = Some(pusher.user_id.to_string());
                    r.detail = Some(format!("removed kind={} app_id={}: {why}", pusher.kind.as_str(), pusher.app_id));
                    self.audit.record(r)?;
                }
                why
            }
        };
        tracing::warn!(user = %q.push.user_id, app_id = %q.push.app_id, event = %q.push.event_id, %reason, "push failed for good");
        let tally = self.store.finish_push(q.id, PushOutcome::Failed, &reason, now).await?;
        if tally.failed > 0 && tally.pending == 0 && tally.sent == 0 {
            self.every_push_failed(&q, &reason).await?;
        }
        Ok(())
    }

    /// Every push to one person about a message failed: its escalation, if open, moves on now.
    async fn every_push_failed(&self, q: &QueuedPush, reason: &str) -> ServiceResult<()> {
        let Some(message) = &q.push.escalation else { return Ok(()) };
        let Some(esc) = self.store.escalation(message).await? else { return Ok(()) };
        if esc.ended.is_some() || !self.store.hasten_escalation(message, esc.step, self.clock.now()).await? {
            return Ok(());
        }
        let actor = Actor::system(self.rooms.server_member()?);
        let mut r = self.audit.entry(Some(&actor), AuditAction::Escalation, Outcome::Failure);
        r.room_id = Some(esc.room_id.to_string());
        r.event_id = Some(message.to_string());
        r.target_user = Some(q.push.user_id.to_string());
        r.detail = Some(format!("push to {}'s devices failed ({reason}): next step now", q.push.user_id));
        self.audit.record(r)?;
        self.escalation.poke();
        Ok(())
    }

    /// Forgets finished notifications older than [`KEEP_FINISHED_MS`], once an hour.
    async fn forget_finished(&self) -> ServiceResult<()> {
        let now = self.clock.now();
        {
            let mut last = self.forgotten.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|t| now.0 < t.0.saturating_add(FORGET_EVERY_MS)) {
                return Ok(());
            }
            *last = Some(now);
        }
        self.store.forget_pushes(Timestamp(now.0.saturating_sub(KEEP_FINISHED_MS))).await?;
        Ok(())
    }
}
