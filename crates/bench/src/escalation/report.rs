//! What the escalation simulation measured.

use serde::Serialize;

use crate::stats::Percentiles;

/// Outcomes of one scenario's messages.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScenarioOutcomes {
    /// The scenario.
    pub scenario: String,
    /// Messages sent.
    pub messages: u64,
    /// Ended accepted.
    pub accepted: u64,
    /// Ended at the failsafe.
    pub failsafe: u64,
    /// Anything else (still open, cancelled, never escalated).
    pub other: u64,
}

/// A rule some messages broke.
#[derive(Debug, Clone, Serialize)]
pub struct Broken {
    /// The rule.
    pub rule: String,
    /// How many messages.
    pub messages: u64,
    /// A few of them (event ids).
    pub examples: Vec<String>,
}

/// Everything one run of the simulation measured. Times are the server's, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EscalationReport {
    /// The server's base URL.
    pub server: String,
    /// Signed-in users (staff, the person brought in, the failsafe).
    pub users: usize,
    /// Conversations.
    pub rooms: usize,
    /// Urgent and emergency messages planned.
    pub messages: usize,
    /// Of which emergencies.
    pub emergencies: usize,
    /// Server minutes over which they were sent.
    pub window_min: f64,
    /// Server time per real time.
    pub speed: f64,
    /// Seed of the simulation.
    pub seed: u64,
    /// Real seconds from the first message to the last status read.
    pub real_s: f64,
    /// Sends acknowledged.
    pub sent: u64,
    /// Sends that failed.
    pub sends_failed: u64,
    /// Ended accepted.
    pub accepted: u64,
    /// Ended at the failsafe.
    pub failsafe: u64,
    /// Ended otherwise or not at all.
    pub other: u64,
    /// Outcomes by scenario.
    pub by_scenario: Vec<ScenarioOutcomes>,
    /// Sent to acceptance.
    pub time_to_acceptance_ms: Percentiles,
    /// Sent to the failsafe.
    pub time_to_failsafe_ms: Percentiles,
    /// Longest time any message was open past its policy's total time (0: none was).
    pub max_past_policy_ms: u64,
    /// Slack allowed past a policy's total time.
    pub slack_ms: u64,
    /// Rules broken (empty: every message ended accepted or at the failsafe in time, each
    /// step once).
    pub broken: Vec<Broken>,
    /// Steps run, all messages together (from the statuses).
    pub steps_run: u64,
    /// Steps that ran after the acceptance that ended their message (the engine had not read
    /// the answer yet when the step fell due).
    pub steps_after_acceptance: u64,
    /// Step notices its sender saw twice.
    pub duplicate_notices: u64,
    /// Step due → its notice stored, server time.
    pub engine_lag_ms: Percentiles,
    /// The same in real time (server lag / speed).
    pub engine_lag_real_ms: Percentiles,
    /// Answers sent (acknowledged by the server).
    pub answers: u64,
    /// Answers that failed.
    pub answers_failed: u64,
    /// Answers after their message's escalation had ended.
    pub answers_after_end: u64,
    /// Invitations joined (people brought in).
    pub joins: u64,
    /// Joins that failed.
    pub joins_failed: u64,
    /// Sync responses.
    pub sync_responses: u64,
    /// Syncs that failed.
    pub sync_errors: u64,
    /// Timelines cut short, and `/messages` pages fetched to fill them.
    pub limited_timelines: u64,
    /// `/messages` pages fetched.
    pub gap_pages: u64,
    /// Server CPU from the first message to the end, per message, ms.
    pub server_cpu_ms_per_message: Option<f64>,
    /// Server CPU over the same time, share of one core.
    pub server_cpu_cores: Option<f64>,
    /// The bench's own CPU over the same time (its 1,000 clients), share of one core.
    pub bench_cpu_cores: Option<f64>,
    /// The whole machine's busy CPU over the same time (server, bench and anything else), cores.
    pub machine_busy_cores: Option<f64>,
    /// The whole machine's time waiting for the disk over the same time, cores.
    pub machine_iowait_cores: Option<f64>,
    /// Server peak resident memory, MiB.
    pub server_peak_rss_mib: Option<f64>,
}

