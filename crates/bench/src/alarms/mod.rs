//! The alarm storm (`--workload alarms`): a thousand alarms in a minute, half from a nurse-call
//! system over the HTTP alarm API and half from monitor gateways over HL7 v2 (MLLP), to wards
//! whose two responders each have a phone following `/sync` ([`responder`]). Each ward has a
//! rule sending its alarms to its two responders at urgent priority, with a policy that
//! re-notifies at 30 s and brings in the failsafe person at 60 s. Responders accept a few
//! seconds after their phone shows an alarm, or one declines and the other accepts, or nobody
//! answers ([`plan`]).
//!
//! Measured: each alarm's acknowledgement (`202`, `CA`) time; from the moment its source sent
//! it to the first phone showing it; and (from the server's status facts) to its acceptance or
//! its failsafe. Checked: none lost (every acknowledged alarm is in the store), each posted
//! once, each ended accepted or at the failsafe within its policy plus the slack. The server
//! runs on real time.

pub mod plan;
pub mod report;
pub mod responder;
pub mod sources;

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::{Value, json};

use self::plan::{Scenario, Via};
use self::report::StormReport;
use self::responder::{Responder, Ward};
use self::sources::{Gateway, Sent};
use crate::client::{self, ClientError, Session};
use crate::stats::Percentiles;
use crate::{procstat, profile};

/// The policy: re-notify at 30 s, bring in the failsafe person at 60 s.
pub const RENOTIFY_MS: u64 = 30_000;
/// When the failsafe person is brought in.
pub const FAILSAFE_MS: u64 = 60_000;

/// What to run.
#[derive(Debug, Clone)]
pub struct Storm {
    /// Server base URL.
    pub base: String,
    /// The server's MLLP listener (`host:port`).
    pub hl7: String,
    /// Wards (each with two responders: users `{prefix}{2w}`, `{prefix}{2w+1}`; the user after
    /// the last is the failsafe person).
    pub wards: usize,
    /// Username prefix.
    pub user_prefix: String,
    /// Their password.
    pub password: String,
    /// An administrator (a second factor is enrolled if the server asks).
    pub admin_user: String,
    /// Their password.
    pub admin_password: String,
    /// Alarms.
    pub alarms: usize,
    /// Over how long (ms).
    pub window_ms: u64,
    /// Monitor gateways (MLLP connections).
    pub gateways: usize,
    /// How long past its policy an alarm may end (ms).
    pub slack_ms: u64,
    /// Seed.
    pub seed: u64,
    /// The server's process id, for CPU and memory.
    pub pid: Option<u32>,
}

