//! `GET /notifications`: the events that notified the user, newest first, across their rooms.
//!
//! Nothing is stored per notification: each page evaluates, room by room, the messages below
//! its `from` position with [`PushRuleService::verdicts`], so the list always agrees with the
//! counts and with the user's rules as they are now. A room is read backwards at most
//! [`SCAN_PER_ROOM`] events per page; when a room stops short, the page ends where it stopped
//! (every room was read at least that far), and the next page goes on from there. Only events
//! the user may see (history visibility, their memberships) are listed, and each one listed is
//! audited as a read, like a timeline page.

use ruma::UserId;
use ruma::push::{Action, HighlightTweakValue, SoundTweakValue, Tweak};
use wardline_store::{Direction, PosRange};
use wardline_types::{StoredEvent, StreamPos};

use super::counts::counted;
use super::{PushRuleService, Verdict};
use crate::ServiceResult;
use crate::audit::Actor;

/// Most events of one room read backwards for one page.
pub const SCAN_PER_ROOM: usize = 1_000;
/// Events read from the store at a time.
const BATCH: usize = 200;
/// Largest page.
pub const MAX_LIMIT: usize = 100;

/// One notification.
#[derive(Debug, Clone)]
pub struct Notified {
    /// The event (its room is `event.event.room_id`).
    pub event: StoredEvent,
    /// Whether the user has read it (it is at or before their read point).
    pub read: bool,
    /// How it notified.
    pub verdict: Verdict,
}

impl Notified {
    /// The actions the verdict stands for, as the spec's `actions`.
    #[must_use]
    pub fn actions(&self) -> Vec<Action> {
        let mut out = vec![Action::Notify];
        if let Some(s) = &self.verdict.sound {
            out.push(Action::SetTweak(Tweak::Sound(SoundTweakValue::from(s.as_str()))));
        }
        if self.verdict.highlight {
            out.push(Action::SetTweak(Tweak::Highlight(HighlightTweakValue::Yes)));
        }
        out
    }
}

/// One page of notifications.
#[derive(Debug, Clone, Default)]
pub struct NotificationPage {
    /// Newest first.
    pub notifications: Vec<Notified>,
    /// Where the next page starts, if there may be one.
    pub next_token: Option<String>,
}

/// A `/notifications` request.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotificationQuery<'a> {
    /// `from`: a `next_token` of an earlier page.
    pub from: Option<&'a str>,
    /// `limit`.
    pub limit: Option<usize>,
    /// `only=highlight`.
    pub only_highlight: bool,
}

impl PushRuleService {
    /// `GET /notifications` for `by`.
    pub async fn notifications(&self, by: &Actor, q: NotificationQuery<'_>) -> ServiceResult<NotificationPage> {
        let user: &UserId = &by.user_id;
        let upto = self.store.current_pos();
        let below = match q.from {
            Some(t) => StreamPos(
                t.parse::<i64>().map_err(|_| crate::ServiceError::invalid("from: not a token of this endpoint"))?,
            ),
            None => upto.next(),
        };
        let limit = q.limit.unwrap_or(20).clamp(1, MAX_LIMIT);
        let mut found: Vec<Notified> = Vec::new();
        // Every room was read down to `floor` (inclusive): the page may not go below it.
        let mut floor = StreamPos::ZERO;
        for m in self.store.rooms_of_user(user).await? {
            let room = &m.room_id;
            let vis = self.timeline.visibility(user, room).await?;
            if !vis.ever_joined() {
                continue;
            }
            let read_point = self.store.read_point(room, user, upto).await?;
            let mut before = below;
            let (mut scanned, mut in_room) = (0, 0);
            loop {
                let range = PosRange::new(StreamPos::ZERO, StreamPos(before.0 - 1));
                let batch = self.store.room_events(room, range, Direction::Backward, BATCH).await?;
                let Some(last) = batch.last() else { break };
                before = last.stream;
                scanned += batch.len();
                let exhausted = batch.len() < BATCH;
                let candidates: Vec<StoredEvent> =
                    batch.into_iter().filter(|e| counted(e, user) && vis.can_see(e.stream)).collect();
                let verdicts = self.verdicts(user, room, &candidates).await?;
                for (event, verdict) in candidates.into_iter().zip(verdicts) {
                    if verdict.notify && (verdict.highlight || !q.only_highlight) {
                        in_room += 1;
                        found.push(Notified { read: event.stream <= read_point, event, verdict });
                    }
                }
                if exhausted || in_room >= limit {
                    break;
                }
                if scanned >= SCAN_PER_ROOM {
                    floor = floor.max(before);
                    break;
                }
            }
        }
        found.sort_by_key(|n| std::cmp::Reverse(n.event.stream));
        found.retain(|n| n.event.stream >= floor);
        found.truncate(limit);
        let next_token = if found.len() == limit {
            found.last().map(|n| n.event.stream.0.to_string())
        } else if floor > StreamPos::ZERO {
            Some(floor.0.to_string())
        } else {
            None
        };
        self.audit_shown(by, &found)?;
        Ok(NotificationPage { notifications: found, next_token })
    }

    fn audit_shown(&self, by: &Actor, shown: &[Notified]) -> ServiceResult<()> {
        let mut by_room: std::collections::BTreeMap<&ruma::RoomId, Vec<StoredEvent>> = Default::default();
        for n in shown {
            by_room.entry(&n.event.event.room_id).or_default().push(n.event.clone());
        }
        for (room, events) in by_room {
            self.timeline.audit_read(by, room, &events, "notifications")?;
        }
        Ok(())
    }
}