fn seconds(p: &Percentiles) -> String {
    format!(
        "p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        p.p50 / 1000.0,
        p.p90 / 1000.0,
        p.p99 / 1000.0,
        p.max / 1000.0
    )
}

impl EscalationReport {
    /// Did every message end accepted or at the failsafe in time, each step once?
    #[must_use]
    pub fn all_good(&self) -> bool {
        self.broken.is_empty() && self.other == 0 && self.sends_failed == 0 && self.duplicate_notices == 0
    }

    /// A readable table.
    #[must_use]
    pub fn table(&self) -> String {
        let opt = |x: Option<f64>, unit: &str| x.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2} {unit}"));
        let mut out = format!(
            "server              {}\n\
             simulation          {} messages ({} emergencies) over {:.0} server min, {} rooms, {} users, seed {}\n\
             time                {:.0}x: {:.0} real s\n\
             sent                {} ({} failed)\n\
             outcomes            accepted {}, failsafe {}, other {}\n",
            self.server,
            self.messages,
            self.emergencies,
            self.window_min,
            self.rooms,
            self.users,
            self.seed,
            self.speed,
            self.real_s,
            self.sent,
            self.sends_failed,
            self.accepted,
            self.failsafe,
            self.other,
        );
        for s in &self.by_scenario {
            out.push_str(&format!(
                "  {:<20}    {} messages: accepted {}, failsafe {}, other {}\n",
                s.scenario, s.messages, s.accepted, s.failsafe, s.other
            ));
        }
        out.push_str(&format!(
            "to acceptance s     {}\n\
             to failsafe s       {}\n\
             past policy         max {:.1} s (slack {:.0} s)\n\
             rules broken        {}\n\
             steps               {} run, {} notices seen twice, {} after an acceptance\n\
             engine lag s        {} (server time)\n\
             engine lag ms real  p50 {:.0}  p90 {:.0}  p99 {:.0}  max {:.0}\n\
             answers             {} ({} failed, {} after the end), {} joins ({} failed)\n\
             syncs               {} ({} failed), {} limited, {} gap pages\n\
             server CPU          {} per message, {} cores\n\
             machine CPU         {} cores busy (bench {}), {} cores waiting for the disk\n\
             server memory       peak {}\n",
            seconds(&self.time_to_acceptance_ms),
            seconds(&self.time_to_failsafe_ms),
            self.max_past_policy_ms as f64 / 1000.0,
            self.slack_ms as f64 / 1000.0,
            if self.broken.is_empty() {
                "none".to_owned()
            } else {
                self.broken
                    .iter()
                    .map(|b| format!("{}: {} (e.g. {:?})", b.rule, b.messages, b.examples))
                    .collect::<Vec<_>>()
                    .join("; ")
            },
            self.steps_run,
            self.duplicate_notices,
            self.steps_after_acceptance,
            seconds(&self.engine_lag_ms),
            self.engine_lag_real_ms.p50,
            self.engine_lag_real_ms.p90,
            self.engine_lag_real_ms.p99,
            self.engine_lag_real_ms.max,
            self.answers,
            self.answers_failed,
            self.answers_after_end,
            self.joins,
            self.joins_failed,
            self.sync_responses,
            self.sync_errors,
            self.limited_timelines,
            self.gap_pages,
            opt(self.server_cpu_ms_per_message, "ms"),
            opt(self.server_cpu_cores, ""),
            opt(self.machine_busy_cores, ""),
            opt(self.bench_cpu_cores, ""),
            opt(self.machine_iowait_cores, ""),
            opt(self.server_peak_rss_mib, "MiB"),
        ));
        out
    }
}