/// Why a run could not be made.
#[derive(Debug, thiserror::Error)]
#[error("{0}: {1}")]
pub struct StormError(&'static str, ClientError);

fn setup(what: &'static str) -> impl Fn(ClientError) -> StormError {
    move |e| StormError(what, e)
}

fn say(what: &str) {
    eprintln!("wardline-bench: {what}");
}

/// One rule per ward: its alarms to its two responders, urgent, with the storm's policy.
async fn make_rules(admin: &Session, s: &Storm, people: &[Session], failsafe: &str) -> Result<(), StormError> {
    for w in 0..s.wards {
        let targets: Vec<Value> =
            plan::responders(w).iter().map(|r| json!({"kind": "user", "user_id": people[*r].user_id})).collect();
        let rule = json!({
            "name": format!("{} alarms", sources::ward_name(w)),
            "position": w,
            "match": {"location": {"ward": sources::ward_name(w)}},
            "action": {"mode": "conversation", "targets": targets, "level": "urgent", "policy": {"steps": [
                {"after_ms": RENOTIFY_MS, "action": "renotify"},
                {"after_ms": FAILSAFE_MS, "action": "failsafe", "targets": [{"kind": "user", "user_id": failsafe}]},
            ]}},
        });
        admin.put(&format!("/_wardline/admin/v1/alarm_rules/storm-ward-{w}"), &rule).await.map_err(setup("rule"))?;
    }
    Ok(())
}

/// Every alarm of `integration` as the admin API lists it.
async fn all_alarms(admin: &Session, integration: &str) -> Result<Vec<Value>, ClientError> {
    let mut out = Vec::new();
    let mut after = 0u64;
    loop {
        let page =
            admin.get(&format!("/_wardline/admin/v1/alarms?integration={integration}&after={after}&limit=500")).await?;
        let list = page["alarms"].as_array().cloned().unwrap_or_default();
        if list.is_empty() {
            return Ok(out);
        }
        after = list.iter().filter_map(|a| a["seq"].as_u64()).max().unwrap_or(after);
        out.extend(list);
    }
}

/// Runs the storm.
///
/// # Errors
/// Setting up failed (sign-ins, the integrations, the rules).
pub async fn run(s: &Storm) -> Result<StormReport, StormError> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| StormError("http client", e.into()))?;
    let people_count = 2 * s.wards + 1;
    let names: Vec<String> = (0..people_count).map(|i| format!("{}{i}", s.user_prefix)).collect();
    let people: Vec<Session> = stream::iter(names.iter())
        .map(|n| client::login(&http, &s.base, n, &s.password))
        .buffered(16)
        .try_collect()
        .await
        .map_err(setup("login"))?;
    let admin = client::admin_login(&http, &s.base, &s.admin_user, &s.admin_password).await.map_err(setup("admin"))?;
    let key = sources::make_integrations(&admin).await.map_err(setup("integrations"))?;
    let failsafe = people[2 * s.wards].user_id.clone();
    make_rules(&admin, s, &people, &failsafe).await?;
    let system = Session::with_token(&http, &s.base, &key, "@integration.storm-http");

    let ward = Arc::new(Ward::new(plan::draw(s.seed, s.alarms, s.window_ms, s.wards)));
    let element = profile::element_filter();
    let first = profile::element_initial_filter().to_string();
    let mut phones = Vec::new();
    for (i, p) in people.iter().enumerate() {
        let filter = p.upload_filter(&element).await.map_err(setup("filter"))?;
        let since = p.sync(None, 0, &first).await.map_err(setup("initial sync"))?;
        let since = since["next_batch"].as_str().unwrap_or_default().to_owned();
        phones.push(tokio::spawn(Responder::new(i, p.clone(), filter, Arc::clone(&ward)).run(since)));
    }
    // Let every phone's first long-poll reach the server before the storm.
    tokio::time::sleep(Duration::from_millis(500)).await;

    say(&format!(
        "{} alarms over {} s: {} wards, {} responders, {} monitor gateways",
        s.alarms,
        s.window_ms / 1000,
        s.wards,
        2 * s.wards,
        s.gateways
    ));
    let cpu_before = s.pid.and_then(procstat::cpu_seconds);
    let started = Instant::now();
    let mut sent: Vec<Option<Sent>> = vec![None; s.alarms];
    // The nurse-call system posts each alarm at its moment, however many are in flight.
    let mut posts = Vec::new();
    // Each gateway sends its alarms in order, one at a time.
    let gateways = s.gateways.max(1);
    let mut queues: Vec<Vec<usize>> = vec![Vec::new(); gateways];
    let mut k = 0;
    for (i, p) in ward.plans.iter().enumerate() {
        match p.via {
            Via::Http => {
                let (system, at, w) = (system.clone(), started + Duration::from_millis(p.at_ms), p.ward);
                posts.push((
                    i,
                    tokio::spawn(async move {
                        tokio::time::sleep_until(at.into()).await;
                        sources::post(&system, i, w).await
                    }),
                ));
            }
            Via::Hl7 => {
                queues[k % gateways].push(i);
                k += 1;
            }
        }
    }
    let feeds: Vec<_> = queues
        .into_iter()
        .map(|q| {
            let (addr, ward) = (s.hl7.clone(), Arc::clone(&ward));
            tokio::spawn(async move {
                let mut g = Gateway::new(&addr);
                let mut out = Vec::new();
                for i in q {
                    let p = &ward.plans[i];
                    tokio::time::sleep_until((started + Duration::from_millis(p.at_ms)).into()).await;
                    out.push((i, g.send(i, p.ward).await));
                }
                out
            })
        })
        .collect();
    for (i, t) in posts {
        sent[i] = t.await.ok();
    }
    for f in feeds {
        for (i, x) in f.await.unwrap_or_default() {
            sent[i] = Some(x);
        }
    }
    let sending_s = started.elapsed().as_secs_f64();
    say(&format!("sent in {sending_s:.1} s; waiting for every alarm to end"));

    // Every alarm ends by its policy: wait for the last one's failsafe and the slack, or less
    // once the store says every alarm has ended.
    let deadline = started + Duration::from_millis(s.window_ms + FAILSAFE_MS + s.slack_ms);
    let mut stored: Vec<Value>;
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        stored = Vec::new();
        for integration in ["storm-http", "storm-hl7"] {
            stored.extend(all_alarms(&admin, integration).await.map_err(setup("alarm list"))?);
        }
        let open = stored.iter().filter(|a| !matches!(a["outcome"].as_str(), Some("accepted" | "failsafe"))).count();
        if (open == 0 && stored.len() >= s.alarms) || Instant::now() > deadline {
            break;
        }
    }
    let cpu_after = s.pid.and_then(procstat::cpu_seconds);
    let busy_s = started.elapsed().as_secs_f64();
    // Each alarm's status facts, for the times to acceptance and failsafe.
    let views: Vec<Value> = stream::iter(stored.iter().filter_map(|a| a["alarm_id"].as_str().map(str::to_owned)))
        .map(|id| {
            let admin = admin.clone();
            async move { admin.get(&format!("/_wardline/admin/v1/alarms/{id}")).await.unwrap_or(Value::Null) }
        })
        .buffered(16)
        .collect()
        .await;
    ward.stop.store(true, Ordering::Relaxed);
    for p in phones {
        p.abort();
    }

    let mut r = StormReport {
        server: s.base.clone(),
        alarms: s.alarms,
        wards: s.wards,
        responders: 2 * s.wards,
        gateways,
        window_s: s.window_ms as f64 / 1000.0,
        sending_s,
        slack_s: s.slack_ms as f64 / 1000.0,
        ..StormReport::default()
    };
    judge(s, &ward, &sent, &views, &mut r);
    r.answers = ward.answers.load(Ordering::Relaxed);
    r.answers_failed = ward.answers_failed.load(Ordering::Relaxed);
    r.syncs = ward.syncs.load(Ordering::Relaxed);
    r.sync_errors = ward.sync_errors.load(Ordering::Relaxed);
    r.limited_timelines = ward.limited.load(Ordering::Relaxed);
    if let (Some(a), Some(b)) = (cpu_before, cpu_after) {
        r.server_cpu_s = Some(b - a);
        r.server_cpu_cores = Some((b - a) / busy_s.max(0.001));
    }
    r.server_peak_rss_mib = s.pid.and_then(procstat::memory).map(|(_, peak)| peak as f64 / 1_048_576.0);
    Ok(r)
}

