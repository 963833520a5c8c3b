//! `GET /notifications`: the events that notified the user, newest first, across their rooms.
//!
//! Nothing is stored per notification: each page evaluates the messages below its `from`
//! position with [`PushRuleService::verdicts`], so the list always agrees with the counts and
//! with the user's rules as they are now. One page reads at most [`SCAN_BUDGET`] events in all
//! (after one look at each room's newest event below `from`): rooms are read newest first, and
//! once a room cannot reach the page (its newest event is older than the page's last
//! notification) neither can any after it. When the budget runs out first, the page ends where
//! reading stopped: every room was read that far, or holds nothing so recent, and `next_token`
//! goes on from there (a page may then be short, even empty, with more to come). Only events
//! the user may see (history visibility, their memberships) are listed, and each one listed is
//! audited as a read, like a timeline page. Pages are limited per user by
//! `rate_limits.notifications`.

use ruma::push::{Action, HighlightTweakValue, SoundTweakValue, Tweak};
use ruma::{OwnedRoomId, UserId};
use wardline_store::{Direction, PosRange};
use wardline_types::{StoredEvent, StreamPos};

use super::counts::counted;
use super::{PushRuleService, Verdict};
use crate::ServiceResult;
use crate::audit::Actor;
use crate::ratelimit::LimitKind;

/// Most events read (and evaluated) for one page, across all the user's rooms.
pub const SCAN_BUDGET: usize = 2_000;
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
    /// How many events were read for it (at most the scan budget).
    pub scanned: usize,
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
    /// `GET /notifications` for `by`, under their `rate_limits.notifications`.
    pub async fn notifications(&self, by: &Actor, q: NotificationQuery<'_>) -> ServiceResult<NotificationPage> {
        self.limiter.check(LimitKind::Notifications, by.user_id.as_str())?;
        self.notifications_within(by, q, SCAN_BUDGET).await
    }

    /// One page, reading at most `budget` events (module documentation).
    pub(crate) async fn notifications_within(
        &self,
        by: &Actor,
        q: NotificationQuery<'_>,
        budget: usize,
    ) -> ServiceResult<NotificationPage> {
        let user: &UserId = &by.user_id;
        let upto = self.store.current_pos();
        let below = match q.from {
            Some(t) => StreamPos(
                t.parse::<i64>().map_err(|_| crate::ServiceError::invalid("from: not a token of this endpoint"))?,
            ),
            None => upto.next(),
        };
        if below <= StreamPos(1) {
            return Ok(NotificationPage::default());
        }
        let limit = q.limit.unwrap_or(20).clamp(1, MAX_LIMIT);
        let under = |pos: StreamPos| PosRange::new(StreamPos::ZERO, StreamPos(pos.0 - 1));
        // The user's rooms, by their newest event below the page's start, newest first.
        let mut rooms: Vec<(StreamPos, OwnedRoomId)> = Vec::new();
        for m in self.store.rooms_of_user(user).await? {
            if let Some(newest) =
                self.store.room_events(&m.room_id, under(below), Direction::Backward, 1).await?.first()
            {
                rooms.push((newest.stream, m.room_id));
            }
        }
        rooms.sort_by_key(|r| std::cmp::Reverse(r.0));
        let mut left = budget.max(1);
        // Newest first, at most `limit`.
        let mut found: Vec<Notified> = Vec::new();
        // Every room was read down to `floor` (inclusive), or holds nothing at or above it: the
        // page may not go below it.
        let mut floor = StreamPos::ZERO;
        for (newest, room) in &rooms {
            if found.len() >= limit && found.last().is_some_and(|n| n.event.stream > *newest) {
                // Nothing here or in the rooms after it is recent enough for this page.
                break;
            }
            if left == 0 {
                // Out of budget: this room and those after it hold nothing above `newest`.
                floor = floor.max(newest.next());
                break;
            }
            let vis = self.timeline.visibility(user, room).await?;
            if !vis.ever_joined() {
                continue;
            }
            let read_point = self.store.read_point(room, user, upto).await?;
            let mut before = below;
            let mut in_room = 0;
            loop {
                let want = BATCH.min(left);
                let batch = self.store.room_events(room, under(before), Direction::Backward, want).await?;
                let Some(last) = batch.last() else { break };
                before = last.stream;
                left -= batch.len();
                let exhausted = batch.len() < want;
                let candidates: Vec<StoredEvent> =
                    batch.into_iter().filter(|e| counted(e, user) && vis.can_see(e.stream)).collect();
                let verdicts = self.verdicts(user, room, &candidates).await?;
                for (event, verdict) in candidates.into_iter().zip(verdicts) {
                    if verdict.notify && (verdict.highlight || !q.only_highlight) {
                        in_room += 1;
                        found.push(Notified { read: event.stream <= read_point, event, verdict });
                    }
                }
                if exhausted || in_room >= limit || before <= StreamPos(1) {
                    break;
                }
                if left == 0 {
                    floor = floor.max(before);
                    break;
                }
            }
            // Only the newest `limit` can be on the page (those cut can only be lower still).
            found.sort_by_key(|n| std::cmp::Reverse(n.event.stream));
            found.truncate(limit);
        }
        found.retain(|n| n.event.stream >= floor);
        let next_token = if found.len() == limit {
            found.last().map(|n| n.event.stream.0.to_string())
        } else if floor > StreamPos::ZERO {
            Some(floor.0.to_string())
        } else {
            None
        };
        self.audit_shown(by, &found)?;
        Ok(NotificationPage { notifications: found, next_token, scanned: budget.max(1) - left })
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
