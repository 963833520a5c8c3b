//! Broadcasts ([`wardline_types::broadcast`]): an authorised sender's message to a department,
//! the holders of some roles or the whole organisation, its report ("read by 412 of 530,
//! acknowledged by 390") and reminders to those who have not.
//!
//! **Invariant:** who may broadcast is decided from the account as stored at the moment
//! (`may_broadcast`, granted by an administrator; administrators do not have it by being
//! administrators), for every path that sends: here, in [`BroadcastService::permitted`], for new
//! broadcasts and reminders; in the authorization rules for everything posted in a broadcast
//! conversation ([`crate::rooms::broadcast_room`]), so a sender whose permission was withdrawn
//! can post in none of the broadcasts they made.
//! The report's figures are the status rule's ([`crate::messaging::status_of`]), never
//! computed a second way.
//!
//! Broadcasts do not escalate (the escalation engine leaves them out): the report and the
//! sender's reminders follow them up, at most one reminder per [`REMIND_INTERVAL_MS`].

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use ruma::{OwnedDeviceId, OwnedEventId, OwnedTransactionId, OwnedUserId, RoomId, UserId};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use wardline_store::{Broadcast, Store};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::broadcast::{Audience, BROADCAST, check_title};
use wardline_types::priority::{ACKNOWLEDGE, ASK, Level, Means, PRIORITY};
use wardline_types::{Account, Clock, RoleId, Timestamp, TxnRef, kinds};

use crate::audit::{Actor, AuditService};
use crate::core::Core;
use crate::messaging::{MessageStatus, StatusService};
use crate::rooms::{NewBroadcastRoom, RoomService, SendEvent};
use crate::{ServiceError, ServiceResult};

/// Least time between two reminders of one broadcast (five minutes).
pub const REMIND_INTERVAL_MS: u64 = 5 * 60 * 1000;
/// Longest broadcast text, in characters.
pub const MAX_BODY_CHARS: usize = 4000;
/// Most people named in each list of a report (the totals are always exact).
pub const REPORT_LIST_CAP: usize = 500;
/// Most people one reminder notice mentions (more get several notices).
const MENTIONS_PER_NOTICE: usize = 800;
/// Broadcasts listed for a sender.
const LIST_LIMIT: usize = 100;

/// A broadcast to send.
#[derive(Debug, Clone)]
pub struct NewBroadcast {
    /// Who it goes to.
    pub audience: Audience,
    /// Its title (the conversation's name: no patient data).
    pub title: String,
    /// Its text.
    pub body: String,
    /// Its priority.
    pub level: Level,
    /// Ask each recipient to acknowledge (always, for urgent and emergency).
    pub acknowledge: bool,
    /// The client's transaction id: the same one again returns the broadcast already sent.
    pub txn_id: String,
}

/// Someone in a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Who.
    pub user_id: OwnedUserId,
    /// Their name.
    pub display_name: Option<String>,
    /// Their department.
    pub department: Option<String>,
}

/// What a broadcast reached.
#[derive(Debug, Clone)]
pub struct Report {
    /// The broadcast.
    pub broadcast: Broadcast,
    /// Recipients (by the status rule: who was in the conversation when it was sent).
    pub recipients: u64,
    /// Delivered to one of their devices (readers included).
    pub delivered: u64,
    /// Read.
    pub read: u64,
    /// Acknowledged (their latest answer accepts).
    pub acknowledged: u64,
    /// Who has not read it, at most [`REPORT_LIST_CAP`], by user id.
    pub not_read: Vec<Person>,
    /// How many have not read it.
    pub not_read_total: u64,
    /// Who has not acknowledged it (for a broadcast that asks), at most [`REPORT_LIST_CAP`].
    pub not_acknowledged: Vec<Person>,
    /// How many have not acknowledged it.
    pub not_acknowledged_total: u64,
    /// When a reminder may next be sent.
    pub next_reminder: Timestamp,
}

