//! Latency percentiles and the report.

use serde::Serialize;

/// Percentiles of a set of latencies, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    /// From latencies in microseconds.
    #[must_use]
    pub fn of(mut micros: Vec<u64>) -> Self {
        if micros.is_empty() {
            return Self::default();
        }
        micros.sort_unstable();
        let at = |q: f64| {
            let i = ((micros.len() as f64 - 1.0) * q).round() as usize;
            micros.get(i).copied().unwrap_or(0) as f64 / 1000.0
        };
        Self { p50: at(0.50), p90: at(0.90), p99: at(0.99), max: at(1.0) }
    }
}

/// Everything one run measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The server's base URL.
    pub server: String,
    /// How the clients behaved (`element`, `legacy`).
    pub workload: String,
    /// Users signed in.
    pub users: usize,
    /// Rooms.
    pub rooms: usize,
    /// Members per room.
    pub room_size: usize,
    /// Senders.
    pub senders: usize,
    /// Target rate (sends per second, all senders together); 0 = as fast as possible.
    pub target_rate: f64,
    /// Seconds of sending.
    pub duration_s: f64,
    /// Sends acknowledged with 200.
    pub sends_acked: u64,
    /// Sends that failed.
    pub sends_failed: u64,
    /// Acknowledged sends per second.
    pub sends_per_s: f64,
    /// Distinct users who sent an acknowledged message.
    pub sending_users: usize,
    /// Time from send to its acknowledgement.
    pub send_latency_ms: Percentiles,
    /// Time from send to its arrival in another member's sync.
    pub delivery_latency_ms: Percentiles,
    /// Deliveries owed: each acknowledged message, to each other member of its room.
    pub deliveries_expected: u64,
    /// Distinct deliveries seen.
    pub deliveries_seen: u64,
    /// Owed but never seen.
    pub deliveries_lost: u64,
    /// Seen more than once.
    pub deliveries_duplicated: u64,
    /// Deliveries that arrived after a later message of the same room's sending task.
    pub deliveries_out_of_order: u64,
    /// Syncs whose timeline was cut short (`limited`), which can hide messages.
    pub limited_timelines: u64,
    /// `/messages` pages fetched to fill those gaps (Element clients).
    pub gap_pages: u64,
    /// Sync responses received by all clients while sending.
    pub sync_responses: u64,
    /// Read receipts acknowledged while sending.
    pub receipts_sent: u64,
    /// Read receipts that failed (whole run).
    pub receipts_failed: u64,
    /// Typing notifications (starts and ends) acknowledged.
    pub typing_notices: u64,
    /// Server CPU seconds during the send phase, per acknowledged message, in ms.
    pub server_cpu_ms_per_message: Option<f64>,
    /// Server peak resident memory, MiB.
    pub server_peak_rss_mib: Option<f64>,
    /// Server resident memory at the end, MiB.
    pub server_rss_mib: Option<f64>,
    /// Server resident memory per signed-in user with an open long-poll, KiB.
    pub server_rss_kib_per_user: Option<f64>,
}

impl Report {
    /// A readable table.
    #[must_use]
    pub fn table(&self) -> String {
        let p = |x: &Percentiles| format!("p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}", x.p50, x.p90, x.p99, x.max);
        let opt = |x: Option<f64>, unit: &str| x.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.3} {unit}"));
        let rate = if self.target_rate > 0.0 { format!("{:.0}/s", self.target_rate) } else { "max".into() };
        let per_message = |n: u64| if self.sends_acked > 0 { n as f64 / self.sends_acked as f64 } else { 0.0 };
        format!(
            "server              {}\n\
             workload            {} clients: {} users, {} rooms of {}, {} senders at {}, {:.0} s\n\
             sends acked         {} ({} failed) from {} users, {:.0} per second\n\
             send latency ms     {}\n\
             delivery latency ms {}\n\
             deliveries          expected {}, seen {}, lost {}, duplicated {}, out of order {}\n\
             limited timelines   {} ({} /messages pages to fill them)\n\
             per message         {:.2} sync responses, {:.2} read receipts ({} failed), {:.2} typing notices\n\
             server CPU          {} per message\n\
             server memory       peak {}, now {}, per connected user {}\n",
            self.server,
            self.workload,
            self.users,
            self.rooms,
            self.room_size,
            self.senders,
            rate,
            self.duration_s,
            self.sends_acked,
            self.sends_failed,
            self.sending_users,
            self.sends_per_s,
            p(&self.send_latency_ms),
            p(&self.delivery_latency_ms),
            self.deliveries_expected,
            self.deliveries_seen,
            self.deliveries_lost,
            self.deliveries_duplicated,
            self.deliveries_out_of_order,
            self.limited_timelines,
            self.gap_pages,
            per_message(self.sync_responses),
            per_message(self.receipts_sent),
            self.receipts_failed,
            per_message(self.typing_notices),
            opt(self.server_cpu_ms_per_message, "ms"),
            opt(self.server_peak_rss_mib, "MiB"),
            opt(self.server_rss_mib, "MiB"),
            opt(self.server_rss_kib_per_user, "KiB"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let p = Percentiles::of((1..=100).map(|i| i * 1000).collect());
        assert_eq!(p.p50, 51.0);
        assert_eq!(p.p99, 99.0);
        assert_eq!(p.max, 100.0);
        assert_eq!(Percentiles::of(vec![]), Percentiles::default());
    }
}
