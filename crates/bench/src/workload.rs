//! The workload: sign in, make rooms, keep every user long-polling, send, and count what
//! arrives where.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::json;

use crate::client::{self, ClientError, Session};
use crate::procstat;
use crate::stats::{Percentiles, Report};

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
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Setting up failed.
    #[error("{0}: {1}")]
    Setup(&'static str, ClientError),
}

/// What one sync loop saw.
#[derive(Debug, Default)]
struct Seen {
    ids: HashSet<String>,
    latencies_us: Vec<u64>,
    duplicates: u64,
    limited: u64,
}

const FILTER: &str = r#"{"room":{"timeline":{"limit":200,"types":["m.room.message"]},"state":{"types":[]},"ephemeral":{"types":[]},"account_data":{"types":[]}},"presence":{"types":[]},"account_data":{"types":[]}}"#;

fn micros_since(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Follows one user's sync until stopped, recording bench messages from others.
async fn sync_loop(
    session: Session,
    mut since: String,
    base: Instant,
    seen: Arc<Mutex<Seen>>,
    counter: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let body = match session.sync(Some(&since), 30_000, FILTER).await {
            Ok(b) => b,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let now = micros_since(base);
        if let Some(next) = body["next_batch"].as_str() {
            since = next.to_owned();
        }
        let Some(rooms) = body["rooms"]["join"].as_object() else { continue };
        let mut s = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for room in rooms.values() {
            if room["timeline"]["limited"] == true {
                s.limited += 1;
            }
            for e in room["timeline"]["events"].as_array().into_iter().flatten() {
                if e["sender"] == session.user_id.as_str() {
                    continue;
                }
                let meta = &e["content"]["org.wardline.bench"];
                let (Some(id), Some(t)) = (meta["id"].as_str(), meta["t"].as_u64()) else { continue };
                if s.ids.insert(id.to_owned()) {
                    s.latencies_us.push(now.saturating_sub(t));
                    counter.fetch_add(1, Ordering::Relaxed);
                } else {
                    s.duplicates += 1;
                }
            }
        }
    }
}

/// Runs the workload.
pub async fn run(w: &Workload) -> Result<Report, BenchError> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| BenchError::Setup("http client", e.into()))?;
    let baseline_rss = w.pid.and_then(procstat::memory).map(|(rss, _)| rss);
    let names: Vec<String> = (0..w.users).map(|i| format!("{}{i}", w.user_prefix)).collect();
    let sessions: Vec<Session> = stream::iter(names.iter())
        .map(|n| client::login(&http, &w.base, n, &w.password))
        .buffered(32)
        .try_collect()
        .await
        .map_err(|e| BenchError::Setup("login", e))?;

    // Rooms: room r has members (r*G + i) mod U.
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut room_ids: Vec<String> = Vec::new();
    if !w.idle {
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
    }

    // Everyone long-polls from now on.
    let base = Instant::now();
    let counter = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tokens: Vec<String> = stream::iter(sessions.iter())
        .map(|s| async move {
            s.sync(None, 0, FILTER).await.map(|b| b["next_batch"].as_str().unwrap_or_default().to_owned())
        })
        .buffered(32)
        .try_collect()
        .await
        .map_err(|e| BenchError::Setup("initial sync", e))?;
    let mut seen = Vec::new();
    let mut loops = Vec::new();
    for (s, since) in sessions.iter().zip(tokens) {
        let cell = Arc::new(Mutex::new(Seen::default()));
        seen.push(Arc::clone(&cell));
        loops.push(tokio::spawn(sync_loop(s.clone(), since, base, cell, Arc::clone(&counter), Arc::clone(&stop))));
    }

    let mut report = Report {
        server: w.base.clone(),
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
        for l in loops {
            l.abort();
        }
        return Ok(report);
    }

    // Send.
    let cpu_before = w.pid.and_then(procstat::cpu_seconds);
    let deadline = Instant::now() + w.duration;
    let per_sender_interval = (w.rate > 0.0).then(|| Duration::from_secs_f64(w.senders as f64 / w.rate));
    let mut senders = Vec::new();
    for k in 0..w.senders {
        let my_rooms: Vec<(String, usize)> =
            (0..room_ids.len()).filter(|r| r % w.senders == k).map(|r| (room_ids[r].clone(), members[r][0])).collect();
        let sessions = sessions.clone();
        senders.push(tokio::spawn(async move {
            let mut acked: Vec<(String, usize)> = Vec::new();
            let mut latencies = Vec::new();
            let mut failed = 0u64;
            let mut ticker = per_sender_interval.map(|i| {
                let mut t = tokio::time::interval(i);
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                t
            });
            let mut seq = 0u64;
            while Instant::now() < deadline && !my_rooms.is_empty() {
                if let Some(t) = ticker.as_mut() {
                    t.tick().await;
                }
                let (room, creator) = &my_rooms[(seq as usize) % my_rooms.len()];
                let id = format!("{k}-{seq}");
                let t = micros_since(base);
                let content = json!({"msgtype": "m.text", "body": format!("bench {id}"), "org.wardline.bench": {"id": id, "t": t}});
                let start = Instant::now();
                match sessions[*creator].send(room, &id, &content).await {
                    Ok(()) => {
                        latencies.push(u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX));
                        acked.push((id, (seq as usize) % my_rooms.len()));
                    }
                    Err(_) => failed += 1,
                }
                seq += 1;
            }
            (k, my_rooms, acked, latencies, failed)
        }));
    }
    let mut send_latencies = Vec::new();
    let mut acked_msgs: Vec<(String, usize)> = Vec::new(); // (id, room index)
    for s in senders {
        let Ok((_, my_rooms, acked, lat, failed)) = s.await else { continue };
        report.sends_failed += failed;
        send_latencies.extend(lat);
        for (id, slot) in acked {
            let room_index = room_ids.iter().position(|r| *r == my_rooms[slot].0).unwrap_or(0);
            acked_msgs.push((id, room_index));
        }
    }
    let elapsed = w.duration.as_secs_f64();
    let cpu_after = w.pid.and_then(procstat::cpu_seconds);
    report.sends_acked = acked_msgs.len() as u64;
    report.sends_per_s = report.sends_acked as f64 / elapsed;
    report.send_latency_ms = Percentiles::of(send_latencies);
    if let (Some(a), Some(b)) = (cpu_before, cpu_after)
        && report.sends_acked > 0
    {
        report.server_cpu_ms_per_message = Some((b - a) * 1000.0 / report.sends_acked as f64);
    }

    // Who is owed what.
    let mut owed: HashMap<usize, Vec<&str>> = HashMap::new(); // user index -> message ids
    for (id, r) in &acked_msgs {
        for (pos, user) in members[*r].iter().enumerate() {
            if pos != 0 {
                owed.entry(*user).or_default().push(id);
            }
        }
    }
    report.deliveries_expected = owed.values().map(|v| v.len() as u64).sum();
    let drain_until = Instant::now() + w.drain;
    while counter.load(Ordering::Relaxed) < report.deliveries_expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for l in loops {
        l.abort();
    }
    let mut latencies = Vec::new();
    for (user, cell) in seen.iter().enumerate() {
        let s = cell.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        report.deliveries_duplicated += s.duplicates;
        report.limited_timelines += s.limited;
        let mine = owed.get(&user).map(Vec::as_slice).unwrap_or_default();
        report.deliveries_seen += mine.iter().filter(|id| s.ids.contains(**id)).count() as u64;
        latencies.extend_from_slice(&s.latencies_us);
    }
    report.deliveries_lost = report.deliveries_expected - report.deliveries_seen;
    report.delivery_latency_ms = Percentiles::of(latencies);
    if let Some((rss, peak)) = w.pid.and_then(procstat::memory) {
        report.server_rss_mib = Some(rss as f64 / 1048576.0);
        report.server_peak_rss_mib = Some(peak as f64 / 1048576.0);
    }
    Ok(report)
}