/// A reminder sent.
#[derive(Debug, Clone)]
pub struct Reminded {
    /// Whom it mentions: those who had not read (or acknowledged, if it asks).
    pub users: Vec<OwnedUserId>,
    /// The server's notices.
    pub notices: Vec<OwnedEventId>,
}

/// Sends broadcasts, reports on them and reminds.
pub struct BroadcastService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    audit: AuditService,
    rooms: Arc<RoomService>,
    status: Arc<StatusService>,
    /// One broadcast is created at a time, so a retried request waits for the first and finds it.
    sending: Mutex<()>,
    /// Tests only: the next send stops after its message, before it is recorded (a crash).
    #[cfg(test)]
    pub(crate) crash_before_recording: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for BroadcastService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BroadcastService").finish_non_exhaustive()
    }
}

/// What makes a retry the same broadcast: its transaction id and everything it says (audience,
/// title, level, acknowledgement, text). A retry finds the conversation and message of the
/// attempt it repeats; a changed broadcast under an old transaction id gets a conversation of its
/// own, and its message's transaction, already used in the first one's, is refused: it never
/// goes to the earlier attempt's audience.
fn retry_key(txn_id: &str, block: &Value, body: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let said = json!({ "block": block, "body": body }).to_string();
    let digest = sha2::Sha256::digest(said.as_bytes());
    format!("{txn_id}\0{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest))
}

fn active(a: &Account) -> bool {
    !a.deactivated && !wardline_types::account::is_service_user(&a.user_id)
}

impl BroadcastService {
    /// A broadcast service.
    pub fn new(core: &Core, rooms: Arc<RoomService>, status: Arc<StatusService>) -> Self {
        Self {
            store: Arc::clone(&core.store),
            clock: Arc::clone(&core.clock),
            audit: core.audit.clone(),
            rooms,
            status,
            sending: Mutex::new(()),
            #[cfg(test)]
            crash_before_recording: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The one check of who may broadcast: an active account an administrator gave the
    /// permission to, as stored now.
    pub async fn permitted(&self, user: &UserId) -> ServiceResult<Account> {
        match self.store.account(user).await? {
            Some(a) if a.may_broadcast && !a.deactivated => Ok(a),
            _ => Err(ServiceError::forbidden("you may not send broadcasts: an administrator can give you permission")),
        }
    }

    /// The active accounts `audience` names now (its sender among them or not).
    pub async fn resolve(&self, audience: &Audience) -> ServiceResult<Vec<Account>> {
        audience.check().map_err(|e| ServiceError::invalid(e.to_string()))?;
        let accounts = self.store.list_accounts().await?;
        let chosen: Vec<Account> = match audience {
            Audience::Organisation => accounts.into_iter().filter(active).collect(),
            Audience::Department { department } => {
                let want = department.trim().to_lowercase();
                accounts
                    .into_iter()
                    .filter(active)
                    .filter(|a| a.department.as_deref().is_some_and(|d| d.trim().to_lowercase() == want))
                    .collect()
            }
            Audience::Role { roles } => {
                let mut holders = BTreeSet::new();
                for raw in roles {
                    let id = RoleId::parse(raw).map_err(|e| ServiceError::invalid(format!("role {raw:?}: {e}")))?;
                    match self.store.role(&id).await? {
                        Some(r) if !r.retired => holders.extend(r.holders.into_iter().map(|h| h.user_id)),
                        _ => return Err(ServiceError::not_found(format!("there is no role {id}"))),
                    }
                }
                accounts.into_iter().filter(active).filter(|a| holders.contains(&a.user_id)).collect()
            }
        };
        Ok(chosen)
    }

    /// The departments of active accounts, as the directory names them, sorted (the
    /// composer's choices).
    pub async fn departments(&self) -> ServiceResult<Vec<String>> {
        // One entry per department as the audience matches them (without case), in the
        // spelling of the first account.
        let mut all: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
        for a in self.store.list_accounts().await?.iter().filter(|a| active(a)) {
            if let Some(d) = a.department.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
                all.entry(d.to_lowercase()).or_insert_with(|| d.to_owned());
            }
        }
        Ok(all.into_values().collect())
    }

    /// How many people a broadcast from `sender` to `audience` would reach now.
    pub async fn audience_size(&self, sender: &UserId, audience: &Audience) -> ServiceResult<u64> {
        self.permitted(sender).await?;
        Ok(self.resolve(audience).await?.iter().filter(|a| a.user_id != sender).count() as u64)
    }

    /// Sends a broadcast; returns it and whether it had already been sent under this
    /// transaction id (nothing is sent again).
    pub async fn send(&self, by: &Actor, new: NewBroadcast) -> ServiceResult<(Broadcast, bool)> {
        let sender = &by.user_id;
        self.permitted(sender).await?;
        check_title(&new.title).map_err(|e| ServiceError::invalid(e.to_string()))?;
        let body = new.body.trim();
        if body.is_empty() || body.chars().count() > MAX_BODY_CHARS {
            return Err(ServiceError::invalid(format!("the message is 1 to {MAX_BODY_CHARS} characters")));
        }
        if new.txn_id.is_empty() || new.txn_id.len() > 200 {
            return Err(ServiceError::invalid("txn_id is 1 to 200 characters"));
        }
        let _one = self.sending.lock().await;
        if let Some(done) = self.store.broadcast_for_txn(sender, &new.txn_id).await? {
            return Ok((done, true));
        }
        let recipients: Vec<Account> =
            self.resolve(&new.audience).await?.into_iter().filter(|a| a.user_id != *sender).collect();
        if recipients.is_empty() {
            return Err(ServiceError::invalid("nobody is in that audience"));
        }
        let acknowledge = new.acknowledge || new.level != Level::Routine;
        let title = new.title.trim().to_owned();
        let block = json!({
            "sender": sender, "audience": new.audience, "title": title,
            "level": new.level.as_str(), "acknowledge": acknowledge,
        });
        // The broadcast's own transaction (per sender, whichever device retries it): a retry
        // after a crash finds the message already sent instead of sending it twice.
        let txn = TxnRef {
            device_id: OwnedDeviceId::from("BROADCAST"),
            txn_id: OwnedTransactionId::from(format!("broadcast.{}", new.txn_id)),
        };
        let key = retry_key(&new.txn_id, &block, body);
        // Sent before under this transaction id, but not this broadcast (another audience or
        // text): refused before anyone is seated anywhere.
        let its_room = self.rooms.broadcast_room_id(sender, &key)?;
        if let Some(earlier) = self.store.event_for_txn(sender, &txn.device_id, txn.txn_id.as_str()).await?
            && self.store.event(&earlier).await?.is_some_and(|e| e.event.room_id != its_room)
        {
            return Err(ServiceError::invalid(
                "this transaction id was used for a different broadcast: send it as a new one",
            ));
        }
        let room_id = self
            .rooms
            .create_broadcast_room(
                by,
                NewBroadcastRoom {
                    key,
                    name: format!("Broadcast: {title}"),
                    state: block.clone(),
                    recipients: recipients.clone(),
                },
            )
            .await?;
        let mut content = json!({ "msgtype": "m.text", "body": body, BROADCAST: block });
        if new.level != Level::Routine {
            content[PRIORITY] = json!({ "level": new.level.as_str() });
        }
        if acknowledge {
            content[ASK] = json!({ "options": [{ "id": ACKNOWLEDGE, "label": "Acknowledge", "means": "accept" }] });
        }
        let req = SendEvent {
            room_id: room_id.clone(),
            kind: kinds::MESSAGE.into(),
            state_key: None,
            content,
            redacts: None,
            txn: Some(txn),
        };
        let event_id = self.rooms.send(by, req).await?;
        #[cfg(test)]
        if self.crash_before_recording.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return Err(ServiceError::Internal("crashed (test)".into()));
        }
        let sent = self.store.event(&event_id).await?.map_or_else(|| self.clock.now(), |e| e.event.origin_server_ts);
        let record = Broadcast {
            room_id,
            event_id,
            sender: sender.clone(),
            txn_id: new.txn_id,
            audience: new.audience,
            title,
            level: new.level,
            acknowledge,
            sent,
            recipients: recipients.len() as u64,
            reminded: None,
        };
        self.store.insert_broadcast(record.clone()).await?;
        self.record(
            by,
            &record,
            format!(
                "sent audience={} recipients={} level={} acknowledge={acknowledge}",
                record.audience.audit_name(),
                record.recipients,
                record.level.as_str()
            ),
        )?;
        Ok((record, false))
    }

    /// The caller's own broadcasts, newest first.
    pub async fn mine(&self, user: &UserId) -> ServiceResult<Vec<Broadcast>> {
        Ok(self.store.broadcasts_by(user, LIST_LIMIT).await?)
    }

    /// A broadcast of `user`'s (anyone else's is not found, as an unknown one).
    async fn own(&self, user: &UserId, room: &RoomId) -> ServiceResult<Broadcast> {
        match self.store.broadcast(room).await? {
            Some(b) if b.sender == user => Ok(b),
            _ => Err(ServiceError::not_found("no such broadcast")),
        }
    }

    /// The status of the broadcast message, by the one rule.
    async fn status(&self, b: &Broadcast) -> ServiceResult<MessageStatus> {
        let message = self
            .store
            .event(&b.event_id)
            .await?
            .ok_or_else(|| ServiceError::Internal(format!("broadcast {} has no message", b.room_id)))?;
        self.status.status_for_server(&message).await
    }

    /// The report of one of the caller's broadcasts (audited: it names who has not read it).
    pub async fn report(&self, by: &Actor, room: &RoomId) -> ServiceResult<Report> {
        let b = self.own(&by.user_id, room).await?;
        let status = self.status(&b).await?;
        let counts = status.counts();
        let accepts =
            |r: &crate::messaging::RecipientStatus| r.answer.as_ref().is_some_and(|a| a.means == Means::Accept);
        let acknowledged = status.recipients.iter().filter(|r| accepts(r)).count() as u64;
        let not_read: Vec<&OwnedUserId> =
            status.recipients.iter().filter(|r| r.read.is_none()).map(|r| &r.user_id).collect();
        let not_acked: Vec<&OwnedUserId> = if b.acknowledge {
            status.recipients.iter().filter(|r| !accepts(r)).map(|r| &r.user_id).collect()
        } else {
            Vec::new()
        };
        let people = self.people(not_read.iter().chain(not_acked.iter()).take(2 * REPORT_LIST_CAP)).await?;
        let named = |ids: &[&OwnedUserId]| -> Vec<Person> {
            ids.iter()
                .take(REPORT_LIST_CAP)
                .map(|u| {
                    people.get(*u).cloned().unwrap_or(Person {
                        user_id: (*u).clone(),
                        display_name: None,
                        department: None,
                    })
                })
                .collect()
        };
        let report = Report {
            recipients: counts.recipients,
            delivered: counts.delivered,
            read: counts.read,
            acknowledged,
            not_read: named(&not_read),
            not_read_total: not_read.len() as u64,
            not_acknowledged: named(&not_acked),
            not_acknowledged_total: not_acked.len() as u64,
            next_reminder: Timestamp(b.reminded.map_or(0, |t| t.0.saturating_add(REMIND_INTERVAL_MS))),
            broadcast: b,
        };
        self.record(
            by,
            &report.broadcast,
            format!("report recipients={} read={} acknowledged={acknowledged}", report.recipients, report.read),
        )?;
        Ok(report)
    }

    /// Names and departments of `users`.
    async fn people<'a>(
        &self,
        users: impl Iterator<Item = &'a &'a OwnedUserId>,
    ) -> ServiceResult<HashMap<OwnedUserId, Person>> {
        let wanted: BTreeSet<&OwnedUserId> = users.copied().collect();
        if wanted.is_empty() {
            return Ok(HashMap::new());
        }
        let accounts = self.store.list_accounts().await?;
        Ok(accounts
            .into_iter()
            .filter(|a| wanted.contains(&a.user_id))
            .map(|a| {
                let p = Person { user_id: a.user_id.clone(), display_name: a.display_name, department: a.department };
                (a.user_id, p)
            })
            .collect())
    }

    /// Reminds those who have not read the broadcast (or not acknowledged it, if it asks): the
    /// server's member posts a notice mentioning exactly them. At most once per
    /// [`REMIND_INTERVAL_MS`] (`429` with the time to wait); with nobody to remind, nothing is
    /// posted and the interval is not used.
    ///
    /// A reminder is the sender broadcasting again: only while they may broadcast (refused, and
    /// audited as denied, once an administrator has withdrawn the permission).
    pub async fn remind(&self, by: &Actor, room: &RoomId) -> ServiceResult<Reminded> {
        let b = self.own(&by.user_id, room).await?;
        if let Err(refused) = self.permitted(&by.user_id).await {
            let mut r = self.audit.entry(Some(by), AuditAction::Broadcast, Outcome::Denied);
            r.room_id = Some(b.room_id.to_string());
            r.event_id = Some(b.event_id.to_string());
            r.detail = Some("remind: the sender may no longer broadcast".into());
            self.audit.record(r)?;
            return Err(refused);
        }
        let status = self.status(&b).await?;
        let users: Vec<OwnedUserId> = status
            .recipients
            .iter()
            .filter(|r| {
                if b.acknowledge {
                    !r.answer.as_ref().is_some_and(|a| a.means == Means::Accept)
                } else {
                    r.read.is_none()
                }
            })
            .map(|r| r.user_id.clone())
            .collect();
        if users.is_empty() {
            return Ok(Reminded { users, notices: Vec::new() });
        }
        let now = self.clock.now();
        let not_after = Timestamp(now.0.saturating_sub(REMIND_INTERVAL_MS));
        if let Some(last) = self.store.claim_reminder(room, now, not_after).await? {
            let wait = last.0.saturating_add(REMIND_INTERVAL_MS).saturating_sub(now.0).max(1);
            return Err(ServiceError::RateLimited { retry_after_ms: wait });
        }
        let what = if b.acknowledge { "read and acknowledge" } else { "read" };
        let mut notices = Vec::new();
        for (i, chunk) in users.chunks(MENTIONS_PER_NOTICE).enumerate() {
            let body = format!("Reminder: please {what} the broadcast \u{201c}{}\u{201d}.", b.title);
            let content = json!({
                "msgtype": "m.notice",
                "body": body,
                "m.mentions": { "user_ids": chunk },
                "m.relates_to": { "rel_type": "m.reference", "event_id": b.event_id },
                "org.wardline.broadcast_reminder": { "users": chunk.len() },
            });
            let txn = format!("broadcast.remind.{}.{}.{i}", b.event_id.as_str().trim_start_matches('$'), now.0);
            notices.push(self.rooms.post_server_notice(room, &b.sender, &txn, content).await?);
        }
        self.record(by, &b, format!("remind users={} acknowledge={}", users.len(), b.acknowledge))?;
        Ok(Reminded { users, notices })
    }

    fn record(&self, by: &Actor, b: &Broadcast, detail: String) -> ServiceResult<()> {
        let mut r = self.audit.entry(Some(by), AuditAction::Broadcast, Outcome::Success);
        r.room_id = Some(b.room_id.to_string());
        r.event_id = Some(b.event_id.to_string());
        r.detail = Some(detail);
        self.audit.record(r)
    }
}

/// The JSON of a broadcast as its sender's client sees it.
#[must_use]
pub fn broadcast_json(b: &Broadcast) -> Value {
    json!({
        "broadcast_id": b.room_id,
        "room_id": b.room_id,
        "event_id": b.event_id,
        "audience": b.audience,
        "title": b.title,
        "level": b.level.as_str(),
        "acknowledge": b.acknowledge,
        "sent_ts": b.sent.0,
        "recipients": b.recipients,
        "reminded_ts": b.reminded.map(|t| t.0),
    })
}

#[cfg(test)]
#[path = "broadcast_tests.rs"]
mod tests;
