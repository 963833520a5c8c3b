//! **The** rule for "Delivered" and "Read": the status endpoint, `/sync` and the conversation
//! transcript all ask [`status_of`], over facts loaded by [`super::load_facts`].
//!
//! - The **recipients** of a message are the users joined to the room when it was sent (the
//!   membership just before its position), less its sender. Someone who joins later is not a
//!   recipient; someone who leaves later stays one, and leaving reads nothing.
//! - A message is **delivered** to a recipient once a response carried it to one of their
//!   devices (a `/sync` timeline, a page of `/messages` or `/context`, `/event`), at the time the
//!   response was made. Deliveries are stored; one not stored yet is not shown yet.
//! - A recipient has **read** a message once they sent a public `m.read` receipt (unthreaded or
//!   on the main timeline) for it or a later event of the room, made at or after it was
//!   delivered to them: nobody reads what never reached their device. The read time is that of
//!   the earliest such receipt. Read implies delivered.
//!
//! Every fact carries the stream position at which it was stored, so the status as it stood at
//! an earlier position can be told too (`/sync` reports the messages whose counts changed).

use std::collections::HashMap;

use ruma::{OwnedEventId, OwnedUserId, UserId};
use wardline_store::{Delivery, Receipt};
use wardline_types::{Membership, StoredEvent, StreamPos, Timestamp, kinds};

/// The type of the ephemeral `/sync` event carrying the counts of the caller's own messages.
pub const STATUS_EVENT_TYPE: &str = "org.wardline.message_status";

/// Is this event a message whose status is shown: something a person reads?
#[must_use]
pub fn is_message(e: &StoredEvent) -> bool {
    e.event.state_key.is_none() && matches!(e.event.kind.as_str(), kinds::MESSAGE | kinds::ENCRYPTED | "m.sticker")
}

/// The membership changes of a room's users: enough to say who was joined at any position.
#[derive(Debug, Clone, Default)]
pub struct Memberships {
    by_user: HashMap<OwnedUserId, Vec<(StreamPos, Membership)>>,
}

impl Memberships {
    /// From membership changes, in any order.
    #[must_use]
    pub fn new(changes: impl IntoIterator<Item = (OwnedUserId, StreamPos, Membership)>) -> Self {
        let mut by_user: HashMap<OwnedUserId, Vec<(StreamPos, Membership)>> = HashMap::new();
        for (user, pos, m) in changes {
            by_user.entry(user).or_default().push((pos, m));
        }
        for list in by_user.values_mut() {
            list.sort_by_key(|(p, _)| *p);
            list.dedup_by_key(|(p, _)| *p);
        }
        Self { by_user }
    }

    /// The recipients of `message`: joined just before it, less its sender; sorted.
    #[must_use]
    pub fn recipients(&self, message: &StoredEvent) -> Vec<OwnedUserId> {
        let mut out: Vec<OwnedUserId> = self
            .by_user
            .iter()
            .filter(|(user, _)| **user != message.event.sender)
            .filter(|(_, changes)| {
                changes.iter().take_while(|(p, _)| *p < message.stream).last().map(|(_, m)| *m)
                    == Some(Membership::Join)
            })
            .map(|(user, _)| user.clone())
            .collect();
        out.sort();
        out
    }
}

/// The stored deliveries and read receipts of a room that a status needs.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    deliveries: HashMap<OwnedUserId, Vec<Delivery>>,
    receipts: HashMap<OwnedUserId, Vec<Receipt>>,
}

impl Facts {
    /// Adds deliveries.
    pub fn add_deliveries(&mut self, deliveries: impl IntoIterator<Item = Delivery>) {
        for d in deliveries {
            self.deliveries.entry(d.user_id.clone()).or_default().push(d);
        }
    }

    /// Adds read receipts, as kept in their history (public `m.read`, main timeline).
    pub fn add_read_receipts(&mut self, receipts: impl IntoIterator<Item = Receipt>) {
        for r in receipts {
            self.receipts.entry(r.user_id.clone()).or_default().push(r);
        }
    }

    /// When the event at `pos` was first delivered to `user`, as stored at positions `<= as_of`.
    #[must_use]
    pub fn delivered(&self, user: &UserId, pos: StreamPos, as_of: StreamPos) -> Option<Timestamp> {
        self.deliveries.get(user)?.iter().filter(|d| d.stream <= as_of && d.covers(pos)).map(|d| d.ts).min()
    }

    /// When `user` first read the event at `pos`, delivered to them at `delivered`: their
    /// earliest read receipt for it or a later event made at or after that, as stored at
    /// positions `<= as_of`.
    #[must_use]
    pub fn read(&self, user: &UserId, pos: StreamPos, delivered: Timestamp, as_of: StreamPos) -> Option<Timestamp> {
        self.receipts
            .get(user)?
            .iter()
            .filter(|r| r.stream <= as_of && r.event_stream >= pos && r.ts >= delivered)
            .map(|r| r.ts)
            .min()
    }
}

/// One recipient's view of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientStatus {
    /// The recipient.
    pub user_id: OwnedUserId,
    /// When it reached one of their devices.
    pub delivered: Option<Timestamp>,
    /// When they read it.
    pub read: Option<Timestamp>,
}

/// Who a message was for, who got it and who read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageStatus {
    /// The message.
    pub event_id: OwnedEventId,
    /// Its sender.
    pub sender: OwnedUserId,
    /// Its position.
    pub stream: StreamPos,
    /// Its recipients, by user id.
    pub recipients: Vec<RecipientStatus>,
}

