//! Monitoring: Prometheus metrics on their own listener, and the log's formats.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{PASSWORD, Server, enc, totp_code};

/// One sample of the Prometheus text exposition format.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text exposition format (Prometheus 0.0.4 or OpenMetrics): comment lines are
/// skipped, every other line must be `name{label="value",...} value`.
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (name_end, mut rest) = match line.find(['{', ' ']) {
            Some(i) => (i, &line[i..]),
            None => panic!("no value in {line:?}"),
        };
        let name = line[..name_end].to_owned();
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        let mut labels = BTreeMap::new();
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices().peekable();
            loop {
                let key_start = chars.peek().map(|(i, _)| *i).expect("label");
                if body[key_start..].starts_with('}') {
                    chars.next();
                    break;
                }
                let eq = body[key_start..].find('=').expect("=") + key_start;
                let key = body[key_start..eq].to_owned();
                while chars.peek().is_some_and(|(i, _)| *i <= eq) {
                    chars.next();
                }
                assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "quoted value in {line:?}");
                let mut value = String::new();
                loop {
                    match chars.next().expect("closing quote").1 {
                        '\\' => match chars.next().expect("escape").1 {
                            'n' => value.push('\n'),
                            c => value.push(c),
                        },
                        '"' => break,
                        c => value.push(c),
                    }
                }
                labels.insert(key, value);
                match chars.next().expect("after label").1 {
                    ',' => {}
                    '}' => break,
                    c => panic!("unexpected {c:?} in {line:?}"),
                }
            }
            let consumed = chars.peek().map_or(body.len(), |(i, _)| *i);
            rest = &body[consumed..];
        }
        let value = rest.trim().split(' ').next().expect("value");
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        samples.push(Sample { name, labels, value });
    }
    samples
}

/// A scrape of the metrics listener.
struct Scrape(Vec<Sample>);

impl Scrape {
    /// The value of the one series with this name and these labels (others may exist).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.0
            .iter()
            .find(|s| {
                s.name == name
                    && s.labels.len() == labels.len()
                    && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|s| s.name == name)
    }
}

/// A server with metrics on a port of its own; returns it with the metrics URL.
fn start_with_metrics(env: &[(&str, &str)]) -> (Server, String) {
    let env: Vec<(&str, &str)> =
        [("WARDLINE_METRICS__LISTEN", "127.0.0.1:0")].into_iter().chain(env.iter().copied()).collect();
    let s = Server::start_with_env(&env);
    let url = s
        .stdout_lines
        .iter()
        .find_map(|l| l.strip_prefix("wardline metrics on "))
        .unwrap_or_else(|| panic!("no metrics address in {:?}", s.stdout_lines))
        .to_owned();
    (s, url)
}

