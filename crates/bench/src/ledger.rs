//! What one client received: every benchmark message counted once, with its delivery latency,
//! and checked to arrive in the order it was sent.
//!
//! Each benchmark message carries `org.wardline.bench`: its id, the sending task, the task's
//! sequence number and the time it was sent. A room's messages all come from one sending task,
//! which waits for each send's acknowledgement before the next, so within a room the sequence
//! numbers of one task must arrive increasing, whichever member sent each message.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

/// A benchmark message's own fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// Unique id (`{task}-{seq}`).
    pub id: String,
    /// The sending task.
    pub task: u64,
    /// Its sequence number within the task.
    pub seq: u64,
    /// When it was sent, µs since the run's start.
    pub sent_us: u64,
}

impl Stamp {
    /// The stamp of an event, if it is a benchmark message.
    #[must_use]
    pub fn of(event: &Value) -> Option<Self> {
        let m = &event["content"]["org.wardline.bench"];
        Some(Self {
            id: m["id"].as_str()?.to_owned(),
            task: m["k"].as_u64()?,
            seq: m["seq"].as_u64()?,
            sent_us: m["t"].as_u64()?,
        })
    }
}

/// One client's deliveries.
#[derive(Debug, Default)]
pub struct Ledger {
    ids: HashSet<String>,
    /// (room, task) → the newest sequence number seen there (own messages included).
    newest: HashMap<(String, u64), u64>,
    /// Delivery latencies, µs, one per distinct message from someone else.
    pub latencies_us: Vec<u64>,
    /// Messages from others seen again.
    pub duplicates: u64,
    /// Messages that arrived after a later one from the same task in the same room.
    pub out_of_order: u64,
    /// Timelines cut short (`limited`).
    pub limited: u64,
    /// `/messages` pages fetched to fill the gaps of limited timelines.
    pub gap_pages: u64,
}

impl Ledger {
    /// Records a room's new timeline events, oldest first, received `now_us` after the run's
    /// start by `me`. Returns how many were new deliveries, and the id of the newest event from
    /// someone else (what a reader acknowledges with a read receipt).
    pub fn record(&mut self, me: &str, room: &str, events: &[Value], now_us: u64) -> (u64, Option<String>) {
        let mut delivered = 0;
        let mut newest_from_others = None;
        for e in events {
            let from_me = e["sender"] == me;
            if !from_me && let Some(id) = e["event_id"].as_str() {
                newest_from_others = Some(id.to_owned());
            }
            let Some(s) = Stamp::of(e) else { continue };
            if !from_me && self.ids.contains(&s.id) {
                self.duplicates += 1;
                continue;
            }
            let newest = self.newest.entry((room.to_owned(), s.task)).or_insert(0);
            if s.seq < *newest {
                self.out_of_order += 1;
            }
            *newest = (*newest).max(s.seq);
            if !from_me {
                self.latencies_us.push(now_us.saturating_sub(s.sent_us));
                self.ids.insert(s.id);
                delivered += 1;
            }
        }
        (delivered, newest_from_others)
    }

    /// Was this event already received here (a benchmark message no newer than the newest seen
    /// from its task in `room`)? Paging back through a gap stops at the first such event.
    #[must_use]
    pub fn already_had(&self, room: &str, event: &Value) -> bool {
        Stamp::of(event)
            .is_some_and(|s| self.newest.get(&(room.to_owned(), s.task)).is_some_and(|newest| s.seq <= *newest))
    }

    /// Has a message from someone else with this id arrived?
    #[must_use]
    pub fn has(&self, id: &str) -> bool {
        self.ids.contains(id)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn msg(sender: &str, task: u64, seq: u64) -> Value {
        json!({
            "event_id": format!("$e{task}-{seq}"),
            "sender": sender,
            "type": "m.room.message",
            "content": {"body": "x", "org.wardline.bench": {"id": format!("{task}-{seq}"), "k": task, "seq": seq, "t": 100}},
        })
    }

    #[test]
    fn counts_each_message_from_others_once_with_its_latency() {
        let mut l = Ledger::default();
        let events = [msg("@a:x", 1, 1), msg("@me:x", 1, 2), msg("@b:x", 1, 3)];
        let (n, newest) = l.record("@me:x", "!r", &events, 150);
        assert_eq!((n, newest.as_deref()), (2, Some("$e1-3")));
        assert_eq!(l.latencies_us, vec![50, 50]);
        assert!(l.has("1-1") && l.has("1-3") && !l.has("1-2"), "own messages are not deliveries");
        let (again, _) = l.record("@me:x", "!r", &[msg("@b:x", 1, 3)], 200);
        assert_eq!((again, l.duplicates, l.out_of_order), (0, 1, 0));
    }

    #[test]
    fn a_message_after_a_later_one_of_its_task_is_out_of_order_whoever_sent_it() {
        let mut l = Ledger::default();
        l.record("@me:x", "!r", &[msg("@a:x", 1, 5), msg("@b:x", 1, 4)], 0);
        assert_eq!(l.out_of_order, 1);
        // Another room, or another task, has its own order.
        l.record("@me:x", "!s", &[msg("@a:x", 1, 1)], 0);
        l.record("@me:x", "!r", &[msg("@a:x", 2, 1)], 0);
        assert_eq!(l.out_of_order, 1);
    }

    #[test]
    fn a_gap_ends_at_the_newest_message_already_had() {
        let mut l = Ledger::default();
        l.record("@me:x", "!r", &[msg("@a:x", 1, 1), msg("@me:x", 1, 2)], 0);
        assert!(l.already_had("!r", &msg("@a:x", 1, 2)), "own messages count as had");
        assert!(!l.already_had("!r", &msg("@a:x", 1, 3)));
        assert!(!l.already_had("!s", &msg("@a:x", 1, 1)));
        assert!(!l.already_had("!r", &json!({"type": "m.room.member", "sender": "@a:x"})));
    }

    #[test]
    fn only_benchmark_messages_are_counted_but_any_event_may_be_acknowledged() {
        let mut l = Ledger::default();
        let member = json!({"event_id": "$join", "sender": "@a:x", "type": "m.room.member", "content": {}});
        let (n, newest) = l.record("@me:x", "!r", &[member], 0);
        assert_eq!((n, newest.as_deref()), (0, Some("$join")));
        assert!(l.latencies_us.is_empty());
    }
}
