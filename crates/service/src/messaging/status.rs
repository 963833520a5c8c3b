//! **The** rule for "Delivered" and "Read": the status endpoint, `/sync` and the conversation
//! transcript all ask [`status_of`], over facts loaded by [`super::load_facts`].
//!
//! - The **recipients** of a message are the users whose membership just before its position
//!   was `join` or `invite`, less its sender, roles' own user ids (a role's holders, seated
//!   in the conversation, are its recipients) and the server's own member (`@wardline`). Someone invited or joined later is not a
//!   recipient; someone who leaves later, or declines the invite, stays one, and leaving reads
//!   nothing.
//! - A message is **delivered** to a recipient once a response carried it to one of their
//!   devices (a `/sync` timeline, a page of `/messages` or `/context`, `/event`), at the time the
//!   response was made. Deliveries are stored per device; one not stored yet is not shown yet.
//! - A recipient has **read** a message once one of their devices sent a public `m.read`
//!   receipt that covers it, having been carried the message before: the receipt points at the
//!   message or a later event, in a thread that holds it (below), and a delivery of the message
//!   to that same device was stored at a position no later than the store had reached when the
//!   receipt arrived ([`Receipt::arrived`]). "Before" is the store's order, never a comparison
//!   of clocks; a delivery still being written when the receipt arrives does not count for it
//!   (the receipt waits for its own device's deliveries already under way, see
//!   [`super::Deliveries::settled`]), so the rule may under-report, never over-report: the
//!   device's next receipt, or the same one sent again, counts once the delivery is stored.
//!   The read time is the time the earliest such receipt arrived (never shown before the
//!   delivery time, whatever the clocks did). Read implies delivered.
//! - **Threads** follow the spec's threaded read receipts: an unthreaded receipt covers every
//!   event up to the one it names, whatever its thread; a receipt with `thread_id` `main`
//!   covers only the main timeline (events not in a thread, thread roots included); a receipt
//!   whose `thread_id` is a thread root's id covers only the replies in that thread
//!   (`m.relates_to` with `rel_type` `m.thread` naming that root). Position decides "up to" in
//!   every case.
//! - Messages sent before deliveries were recorded (at or before [`Facts::recorded_after`],
//!   schema v8) have no delivery record: they are reported as such ("delivery not recorded"),
//!   and read is told from the receipts alone (one covering it, from any device).
//!
//! Every fact carries the stream position at which it was stored, so the status as it stood at
//! an earlier position can be told too (`/sync` reports the messages whose counts changed).

use std::collections::HashMap;

use ruma::{EventId, OwnedEventId, OwnedUserId, UserId};
use wardline_store::{Delivery, Receipt};
use wardline_types::priority::{Ask, Given, Means, Request, request_of};
use wardline_types::relation::{rel_types, relation};
use wardline_types::{Membership, StoredEvent, StreamPos, Timestamp, kinds};

/// The type of the ephemeral `/sync` event carrying the counts of the caller's own messages.
pub const STATUS_EVENT_TYPE: &str = "org.wardline.message_status";

/// The key in the server's meta table of the position delivery tracking began after.
pub const RECORDED_AFTER_KEY: &str = "deliveries_recorded_after";

/// Is this event a message whose status is shown: something a person reads?
#[must_use]
pub fn is_message(e: &StoredEvent) -> bool {
    e.event.state_key.is_none() && matches!(e.event.kind.as_str(), kinds::MESSAGE | kinds::ENCRYPTED | "m.sticker")
}

/// The root of the thread a message is a reply in, or `None` on the main timeline.
#[must_use]
pub fn thread_of(e: &StoredEvent) -> Option<OwnedEventId> {
    relation(&e.event.content).filter(|r| r.rel_type == rel_types::THREAD).map(|r| r.event_id)
}

