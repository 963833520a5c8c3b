//! The workload: sign in, make rooms, keep every user long-polling, send, and count what
//! arrives where.
//!
//! The clients behave as [`ClientKind`] says: by default as Element Web does (its lazy-loading
//! sync filter, any member of a room sending, readers sending read receipts, typing before some
//! messages), or as the original workload did (`--workload legacy`). Either way every
//! acknowledged message is owed to every other member of its room, and each member's
//! [`Ledger`] checks it arrives exactly once and in order.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::json;
use tokio::sync::mpsc;

use crate::client::{self, ClientError, Session};
use crate::ledger::Ledger;
use crate::procstat;
use crate::profile::{self, ClientKind, ELEMENT_TYPING_TIMEOUT_MS, LEGACY_FILTER};
use crate::reader::{self, Activity, Reader};
use crate::stats::{Percentiles, Report};
use crate::texts::{self, Rng};

/// What to run.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Server base URL.
    pub base: String,
    /// Users `{prefix}{0..users}`, all with `password`.
    pub users: usize,
    /// Username prefix.
    pub user_prefix: String,
    /// Their password.
    pub password: String,
    /// Rooms.
    pub rooms: usize,
    /// Members per room.
    pub room_size: usize,
    /// Concurrent senders.
    pub senders: usize,
    /// Sends per second, all senders together; 0 = as fast as possible.
    pub rate: f64,
    /// How long to send.
    pub duration: Duration,
    /// How long to wait for the last deliveries.
    pub drain: Duration,
    /// The server's process id, for CPU and memory.
    pub pid: Option<u32>,
    /// Only sign in and long-poll (the memory workload).
    pub idle: bool,
    /// How the clients behave.
    pub clients: ClientKind,
    /// Element clients: every how many messages of a sending task is preceded by a typing
    /// notification (and followed by its end); 0 = never.
    pub typing_every: u64,
    /// Print `wardline-bench: sending for N s` to stderr when sending starts, and
    /// `wardline-bench: sending done` when it ends (so a profiler can record just that phase).
    pub announce: bool,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Setting up failed.
    #[error("{0}: {1}")]
    Setup(&'static str, ClientError),
}

