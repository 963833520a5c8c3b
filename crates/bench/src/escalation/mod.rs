//! The escalation simulation (`--workload escalation`): many urgent and emergency messages at
//! random times, in many conversations, to recipients who answer at once, late, decline, or
//! never; every message must end accepted or at its failsafe within its policy's time.
//!
//! The server runs on its test clock (`WARDLINE_TEST_CLOCK_FILE`), which the simulation moves
//! `speed` times faster than real time ([`clock`]), so a day of a hospital's urgent messages
//! runs in minutes. Everyone is a real signed-in user with a `/sync` long-poll (Element's
//! filter), acting only on what it shows them ([`person`]): a recipient answers some time after
//! seeing the message or the notice naming them, as their [`plan`] says; the person a step
//! brings in joins when invited. An administrator sets the organisation's policies (urgent:
//! re-notify at 2 min, bring in the on-call person at 5, failsafe at 10; emergency: 1, 3, 5),
//! whose targets are real accounts: the last two users.
//!
//! At the end each message's status is read by its sender and judged ([`checks`]); the report
//! gives the outcomes, the time to acceptance and to the failsafe (server time), the engine's
//! lag from a step falling due to its notice, and the server's CPU and memory.

pub mod checks;
pub mod clock;
pub mod person;
pub mod plan;
pub mod report;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::{Value, json};

use self::checks::Observed;
use self::clock::SimClock;
use self::person::{BENCH, Counts, Person, World};
use self::plan::{EMERGENCY, Scenario, Timing, URGENT};
use self::report::{Broken, EscalationReport, ScenarioOutcomes};
use crate::client::{self, ClientError, Session, enc};
use crate::procstat;
use crate::profile;
use crate::stats::Percentiles;
use crate::texts::{self, Rng};