/// Does the receipt `r` cover the event at `pos` in `thread` (its root; `None` on the main
/// timeline)?
#[must_use]
pub fn covers(r: &Receipt, pos: StreamPos, thread: Option<&EventId>) -> bool {
    r.event_stream >= pos
        && match r.thread_id.as_deref() {
            None => true,
            Some("main") => thread.is_none(),
            Some(root) => thread.is_some_and(|t| t.as_str() == root),
        }
}

/// Could a receipt from `r`'s device have read what `d` carried? The same device, or either
/// one recorded before devices were.
fn same_device(d: &Delivery, r: &Receipt) -> bool {
    d.device_id.is_none() || r.device_id.is_none() || d.device_id == r.device_id
}

/// The membership changes of a room's users: enough to say who was in the room at any position.
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

    /// The recipients of `message`: joined or invited just before it, less its sender; sorted.
    #[must_use]
    pub fn recipients(&self, message: &StoredEvent) -> Vec<OwnedUserId> {
        let mut out: Vec<OwnedUserId> = self
            .by_user
            .iter()
            .filter(|(user, _)| **user != message.event.sender)
            // A role's own user id reads nothing (its holders are the recipients), nor does the
            // server's own member.
            .filter(|(user, _)| !wardline_types::account::is_service_user(user))
            .filter(|(_, changes)| {
                let before = changes.iter().take_while(|(p, _)| *p < message.stream).last().map(|(_, m)| *m);
                matches!(before, Some(Membership::Join | Membership::Invite))
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
    answers: HashMap<OwnedEventId, Vec<GivenAnswer>>,
    recorded_after: StreamPos,
}

/// An answer as stored: an event (a response, or a reaction that answers) referring to a
/// message that asks ([`wardline_types::priority`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenAnswer {
    /// Who answered.
    pub user_id: OwnedUserId,
    /// The message answered.
    pub message: OwnedEventId,
    /// What the event gives.
    pub given: Given,
    /// The answering event.
    pub event_id: OwnedEventId,
    /// Its position.
    pub stream: StreamPos,
    /// When it was sent.
    pub ts: Timestamp,
}

/// A person's answer to a message, as the message's options read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// The option chosen.
    pub option: String,
    /// Its label.
    pub label: String,
    /// What it means.
    pub means: Means,
    /// The reason given, if any.
    pub reason: Option<String>,
    /// When.
    pub ts: Timestamp,
    /// The answering event.
    pub event_id: OwnedEventId,
    /// Where the person stands: their latest answer that accepts or declines. An answer that
    /// is neither ("Call me") shows as their answer but changes nothing: someone who accepted
    /// and then asked to be called has still accepted.
    pub stands: Option<Means>,
}

impl Facts {
    /// No facts yet, for a server that began recording deliveries after `recorded_after`.
    #[must_use]
    pub fn new(recorded_after: StreamPos) -> Self {
        Self { recorded_after, ..Self::default() }
    }

    /// The position delivery tracking began after: messages at or before it have no record of
    /// their deliveries.
    #[must_use]
    pub fn recorded_after(&self) -> StreamPos {
        self.recorded_after
    }

    /// Adds deliveries.
    pub fn add_deliveries(&mut self, deliveries: impl IntoIterator<Item = Delivery>) {
        for d in deliveries {
            self.deliveries.entry(d.user_id.clone()).or_default().push(d);
        }
    }

    /// Adds receipts as logged; only public `m.read` ones count.
    pub fn add_read_receipts(&mut self, receipts: impl IntoIterator<Item = Receipt>) {
        for r in receipts.into_iter().filter(|r| r.receipt_type == "m.read") {
            self.receipts.entry(r.user_id.clone()).or_default().push(r);
        }
    }

    /// Adds answers (only those to messages that ask count; see [`status_of`]).
    pub fn add_answers(&mut self, answers: impl IntoIterator<Item = GivenAnswer>) {
        for a in answers {
            self.answers.entry(a.message.clone()).or_default().push(a);
        }
    }

