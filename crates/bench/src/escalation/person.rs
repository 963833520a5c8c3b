//! One person of the simulation: a signed-in user following their `/sync` (Element's filter)
//! and acting only on what it shows them, as a person would. They join conversations they are
//! invited to (the people the escalation brings in), answer an urgent message a while after
//! seeing it or after seeing a notice that names them, as their [`Plan`] says, and, as the
//! sender of a message, note what they see of its escalation (the steps' notices, the answers)
//! for the checks at the end.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};

use super::checks::Observed;
use super::clock::SimClock;
use super::plan::{Cue, Plan};
use crate::client::{Session, enc};

/// The block of the server's notices about an escalation.
const NOTICE: &str = "org.wardline.escalation";
/// The bench's own block on each urgent message: its plan's index.
pub const BENCH: &str = "org.wardline.bench";
/// Most `/messages` pages fetched to fill one gap.
const MAX_GAP_PAGES: usize = 20;

/// Counts shared by everyone of a run.
#[derive(Debug, Default)]
pub struct Counts {
    /// Sync responses.
    pub syncs: AtomicU64,
    /// Syncs that failed (retried).
    pub sync_errors: AtomicU64,
    /// Answers acknowledged by the server.
    pub answers: AtomicU64,
    /// Answers refused or failed.
    pub answers_failed: AtomicU64,
    /// Invitations accepted.
    pub joins: AtomicU64,
    /// Joins that failed.
    pub joins_failed: AtomicU64,
    /// A sender saw a step's notice again.
    pub duplicate_notices: AtomicU64,
    /// Notices about a message nobody here sent.
    pub unknown_notices: AtomicU64,
    /// Timelines cut short (`limited`).
    pub limited: AtomicU64,
    /// `/messages` pages fetched to fill them.
    pub gap_pages: AtomicU64,
}

/// What everyone of a run shares.
#[derive(Debug)]
pub struct World {
    /// The messages and what people do about them.
    pub plans: Vec<Plan>,
    /// The conversations' room ids, by index.
    pub rooms: Vec<String>,
    /// Message event id → plan index.
    pub by_event: Mutex<HashMap<String, usize>>,
    /// What each message's sender saw of it, by plan index.
    pub observed: Vec<Mutex<Observed>>,
    /// Each message's end, as its sender saw it (an acceptance or the failsafe's notice).
    pub ended: Vec<AtomicBool>,
    /// The server's clock.
    pub clock: Arc<SimClock>,
    /// Counts.
    pub counts: Counts,
    /// Stop when set.
    pub stop: AtomicBool,
}

impl World {
    /// What the sender of plan `i` saw.
    pub fn observed(&self, i: usize) -> std::sync::MutexGuard<'_, Observed> {
        self.observed[i].lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn plan_of(&self, event_id: &str) -> Option<usize> {
        self.by_event.lock().unwrap_or_else(PoisonError::into_inner).get(event_id).copied()
    }
}

/// One person.
#[derive(Debug)]
pub struct Person {
    /// Their user index.
    pub index: usize,
    /// Their session.
    pub session: Session,
    /// Their sync filter (an uploaded filter's id).
    pub filter: String,
    /// The run.
    pub world: Arc<World>,
    /// Events already seen (a gap is filled back to one of these).
    seen: HashSet<String>,
    /// Rooms whose timeline they have.
    rooms: HashSet<String>,
    /// (plan, act) already acted on: each act happens once.
    acted: HashSet<(usize, usize)>,
}

/// An answer to `target`: acknowledge or decline, as a stock client's quick response sends it.
#[must_use]
pub fn response(target: &str, option: &str) -> Value {
    let mut block = json!({"option": option});
    if option == "decline" {
        block["reason"] = json!("in theatre");
    }
    json!({"msgtype": "m.text", "body": option, "m.relates_to": {"rel_type": "m.reference", "event_id": target},
        "org.wardline.response": block})
}

impl Person {
    /// A person about to follow their sync.
    #[must_use]
    pub fn new(index: usize, session: Session, filter: String, world: Arc<World>) -> Self {
        Self { index, session, filter, world, seen: HashSet::new(), rooms: HashSet::new(), acted: HashSet::new() }
    }

