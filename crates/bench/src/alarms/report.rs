//! What the alarm storm measured.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::stats::Percentiles;

/// Everything one storm measured. Latencies in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StormReport {
    /// The server's base URL.
    pub server: String,
    /// Alarms raised.
    pub alarms: usize,
    /// Wards.
    pub wards: usize,
    /// Responders' phones.
    pub responders: usize,
    /// Monitor gateways (MLLP connections).
    pub gateways: usize,
    /// The storm's length (s).
    pub window_s: f64,
    /// How long sending took (s).
    pub sending_s: f64,
    /// The slack allowed past a policy (s).
    pub slack_s: f64,
    /// Alarms acknowledged (`202`, `CA`).
    pub acknowledged: u64,
    /// Alarms refused or unanswered.
    pub refused: u64,
    /// A few of the refusals.
    pub refusals: Vec<String>,
    /// Time to the `202`.
    pub ack_http_ms: Percentiles,
    /// Time to the `CA`.
    pub ack_hl7_ms: Percentiles,
    /// From its source sending it to the first phone showing it.
    pub first_notification_ms: Percentiles,
    /// The same, HTTP alarms.
    pub first_notification_http_ms: Percentiles,
    /// The same, HL7 alarms.
    pub first_notification_hl7_ms: Percentiles,
    /// From its source sending it to the server recording its acceptance.
    pub to_acceptance_ms: Percentiles,
    /// From its source sending it to the failsafe.
    pub to_failsafe_ms: Percentiles,
    /// Ended accepted.
    pub accepted: u64,
    /// Ended at the failsafe.
    pub failsafe: u64,
    /// Not ended (still waiting, or anything else).
    pub not_ended: u64,
    /// Answers the server took.
    pub answers: u64,
    /// Answers refused.
    pub answers_failed: u64,
    /// Sync responses.
    pub syncs: u64,
    /// Syncs that failed.
    pub sync_errors: u64,
    /// Timelines cut short (filled with `/messages`).
    pub limited_timelines: u64,
    /// Rules broken: how many alarms, and a few of them.
    pub broken: BTreeMap<String, (u64, Vec<usize>)>,
    /// Server CPU seconds over the storm and its end.
    pub server_cpu_s: Option<f64>,
    /// Server CPU cores busy on average.
    pub server_cpu_cores: Option<f64>,
    /// Server peak resident memory.
    pub server_peak_rss_mib: Option<f64>,
}

impl StormReport {
    /// Notes that alarm `i` broke `rule`.
    pub fn broken(&mut self, rule: &str, i: usize) {
        let e = self.broken.entry(rule.to_owned()).or_default();
        e.0 += 1;
        if e.1.len() < 5 {
            e.1.push(i);
        }
    }

    /// Did every alarm get through and end as it should?
    #[must_use]
    pub fn all_good(&self) -> bool {
        self.broken.is_empty() && self.refused == 0 && self.answers_failed == 0
    }

    /// The report as a table.
    #[must_use]
    pub fn table(&self) -> String {
        let p = |x: &Percentiles| format!("p50 {:.0}, p90 {:.0}, p99 {:.0}, max {:.0}", x.p50, x.p90, x.p99, x.max);
        let mut out = format!(
            "alarm storm against {}: {} alarms over {:.0} s (sent in {:.1} s), {} wards, {} phones, {} MLLP gateways\n",
            self.server, self.alarms, self.window_s, self.sending_s, self.wards, self.responders, self.gateways
        );
        out += &format!("acknowledged {} · refused {}\n", self.acknowledged, self.refused);
        for r in &self.refusals {
            out += &format!("  {r}\n");
        }
        out += &format!("ack, HTTP 202 (ms):           {}\n", p(&self.ack_http_ms));
        out += &format!("ack, MLLP CA (ms):            {}\n", p(&self.ack_hl7_ms));
        out += &format!("to first phone (ms):          {}\n", p(&self.first_notification_ms));
        out += &format!("  HTTP alarms:                {}\n", p(&self.first_notification_http_ms));
        out += &format!("  HL7 alarms:                 {}\n", p(&self.first_notification_hl7_ms));
        out += &format!("to acceptance (ms):           {}\n", p(&self.to_acceptance_ms));
        out += &format!("to failsafe (ms):             {}\n", p(&self.to_failsafe_ms));
        out += &format!(
            "ended: accepted {}, failsafe {}, not ended {} · answers {} ({} failed) · syncs {} ({} failed, {} limited)\n",
            self.accepted,
            self.failsafe,
            self.not_ended,
            self.answers,
            self.answers_failed,
            self.syncs,
            self.sync_errors,
            self.limited_timelines
        );
        if let (Some(cpu), Some(cores)) = (self.server_cpu_s, self.server_cpu_cores) {
            out += &format!("server CPU {cpu:.1} s ({cores:.2} cores)");
            if let Some(m) = self.server_peak_rss_mib {
                out += &format!(", peak memory {m:.0} MiB");
            }
            out += "\n";
        }
        if self.broken.is_empty() {
            out += &format!(
                "every alarm acknowledged, shown, posted once, and ended in time (slack {:.0} s)\n",
                self.slack_s
            );
        } else {
            for (rule, (n, examples)) in &self.broken {
                out += &format!("BROKEN: {rule}: {n} alarms (e.g. {examples:?})\n");
            }
        }
        out
    }
}