/// How many recipients a message has, how many it was delivered to (readers included) and how
/// many read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Recipients.
    pub recipients: u64,
    /// Recipients it was delivered to, readers included.
    pub delivered: u64,
    /// Recipients who read it.
    pub read: u64,
}

impl MessageStatus {
    /// The counts.
    #[must_use]
    pub fn counts(&self) -> Counts {
        let n = |f: fn(&RecipientStatus) -> bool| self.recipients.iter().filter(|r| f(r)).count() as u64;
        Counts {
            recipients: self.recipients.len() as u64,
            delivered: n(|r| r.delivered.is_some()),
            read: n(|r| r.read.is_some()),
        }
    }
}

/// The status of `message` as the facts stored at positions `<= as_of` show it.
#[must_use]
pub fn status_of(message: &StoredEvent, memberships: &Memberships, facts: &Facts, as_of: StreamPos) -> MessageStatus {
    let recipients = memberships
        .recipients(message)
        .into_iter()
        .map(|user_id| {
            let delivered = facts.delivered(&user_id, message.stream, as_of);
            let read = delivered.and_then(|d| facts.read(&user_id, message.stream, d, as_of));
            RecipientStatus { user_id, delivered, read }
        })
        .collect();
    MessageStatus {
        event_id: message.event.event_id.clone(),
        sender: message.event.sender.clone(),
        stream: message.stream,
        recipients,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruma::{owned_event_id, owned_room_id, owned_user_id};
    use serde_json::json;
    use wardline_types::NewEvent;

    fn message(pos: i64, sender: &str) -> StoredEvent {
        StoredEvent {
            stream: StreamPos(pos),
            event: NewEvent {
                event_id: owned_event_id!("$m"),
                room_id: owned_room_id!("!r:x"),
                sender: OwnedUserId::try_from(sender).unwrap(),
                kind: kinds::MESSAGE.into(),
                state_key: None,
                content: json!({"msgtype": "m.text", "body": "x"}),
                origin_server_ts: Timestamp(0),
                redacts: None,
                txn: None,
            },
            redacted_because: None,
        }
    }

    fn delivery(user: &str, first: i64, last: i64, ts: u64, stream: i64) -> Delivery {
        Delivery {
            room_id: owned_room_id!("!r:x"),
            user_id: OwnedUserId::try_from(user).unwrap(),
            first: StreamPos(first),
            last: StreamPos(last),
            ts: Timestamp(ts),
            stream: StreamPos(stream),
        }
    }

    fn receipt(user: &str, event_stream: i64, ts: u64, stream: i64) -> Receipt {
        Receipt {
            room_id: owned_room_id!("!r:x"),
            user_id: OwnedUserId::try_from(user).unwrap(),
            receipt_type: "m.read".into(),
            thread_id: None,
            event_id: owned_event_id!("$later"),
            event_stream: StreamPos(event_stream),
            ts: Timestamp(ts),
            stream: StreamPos(stream),
        }
    }

    #[test]
    fn recipients_are_who_was_joined_when_it_was_sent() {
        let (a, b, c, d) = ("@a:x", "@b:x", "@c:x", "@d:x");
        let u = |s: &str| OwnedUserId::try_from(s).unwrap();
        let m = Memberships::new([
            (u(a), StreamPos(1), Membership::Join),
            (u(b), StreamPos(2), Membership::Join),
            (u(c), StreamPos(3), Membership::Invite),
            (u(b), StreamPos(20), Membership::Leave),
            (u(d), StreamPos(12), Membership::Join),
            (u(c), StreamPos(4), Membership::Join),
        ]);
        assert_eq!(m.recipients(&message(10, a)), vec![u(b), u(c)], "the sender is not one");
        assert_eq!(m.recipients(&message(25, a)), vec![u(c), u(d)], "left before it, joined before it");
        assert_eq!(m.recipients(&message(12, c)), vec![u(a), u(b)], "joined by the message's own position: no");
    }

    #[test]
    fn read_needs_a_receipt_made_once_delivered() {
        let members = Memberships::new([
            (owned_user_id!("@a:x"), StreamPos(1), Membership::Join),
            (owned_user_id!("@b:x"), StreamPos(2), Membership::Join),
        ]);
        let m = message(10, "@a:x");
        let mut facts = Facts::default();
        // A receipt for a later event made before delivery (ts 50), delivery at 100 (stored at
        // 31), a receipt at 200 (stored at 40).
        facts.add_read_receipts([receipt("@b:x", 12, 50, 30), receipt("@b:x", 15, 200, 40)]);
        facts.add_deliveries([delivery("@b:x", 8, 12, 100, 31)]);
        let at = |pos: i64| {
            let r = &status_of(&m, &members, &facts, StreamPos(pos)).recipients[0];
            (r.delivered.map(|t| t.0), r.read.map(|t| t.0))
        };
        assert_eq!(at(30), (None, None), "a receipt without a delivery reads nothing");
        assert_eq!(at(31), (Some(100), None), "a receipt made before the delivery reads nothing");
        assert_eq!(at(40), (Some(100), Some(200)));
        let s = status_of(&m, &members, &facts, StreamPos(40));
        assert_eq!(s.counts(), Counts { recipients: 1, delivered: 1, read: 1 });
        // An earlier event's receipt does not read it.
        let mut early = Facts::default();
        early.add_deliveries([delivery("@b:x", 10, 10, 100, 31)]);
        early.add_read_receipts([receipt("@b:x", 9, 200, 40)]);
        assert_eq!(status_of(&m, &members, &early, StreamPos(99)).counts().read, 0);
    }
}