/// What to run.
#[derive(Debug, Clone)]
pub struct Simulation {
    /// Server base URL.
    pub base: String,
    /// Users `{prefix}{0..users}`, all with `password`: the last two are the person the
    /// second step brings in and the failsafe; the others are ward staff.
    pub users: usize,
    /// Username prefix.
    pub user_prefix: String,
    /// Their password.
    pub password: String,
    /// An administrator (without a second factor yet, or one this run set up: it enrols one).
    pub admin_user: String,
    /// The administrator's password.
    pub admin_password: String,
    /// Conversations (of 4, 5 or 6 staff).
    pub rooms: usize,
    /// Urgent and emergency messages.
    pub messages: usize,
    /// Server milliseconds over which they are sent.
    pub window_ms: u64,
    /// Server time per real time.
    pub speed: f64,
    /// The server's `WARDLINE_TEST_CLOCK_FILE`.
    pub clock_file: PathBuf,
    /// Seed of the simulation.
    pub seed: u64,
    /// How long past its policy's total time a message may end (server ms).
    pub slack_ms: u64,
    /// The server's process id, for CPU and memory.
    pub pid: Option<u32>,
    /// Progress on stderr.
    pub announce: bool,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum SimulationError {
    /// Setting up failed.
    #[error("{0}: {1}")]
    Setup(&'static str, ClientError),
    /// The clock file.
    #[error("clock file: {0}")]
    Clock(#[from] std::io::Error),
    /// Too few users or rooms.
    #[error("{0}")]
    Shape(&'static str),
}

fn setup(what: &'static str) -> impl Fn(ClientError) -> SimulationError {
    move |e| SimulationError::Setup(what, e)
}

/// The conversations' members: room `r` has 4, 5 or 6 of the `staff`, consecutive from `5r`.
#[must_use]
pub fn members(rooms: usize, staff: usize) -> Vec<Vec<usize>> {
    (0..rooms)
        .map(|r| {
            let mut m: Vec<usize> = Vec::new();
            for i in 0..4 + r % 3 {
                let u = (r * 5 + i) % staff.max(1);
                if !m.contains(&u) {
                    m.push(u);
                }
            }
            m
        })
        .collect()
}

fn policy(t: Timing, brought_in: &str, failsafe: &str) -> Value {
    json!({"steps": [
        {"after_ms": t.renotify_ms, "action": "renotify"},
        {"after_ms": t.add_ms, "action": "add", "targets": [{"kind": "user", "user_id": brought_in}]},
        {"after_ms": t.failsafe_ms, "action": "failsafe", "targets": [{"kind": "user", "user_id": failsafe}]},
    ]})
}

/// Signs the administrator in (enrolling a second factor if the server asks for one, while its
/// clock is still real time) and sets the organisation's urgent and emergency policies.
async fn set_policies(
    http: &reqwest::Client,
    s: &Simulation,
    brought_in: &str,
    failsafe: &str,
) -> Result<(), SimulationError> {
    let admin =
        client::admin_login(http, &s.base, &s.admin_user, &s.admin_password).await.map_err(setup("admin login"))?;
    const POLICIES: &str = "/_wardline/admin/v1/escalation_policies";
    for (level, t) in [("urgent", URGENT), ("emergency", EMERGENCY)] {
        admin
            .put(&format!("{POLICIES}/org/{level}"), &policy(t, brought_in, failsafe))
            .await
            .map_err(setup("policy"))?;
    }
    Ok(())
}

/// Makes the conversations (each created by its first member, the others invited and joining).
async fn make_rooms(sessions: &[Session], members: &[Vec<usize>]) -> Result<Vec<String>, SimulationError> {
    stream::iter(members.iter())
        .map(|m| async move {
            let invite: Vec<String> = m.iter().skip(1).map(|i| sessions[*i].user_id.clone()).collect();
            let room = sessions[m[0]].create_room(&invite).await.map_err(setup("createRoom"))?;
            for i in m.iter().skip(1) {
                sessions[*i].join(&room).await.map_err(setup("join"))?;
            }
            Ok::<String, SimulationError>(room)
        })
        .buffered(8)
        .try_collect()
        .await
}

fn say(s: &Simulation, what: &str) {
    if s.announce {
        eprintln!("wardline-bench: {what}");
    }
}

/// Runs the simulation.
///
/// # Errors
/// Setting up failed (sign-ins, the policies, the rooms, the clock file).
pub async fn run(s: &Simulation) -> Result<EscalationReport, SimulationError> {
    if s.users < 6 || s.rooms == 0 {
        return Err(SimulationError::Shape(
            "at least 6 users (4 staff, the person brought in, the failsafe) and a room",
        ));
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| SimulationError::Setup("http client", e.into()))?;
    let names: Vec<String> = (0..s.users).map(|i| format!("{}{i}", s.user_prefix)).collect();
    let sessions: Vec<Session> = stream::iter(names.iter())
        .map(|n| client::login(&http, &s.base, n, &s.password))
        .buffered(32)
        .try_collect()
        .await
        .map_err(setup("login"))?;
    let element = profile::element_filter();
    let filters: Vec<String> = stream::iter(sessions.iter())
        .map(|x| x.upload_filter(&element))
        .buffered(32)
        .try_collect()
        .await
        .map_err(setup("upload filter"))?;
    let (brought_in, failsafe) = (s.users - 2, s.users - 1);
    set_policies(&http, s, &sessions[brought_in].user_id, &sessions[failsafe].user_id).await?;
    let members = members(s.rooms, s.users - 2);
    say(s, &format!("{} users signed in; making {} rooms", s.users, s.rooms));
    let room_ids = make_rooms(&sessions, &members).await?;
    let plans = plan::draw(s.seed, s.messages, s.window_ms, &members, brought_in);

    let clock = Arc::new(SimClock::new(s.clock_file.clone(), s.speed));
    let world = Arc::new(World {
        observed: (0..plans.len()).map(|_| Mutex::new(Observed::default())).collect(),
        ended: (0..plans.len()).map(|_| AtomicBool::new(false)).collect(),
        plans,
        rooms: room_ids,
        by_event: Mutex::new(std::collections::HashMap::new()),
        clock: Arc::clone(&clock),
        counts: Counts::default(),
        stop: AtomicBool::new(false),
    });
    let first_filter = profile::element_initial_filter().to_string();
    let tokens: Vec<String> = stream::iter(sessions.iter())
        .map(|x| {
            let f = &first_filter;
            async move { x.sync(None, 0, f).await.map(|b| b["next_batch"].as_str().unwrap_or_default().to_owned()) }
        })
        .buffered(32)
        .try_collect()
        .await
        .map_err(setup("initial sync"))?;
    let people: Vec<_> = sessions
        .iter()
        .zip(tokens)
        .zip(filters)
        .enumerate()
        .map(|(i, ((x, since), filter))| tokio::spawn(Person::new(i, x.clone(), filter, Arc::clone(&world)).run(since)))
        .collect();

    // The window opens: the server's clock runs `speed` times faster from now.
    let ticking = clock.start()?;
    let started = Instant::now();
    let cpu_before = s.pid.and_then(procstat::cpu_seconds);
    let own_before = procstat::cpu_seconds(std::process::id());
    let machine_before = procstat::machine_seconds();
    let opened = clock.server_now_ms();
    say(
        s,
        &format!(
            "sending {} urgent messages over {:.0} server minutes at {}x",
            s.messages,
            s.window_ms as f64 / 60_000.0,
            s.speed
        ),
    );
    let mut rng = Rng::new(s.seed ^ 0x5EED);
    let mut sends = Vec::with_capacity(world.plans.len());
    let mut report_at = Instant::now();
    for (i, p) in world.plans.iter().enumerate() {
        clock.until(opened + p.at_ms).await;
        let content = json!({"msgtype": "m.text", "body": texts::message(&mut rng),
            "org.wardline.priority": {"level": p.level}, BENCH: {"esc": i}});
        let session = sessions[p.sender].clone();
        let room = world.rooms[p.room].clone();
        let w = Arc::clone(&world);
        sends.push(tokio::spawn(async move {
            let id = match session.send_message(&room, &format!("esc-{i}"), &content).await {
                Ok(id) => id,
                Err(e) => {
                    eprintln!("wardline-bench: message {i} was not sent: {e}");
                    return None;
                }
            };
            w.by_event.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id.clone(), i);
            w.observed(i).event_id.get_or_insert(id);
            Some(())
        }));
        if report_at.elapsed() > Duration::from_secs(30) {
            let done = world.ended.iter().filter(|e| e.load(Ordering::Relaxed)).count();
            say(s, &format!("{} sent, {done} ended", i + 1));
            report_at = Instant::now();
        }
    }
    let mut sends_failed = 0;
    for t in sends {
        if !matches!(t.await, Ok(Some(()))) {
            sends_failed += 1;
        }
    }
    // Every message's escalation runs to its end: wait (server time) for its policy's total,
    // the slack and a minute for the last notices to arrive, or less once every end was seen.
    let longest = URGENT.failsafe_ms.max(EMERGENCY.failsafe_ms);
    let last = opened + world.plans.last().map_or(0, |p| p.at_ms) + longest + s.slack_ms + 60_000;
    while clock.server_now_ms() < last && !world.ended.iter().all(|e| e.load(Ordering::Relaxed)) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cpu_after = s.pid.and_then(procstat::cpu_seconds);
    let own_after = procstat::cpu_seconds(std::process::id());
    let machine_after = procstat::machine_seconds();
    let cpu_real = started.elapsed().as_secs_f64();
    say(s, "reading every message's status");
    let statuses: Vec<Value> = stream::iter(0..world.plans.len())
        .map(|i| {
            let w = Arc::clone(&world);
            let session = sessions[w.plans[i].sender].clone();
            async move {
                let Some(id) = w.observed(i).event_id.clone() else { return Value::Null };
                let room = &w.rooms[w.plans[i].room];
                let path = format!("/_wardline/client/v1/rooms/{}/status/{}", enc(room), enc(&id));
                session.get(&path).await.unwrap_or(Value::Null)
            }
        })
        .buffered(16)
        .collect()
        .await;
    // Messages whose sender's sync did not show them (it always should): read them.
    for (i, p) in world.plans.iter().enumerate() {
        let id = world.observed(i).event_id.clone();
        if world.observed(i).sent_ts.is_none()
            && let Some(id) = id
        {
            let path = format!("/_matrix/client/v3/rooms/{}/event/{}", enc(&world.rooms[p.room]), enc(&id));
            let ts = sessions[p.sender].get(&path).await.ok().and_then(|e| e["origin_server_ts"].as_u64());
            world.observed(i).sent_ts = ts;
        }
    }
    let real_s = started.elapsed().as_secs_f64();
    world.stop.store(true, Ordering::Relaxed);
    ticking.abort();
    for p in people {
        p.abort();
    }

    let mut r = EscalationReport {
        server: s.base.clone(),
        users: s.users,
        rooms: s.rooms,
        messages: world.plans.len(),
        emergencies: world.plans.iter().filter(|p| p.level == "emergency").count(),
        window_min: s.window_ms as f64 / 60_000.0,
        speed: s.speed,
        seed: s.seed,
        real_s,
        sends_failed,
        slack_ms: s.slack_ms,
        ..EscalationReport::default()
    };
    judge_all(&world, &statuses, &mut r);
    let c = &world.counts;
    r.duplicate_notices = c.duplicate_notices.load(Ordering::Relaxed);
    r.answers = c.answers.load(Ordering::Relaxed);
    r.answers_failed = c.answers_failed.load(Ordering::Relaxed);
    r.joins = c.joins.load(Ordering::Relaxed);
    r.joins_failed = c.joins_failed.load(Ordering::Relaxed);
    r.sync_responses = c.syncs.load(Ordering::Relaxed);
    r.sync_errors = c.sync_errors.load(Ordering::Relaxed);
    r.limited_timelines = c.limited.load(Ordering::Relaxed);
    r.gap_pages = c.gap_pages.load(Ordering::Relaxed);
    if let (Some(a), Some(b)) = (cpu_before, cpu_after)
        && r.sent > 0
    {
        r.server_cpu_ms_per_message = Some((b - a) * 1000.0 / r.sent as f64);
        r.server_cpu_cores = Some((b - a) / cpu_real.max(0.001));
    }
    if let (Some(a), Some(b)) = (own_before, own_after) {
        r.bench_cpu_cores = Some((b - a) / cpu_real.max(0.001));
    }
    if let (Some((busy_a, wait_a)), Some((busy_b, wait_b))) = (machine_before, machine_after) {
        r.machine_busy_cores = Some((busy_b - busy_a) / cpu_real.max(0.001));
        r.machine_iowait_cores = Some((wait_b - wait_a) / cpu_real.max(0.001));
    }
    r.server_peak_rss_mib = s.pid.and_then(procstat::memory).map(|(_, peak)| peak as f64 / 1048576.0);
    Ok(r)
}

/// Judges every message by its status and what its sender saw; fills in the outcomes, the
/// distributions and the rules broken.
fn judge_all(world: &World, statuses: &[Value], r: &mut EscalationReport) {
    let mut by_scenario: BTreeMap<Scenario, ScenarioOutcomes> = BTreeMap::new();
    let mut broken: BTreeMap<&'static str, Broken> = BTreeMap::new();
    let (mut to_accept, mut to_failsafe, mut lags) = (Vec::new(), Vec::new(), Vec::new());
    for (i, p) in world.plans.iter().enumerate() {
        let o = world.observed(i).clone();
        let row = by_scenario.entry(p.scenario).or_insert_with(|| ScenarioOutcomes {
            scenario: p.scenario.name().to_owned(),
            ..ScenarioOutcomes::default()
        });
        row.messages += 1;
        let Some(id) = o.event_id.clone() else { continue };
        r.sent += 1;
        let t = p.timing();
        let sent = o.sent_ts.unwrap_or(0);
        let esc = statuses.get(i).map_or(&Value::Null, |st| &st["escalation"]);
        let v = checks::judge(esc, sent, 3, t.failsafe_ms, r.slack_ms, &o);
        let after = v.ended_after_ms.unwrap_or(0);
        match v.state.as_str() {
            "accepted" => {
                r.accepted += 1;
                row.accepted += 1;
                to_accept.push(after * 1000);
            }
            "failsafe" => {
                r.failsafe += 1;
                row.failsafe += 1;
                to_failsafe.push(after * 1000);
            }
            _ => {
                r.other += 1;
                row.other += 1;
            }
        }
        r.max_past_policy_ms = r.max_past_policy_ms.max(after.saturating_sub(t.failsafe_ms));
        r.steps_run += esc["steps"].as_array().map_or(0, |s| s.len() as u64);
        if let Some(end) = esc["ended_ts"].as_u64() {
            r.answers_after_end += o.answers.iter().filter(|a| a.2 > end).count() as u64;
        }
        r.steps_after_acceptance += v.steps_after_acceptance;
        lags.extend(checks::step_lags(sent, &t.delays(), &o));
        for rule in v.broken {
            let b = broken.entry(rule).or_insert_with(|| Broken {
                rule: rule.to_owned(),
                messages: 0,
                examples: Vec::new(),
            });
            b.messages += 1;
            if b.examples.len() < 3 {
                b.examples.push(id.clone());
            }
        }
    }
    r.by_scenario = by_scenario.into_values().collect();
    r.broken = broken.into_values().collect();
    r.time_to_acceptance_ms = Percentiles::of(to_accept);
    r.time_to_failsafe_ms = Percentiles::of(to_failsafe);
    let speed = world.clock.speed();
    r.engine_lag_real_ms = Percentiles::of(lags.iter().map(|l| (*l as f64 * 1000.0 / speed) as u64).collect());
    r.engine_lag_ms = Percentiles::of(lags.into_iter().map(|l| l * 1000).collect());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_have_four_to_six_distinct_staff() {
        let m = members(500, 998);
        assert!(m.iter().all(|r| (4..=6).contains(&r.len()) && r.iter().all(|u| *u < 998)));
        let seats: usize = m.iter().map(Vec::len).sum();
        assert_eq!(seats, 500 / 3 * 15 + 4 + 5);
        let tiny = members(3, 4);
        assert!(tiny.iter().all(|r| r.len() == 4), "never the same person twice: {tiny:?}");
    }
}
