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
