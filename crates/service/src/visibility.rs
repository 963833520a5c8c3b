//! History visibility: which events of a room a user may read.
//!
//! The rules of the Matrix spec, applied to one user's membership history and the room's
//! history-visibility history. An event is visible if, when it was sent,
//! - the user was joined (just before or just after it: so they see their own join and leave); or
//! - the room was `shared` and the user joined at some point after it; or
//! - the room was `invited` and the user was invited or joined.
//!
//! So a user who left sees nothing after leaving, unless they come back.
//!
//! `world_readable` is refused in a closed organisation (`rooms::auth_rules`); a room that has it
//! from before is read as `shared`, so a user who was never in a room never reads it.
//!
//! **Invariant:** this is the one rule for reading a room's events. `/sync` (timeline, state,
//! unread counts), `/messages`, `/event`, `/context`, receipts and files referred to by events
//! all ask [`Visibility::can_see`]. Unread counts start after the user's own latest join.

use wardline_store::PosRange;
use wardline_types::{Membership, StoredEvent, StreamPos, kinds};

/// What decides visibility for one user in one room.
#[derive(Debug, Clone, Default)]
pub struct Visibility {
    memberships: Vec<(StreamPos, Membership)>,
    history: Vec<(StreamPos, String)>,
}

impl Visibility {
    /// From the user's membership changes and the room's history-visibility events, in order.
    #[must_use]
    pub fn new(memberships: Vec<(StreamPos, Membership)>, history_events: &[StoredEvent]) -> Self {
        let history = history_events
            .iter()
            .filter(|e| e.event.kind == kinds::HISTORY_VISIBILITY)
            .map(|e| {
                let v = e.event.content.get("history_visibility").and_then(|v| v.as_str()).unwrap_or("shared");
                (e.stream, v.to_owned())
            })
            .collect();
        Self { memberships, history }
    }

    /// Has the user ever had any membership in the room?
    #[must_use]
    pub fn ever_member(&self) -> bool {
        !self.memberships.is_empty()
    }

    /// Has the user ever been joined?
    #[must_use]
    pub fn ever_joined(&self) -> bool {
        self.memberships.iter().any(|(_, m)| *m == Membership::Join)
    }

    /// The user's latest membership.
    #[must_use]
    pub fn latest(&self) -> Option<Membership> {
        self.memberships.last().map(|(_, m)| *m)
    }

    /// The user's membership just before `pos` (exclusive) or at it (inclusive).
    fn membership_at(&self, pos: StreamPos, inclusive: bool) -> Option<Membership> {
        self.memberships
            .iter()
            .take_while(|(p, _)| if inclusive { *p <= pos } else { *p < pos })
            .last()
            .map(|(_, m)| *m)
    }

    fn history_at(&self, pos: StreamPos) -> &str {
        self.history.iter().take_while(|(p, _)| *p < pos).last().map_or("shared", |(_, v)| v.as_str())
    }

    /// May the user read the event at `pos`?
    #[must_use]
    pub fn can_see(&self, pos: StreamPos) -> bool {
        let before = self.membership_at(pos, false);
        let after = self.membership_at(pos, true);
        if before == Some(Membership::Join) || after == Some(Membership::Join) {
            return true;
        }
        match self.history_at(pos) {
            "shared" | "world_readable" => self.memberships.iter().any(|(p, m)| *p > pos && *m == Membership::Join),
            "invited" => matches!(after, Some(Membership::Invite)),
            _ => false,
        }
    }

    /// Every position up to `upto` the user may read, as ranges in order (for searching the
    /// room's history in one go). Derived from [`Visibility::can_see`], never a second rule:
    /// the answer can only change at a membership or history-visibility change, so `can_see`
    /// is asked at each change and once for each stretch between two changes.
    #[must_use]
    pub fn visible_ranges(&self, upto: StreamPos) -> Vec<PosRange> {
        let mut changes: Vec<i64> = self
            .memberships
            .iter()
            .map(|(p, _)| p.0)
            .chain(self.history.iter().map(|(p, _)| p.0))
            .filter(|p| (1..=upto.0).contains(p))
            .collect();
        changes.sort_unstable();
        changes.dedup();
        // Stretches of positions on which `can_see` is constant: each change on its own, and
        // the positions between two changes.
        let mut stretches = Vec::with_capacity(changes.len() * 2 + 1);
        let mut start = 1;
        for &c in &changes {
            if start < c {
                stretches.push((start, c - 1));
            }
            stretches.push((c, c));
            start = c + 1;
        }
        if start <= upto.0 {
            stretches.push((start, upto.0));
        }
        let mut out: Vec<PosRange> = Vec::new();
        for (first, last) in stretches {
            if !self.can_see(StreamPos(first)) {
                continue;
            }
            match out.last_mut() {
                Some(r) if r.upto.0 + 1 == first => r.upto = StreamPos(last),
                _ => out.push(PosRange::new(StreamPos(first - 1), StreamPos(last))),
            }
        }
        out
    }