    /// Each person's latest answer to `message` that chooses one of `ask`'s options, as stored
    /// at positions `<= as_of`, by user id. A later answer replaces an earlier one (a decline
    /// after an acknowledgement is a decline); one that was deleted no longer counts.
    #[must_use]
    pub fn answers(&self, message: &EventId, ask: &Ask, as_of: StreamPos) -> HashMap<OwnedUserId, Answered> {
        let mut out: HashMap<OwnedUserId, (StreamPos, Answered)> = HashMap::new();
        let mut stands: HashMap<OwnedUserId, (StreamPos, Means)> = HashMap::new();
        for a in self.answers.get(message).into_iter().flatten().filter(|a| a.stream <= as_of) {
            let Some(choice) = a.given.choice(ask) else { continue };
            if choice.means != Means::Info && stands.get(&a.user_id).is_none_or(|(p, _)| *p < a.stream) {
                stands.insert(a.user_id.clone(), (a.stream, choice.means));
            }
            if out.get(&a.user_id).is_some_and(|(p, _)| *p > a.stream) {
                continue;
            }
            let answered = Answered {
                option: choice.id.clone(),
                label: choice.label.clone(),
                means: choice.means,
                reason: a.given.reason().map(ToOwned::to_owned),
                ts: a.ts,
                event_id: a.event_id.clone(),
                stands: None,
            };
            out.insert(a.user_id.clone(), (a.stream, answered));
        }
        out.into_iter()
            .map(|(u, (_, mut a))| {
                a.stands = stands.get(&u).map(|(_, m)| *m);
                (u, a)
            })
            .collect()
    }

    /// When the event at `pos` was first delivered to one of `user`'s devices, as stored at
    /// positions `<= as_of`.
    #[must_use]
    pub fn delivered(&self, user: &UserId, pos: StreamPos, as_of: StreamPos) -> Option<Timestamp> {
        self.deliveries.get(user)?.iter().filter(|d| d.stream <= as_of && d.covers(pos)).map(|d| d.ts).min()
    }

    /// When `user` first read `message` (in `thread`), as stored at positions `<= as_of`: the
    /// earliest receipt covering it from a device it had been delivered to when the receipt
    /// arrived. For a message from before deliveries were recorded, the earliest receipt
    /// covering it.
    #[must_use]
    pub fn read(
        &self,
        user: &UserId,
        message: &StoredEvent,
        thread: Option<&EventId>,
        as_of: StreamPos,
    ) -> Option<Timestamp> {
        let pos = message.stream;
        let tracked = pos > self.recorded_after;
        let carried: Vec<&Delivery> =
            self.deliveries.get(user).map(|ds| ds.iter().filter(|d| d.covers(pos)).collect()).unwrap_or_default();
        self.receipts
            .get(user)?
            .iter()
            .filter(|r| r.stream <= as_of && covers(r, pos, thread))
            .filter(|r| !tracked || carried.iter().any(|d| d.stream <= r.arrived && same_device(d, r)))
            .min_by_key(|r| r.stream)
            .map(|r| r.ts)
    }
}

