//! What a step of an escalation does, and the notice the server's member posts for it.
//!
//! - **Re-notify**: each recipient who has not answered is mentioned again (those on
//!   do-not-disturb only for an emergency, which always breaks through).
//! - **Add cover**: the cover of each recipient on do-not-disturb who has not answered is
//!   brought in and mentioned.
//! - **Add** and **failsafe**: each target is brought in (a role through its user, which seats
//!   its holders; a person by an invitation from the message's sender) and mentioned. A role
//!   nobody holds, a deactivated person, or (for an urgent message) someone on do-not-disturb
//!   cannot be reached by this step.
//!
//! A step that reaches nobody says so, and the next runs at once. A failsafe that reaches
//! nobody says so loudly, to everyone in the conversation, is logged as an error and audited
//! as a failure: the escalation has nowhere left to go.

use std::collections::HashMap;

use ruma::{OwnedUserId, UserId};
use serde_json::{Value, json};
use wardline_store::Escalation;
use wardline_types::escalation::{Action, Target};
use wardline_types::priority::Level;
use wardline_types::{DoNotDisturb, Membership, Timestamp};

use super::EscalationService;
use crate::audit::Actor;
use crate::{ServiceError, ServiceResult};

/// The block of the server's notices about an escalation.
pub const NOTICE: &str = "org.wardline.escalation";

/// Most people a notice mentions: a notice is one event, and an event has a size limit (a
/// "taken" notice in a conversation of thousands names who still need telling up to this).
pub const MOST_MENTIONS: usize = 200;

/// What a step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StepDone {
    /// In words, for the log and the audit trail.
    pub summary: String,
    /// It reached nobody: the next step runs at once.
    pub nobody: bool,
    /// It was the failsafe and reached nobody.
    pub unreachable: bool,
    /// It could not run (recorded so after a second attempt).
    pub failed: bool,
}

impl EscalationService {
    /// Runs the current step of `esc` (already claimed), at `now`.
    pub(super) async fn run_step(&self, esc: &Escalation, now: Timestamp) -> ServiceResult<StepDone> {
        let step = esc.policy.steps.get(esc.step).ok_or_else(|| ServiceError::Internal("no such step".into()))?;
        let message = self
            .store
            .event(&esc.event_id)
            .await?
            .ok_or_else(|| ServiceError::Internal("escalated message missing".into()))?;
        let status = self.status.status_for_server(&message).await?;
        // Those who have not answered and are still in the conversation (a former role
        // holder who left is not waiting).
        let unanswered: Vec<OwnedUserId> =
            status.recipients.iter().filter(|r| r.answer.is_none()).map(|r| r.user_id.clone()).collect();
        let waiting: Vec<OwnedUserId> = self
            .rooms
            .with_state(&esc.room_id, |s| {
                unanswered
                    .into_iter()
                    .filter(|u| matches!(s.membership(u), Some(Membership::Join | Membership::Invite)))
                    .collect()
            })
            .await?;
        let dnd: HashMap<OwnedUserId, DoNotDisturb> = self
            .store
            .dnds(&waiting)
            .await?
            .into_iter()
            .filter(|d| d.active_at(now))
            .map(|d| (d.user_id.clone(), d))
            .collect();
        let minutes = (now.0.saturating_sub(esc.sent.0)) / 60_000;
        let breaks_through = esc.level == Level::Emergency;
        let (kind, reached, mut body) = match &step.action {
            Action::Renotify => {
                let reached: Vec<OwnedUserId> =
                    waiting.iter().filter(|u| breaks_through || !dnd.contains_key(*u)).cloned().collect();
                ("renotify", reached, format!("No answer after {minutes} min — notifying again:"))
            }
            Action::AddCover => {
                let mut covers = Vec::new();
                for u in &waiting {
                    if let Some(c) = dnd.get(u).and_then(|d| d.cover.clone())
                        && self.bring_in_person(esc, &c, true).await?
                        && !covers.contains(&c)
                    {
                        covers.push(c);
                    }
                }
                ("add_cover", covers, "On do-not-disturb: their cover is brought in:".to_owned())
            }
            Action::Add { targets } => {
                let reached = self.bring_in(esc, targets, breaks_through).await?;
                ("add", reached, format!("No answer after {minutes} min — brought in:"))
            }
            Action::Failsafe { targets } => {
                let reached = self.bring_in(esc, targets, true).await?;
                ("failsafe", reached, format!("FAILSAFE: nobody accepted in {minutes} min — brought in:"))
            }
        };
        let failsafe = kind == "failsafe";
        let mut names = Vec::new();
        for u in &reached {
            names.push(self.name_of(u).await?);
        }
        let summary = if reached.is_empty() {
            body = match kind {
                "failsafe" => format!(
                    "FAILSAFE UNREACHABLE: nobody accepted in {minutes} min and the failsafe could not be reached. \
                     Call switchboard now; ask IT to correct the escalation policy."
                ),
                "renotify" => "Nobody left to notify again: next step.".to_owned(),
                "add_cover" => "Nobody waiting is on do-not-disturb with a cover: next step.".to_owned(),
                _ => "Nobody could be brought in at this step (not held, unavailable): next step.".to_owned(),
            };
            body.clone()
        } else {
            body = format!("{body} {}", names.join(", "));
            body.clone()
        };
        // Everyone is told of a failsafe; otherwise those it reached.
        let mut mentions: Vec<String> = reached.iter().map(ToString::to_string).collect();
        if failsafe {
            mentions.push(esc.sender.to_string());
        }
        // `m.text`, not `m.notice`: the spec's default push rules silence notices, and a
        // re-notification must ring.
        let content = json!({
            "msgtype": "m.text",
            "body": body,
            "m.mentions": { "user_ids": mentions, "room": failsafe && reached.is_empty() },
            NOTICE: {
                "message": esc.event_id, "step": esc.step + 1, "kind": kind, "reached": reached,
            },
        });
        self.notice(esc, &format!("esc-{}-{}", esc.event_id, esc.step), content).await?;
        if failsafe && reached.is_empty() {
            tracing::error!(message = %esc.event_id, room = %esc.room_id, "escalation failsafe reached nobody");
        }
        Ok(StepDone { summary, nobody: reached.is_empty(), unreachable: failsafe && reached.is_empty(), failed: false })
    }