/// Fills in the figures and the rules broken from what was sent, seen and stored.
fn judge(s: &Storm, ward: &Ward, sent: &[Option<Sent>], views: &[Value], r: &mut StormReport) {
    let by_source: std::collections::HashMap<String, &Value> =
        views.iter().filter_map(|v| v["source_id"].as_str().map(|id| (id.to_owned(), v))).collect();
    let (mut ack_http, mut ack_hl7, mut seen_http, mut seen_hl7) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut to_accept, mut to_failsafe) = (Vec::new(), Vec::new());
    let limit_ms = FAILSAFE_MS + s.slack_ms;
    for (i, p) in ward.plans.iter().enumerate() {
        let Some(x) = &sent[i] else {
            r.broken("not sent (the bench's task failed)", i);
            continue;
        };
        let ack = match &x.ack {
            Ok(d) => *d,
            Err(e) => {
                r.refused += 1;
                if r.refusals.len() < 5 {
                    r.refusals.push(format!("alarm {i}: {e}"));
                }
                continue;
            }
        };
        let (acks, seen) = match p.via {
            Via::Http => (&mut ack_http, &mut seen_http),
            Via::Hl7 => (&mut ack_hl7, &mut seen_hl7),
        };
        acks.push(ack.as_micros() as u64);
        match *ward.first_seen[i].lock().unwrap_or_else(PoisonError::into_inner) {
            Some(t) => seen.push(t.saturating_duration_since(x.at).as_micros() as u64),
            None => r.broken("acknowledged but no phone showed it", i),
        }
        let posts = ward.posted_as[i].lock().unwrap_or_else(PoisonError::into_inner).len();
        if posts > 1 {
            r.broken("posted more than once", i);
        }
        let Some(v) = by_source.get(&sources::source_id(i)) else {
            r.broken("acknowledged but not in the store (lost)", i);
            continue;
        };
        let fact_ts = |status: &str| {
            v["status"].as_array().and_then(|f| f.iter().find(|f| f["status"] == status)).and_then(|f| f["ts"].as_u64())
        };
        let after = |ts: u64| ts.saturating_sub(x.at_unix_ms);
        match v["outcome"].as_str() {
            Some("accepted") => {
                r.accepted += 1;
                if p.scenario == Scenario::Never {
                    r.broken("accepted though nobody meant to", i);
                }
                if let Some(ts) = fact_ts("accepted") {
                    to_accept.push(after(ts) * 1000);
                    if after(ts) > limit_ms {
                        r.broken("ended after its policy and the slack", i);
                    }
                }
            }
            Some("failsafe") => {
                r.failsafe += 1;
                if p.scenario != Scenario::Never {
                    r.broken("reached the failsafe though a responder accepted", i);
                }
                if let Some(ts) = fact_ts("failsafe") {
                    to_failsafe.push(after(ts) * 1000);
                    if after(ts) > limit_ms {
                        r.broken("ended after its policy and the slack", i);
                    }
                }
            }
            other => {
                r.not_ended += 1;
                r.broken(if other == Some("notified") { "still waiting at the end" } else { "ended otherwise" }, i);
            }
        }
    }
    r.acknowledged = (ack_http.len() + ack_hl7.len()) as u64;
    r.ack_http_ms = Percentiles::of(ack_http);
    r.ack_hl7_ms = Percentiles::of(ack_hl7);
    let mut all = seen_http.clone();
    all.extend(&seen_hl7);
    r.first_notification_ms = Percentiles::of(all);
    r.first_notification_http_ms = Percentiles::of(seen_http);
    r.first_notification_hl7_ms = Percentiles::of(seen_hl7);
    r.to_acceptance_ms = Percentiles::of(to_accept);
    r.to_failsafe_ms = Percentiles::of(to_failsafe);
}
