//! One client's reading side: its `/sync` long-poll loop, the gaps of limited timelines filled
//! from `/messages` (as a client showing the room does), and its read receipts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::mpsc;

use crate::client::Session;
use crate::ledger::Ledger;
use crate::profile::ELEMENT_RECEIPT_INTERVAL;

/// Most `/messages` pages fetched to fill one gap.
const MAX_GAP_PAGES: usize = 50;

/// Counts shared by every client of a run.
#[derive(Debug, Default)]
pub struct Activity {
    /// Distinct deliveries of benchmark messages from others, all clients together.
    pub delivered: AtomicU64,
    /// Sync responses received, all clients together.
    pub syncs: AtomicU64,
    /// Read receipts acknowledged.
    pub receipts_sent: AtomicU64,
    /// Read receipts refused or failed.
    pub receipts_failed: AtomicU64,
}

/// One client's reading side.
#[derive(Debug, Clone)]
pub struct Reader {
    /// The signed-in user.
    pub session: Session,
    /// The `filter` parameter of every sync after the first (an uploaded filter's id, or JSON).
    pub filter: String,
    /// Fill a limited timeline's gap from `/messages`?
    pub fill_gaps: bool,
    /// The run's start, for latencies.
    pub base: Instant,
    /// What this client received.
    pub ledger: Arc<Mutex<Ledger>>,
    /// The run's shared counts.
    pub activity: Arc<Activity>,
    /// Stop when set.
    pub stop: Arc<AtomicBool>,
}

fn micros_since(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_micros()).unwrap_or(u64::MAX)
}

impl Reader {
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Follows the user's sync from `since` until stopped. Each room's new events from others
    /// go to `receipts` (room, newest event), if given.
    pub async fn run(self, mut since: String, receipts: Option<mpsc::UnboundedSender<(String, String)>>) {
        while !self.stop.load(Ordering::Relaxed) {
            let body = match self.session.sync(Some(&since), 30_000, &self.filter).await {
                Ok(b) => b,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let mut now = micros_since(self.base);
            if let Some(next) = body["next_batch"].as_str() {
                since = next.to_owned();
            }
            self.activity.syncs.fetch_add(1, Ordering::Relaxed);
            let Some(rooms) = body["rooms"]["join"].as_object() else { continue };
            for (room_id, room) in rooms {
                let timeline = &room["timeline"];
                let mut events: Vec<Value> = timeline["events"].as_array().cloned().unwrap_or_default();
                if timeline["limited"] == true {
                    self.ledger().limited += 1;
                    if self.fill_gaps
                        && let Some(from) = timeline["prev_batch"].as_str()
                    {
                        let mut gap = self.gap(room_id, from).await;
                        gap.append(&mut events);
                        events = gap;
                        now = micros_since(self.base);
                    }
                }
                let (delivered, newest) = self.ledger().record(&self.session.user_id, room_id, &events, now);
                self.activity.delivered.fetch_add(delivered, Ordering::Relaxed);
                if let (Some(tx), Some(event)) = (&receipts, newest) {
                    // The receiver lives as long as this loop: a failed send cannot happen.
                    let _ = tx.send((room_id.clone(), event));
                }
            }
        }
    }

    /// The events missing before a limited timeline, oldest first: pages back from `from`
    /// until an event this client already had.
    async fn gap(&self, room: &str, from: &str) -> Vec<Value> {
        let ledger = &self.ledger;
        let (missing, pages) = self
            .session
            .gap_before(room, from, MAX_GAP_PAGES, |e| {
                ledger.lock().unwrap_or_else(PoisonError::into_inner).already_had(room, e)
            })
            .await;
        self.ledger().gap_pages += pages;
        missing
    }
}

/// Sends a client's read receipts as Element does: the newest event from others in each room
/// with new ones, at most one round per [`ELEMENT_RECEIPT_INTERVAL`]. Ends when the sync loop
/// feeding it ends.
pub async fn send_receipts(
    session: Session,
    mut news: mpsc::UnboundedReceiver<(String, String)>,
    activity: Arc<Activity>,
) {
    let mut last_round: Option<Instant> = None;
    while let Some(first) = news.recv().await {
        if let Some(at) = last_round {
            tokio::time::sleep_until((at + ELEMENT_RECEIPT_INTERVAL).into()).await;
        }
        let mut newest: HashMap<String, String> = HashMap::from([first]);
        while let Ok((room, event)) = news.try_recv() {
            newest.insert(room, event);
        }
        last_round = Some(Instant::now());
        for (room, event) in newest {
            let counter = match session.read_receipt(&room, &event).await {
                Ok(()) => &activity.receipts_sent,
                Err(_) => &activity.receipts_failed,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}
