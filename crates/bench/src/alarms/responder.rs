//! A responder's phone: a signed-in user following their `/sync` (Element's filter), who notes
//! when each alarm of the storm first shows, and answers it as the alarm's plan says, a while
//! after seeing it, with the quick response a stock client sends.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::plan::Alarm;
use super::sources::storm_index;
use crate::client::{Session, enc};
use crate::escalation::person::response;

/// Most `/messages` pages fetched to fill one gap.
const MAX_GAP_PAGES: usize = 20;

/// What every phone of the run shares.
#[derive(Debug)]
pub struct Ward {
    /// The storm.
    pub plans: Vec<Alarm>,
    /// When each alarm first showed on any phone.
    pub first_seen: Vec<Mutex<Option<Instant>>>,
    /// The events each alarm was posted as (one expected; an edit is not a post).
    pub posted_as: Vec<Mutex<HashSet<String>>>,
    /// Counts.
    pub syncs: AtomicU64,
    /// Syncs that failed (and were tried again).
    pub sync_errors: AtomicU64,
    /// Timelines cut short.
    pub limited: AtomicU64,
    /// Answers the server took.
    pub answers: AtomicU64,
    /// Answers refused or failed.
    pub answers_failed: AtomicU64,
    /// Stop when set.
    pub stop: AtomicBool,
}

impl Ward {
    /// Nothing seen yet.
    #[must_use]
    pub fn new(plans: Vec<Alarm>) -> Self {
        let n = plans.len();
        Self {
            plans,
            first_seen: (0..n).map(|_| Mutex::new(None)).collect(),
            posted_as: (0..n).map(|_| Mutex::new(HashSet::new())).collect(),
            syncs: AtomicU64::new(0),
            sync_errors: AtomicU64::new(0),
            limited: AtomicU64::new(0),
            answers: AtomicU64::new(0),
            answers_failed: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        }
    }
}

/// One responder.
#[derive(Debug)]
pub struct Responder {
    /// Their index (the plans name responders by it).
    pub index: usize,
    /// Their session.
    pub session: Session,
    /// Their sync filter's id.
    pub filter: String,
    /// The run.
    pub ward: Arc<Ward>,
    seen: HashSet<String>,
    rooms: HashSet<String>,
    answered: HashSet<usize>,
}

impl Responder {
    /// A phone about to follow its sync.
    #[must_use]
    pub fn new(index: usize, session: Session, filter: String, ward: Arc<Ward>) -> Self {
        Self { index, session, filter, ward, seen: HashSet::new(), rooms: HashSet::new(), answered: HashSet::new() }
    }

    /// Follows the sync from `since` until the run stops.
    pub async fn run(mut self, mut since: String) {
        while !self.ward.stop.load(Ordering::Relaxed) {
            let body = match self.session.sync(Some(&since), 30_000, &self.filter).await {
                Ok(b) => b,
                Err(_) => {
                    self.ward.sync_errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let arrived = Instant::now();
            self.ward.syncs.fetch_add(1, Ordering::Relaxed);
            if let Some(next) = body["next_batch"].as_str() {
                next.clone_into(&mut since);
            }
            // Invited (the failsafe person brought in): join to see it.
            if let Some(invites) = body["rooms"]["invite"].as_object() {
                for room in invites.keys() {
                    let _ = self.session.join(room).await;
                }
            }
            let Some(rooms) = body["rooms"]["join"].as_object() else { continue };
            for (room_id, room) in rooms {
                let timeline = &room["timeline"];
                let mut events: Vec<Value> = timeline["events"].as_array().cloned().unwrap_or_default();
                if timeline["limited"] == true && self.rooms.contains(room_id) {
                    self.ward.limited.fetch_add(1, Ordering::Relaxed);
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
                        self.look_at(room_id, e, arrived);
                    }
                }
            }
        }
    }

    /// The events missing before a limited timeline, oldest first.
    async fn gap(&self, room: &str, from: &str) -> Vec<Value> {
        let seen = &self.seen;
        self.session
            .gap_before(room, from, MAX_GAP_PAGES, |e| e["event_id"].as_str().is_some_and(|id| seen.contains(id)))
            .await
            .0
    }

    /// An alarm of the storm, seen for the first time on this phone: noted, and answered if
    /// the plan says this responder answers it.
    fn look_at(&mut self, room: &str, e: &Value, arrived: Instant) {
        let content = &e["content"];
        if e["type"] != "m.room.message" || !content["org.wardline.alarm"].is_object() {
            return;
        }
        let Some(i) = content["body"].as_str().and_then(storm_index) else { return };
        let Some(plan) = self.ward.plans.get(i) else { return };
        let Some(event_id) = e["event_id"].as_str() else { return };
        {
            let mut first = self.ward.first_seen[i].lock().unwrap_or_else(PoisonError::into_inner);
            if first.is_none_or(|t| arrived < t) {
                *first = Some(arrived);
            }
        }
        self.ward.posted_as[i].lock().unwrap_or_else(PoisonError::into_inner).insert(event_id.to_owned());
        if !self.answered.insert(i) {
            return;
        }
        for a in plan.answers.iter().filter(|a| a.who == self.index) {
            let session = self.session.clone();
            let ward = Arc::clone(&self.ward);
            let content = response(event_id, a.option);
            let path = format!(
                "/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
                enc(room),
                enc(&format!("storm-{i}-{}", a.option))
            );
            let wait = Duration::from_millis(a.after_ms);
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                let c = match session.put(&path, &content).await {
                    Ok(_) => &ward.answers,
                    Err(e) => {
                        eprintln!("wardline-bench: an answer to alarm {i} was not taken: {e}");
                        &ward.answers_failed
                    }
                };
                c.fetch_add(1, Ordering::Relaxed);
            });
        }
    }
}