    /// Follows their sync from `since` until the run stops.
    pub async fn run(mut self, mut since: String) {
        while !self.world.stop.load(Ordering::Relaxed) {
            let body = match self.session.sync(Some(&since), 30_000, &self.filter).await {
                Ok(b) => b,
                Err(_) => {
                    self.world.counts.sync_errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            self.world.counts.syncs.fetch_add(1, Ordering::Relaxed);
            if let Some(next) = body["next_batch"].as_str() {
                next.clone_into(&mut since);
            }
            // Invited (brought in by an escalation): they join, to see what it is about.
            if let Some(invites) = body["rooms"]["invite"].as_object() {
                for room in invites.keys() {
                    let joined = self.session.join(room).await;
                    if let Err(e) = &joined {
                        eprintln!("wardline-bench: {} could not join {room}: {e}", self.session.user_id);
                    }
                    let ok = joined.is_ok();
                    let c = if ok { &self.world.counts.joins } else { &self.world.counts.joins_failed };
                    c.fetch_add(1, Ordering::Relaxed);
                }
            }
            let Some(rooms) = body["rooms"]["join"].as_object() else { continue };
            for (room_id, room) in rooms {
                let timeline = &room["timeline"];
                let mut events: Vec<Value> = timeline["events"].as_array().cloned().unwrap_or_default();
                if timeline["limited"] == true && self.rooms.contains(room_id) {
                    self.world.counts.limited.fetch_add(1, Ordering::Relaxed);
                    if let Some(from) = timeline["prev_batch"].as_str() {
                        let mut gap = self.gap(room_id, from).await;
                        gap.append(&mut events);
                        events = gap;
                    }
                }
                self.rooms.insert(room_id.clone());
                for e in &events {
                    let Some(id) = e["event_id"].as_str() else { continue };
                    if self.seen.insert(id.to_owned()) {
                        self.look_at(e);
                    }
                }
            }
        }
    }

    /// The events missing before a limited timeline, oldest first: pages back from `from`
    /// until an event already seen.
    async fn gap(&self, room: &str, from: &str) -> Vec<Value> {
        let seen = &self.seen;
        let (missing, pages) = self
            .session
            .gap_before(room, from, MAX_GAP_PAGES, |e| e["event_id"].as_str().is_some_and(|id| seen.contains(id)))
            .await;
        self.world.counts.gap_pages.fetch_add(pages, Ordering::Relaxed);
        missing
    }

    /// What one event means to this person.
    fn look_at(&mut self, e: &Value) {
        if e["type"] != "m.room.message" {
            return;
        }
        let me = self.session.user_id.as_str();
        let sender = e["sender"].as_str().unwrap_or_default();
        let ts = e["origin_server_ts"].as_u64().unwrap_or(0);
        let content = &e["content"];
        let w = Arc::clone(&self.world);
        // An urgent message of the simulation.
        if let Some(i) = content[BENCH]["esc"].as_u64().and_then(|i| usize::try_from(i).ok())
            && i < w.plans.len()
        {
            let id = e["event_id"].as_str().unwrap_or_default().to_owned();
            if sender == me {
                let mut o = w.observed(i);
                o.sent_ts = Some(ts);
                o.event_id = Some(id.clone());
                w.by_event.lock().unwrap_or_else(PoisonError::into_inner).insert(id, i);
            } else {
                self.act(i, &id, Cue::Message);
            }
            return;
        }
        // A notice of the server's about an escalation.
        if let Some(block) = content[NOTICE].as_object() {
            let target = block.get("message").and_then(Value::as_str).unwrap_or_default();
            let Some(i) = w.plan_of(target) else {
                w.counts.unknown_notices.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let kind = block.get("kind").and_then(Value::as_str).unwrap_or_default();
            let reached: Vec<&str> = block
                .get("reached")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if w.plans[i].sender == self.index {
                if let Some(step) = block.get("step").and_then(Value::as_u64)
                    && !w.observed(i).step(step, ts, reached.is_empty())
                {
                    w.counts.duplicate_notices.fetch_add(1, Ordering::Relaxed);
                }
                if kind == "accepted" || kind == "failsafe" {
                    w.ended[i].store(true, Ordering::Relaxed);
                }
            }
            if reached.contains(&me) {
                let cue = match kind {
                    "renotify" => Cue::Notice("renotify"),
                    "add" => Cue::Notice("add"),
                    _ => return,
                };
                self.act(i, target, cue);
            }
            return;
        }
        // An answer: its target's sender notes it.
        if let Some(option) = content["org.wardline.response"]["option"].as_str()
            && let Some(target) = content["m.relates_to"]["event_id"].as_str()
            && let Some(i) = w.plan_of(target)
            && w.plans[i].sender == self.index
            && sender != me
        {
            w.observed(i).answers.push((sender.to_owned(), option.to_owned(), ts));
        }
    }

    /// Does what plan `i` says this person does on `cue`, once: answers after the plan's
    /// delay (server time).
    fn act(&mut self, i: usize, target: &str, cue: Cue) {
        let w = &self.world;
        for (k, act) in w.plans[i].acts.iter().enumerate() {
            if act.who != self.index || act.on != cue || !self.acted.insert((i, k)) {
                continue;
            }
            let session = self.session.clone();
            let world = Arc::clone(w);
            let room = w.rooms.get(w.plans[i].room).cloned();
            let content = response(target, act.option);
            let wait = w.clock.real(act.after_ms);
            let txn = format!("answer-{i}-{k}");
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                let Some(room) = room else { return };
                let path = format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{}", enc(&room), enc(&txn));
                let c = match session.put(&path, &content).await {
                    Ok(_) => &world.counts.answers,
                    Err(e) => {
                        eprintln!("wardline-bench: an answer to message {i} was not sent: {e}");
                        &world.counts.answers_failed
                    }
                };
                c.fetch_add(1, Ordering::Relaxed);
            });
        }
    }
}
