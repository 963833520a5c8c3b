//! Setting, ending and reading do-not-disturb, and how it shows: in presence, to colleagues,
//! and in the person's own account data, to their clients.

use std::collections::HashMap;
use std::time::Duration;

use ruma::{OwnedUserId, UserId};
use serde_json::{Value, json};
use wardline_store::{DndRefusal, NewDnd, Presence, Store};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::dnd::{DND_KIND, MAX_DND_MILLIS, is_role_user, status_message, until_text};
use wardline_types::{DoNotDisturb, Timestamp};

use super::CoverService;
use crate::audit::{Actor, By};
use crate::presence::PresenceState;
use crate::{ServiceError, ServiceResult};

/// A person, as shown beside a do-not-disturb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Who.
    pub user_id: OwnedUserId,
    /// Their display name, if they have one.
    pub displayname: Option<String>,
}

impl Person {
    /// The display name, else the user id.
    #[must_use]
    pub fn name(&self) -> &str {
        self.displayname.as_deref().unwrap_or(self.user_id.as_str())
    }
}

/// A person's do-not-disturb as colleagues see it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DndView {
    /// Whose.
    pub user_id: OwnedUserId,
    /// Until when, while in force (`None`: not on do-not-disturb).
    pub until: Option<Timestamp>,
    /// Who covers, while in force.
    pub cover: Option<Person>,
}

impl DndView {
    /// Is it in force?
    #[must_use]
    pub fn active(&self) -> bool {
        self.until.is_some()
    }

    fn off(user: &UserId) -> Self {
        Self { user_id: user.to_owned(), until: None, cover: None }
    }

    /// The status message others see (`Do not disturb until 14:00 UTC — cover: Dr C`).
    #[must_use]
    pub fn status_msg(&self, now: Timestamp) -> Option<String> {
        self.until.map(|u| status_message(u, now, self.cover.as_ref().map(Person::name)))
    }

    /// `org.wardline.dnd` as presence carries it: `{until_ts, cover}`.
    #[must_use]
    pub fn presence_field(&self) -> Value {
        json!({ "until_ts": self.until.map(|u| u.0), "cover": self.cover.as_ref().map(|c| &c.user_id) })
    }
}

/// Shows a do-not-disturb in force in a presence: `unavailable`, with its status message.
pub fn presence_overlay(p: &mut Presence, dnd: &DndView, now: Timestamp) {
    if let Some(msg) = dnd.status_msg(now) {
        p.state = PresenceState::Unavailable.as_str().to_owned();
        p.status_msg = Some(msg);
    }
}

/// The view of stored do-not-disturbs in force at `now`, by user, with their covers' names.
pub(crate) async fn views(
    store: &dyn Store,
    now: Timestamp,
    users: &[OwnedUserId],
) -> ServiceResult<HashMap<OwnedUserId, DndView>> {
    let mut out = HashMap::new();
    for d in store.dnds(users).await?.into_iter().filter(|d| d.active_at(now)) {
        out.insert(d.user_id.clone(), view(store, &d).await?);
    }
    Ok(out)
}

async fn view(store: &dyn Store, d: &DoNotDisturb) -> ServiceResult<DndView> {
    let cover = match &d.cover {
        Some(c) => {
            let displayname = store.account(c).await?.and_then(|a| a.display_name);
            Some(Person { user_id: c.clone(), displayname })
        }
        None => None,
    };
    Ok(DndView { user_id: d.user_id.clone(), until: Some(d.until), cover })
}

impl CoverService {
    /// `user`'s do-not-disturb now, for any member of staff; an unknown or deactivated account
    /// is not found.
    pub async fn get(&self, user: &UserId) -> ServiceResult<DndView> {
        if !self.active(user).await? {
            return Err(ServiceError::not_found(format!("{user} is not a user of this organisation")));
        }
        let now = self.clock.now();
        Ok(views(self.store.as_ref(), now, &[user.to_owned()])
            .await?
            .remove(user)
            .unwrap_or_else(|| DndView::off(user)))
    }

    /// Checks a cover named by `user`: a person (not a role), not themself, with an active
    /// account of this organisation. Whether they are on do-not-disturb is the store's check.
    async fn check_cover(&self, user: &UserId, cover: &UserId) -> ServiceResult<()> {
        if cover == user {
            return Err(ServiceError::invalid("you cannot cover for yourself: name a colleague, or nobody"));
        }
        if is_role_user(cover) {
            return Err(ServiceError::invalid("a role cannot cover: name a person"));
        }
        if cover.server_name() != self.server_name || !self.active(cover).await? {
            return Err(ServiceError::not_found(format!("{cover} is not an active member of staff")));
        }
        Ok(())
    }