/// One recipient's view of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientStatus {
    /// The recipient.
    pub user_id: OwnedUserId,
    /// When it reached one of their devices, if that was recorded.
    pub delivered: Option<Timestamp>,
    /// When they read it.
    pub read: Option<Timestamp>,
    /// The role (id and name) that had seated them in the conversation when the message was
    /// sent, if they received it as a role's holder ("Dr Shah, as Medical Registrar On-call").
    pub as_role: Option<(wardline_types::RoleId, String)>,
    /// Their answer, for a message that asks (their latest that chooses one of its options).
    pub answer: Option<Answered>,
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
    /// Were its deliveries recorded? `false` for a message sent before they were: a recipient
    /// without a delivery may still have had it.
    pub delivery_recorded: bool,
    /// Its recipients, by user id.
    pub recipients: Vec<RecipientStatus>,
    /// What it asks (its priority and the answers it offers), if it asks anything.
    pub request: Option<Request>,
    /// Answers from people who were not its recipients (brought into the conversation later,
    /// by escalation or an invitation), by user id.
    pub other_answers: Vec<(OwnedUserId, Answered)>,
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
    /// How many people (recipients and others) stand accepting, and how many declining: each
    /// by their latest answer that accepts or declines ([`Answered::stands`]).
    #[must_use]
    pub fn answer_counts(&self) -> (u64, u64) {
        let answers =
            self.recipients.iter().filter_map(|r| r.answer.as_ref()).chain(self.other_answers.iter().map(|(_, a)| a));
        answers.fold((0, 0), |(acc, dec), a| match a.stands {
            Some(Means::Accept) => (acc + 1, dec),
            Some(Means::Decline) => (acc, dec + 1),
            _ => (acc, dec),
        })
    }

    /// The counts.
    #[must_use]
    pub fn counts(&self) -> Counts {
        let n = |f: fn(&RecipientStatus) -> bool| self.recipients.iter().filter(|r| f(r)).count() as u64;
        Counts {
            recipients: self.recipients.len() as u64,
            delivered: n(|r| r.delivered.is_some() || r.read.is_some()),
            read: n(|r| r.read.is_some()),
        }
    }
}

