//! What is waiting for someone's answer: every urgent or emergency message still escalating in
//! a conversation they are in (or are brought into), that they did not send and have not
//! answered. The web client's red (emergency) and amber (urgent) banner shows these until each
//! is answered or its escalation ends; computed here, from the store, so it is the same on
//! every node and after a restart, and agrees with the message's status.

use ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, UserId};
use wardline_types::priority::Level;
use wardline_types::{Membership, Timestamp};

use super::EscalationService;
use crate::ServiceResult;

/// Most messages listed (the oldest first: they have waited longest).
const MOST: usize = 100;

/// A message waiting for someone's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// Its conversation.
    pub room_id: OwnedRoomId,
    /// The message.
    pub event_id: OwnedEventId,
    /// Its level.
    pub level: Level,
    /// Who sent it.
    pub sender: OwnedUserId,
    /// When.
    pub sent: Timestamp,
    /// `false`: they are invited into the conversation (brought in by a step), not in it yet.
    pub joined: bool,
}

impl EscalationService {
    /// The messages waiting for `user`'s answer, oldest first.
    ///
    /// # Errors
    /// A store that cannot be read.
    pub async fn waiting_for(&self, user: &UserId) -> ServiceResult<Vec<Waiting>> {
        let rooms: Vec<(OwnedRoomId, bool)> = self
            .store
            .rooms_of_user(user)
            .await?
            .into_iter()
            .filter_map(|m| match m.membership {
                Membership::Join => Some((m.room_id, true)),
                Membership::Invite => Some((m.room_id, false)),
                _ => None,
            })
            .collect();
        let ids: Vec<OwnedRoomId> = rooms.iter().map(|(r, _)| r.clone()).collect();
        let mut out = Vec::new();
        for esc in self.store.open_escalations_in(&ids, MOST).await? {
            if esc.sender == user {
                continue;
            }
            let Some(message) = self.store.event(&esc.event_id).await? else { continue };
            let status = self.status.status_for_server(&message).await?;
            let answered = status.recipients.iter().any(|r| r.user_id == user && r.answer.is_some())
                || status.other_answers.iter().any(|(u, _)| u == user);
            if answered {
                continue;
            }
            let joined = rooms.iter().any(|(r, j)| *r == esc.room_id && *j);
            out.push(Waiting {
                room_id: esc.room_id,
                event_id: esc.event_id,
                level: esc.level,
                sender: esc.sender,
                sent: esc.sent,
                joined,
            });
        }
        Ok(out)
    }
}