fn micros_since(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// One acknowledged message.
#[derive(Debug)]
struct Acked {
    id: String,
    room: usize,
    sender: usize,
}

/// What one sending task did.
#[derive(Debug, Default)]
struct SenderResult {
    acked: Vec<Acked>,
    latencies_us: Vec<u64>,
    failed: u64,
    typing: u64,
}

/// A sending task: round-robin over its rooms, each message from the room's creator (legacy)
/// or from a member drawn at random (Element).
struct Sender {
    task: usize,
    /// (room index, room id).
    rooms: Vec<(usize, String)>,
    members: Arc<Vec<Vec<usize>>>,
    sessions: Arc<Vec<Session>>,
    clients: ClientKind,
    typing_every: u64,
    interval: Option<Duration>,
    deadline: Instant,
    base: Instant,
}

impl Sender {
    async fn run(self) -> SenderResult {
        let mut out = SenderResult::default();
        let mut ticker = self.interval.map(|i| {
            let mut t = tokio::time::interval(i);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        let mut rng = Rng::new(self.task as u64 + 1);
        let mut seq = 0u64;
        while Instant::now() < self.deadline && !self.rooms.is_empty() {
            if let Some(t) = ticker.as_mut() {
                t.tick().await;
            }
            let (room, room_id) = &self.rooms[(seq as usize) % self.rooms.len()];
            let members = &self.members[*room];
            let sender = if self.clients.any_member_sends() { members[rng.below(members.len())] } else { members[0] };
            let session = &self.sessions[sender];
            let id = format!("{}-{seq}", self.task);
            let body = match self.clients {
                ClientKind::Element | ClientKind::Escalation | ClientKind::Alarms => texts::message(&mut rng),
                ClientKind::Legacy => format!("bench {id}"),
            };
            let typing =
                self.clients == ClientKind::Element && self.typing_every > 0 && seq.is_multiple_of(self.typing_every);
            if typing && session.typing(room_id, Some(ELEMENT_TYPING_TIMEOUT_MS)).await.is_ok() {
                out.typing += 1;
            }
            let t = micros_since(self.base);
            let content = json!({"msgtype": "m.text", "body": body, "org.wardline.bench": {"id": id, "k": self.task, "seq": seq, "t": t}});
            let start = Instant::now();
            match session.send(room_id, &id, &content).await {
                Ok(()) => {
                    out.latencies_us.push(u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX));
                    out.acked.push(Acked { id, room: *room, sender });
                }
                Err(_) => out.failed += 1,
            }
            if typing && session.typing(room_id, None).await.is_ok() {
                out.typing += 1;
            }
            seq += 1;
        }
        out
    }
}

/// Signs everyone in, and for Element clients uploads each one's sync filter. Returns the
/// sessions and the `filter` parameter of each one's syncs after the first.
async fn sign_in(http: &reqwest::Client, w: &Workload) -> Result<(Vec<Session>, Vec<String>), BenchError> {
    let names: Vec<String> = (0..w.users).map(|i| format!("{}{i}", w.user_prefix)).collect();
    let sessions: Vec<Session> = stream::iter(names.iter())
        .map(|n| client::login(http, &w.base, n, &w.password))
        .buffered(32)
        .try_collect()
        .await
        .map_err(|e| BenchError::Setup("login", e))?;
    let filters = match w.clients {
        ClientKind::Legacy => vec![LEGACY_FILTER.to_owned(); sessions.len()],
        ClientKind::Element | ClientKind::Escalation | ClientKind::Alarms => {
            let element = profile::element_filter();
            stream::iter(sessions.iter())
                .map(|s| s.upload_filter(&element))
                .buffered(32)
                .try_collect()
                .await
                .map_err(|e| BenchError::Setup("upload filter", e))?
        }
    };
    Ok((sessions, filters))
}

/// Makes the rooms: room r has members (r*G + i) mod U, the first its creator.
async fn make_rooms(w: &Workload, sessions: &[Session]) -> Result<(Vec<String>, Vec<Vec<usize>>), BenchError> {
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut room_ids: Vec<String> = Vec::new();
    for r in 0..w.rooms {
        let mut m: Vec<usize> = (0..w.room_size).map(|i| (r * w.room_size + i) % w.users.max(1)).collect();
        m.dedup();
        let invite: Vec<String> =
            m.iter().skip(1).filter_map(|i| sessions.get(*i).map(|s| s.user_id.clone())).collect();
        let creator = &sessions[m[0]];
        let room = creator.create_room(&invite).await.map_err(|e| BenchError::Setup("createRoom", e))?;
        stream::iter(m.iter().skip(1))
            .map(|i| sessions[*i].join(&room))
            .buffer_unordered(16)
            .try_collect::<Vec<()>>()
            .await
            .map_err(|e| BenchError::Setup("join", e))?;
        room_ids.push(room);
        members.push(m);
    }
    Ok((room_ids, members))
}

/// Runs the workload.
pub async fn run(w: &Workload) -> Result<Report, BenchError> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| BenchError::Setup("http client", e.into()))?;
    let baseline_rss = w.pid.and_then(procstat::memory).map(|(rss, _)| rss);
    let (sessions, filters) = sign_in(&http, w).await?;
    let (room_ids, members) = if w.idle { (Vec::new(), Vec::new()) } else { make_rooms(w, &sessions).await? };

    // Everyone long-polls from now on; the first sync as the client makes it.
    let base = Instant::now();
    let activity = Arc::new(Activity::default());
    let stop = Arc::new(AtomicBool::new(false));
    let first_filter = match w.clients {
        ClientKind::Legacy => LEGACY_FILTER.to_owned(),
        ClientKind::Element | ClientKind::Escalation | ClientKind::Alarms => {
            profile::element_initial_filter().to_string()
        }
    };
    let tokens: Vec<String> = stream::iter(sessions.iter())
        .map(|s| {
            let f = &first_filter;
            async move { s.sync(None, 0, f).await.map(|b| b["next_batch"].as_str().unwrap_or_default().to_owned()) }
        })
        .buffered(32)
        .try_collect()
        .await
        .map_err(|e| BenchError::Setup("initial sync", e))?;
    let mut ledgers = Vec::new();
    let mut tasks = Vec::new();
    for ((s, since), filter) in sessions.iter().zip(tokens).zip(filters) {
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        ledgers.push(Arc::clone(&ledger));
        let receipts = w.clients.sends_receipts().then(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tasks.push(tokio::spawn(reader::send_receipts(s.clone(), rx, Arc::clone(&activity))));
            tx
        });
        let r = Reader {
            session: s.clone(),
            filter,
            fill_gaps: w.clients.fills_gaps(),
            base,
            ledger,
            activity: Arc::clone(&activity),
            stop: Arc::clone(&stop),
        };
        tasks.push(tokio::spawn(r.run(since, receipts)));
    }

    let mut report = Report {
        server: w.base.clone(),
        workload: w.clients.name().to_owned(),
        users: w.users,
        rooms: w.rooms,
        room_size: w.room_size,
        senders: w.senders,
        target_rate: w.rate,
        duration_s: w.duration.as_secs_f64(),
        ..Report::default()
    };
    if w.idle {
        tokio::time::sleep(w.duration).await;
        if let (Some(pid), Some(base_rss)) = (w.pid, baseline_rss)
            && let Some((rss, peak)) = procstat::memory(pid)
        {
            report.server_rss_mib = Some(rss as f64 / 1048576.0);
            report.server_peak_rss_mib = Some(peak as f64 / 1048576.0);
            report.server_rss_kib_per_user = Some(rss.saturating_sub(base_rss) as f64 / 1024.0 / w.users.max(1) as f64);
        }
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.abort();
        }
        return Ok(report);
    }

    // Send.
    if w.announce {
        eprintln!("wardline-bench: sending for {} s", w.duration.as_secs_f64());
    }
    let cpu_before = w.pid.and_then(procstat::cpu_seconds);
    let receipts_before = activity.receipts_sent.load(Ordering::Relaxed);
    let syncs_before = activity.syncs.load(Ordering::Relaxed);
    let deadline = Instant::now() + w.duration;
    let interval = (w.rate > 0.0).then(|| Duration::from_secs_f64(w.senders as f64 / w.rate));
    let members = Arc::new(members);
    let shared_sessions = Arc::new(sessions.clone());
    let senders: Vec<_> = (0..w.senders)
        .map(|task| {
            let rooms =
                (0..room_ids.len()).filter(|r| r % w.senders == task).map(|r| (r, room_ids[r].clone())).collect();
            tokio::spawn(
                Sender {
                    task,
                    rooms,
                    members: Arc::clone(&members),
                    sessions: Arc::clone(&shared_sessions),
                    clients: w.clients,
                    typing_every: w.typing_every,
                    interval,
                    deadline,
                    base,
                }
                .run(),
            )
        })
        .collect();
    let mut send_latencies = Vec::new();
    let mut acked: Vec<Acked> = Vec::new();
    for s in senders {
        let Ok(out) = s.await else { continue };
        report.sends_failed += out.failed;
        report.typing_notices += out.typing;
        send_latencies.extend(out.latencies_us);
        acked.extend(out.acked);
    }
    let elapsed = w.duration.as_secs_f64();
    let cpu_after = w.pid.and_then(procstat::cpu_seconds);
    if w.announce {
        eprintln!("wardline-bench: sending done");
    }
    report.receipts_sent = activity.receipts_sent.load(Ordering::Relaxed) - receipts_before;
    report.sync_responses = activity.syncs.load(Ordering::Relaxed) - syncs_before;
    report.sends_acked = acked.len() as u64;
    report.sends_per_s = report.sends_acked as f64 / elapsed;
    report.send_latency_ms = Percentiles::of(send_latencies);
    report.sending_users = acked.iter().map(|a| a.sender).collect::<HashSet<_>>().len();
    if let (Some(a), Some(b)) = (cpu_before, cpu_after)
        && report.sends_acked > 0
    {
        report.server_cpu_ms_per_message = Some((b - a) * 1000.0 / report.sends_acked as f64);
    }

    // Who is owed what: each message, by every member of its room but its sender.
    let mut owed: HashMap<usize, Vec<&str>> = HashMap::new(); // user index -> message ids
    for a in &acked {
        for user in members[a.room].iter().filter(|u| **u != a.sender) {
            owed.entry(*user).or_default().push(&a.id);
        }
    }
    report.deliveries_expected = owed.values().map(|v| v.len() as u64).sum();
    let drain_until = Instant::now() + w.drain;
    while activity.delivered.load(Ordering::Relaxed) < report.deliveries_expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.abort();
    }
    let mut latencies = Vec::new();
    for (user, cell) in ledgers.iter().enumerate() {
        let l = cell.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        report.deliveries_duplicated += l.duplicates;
        report.deliveries_out_of_order += l.out_of_order;
        report.limited_timelines += l.limited;
        report.gap_pages += l.gap_pages;
        let mine = owed.get(&user).map(Vec::as_slice).unwrap_or_default();
        report.deliveries_seen += mine.iter().filter(|id| l.has(id)).count() as u64;
        latencies.extend_from_slice(&l.latencies_us);
    }
    report.receipts_failed = activity.receipts_failed.load(Ordering::Relaxed);
    report.deliveries_lost = report.deliveries_expected - report.deliveries_seen;
    report.delivery_latency_ms = Percentiles::of(latencies);
    if let Some((rss, peak)) = w.pid.and_then(procstat::memory) {
        report.server_rss_mib = Some(rss as f64 / 1048576.0);
        report.server_peak_rss_mib = Some(peak as f64 / 1048576.0);
    }
    Ok(report)
}
