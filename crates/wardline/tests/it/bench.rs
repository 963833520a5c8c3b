//! The benchmark tool against a real server: its counts must be right (nothing lost, nothing
//! duplicated, every delivery owed accounted for). No timing is asserted here.

use std::time::Duration;

use crate::harness::{Server, cli};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_every_delivery_exactly() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bench.csv");
    let mut text = String::from("username,display_name,password\n");
    for i in 0..12 {
        text.push_str(&format!("bench{i},Bench {i},bench password 1234\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let (ok, _, err) = cli(&s.data_dir, &["user", "import", csv.to_str().unwrap()], None);
    assert!(ok, "{err}");
    let w = wardline_bench::workload::Workload {
        base: s.base.clone(),
        users: 12,
        user_prefix: "bench".into(),
        password: "bench password 1234".into(),
        rooms: 4,
        room_size: 4,
        senders: 2,
        rate: 40.0,
        duration: Duration::from_secs(2),
        drain: Duration::from_secs(20),
        pid: Some(s.pid()),
        idle: false,
    };
    let r = wardline_bench::workload::run(&w).await.unwrap();
    assert!(r.sends_acked > 10, "{}", r.table());
    assert_eq!(r.sends_failed, 0);
    assert_eq!(r.deliveries_expected, r.sends_acked * 3, "each message is owed to the 3 other members");
    assert_eq!(r.deliveries_seen, r.deliveries_expected, "{}", r.table());
    assert_eq!((r.deliveries_lost, r.deliveries_duplicated), (0, 0));
    assert!(r.server_cpu_ms_per_message.is_some() && r.server_peak_rss_mib.is_some());
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["deliveries_lost"], 0);
}

/// The search scenario on a small fixture: the fixture is a data directory the real server
/// serves, and every search of the scenario succeeds with the same count in either order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_fixture_is_served_and_searched() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let fixture = wardline_bench::seed::Fixture {
        data_dir: data_dir.clone(),
        messages: 3_000,
        rooms: 8,
        users: 6,
        user_prefix: "bench".into(),
        password: "bench password 1234".into(),
        seed: 7,
    };
    let seeded = wardline_bench::seed::seed(&fixture).await.unwrap();
    assert_eq!((seeded.messages, seeded.rooms, seeded.searcher_rooms), (3_000, 8, 4));
    assert!(wardline_bench::seed::seed(&fixture).await.is_err(), "never over an existing database");
    let s = Server::start_in(&data_dir, &[]);
    let b = wardline_bench::search::SearchBench {
        base: s.base.clone(),
        user: "bench0".into(),
        password: "bench password 1234".into(),
        rounds: 1,
    };
    let r = wardline_bench::search::run(&b).await.unwrap();
    assert_eq!(r.failed, 0, "{}", r.table());
    let terms: usize = wardline_bench::search::TERMS.iter().map(|(_, t)| t.len()).sum();
    let (recent, rank) = (&r.by_request[0], &r.by_request[1]);
    assert_eq!((recent.searches, rank.searches), (terms, terms));
    assert!(recent.mean_count > 10.0, "the searcher finds messages: {}", r.table());
    assert_eq!(recent.mean_count, rank.mean_count, "the same count in either order");
    // The searcher is in half the rooms: searching finds fewer messages than were written.
    let common = &r.by_term[0];
    assert!(common.mean_count < 3_000.0 * 0.75, "{}", r.table());
}
