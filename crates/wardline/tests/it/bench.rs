//! The benchmark tool against a real server: its counts must be right (nothing lost, nothing
//! duplicated, every delivery owed accounted for). No timing is asserted here.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use wardline_bench::escalation::Simulation;
use wardline_bench::ledger::Ledger;
use wardline_bench::profile::{self, ClientKind};
use wardline_bench::reader::{Activity, Reader};
use wardline_bench::stats::Report;
use wardline_bench::workload::Workload;

use crate::harness::{PASSWORD, Server, cli, enc};

/// Imports `bench0..bench{n}` (password `bench password 1234`) into the server.
fn import_bench_users(s: &Server, n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bench.csv");
    let mut text = String::from("username,display_name,password\n");
    for i in 0..n {
        text.push_str(&format!("bench{i},Bench {i},bench password 1234\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let (ok, _, err) = cli(&s.data_dir, &["user", "import", csv.to_str().unwrap()], None);
    assert!(ok, "{err}");
}

/// Runs the messaging workload with 12 users in 4 rooms of 4, 2 sending tasks at 40/s for 2 s.
async fn small_run(clients: ClientKind) -> Report {
    let s = Server::start();
    import_bench_users(&s, 12);
    let w = Workload {
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
        clients,
        typing_every: 10,
        announce: false,
    };
    let r = wardline_bench::workload::run(&w).await.unwrap();
    assert!(r.sends_acked > 10, "{}", r.table());
    assert_eq!(r.sends_failed, 0);
    assert_eq!(r.deliveries_expected, r.sends_acked * 3, "each message is owed to the 3 other members");
    assert_eq!(r.deliveries_seen, r.deliveries_expected, "{}", r.table());
    assert_eq!((r.deliveries_lost, r.deliveries_duplicated, r.deliveries_out_of_order), (0, 0, 0));
    assert!(r.server_cpu_ms_per_message.is_some() && r.server_peak_rss_mib.is_some());
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["deliveries_lost"], 0);
    assert_eq!(json["workload"], clients.name());
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn element_clients_every_delivery_counted_exactly_with_any_member_sending() {
    let r = small_run(ClientKind::Element).await;
    assert!(r.sending_users > r.rooms, "members other than the creators send: {}", r.table());
    assert!(r.typing_notices >= 2, "each sending task types before its first message: {}", r.table());
    assert_eq!(r.receipts_failed, 0, "{}", r.table());
    assert!(r.receipts_sent > 0, "readers acknowledge what they receive: {}", r.table());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_clients_every_delivery_counted_exactly_from_one_sender_per_room() {
    let r = small_run(ClientKind::Legacy).await;
    // Only each room's creator sends: bench0, bench4, bench8 (rooms 0 and 3 both start with bench0).
    assert_eq!(r.sending_users, 3, "{}", r.table());
    assert_eq!((r.receipts_sent, r.typing_notices, r.gap_pages), (0, 0, 0));
}

/// A reader whose sync timeline is cut short (Element's filter leaves the server's default
/// limit of 10) fills the gap from `/messages`, as a client showing the room does, and still
/// receives every message once and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_fills_a_limited_timeline_from_messages() {
    let s = Server::start();
    let ada = s.user("ada").await;
    let ben = s.user("ben").await;
    let room = ada.room_with(&[&ben]).await;
    let http = reqwest::Client::new();
    let session = wardline_bench::client::login(&http, &s.base, "ben", PASSWORD).await.unwrap();
    let filter = session.upload_filter(&profile::element_filter()).await.unwrap();
    let first = session.sync(None, 0, &profile::element_initial_filter().to_string()).await.unwrap();
    let since = first["next_batch"].as_str().unwrap().to_owned();
    for seq in 0..25u64 {
        let content = json!({"msgtype": "m.text", "body": "obs", "org.wardline.bench": {"id": format!("0-{seq}"), "k": 0, "seq": seq, "t": 0}});
        let (status, body) =
            ada.put(&format!("/_matrix/client/v3/rooms/{}/send/m.room.message/t{seq}", enc(&room)), content).await;
        assert_eq!(status, 200, "{body}");
    }
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let activity = Arc::new(Activity::default());
    let stop = Arc::new(AtomicBool::new(false));
    let reader = Reader {
        session,
        filter,
        fill_gaps: true,
        base: Instant::now(),
        ledger: Arc::clone(&ledger),
        activity: Arc::clone(&activity),
        stop: Arc::clone(&stop),
    };
    let task = tokio::spawn(reader.run(since, None));
    // Waits for the 25 deliveries (bounded, so a failure cannot hang the suite).
    for _ in 0..600 {
        if activity.delivered.load(Ordering::Relaxed) >= 25 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    task.abort();
    let l = ledger.lock().unwrap();
    assert!(l.limited >= 1 && l.gap_pages >= 1, "the timeline was cut short and filled: {l:?}");
    assert!((0..25).all(|seq| l.has(&format!("0-{seq}"))), "{l:?}");
    assert_eq!((l.duplicates, l.out_of_order, l.latencies_us.len()), (0, 0, 25));
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

/// The escalation simulation, small (the benchmark runs 10,000 messages): 30 urgent and
/// emergency messages over 15 server minutes, the server's test clock moved 50 times faster
/// than real time, recipients who answer at once, late, decline or never. Every message ends
/// accepted or at its failsafe within its policy's time (plus 3 minutes), each step once; the
/// counts add up. No timing is asserted beyond what the policy promises.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_escalation_simulation_ends_every_message_accepted_or_at_its_failsafe_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock");
    std::fs::write(&clock, "0").unwrap();
    let s = Server::start_with_env(&[("WARDLINE_TEST_CLOCK_FILE", clock.to_str().unwrap())]);
    import_bench_users(&s, 14);
    let (ok, out, err) = cli(&s.data_dir, &["user", "add", "benchadmin", "--admin"], Some(&format!("{PASSWORD}\n")));
    assert!(ok, "{out}{err}");
    let sim = Simulation {
        base: s.base.clone(),
        users: 14,
        user_prefix: "bench".into(),
        password: "bench password 1234".into(),
        admin_user: "benchadmin".into(),
        admin_password: PASSWORD.into(),
        rooms: 6,
        messages: 30,
        window_ms: 15 * 60_000,
        speed: 50.0,
        clock_file: clock.clone(),
        seed: 5,
        slack_ms: 180_000,
        pid: Some(s.pid()),
        announce: false,
    };
    let r = wardline_bench::escalation::run(&sim).await.unwrap();
    let table = r.table();
    assert_eq!((r.messages, r.sent, r.sends_failed), (30, 30, 0), "{table}");
    assert!(r.broken.is_empty(), "{table}");
    assert_eq!(r.accepted + r.failsafe, 30, "every message ended accepted or at its failsafe: {table}");
    assert!(r.accepted > 0 && r.failsafe > 0, "{table}");
    assert_eq!(r.duplicate_notices, 0, "{table}");
    assert!(r.all_good(), "{table}");
    // Every step that ran was seen by the message's sender, and measured.
    assert!(r.steps_run > 0 && r.engine_lag_ms.max >= r.engine_lag_ms.p50, "{table}");
    assert!(r.answers > 0 && r.answers_failed == 0, "{table}");
    assert!(r.joins > 0, "the people brought in joined: {table}");
    let by: u64 = r.by_scenario.iter().map(|x| x.messages).sum();
    assert_eq!(by, 30, "{table}");
    // A prompt answer always beats the first step: those messages end accepted.
    let prompt = r.by_scenario.iter().find(|x| x.scenario == "prompt").unwrap();
    assert_eq!(prompt.accepted, prompt.messages, "{table}");
    let never = r.by_scenario.iter().find(|x| x.scenario == "never").unwrap();
    assert_eq!(never.failsafe, never.messages, "{table}");
    assert!(r.server_cpu_ms_per_message.is_some() && r.server_peak_rss_mib.is_some());
}
