//! The search scenario (`wardline-bench search`): one signed-in user searching the way a real
//! client does, timing each `POST /search`.
//!
//! The client signs in, syncs once (as a client does before it shows a search box), then runs
//! rounds of searches, one at a time: each term as Element Web sends it (`recent` order, one
//! event of context each side, senders' profiles), then in `rank` order, and, where there is
//! one, the next page of the `recent` results. Terms are of five kinds, from the fixture's
//! vocabulary ([`crate::texts`]): common words, middling words (drugs, blood tests), rare words
//! (surnames, hospital numbers), prefixes (the last word as typed so far) and several words.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use crate::client::{self, ClientError, Session};
use crate::stats::Percentiles;

/// The terms searched, by kind.
pub const TERMS: &[(&str, &[&str])] = &[
    ("common", &["bed", "review", "please"]),
    ("middling", &["furosemide", "lactate", "potassium", "sepsis"]),
    ("rare", &["Zielinski", "Okafor", "RX0012345", "rigors"]),
    ("prefix", &["furo", "lact", "Kowal", "troponi"]),
    ("several words", &["potassium bed 12", "chest pain review", "family update Patel"]),
];

/// What to run.
#[derive(Debug, Clone)]
pub struct SearchBench {
    /// Server base URL.
    pub base: String,
    /// The searcher's username.
    pub user: String,
    /// Their password.
    pub password: String,
    /// Times through every term.
    pub rounds: usize,
}

/// Latencies of one kind of search.
#[derive(Debug, Clone, Serialize)]
pub struct KindReport {
    /// The kind of term (or of request).
    pub kind: String,
    /// Searches timed.
    pub searches: usize,
    /// Latency, ms.
    pub latency_ms: Percentiles,
    /// Mean `count` the server reported.
    pub mean_count: f64,
}

/// What the run measured.
#[derive(Debug, Clone, Serialize)]
pub struct SearchReport {
    /// The server.
    pub server: String,
    /// Searches timed.
    pub searches: usize,
    /// Searches that failed.
    pub failed: usize,
    /// Every search's latency, ms.
    pub latency_ms: Percentiles,
    /// By request: `recent` (Element's), `rank`, `next page`.
    pub by_request: Vec<KindReport>,
    /// `recent` searches by kind of term.
    pub by_term: Vec<KindReport>,
}

impl SearchReport {
    /// A readable table.
    #[must_use]
    pub fn table(&self) -> String {
        let p = |x: &Percentiles| format!("p50 {:8.2}  p90 {:8.2}  p99 {:8.2}  max {:8.2}", x.p50, x.p90, x.p99, x.max);
        let mut out = format!(
            "server           {}\nsearches         {} ({} failed)\nall, ms          {}\n",
            self.server,
            self.searches,
            self.failed,
            p(&self.latency_ms)
        );
        for k in self.by_request.iter().chain(&self.by_term) {
            out.push_str(&format!(
                "{:<16} {}  ({} searches, mean count {:.0})\n",
                k.kind,
                p(&k.latency_ms),
                k.searches,
                k.mean_count
            ));
        }
        out
    }
}

fn element_body(term: &str) -> Value {
    json!({"search_categories": {"room_events": {
        "search_term": term,
        "order_by": "recent",
        "event_context": {"before_limit": 1, "after_limit": 1, "include_profile": true},
    }}})
}

fn rank_body(term: &str) -> Value {
    json!({"search_categories": {"room_events": {"search_term": term, "order_by": "rank"}}})
}

#[derive(Default)]
struct Samples {
    micros: Vec<u64>,
    counts: Vec<u64>,
}

impl Samples {
    fn report(&self, kind: &str) -> KindReport {
        let n = self.counts.len().max(1) as f64;
        KindReport {
            kind: kind.to_owned(),
            searches: self.micros.len(),
            latency_ms: Percentiles::of(self.micros.clone()),
            mean_count: self.counts.iter().sum::<u64>() as f64 / n,
        }
    }
}

async fn timed(s: &Session, body: &Value, next: Option<&str>) -> Result<(u64, Value), ClientError> {
    let started = Instant::now();
    let resp = s.search(body, next).await?;
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    Ok((micros, resp["search_categories"]["room_events"].clone()))
}

/// Runs the scenario.
pub async fn run(b: &SearchBench) -> Result<SearchReport, ClientError> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build()?;
    let session = client::login(&http, &b.base, &b.user, &b.password).await?;
    session.sync(None, 0, r#"{"room":{"timeline":{"limit":10}}}"#).await?;
    let (mut recent, mut rank, mut next_page) = (Samples::default(), Samples::default(), Samples::default());
    let mut by_term: Vec<(&str, Samples)> = TERMS.iter().map(|(k, _)| (*k, Samples::default())).collect();
    let mut failed = 0;
    for _ in 0..b.rounds {
        for (kind_ix, (_, terms)) in TERMS.iter().enumerate() {
            for term in *terms {
                match timed(&session, &element_body(term), None).await {
                    Ok((us, page)) => {
                        let count = page["count"].as_u64().unwrap_or(0);
                        recent.micros.push(us);
                        recent.counts.push(count);
                        if let Some((_, s)) = by_term.get_mut(kind_ix) {
                            s.micros.push(us);
                            s.counts.push(count);
                        }
                        if let Some(next) = page["next_batch"].as_str() {
                            match timed(&session, &element_body(term), Some(next)).await {
                                Ok((us, _)) => {
                                    next_page.micros.push(us);
                                    next_page.counts.push(count);
                                }
                                Err(_) => failed += 1,
                            }
                        }
                    }
                    Err(_) => failed += 1,
                }
                match timed(&session, &rank_body(term), None).await {
                    Ok((us, page)) => {
                        rank.micros.push(us);
                        rank.counts.push(page["count"].as_u64().unwrap_or(0));
                    }
                    Err(_) => failed += 1,
                }
            }
        }
    }
    let all: Vec<u64> = recent.micros.iter().chain(&rank.micros).chain(&next_page.micros).copied().collect();
    Ok(SearchReport {
        server: b.base.clone(),
        searches: all.len(),
        failed,
        latency_ms: Percentiles::of(all),
        by_request: vec![recent.report("recent"), rank.report("rank"), next_page.report("next page")],
        by_term: by_term.iter().map(|(k, s)| s.report(&format!("recent, {k}"))).collect(),
    })
}