    /// Posts a notice about `esc` as the server's member (once per `txn`).
    async fn notice(&self, esc: &Escalation, txn: &str, content: Value) -> ServiceResult<()> {
        self.rooms.post_server_notice(&esc.room_id, &esc.sender, txn, content).await.map(drop)
    }

    /// Brings `targets` into the conversation; returns the people reached (a role's holders).
    async fn bring_in(
        &self,
        esc: &Escalation,
        targets: &[Target],
        breaks_through: bool,
    ) -> ServiceResult<Vec<OwnedUserId>> {
        let mut reached: Vec<OwnedUserId> = Vec::new();
        for t in targets {
            match t {
                Target::User { user_id } => {
                    if self.bring_in_person(esc, user_id, breaks_through).await? && !reached.contains(user_id) {
                        reached.push(user_id.clone());
                    }
                }
                Target::Role { role } => {
                    let Some(r) = self.store.role(role).await? else { continue };
                    let now = self.clock.now();
                    let holders: Vec<OwnedUserId> = r.holders.iter().map(|h| h.user_id.clone()).collect();
                    let available: Vec<OwnedUserId> = if breaks_through {
                        holders
                    } else {
                        let away: Vec<OwnedUserId> = self
                            .store
                            .dnds(&holders)
                            .await?
                            .into_iter()
                            .filter(|d| d.active_at(now))
                            .map(|d| d.user_id)
                            .collect();
                        holders.into_iter().filter(|h| !away.contains(h)).collect()
                    };
                    if r.retired || available.is_empty() {
                        continue;
                    }
                    let role_user = self.rooms.role_user_id(role)?;
                    let there = self.rooms.with_state(&esc.room_id, |s| s.membership(&role_user)).await?;
                    if there != Some(Membership::Join) {
                        let by = Actor::system(esc.sender.clone());
                        if let Err(e) = self.rooms.invite_for_escalation(&esc.room_id, &by, &role_user).await {
                            // Banned, or nobody left who may invite: not reached by this step.
                            tracing::warn!(error = %e, role = %role, "an escalation could not bring a role in");
                            continue;
                        }
                    }
                    for h in available {
                        if !reached.contains(&h) {
                            reached.push(h);
                        }
                    }
                }
            }
        }
        Ok(reached)
    }

    /// Brings one person in (invited by the message's sender) unless they are already there;
    /// returns whether they can be reached: an active account, and not on do-not-disturb
    /// unless `breaks_through`.
    async fn bring_in_person(&self, esc: &Escalation, user: &UserId, breaks_through: bool) -> ServiceResult<bool> {
        match self.store.account(user).await? {
            Some(a) if !a.deactivated => {}
            _ => return Ok(false),
        }
        if !breaks_through && self.store.dnd(user).await?.is_some_and(|d| d.active_at(self.clock.now())) {
            return Ok(false);
        }
        let there = self.rooms.with_state(&esc.room_id, |s| s.membership(user)).await?;
        if !matches!(there, Some(Membership::Join | Membership::Invite)) {
            let by = Actor::system(esc.sender.clone());
            if let Err(e) = self.rooms.invite_for_escalation(&esc.room_id, &by, user).await {
                // Banned, or nobody left who may invite: not reached by this step.
                tracing::warn!(error = %e, user = %user, "an escalation could not bring someone in");
                return Ok(false);
            }
        }
        Ok(true)
    }
}