async fn scrape(url: &str) -> Scrape {
    let resp = reqwest::get(url).await.expect("scrape");
    assert_eq!(resp.status().as_u16(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    Scrape(parse(&resp.text().await.expect("body")))
}

#[tokio::test]
async fn metrics_count_requests_sign_ins_long_polls_writes_and_files_without_naming_anyone() {
    let (s, url) = start_with_metrics(&[("WARDLINE_SECURITY__LOCKOUT_THRESHOLD", "3")]);
    let alice = s.user("alice").await;
    let room = alice.create_room(json!({"name": "Ward 7"})).await;

    // Failed sign-ins, three of them for a name with no account: that locks it.
    let anon = s.client();
    for _ in 0..3 {
        let (st, _) = anon
            .post("/_matrix/client/v3/login", json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "mallory"}, "password": "guess"}))
            .await;
        assert_eq!(st, 403);
    }

    // A sign-in with a second factor: a wrong code, then the right one. The password step that
    // asks for the code is not an outcome yet.
    let bob = s.user("bob").await;
    let secret = bob.enrol_totp().await;
    let (st, step1) = anon
        .post("/_matrix/client/v3/login", json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "bob"}, "password": PASSWORD}))
        .await;
    assert_eq!(st, 401, "{step1}");
    let session = step1["session"].as_str().unwrap().to_owned();
    let code = |code: String| json!({"type": "org.wardline.login.totp", "session": session, "code": code});
    assert_eq!(anon.post("/_matrix/client/v3/login", code("123456".into())).await.0, 403);
    assert_eq!(anon.post("/_matrix/client/v3/login", code(totp_code(&secret, 1))).await.0, 200);

    // A long-poll, seen waiting in the metrics before the message that wakes it is sent.
    let first = alice.sync(None, 0, None).await;
    let since = first["next_batch"].as_str().unwrap().to_owned();
    let poller = alice.clone();
    let poll = tokio::spawn(async move { poller.sync(Some(&since), 30_000, None).await });
    let mut waiting = None;
    for _ in 0..400 {
        waiting = scrape(&url).await.value("wardline_sync_waiting", &[]);
        if waiting == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(waiting, Some(1.0), "the long-poll is counted while it waits");
    let (st, sent) = alice.send_text(&room, "t1", "Bed 4 needs a review").await;
    assert_eq!(st, 200, "{sent}");
    let woken = poll.await.unwrap();
    assert!(woken["rooms"]["join"][&room]["timeline"]["events"].as_array().is_some_and(|e| !e.is_empty()));

    // A file up and down.
    let file = b"handover notes for ward 7".to_vec();
    let (st, up) = alice.upload(file.clone(), "text/plain", "handover.txt").await;
    assert_eq!(st, 200, "{up}");
    let mxc = up["content_uri"].as_str().unwrap().to_owned();
    let media = mxc.strip_prefix("mxc://").unwrap();
    let (st, _, body) = alice.get_raw(&format!("/_matrix/client/v1/media/download/{media}")).await;
    assert_eq!((st, body.len()), (200, file.len()));

    // A request that matches no route, with ids in its path.
    let (st, _) = alice.get(&format!("/_matrix/client/v3/nowhere/{}/{}", enc(&room), enc(&alice.user_id))).await;
    assert_eq!(st, 404);

    let m = scrape(&url).await;
    let count = |method: &str, endpoint: &str, status: &str| {
        m.value(
            "wardline_http_request_duration_seconds_count",
            &[("method", method), ("endpoint", endpoint), ("status", status)],
        )
        .unwrap_or(0.0)
    };
    assert_eq!(count("POST", "/_matrix/client/v3/login", "403"), 4.0);
    assert_eq!(count("POST", "/_matrix/client/v3/login", "401"), 1.0);
    assert_eq!(count("POST", "/_matrix/client/v3/login", "200"), 3.0);
    assert_eq!(count("PUT", "/_matrix/client/v3/rooms/{room_id}/send/{event_type}/{txn_id}", "200"), 1.0);
    assert!(count("GET", "/_matrix/client/v3/sync", "200") >= 2.0);
    assert_eq!(count("POST", "/_matrix/media/v3/upload", "200"), 1.0);
    assert_eq!(count("GET", "unmatched", "404"), 1.0);
    assert!(m.has("wardline_http_request_duration_seconds_bucket"));

    assert_eq!(m.value("wardline_signins_total", &[("outcome", "bad_password")]), Some(3.0));
    assert_eq!(m.value("wardline_signins_total", &[("outcome", "bad_second_factor")]), Some(1.0));
    assert_eq!(
        m.value("wardline_signins_total", &[("outcome", "success")]),
        Some(3.0),
        "alice, bob, bob's second factor"
    );
    assert_eq!(m.value("wardline_account_lockouts_total", &[]), Some(1.0));
    assert_eq!(m.value("wardline_sync_waiting", &[]), Some(0.0), "the answered long-poll no longer counts");
    assert!(m.value("wardline_store_commit_duration_seconds_count", &[]).is_some_and(|v| v >= 1.0));
    assert!(m.value("wardline_store_commit_writes_count", &[]).is_some_and(|v| v >= 1.0));
    // Gauges that are 0 between bursts: exported (their values are tested where they are kept).
    assert!(m.value("wardline_store_write_queue", &[]).is_some(), "the writer's queue is exported");
    assert!(m.value("wardline_audit_backlog", &[]).is_some(), "the audit backlog is exported");
    assert_eq!(m.value("wardline_media_uploaded_bytes_total", &[]), Some(file.len() as f64));
    assert_eq!(m.value("wardline_media_served_bytes_total", &[("kind", "file")]), Some(file.len() as f64));

    // No label names anyone or anything: no user, room, event or file id.
    let event_id = sent["event_id"].as_str().unwrap();
    let media_id = media.rsplit('/').next().unwrap();
    for sample in &m.0 {
        for value in sample.labels.values() {
            for secret in
                [alice.user_id.as_str(), bob.user_id.as_str(), room.as_str(), event_id, media_id, "mallory", "@", "!"]
            {
                assert!(!value.contains(secret), "{sample:?} names {secret}");
            }
        }
    }

    // OpenMetrics for a scraper that asks for it.
    let resp = reqwest::Client::new()
        .get(&url)
        .header("accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
        .send()
        .await
        .unwrap();
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = resp.text().await.unwrap();
    assert_eq!(text.lines().last(), Some("# EOF"));
    assert!(parse(&text).iter().any(|s| s.name == "wardline_signins_total"));

    // The clients' listener does not serve them, with a token or without.
    assert_eq!(alice.get("/metrics").await.0, 404);
    assert_eq!(s.client().get("/metrics").await.0, 404);
    // The metrics listener serves nothing else.
    let other = url.replace("/metrics", "/_matrix/client/versions");
    assert_eq!(reqwest::get(&other).await.unwrap().status().as_u16(), 404);
}

#[tokio::test]
async fn metrics_are_off_unless_configured() {
    let s = Server::start();
    assert!(!s.stdout_lines.iter().any(|l| l.contains("metrics")), "{:?}", s.stdout_lines);
    assert_eq!(s.client().get("/metrics").await.0, 404);
}

/// Every line of a log file: none coloured, at least one.
fn log_lines(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("log");
    assert!(!text.contains('\u{1b}'), "escape codes in a log that is not a terminal:\n{text}");
    let lines: Vec<String> = text.lines().map(ToOwned::to_owned).collect();
    assert!(!lines.is_empty(), "the log is empty");
    lines
}

#[tokio::test]
async fn a_json_log_has_one_object_per_line_and_no_colour() {
    let (mut s, log) =
        Server::start_with_log(&[("WARDLINE_LOG__FORMAT", "json"), ("WARDLINE_LOG", "info,tower_http=debug")]);
    let alice = s.user("alice").await;
    let (st, _) = alice.get("/_matrix/client/v3/profile/@alice:localhost").await;
    assert_eq!(st, 200);
    assert!(s.terminate(), "stopped cleanly");
    let lines = log_lines(&log);
    let objects: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for (o, line) in objects.iter().zip(&lines) {
        assert!(o.is_object() && o["level"].is_string() && o["timestamp"].is_string(), "{line}");
    }
    // The sign-in's audit line and the shutdown are there, with their fields at the top level.
    assert!(objects.iter().any(|o| o["target"] == "audit" && o["action"] == "login"), "{lines:#?}");
    // A request's lines name its route's template, never the path (which names people and
    // rooms) nor its query (which can hold a token).
    let login = objects.iter().find(|o| o["target"] == "audit" && o["action"] == "login").unwrap();
    assert_eq!(login["span"]["route"], "/_matrix/client/v3/login", "{login}");
    for line in &lines {
        assert!(!line.contains("\"path\""), "{line}");
    }
    let profile = objects.iter().filter_map(|o| o["span"]["route"].as_str()).find(|r| r.contains("profile"));
    assert_eq!(profile, Some("/_matrix/client/v3/profile/{user_id}"), "{lines:#?}");
    assert!(objects.iter().any(|o| o["message"] == "stopped"), "{lines:#?}");
    assert!(s.stdout_lines.iter().all(|l| !l.contains('\u{1b}')));
}

#[tokio::test]
async fn a_text_log_written_to_a_file_has_no_colour() {
    let (mut s, log) = Server::start_with_log(&[]);
    let _alice = s.user("alice").await;
    assert!(s.terminate(), "stopped cleanly");
    let lines = log_lines(&log);
    assert!(lines.iter().any(|l| l.contains("INFO") && l.contains("stopped")), "{lines:#?}");
}

#[tokio::test]
async fn the_metrics_listener_closes_a_connection_that_trickles_its_request() {
    let (s, url) = start_with_metrics(&[("WARDLINE_HTTP__HEADER_READ_TIMEOUT_SECS", "1")]);
    let addr = url.strip_prefix("http://").unwrap().trim_end_matches("/metrics").to_owned();
    tokio::task::spawn_blocking(move || {
        let mut trickle = std::net::TcpStream::connect(&addr).unwrap();
        std::io::Write::write_all(&mut trickle, b"GET /metrics HTTP/1.1\r\nHost: x\r\n").unwrap();
        assert!(crate::edge::closed_while_trickling(&mut trickle, 100), "a trickling connection stayed open");
    })
    .await
    .unwrap();
    // It still serves scrapes, and the server its clients.
    scrape(&url).await;
    assert_eq!(s.client().get("/_matrix/client/versions").await.0, 200);
}