    /// `by` goes on do-not-disturb until `until` (in the future, at most 7 days ahead), with
    /// `cover` covering if named (replacing any do-not-disturb they had).
    pub async fn set(&self, by: &Actor, until: Timestamp, cover: Option<OwnedUserId>) -> ServiceResult<DndView> {
        let user = &by.user_id;
        let now = self.clock.now();
        if until <= now {
            return Err(ServiceError::invalid("until_ts must be in the future"));
        }
        if until.millis_since(now) > MAX_DND_MILLIS {
            return Err(ServiceError::invalid(format!(
                "do-not-disturb lasts at most {} days",
                Duration::from_millis(MAX_DND_MILLIS).as_secs() / 86_400
            )));
        }
        if let Some(c) = &cover {
            self.check_cover(user, c).await?;
        }
        let slot = self.audit.reserve()?;
        let mut record = self.audit.entry(Some(by), AuditAction::DndSet, Outcome::Success);
        record.target_user = cover.as_ref().map(ToString::to_string);
        let what = format!(
            "until={} cover={}",
            until.to_rfc3339(),
            cover.as_ref().map_or_else(|| "-".to_owned(), ToString::to_string)
        );
        let new = NewDnd { user_id: user.clone(), until, cover, at: now, device_id: by.device_id.clone() };
        let set = match self.store.set_dnd(new).await? {
            Ok(set) => set,
            Err(refusal) => {
                record.outcome = Outcome::Denied;
                let err = match refusal {
                    DndRefusal::CoverOnDnd(c, their_until) => {
                        let name = self.name_of(&c).await?;
                        ServiceError::CoverOnDnd(format!(
                            "{name} is on do-not-disturb until {} and cannot cover: choose someone else",
                            until_text(their_until, now)
                        ))
                    }
                    DndRefusal::CoverNotActive(c) => {
                        ServiceError::not_found(format!("{c} is not an active member of staff"))
                    }
                };
                record.detail = Some(format!("{what}; {err}"));
                slot.record(record);
                return Err(err);
            }
        };
        record.detail = Some(what);
        slot.record(record);
        let view = view(self.store.as_ref(), &set).await?;
        self.told(user, &view).await?;
        Ok(view)
    }

    /// `by` ends their do-not-disturb now (nothing happens if they had none in force).
    pub async fn clear(&self, by: &Actor) -> ServiceResult<DndView> {
        let user = &by.user_id;
        let slot = self.audit.reserve()?;
        let now = self.clock.now();
        if let Some(cleared) = self.store.clear_dnd(user, now).await? {
            let mut record = self.audit.entry(Some(by), AuditAction::DndClear, Outcome::Success);
            let was = if cleared.active_at(now) { "cleared" } else { "already ended" };
            record.detail = Some(format!("{was}; it was until={}", cleared.until.to_rfc3339()));
            slot.record(record);
            self.told(user, &DndView::off(user)).await?;
        }
        Ok(DndView::off(user))
    }

    /// Removes every do-not-disturb that ran out by now, telling colleagues and the person's
    /// clients; returns how many.
    pub async fn end_expired(&self) -> ServiceResult<usize> {
        let ended = self.store.end_expired_dnd(self.clock.now()).await?;
        let mut records = Vec::with_capacity(ended.len());
        for d in &ended {
            let mut r = self.audit.entry_by(By::Server, AuditAction::DndClear, Outcome::Success);
            r.target_user = Some(d.user_id.to_string());
            r.detail = Some(By::Server.detail(&format!("ran out at until={}", d.until.to_rfc3339())));
            records.push(r);
        }
        if !records.is_empty() {
            self.audit.record_batch_now(records).await?;
        }
        for d in &ended {
            self.told(&d.user_id, &DndView::off(&d.user_id)).await?;
        }
        Ok(ended.len())
    }

    /// After a change the store wrote (presence has its new position): the person's own
    /// account data says what is in force, their clients and colleagues are woken, and the
    /// background task looks at the next end.
    async fn told(&self, user: &UserId, view: &DndView) -> ServiceResult<()> {
        let content = json!({
            "active": view.active(),
            "until_ts": view.until.map(|u| u.0),
            "cover": view.cover.as_ref().map(|c| json!({ "user_id": c.user_id, "displayname": c.displayname })),
        });
        self.store.put_account_data(user, None, DND_KIND, content).await?;
        self.notifier.wake([user]);
        self.presence.announce(user).await?;
        self.changed.notify_one();
        Ok(())
    }
}