/// The status of `message` as the facts stored at positions `<= as_of` show it.
#[must_use]
pub fn status_of(message: &StoredEvent, memberships: &Memberships, facts: &Facts, as_of: StreamPos) -> MessageStatus {
    let thread = thread_of(message);
    // What it asks: nothing once it was deleted.
    let request = request_of(&message.event.content).ok().flatten().filter(|_| message.redacted_because.is_none());
    let mut answers =
        request.as_ref().map(|r| facts.answers(&message.event.event_id, &r.ask, as_of)).unwrap_or_default();
    // Its sender's own answers count for nothing.
    answers.remove(&message.event.sender);
    let recipients: Vec<RecipientStatus> = memberships
        .recipients(message)
        .into_iter()
        .map(|user_id| {
            let delivered = facts.delivered(&user_id, message.stream, as_of);
            let read = facts.read(&user_id, message, thread.as_deref(), as_of);
            // Times come from the clock, which may have stepped back between the two.
            let read = read.map(|t| delivered.map_or(t, |d| t.max(d)));
            let answer = answers.remove(&user_id);
            RecipientStatus { user_id, delivered, read, as_role: None, answer }
        })
        .collect();
    let mut other_answers: Vec<(OwnedUserId, Answered)> = answers.into_iter().collect();
    other_answers.sort_by(|a, b| a.0.cmp(&b.0));
    MessageStatus {
        event_id: message.event.event_id.clone(),
        sender: message.event.sender.clone(),
        stream: message.stream,
        delivery_recorded: message.stream > facts.recorded_after,
        recipients,
        request,
        other_answers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruma::{OwnedDeviceId, owned_event_id, owned_room_id, owned_user_id};
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

    fn in_thread(mut m: StoredEvent, root: &str) -> StoredEvent {
        m.event.content["m.relates_to"] = json!({"rel_type": "m.thread", "event_id": root});
        m
    }

    fn device(d: &str) -> Option<OwnedDeviceId> {
        (!d.is_empty()).then(|| OwnedDeviceId::from(d))
    }

    fn delivery(user: &str, dev: &str, (first, last): (i64, i64), ts: u64, stream: i64) -> Delivery {
        Delivery {
            room_id: owned_room_id!("!r:x"),
            user_id: OwnedUserId::try_from(user).unwrap(),
            device_id: device(dev),
            first: StreamPos(first),
            last: StreamPos(last),
            ts: Timestamp(ts),
            stream: StreamPos(stream),
        }
    }

    /// A receipt from `dev` for the event at `event_stream`, which arrived when the store was at
    /// `arrived` and was stored at `arrived + 1`.
    fn receipt(user: &str, dev: &str, event_stream: i64, ts: u64, arrived: i64) -> Receipt {
        Receipt {
            room_id: owned_room_id!("!r:x"),
            user_id: OwnedUserId::try_from(user).unwrap(),
            receipt_type: "m.read".into(),
            thread_id: None,
            event_id: owned_event_id!("$later"),
            event_stream: StreamPos(event_stream),
            ts: Timestamp(ts),
            stream: StreamPos(arrived + 1),
            device_id: device(dev),
            arrived: StreamPos(arrived),
        }
    }

    fn threaded(mut r: Receipt, thread: &str) -> Receipt {
        r.thread_id = Some(thread.into());
        r
    }

    fn ben_and_ada() -> Memberships {
        Memberships::new([
            (owned_user_id!("@a:x"), StreamPos(1), Membership::Join),
            (owned_user_id!("@b:x"), StreamPos(2), Membership::Join),
        ])
    }

    /// Ben's `(delivered, read)` times of `m` as of `pos`.
    fn ben(m: &StoredEvent, facts: &Facts, pos: i64) -> (Option<u64>, Option<u64>) {
        let r = &status_of(m, &ben_and_ada(), facts, StreamPos(pos)).recipients[0];
        (r.delivered.map(|t| t.0), r.read.map(|t| t.0))
    }

    #[test]
    fn recipients_are_who_was_joined_or_invited_when_it_was_sent() {
        let (a, b, c, d, e, f) = ("@a:x", "@b:x", "@c:x", "@d:x", "@e:x", "@f:x");
        let u = |s: &str| OwnedUserId::try_from(s).unwrap();
        let m = Memberships::new([
            (u(a), StreamPos(1), Membership::Join),
            (u(b), StreamPos(2), Membership::Join),
            (u(c), StreamPos(3), Membership::Invite),
            (u(e), StreamPos(5), Membership::Invite),
            (u(b), StreamPos(20), Membership::Leave),
            (u(d), StreamPos(12), Membership::Join),
            (u(c), StreamPos(4), Membership::Join),
            (u(e), StreamPos(15), Membership::Leave),
            (u(f), StreamPos(11), Membership::Invite),
        ]);
        assert_eq!(m.recipients(&message(10, a)), vec![u(b), u(c), u(e)], "an invitee is one; the sender is not");
        assert_eq!(m.recipients(&message(25, a)), vec![u(c), u(d), u(f)], "left before it; joined, invited before it");
        assert_eq!(m.recipients(&message(12, c)), vec![u(a), u(b), u(e), u(f)], "joined at its own position: no");
    }

    #[test]
    fn read_needs_a_receipt_from_a_device_that_had_it_first_in_the_stores_order() {
        let m = message(10, "@a:x");
        let mut facts = Facts::default();
        // The ward PC gets the message (stored at 31); a receipt from the phone, which never
        // got it, for a later event (stored at 41) reads nothing; the PC's receipt (arrived at
        // 50, stored at 51) does.
        facts.add_deliveries([delivery("@b:x", "PC", (8, 12), 100, 31)]);
        facts.add_read_receipts([receipt("@b:x", "PHONE", 15, 200, 40), receipt("@b:x", "PC", 15, 300, 50)]);
        assert_eq!(ben(&m, &facts, 30), (None, None));
        assert_eq!(ben(&m, &facts, 45), (Some(100), None), "the phone never had it");
        assert_eq!(ben(&m, &facts, 51), (Some(100), Some(300)));
        assert_eq!(
            status_of(&m, &ben_and_ada(), &facts, StreamPos(51)).counts(),
            Counts { recipients: 1, delivered: 1, read: 1 }
        );

        // By the store's order, not the clocks: a delivery stored after the receipt arrived
        // does not count for it, whatever its time says; the same receipt sent again does.
        let mut late = Facts::default();
        late.add_deliveries([delivery("@b:x", "PHONE", (10, 10), 100, 61)]);
        late.add_read_receipts([receipt("@b:x", "PHONE", 10, 500, 60)]);
        assert_eq!(ben(&m, &late, 99), (Some(100), None), "stored at 61, after the receipt arrived at 60");
        late.add_read_receipts([receipt("@b:x", "PHONE", 10, 90, 70)]);
        assert_eq!(ben(&m, &late, 99), (Some(100), Some(100)), "sent again; never shown read before delivered");

        // An earlier event's receipt does not read it.
        let mut early = Facts::default();
        early.add_deliveries([delivery("@b:x", "PC", (10, 10), 100, 31)]);
        early.add_read_receipts([receipt("@b:x", "PC", 9, 200, 40)]);
        assert_eq!(ben(&m, &early, 99), (Some(100), None));
        // Private receipts do not count.
        let mut private = early.clone();
        private
            .add_read_receipts([Receipt { receipt_type: "m.read.private".into(), ..receipt("@b:x", "PC", 12, 1, 50) }]);
        assert_eq!(ben(&m, &private, 99), (Some(100), None));
    }

    #[test]
    fn receipts_and_deliveries_from_before_devices_were_recorded_match_any_device() {
        let m = message(10, "@a:x");
        let mut facts = Facts::default();
        facts.add_deliveries([delivery("@b:x", "", (10, 10), 100, 31)]);
        facts.add_read_receipts([receipt("@b:x", "PHONE", 12, 200, 40)]);
        assert_eq!(ben(&m, &facts, 99), (Some(100), Some(200)));
        let mut facts = Facts::default();
        facts.add_deliveries([delivery("@b:x", "PHONE", (10, 10), 100, 31)]);
        facts.add_read_receipts([receipt("@b:x", "", 12, 200, 40)]);
        assert_eq!(ben(&m, &facts, 99), (Some(100), Some(200)));
    }

    #[test]
    fn threaded_receipts_read_their_own_thread_only() {
        let main = message(10, "@a:x");
        let reply = in_thread(message(11, "@a:x"), "$root");
        let other = in_thread(message(12, "@a:x"), "$elsewhere");
        let both = |receipts: Vec<Receipt>| {
            let mut f = Facts::default();
            f.add_deliveries([delivery("@b:x", "PC", (10, 12), 100, 31)]);
            f.add_read_receipts(receipts);
            [ben(&main, &f, 99).1.is_some(), ben(&reply, &f, 99).1.is_some(), ben(&other, &f, 99).1.is_some()]
        };
        assert_eq!(both(vec![receipt("@b:x", "PC", 13, 200, 40)]), [true, true, true], "unthreaded: everything");
        assert_eq!(both(vec![threaded(receipt("@b:x", "PC", 13, 200, 40), "main")]), [true, false, false], "main");
        assert_eq!(both(vec![threaded(receipt("@b:x", "PC", 13, 200, 40), "$root")]), [false, true, false], "a thread");
        assert_eq!(
            both(vec![threaded(receipt("@b:x", "PC", 10, 200, 40), "$root")]),
            [false, false, false],
            "up to its position in the thread"
        );
    }

    #[test]
    fn messages_from_before_deliveries_were_recorded_are_read_by_receipts_alone() {
        let m = message(10, "@a:x");
        let mut facts = Facts::new(StreamPos(20));
        facts.add_read_receipts([receipt("@b:x", "", 12, 200, 40)]);
        let s = status_of(&m, &ben_and_ada(), &facts, StreamPos(99));
        assert!(!s.delivery_recorded);
        assert_eq!(ben(&m, &facts, 99), (None, Some(200)));
        assert_eq!(s.counts(), Counts { recipients: 1, delivered: 1, read: 1 }, "read implies delivered");
        assert!(status_of(&message(21, "@a:x"), &ben_and_ada(), &facts, StreamPos(99)).delivery_recorded);
    }
}