    /// The last position the user may read, if their access has ended (they left or were
    /// banned and did not come back): nothing after it is visible.
    #[must_use]
    pub fn ended_at(&self) -> Option<StreamPos> {
        match self.memberships.last() {
            Some((p, Membership::Leave | Membership::Ban)) => Some(*p),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruma::{owned_event_id, owned_room_id, owned_user_id};
    use serde_json::json;
    use wardline_types::{NewEvent, Timestamp};

    fn hv(pos: i64, v: &str) -> StoredEvent {
        StoredEvent {
            stream: StreamPos(pos),
            event: NewEvent {
                event_id: owned_event_id!("$h"),
                room_id: owned_room_id!("!r:x"),
                sender: owned_user_id!("@a:x"),
                kind: kinds::HISTORY_VISIBILITY.into(),
                state_key: Some(String::new()),
                content: json!({ "history_visibility": v }),
                origin_server_ts: Timestamp(0),
                redacts: None,
                txn: None,
            },
            redacted_because: None,
        }
    }

    #[test]
    fn shared_history_until_leaving() {
        // Invited at 10, joined at 20, left at 30.
        let v = Visibility::new(
            vec![
                (StreamPos(10), Membership::Invite),
                (StreamPos(20), Membership::Join),
                (StreamPos(30), Membership::Leave),
            ],
            &[hv(2, "shared")],
        );
        assert!(v.can_see(StreamPos(5)), "shared history before joining");
        assert!(v.can_see(StreamPos(20)), "own join");
        assert!(v.can_see(StreamPos(25)));
        assert!(v.can_see(StreamPos(30)), "own leave");
        assert!(!v.can_see(StreamPos(31)), "nothing after leaving");
        assert_eq!(v.ended_at(), Some(StreamPos(30)));
    }

    #[test]
    fn joined_history_hides_the_past() {
        let v = Visibility::new(vec![(StreamPos(20), Membership::Join)], &[hv(2, "joined")]);
        assert!(!v.can_see(StreamPos(5)));
        assert!(v.can_see(StreamPos(21)));
        assert_eq!(v.ended_at(), None);
    }

    #[test]
    fn invited_history() {
        let v = Visibility::new(
            vec![(StreamPos(10), Membership::Invite), (StreamPos(20), Membership::Join)],
            &[hv(2, "invited")],
        );
        assert!(!v.can_see(StreamPos(5)));
        assert!(v.can_see(StreamPos(15)));
    }

    #[test]
    fn world_readable_is_read_as_shared() {
        // Never a member: nothing, even though the room once said world_readable.
        assert!(!Visibility::new(vec![], &[hv(2, "world_readable")]).can_see(StreamPos(5)));
        // A member sees what shared history would show them, and nothing after leaving.
        let v = Visibility::new(
            vec![(StreamPos(10), Membership::Join), (StreamPos(20), Membership::Leave)],
            &[hv(2, "world_readable")],
        );
        assert!(v.can_see(StreamPos(5)));
        assert!(!v.can_see(StreamPos(25)));
    }

    #[test]
    fn away_and_back_under_joined_history() {
        // Joined at 10, left at 20, invited at 30, joined again at 40; history `joined`.
        let v = Visibility::new(
            vec![
                (StreamPos(10), Membership::Join),
                (StreamPos(20), Membership::Leave),
                (StreamPos(30), Membership::Invite),
                (StreamPos(40), Membership::Join),
            ],
            &[hv(2, "joined")],
        );
        assert!(v.can_see(StreamPos(15)));
        assert!(!v.can_see(StreamPos(25)), "said while away");
        assert!(!v.can_see(StreamPos(35)), "said while invited");
        assert!(v.can_see(StreamPos(40)) && v.can_see(StreamPos(45)));
        assert_eq!(v.ended_at(), None);
        // Shared history: the time away is readable after coming back.
        let shared = Visibility::new(
            vec![
                (StreamPos(10), Membership::Join),
                (StreamPos(20), Membership::Leave),
                (StreamPos(40), Membership::Join),
            ],
            &[hv(2, "shared")],
        );
        assert!(shared.can_see(StreamPos(25)));
        // Invited history: from the invitation on.
        let invited = Visibility::new(
            vec![
                (StreamPos(10), Membership::Join),
                (StreamPos(20), Membership::Leave),
                (StreamPos(30), Membership::Invite),
                (StreamPos(40), Membership::Join),
            ],
            &[hv(2, "invited")],
        );
        assert!(!invited.can_see(StreamPos(25)));
        assert!(invited.can_see(StreamPos(35)));
    }

    /// `visible_ranges` says exactly what `can_see` says, position by position, for every
    /// combination of a few membership and history changes.
    #[test]
    fn visible_ranges_agree_with_can_see() {
        let memberships = [Membership::Invite, Membership::Join, Membership::Leave, Membership::Ban];
        let histories = ["shared", "joined", "invited", "world_readable"];
        let mut cases = 0;
        // Membership changes at 3, 6 and 9 (each any of four kinds, or absent), history changes
        // at 2 and 6.
        for m_code in 0..125usize {
            let mut ms = Vec::new();
            let mut code = m_code;
            for pos in [3, 6, 9] {
                if let Some(m) = memberships.get(code % 5) {
                    ms.push((StreamPos(pos), *m));
                }
                code /= 5;
            }
            for h1 in histories {
                for h2 in histories {
                    let v = Visibility::new(ms.clone(), &[hv(2, h1), hv(6, h2)]);
                    for upto in [0, 1, 6, 12] {
                        let ranges = v.visible_ranges(StreamPos(upto));
                        for pos in 1..=14 {
                            let in_ranges = ranges.iter().any(|r| r.after.0 < pos && pos <= r.upto.0);
                            assert_eq!(
                                in_ranges,
                                pos <= upto && v.can_see(StreamPos(pos)),
                                "{ms:?} {h1} {h2} {upto} {pos}"
                            );
                        }
                        assert!(ranges.windows(2).all(|w| w[0].upto.0 < w[1].after.0), "apart and in order");
                        cases += 1;
                    }
                }
            }
        }
        assert_eq!(cases, 125 * 16 * 4);
    }

    #[test]
    fn never_a_member_sees_nothing() {
        let v = Visibility::new(vec![], &[hv(2, "shared")]);
        assert!(!v.ever_member());
        assert!(!v.can_see(StreamPos(5)));
        assert!(!Visibility::new(vec![], &[hv(2, "world_readable")]).can_see(StreamPos(5)));
    }
}
