//! The HTTP edge: refused requests and administrators' reads in the audit trail, the client's
//! address behind a reverse proxy, slow and oversized requests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Client, PASSWORD, Server, admin_calls_on_ada, cli, enc};

const A: &str = "/_wardline/admin/v1";

fn export(s: &Server) -> Vec<Value> {
    let (ok, out, err) = cli(&s.data_dir, &["audit", "export"], None);
    assert!(ok, "{err}");
    out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// An administrator with the second factor set up.
async fn admin(s: &Server) -> Client {
    let (ok, out, err) = cli(&s.data_dir, &["user", "add", "boss", "--admin"], Some(&format!("{PASSWORD}\n")));
    assert!(ok, "{out}{err}");
    let boss = s.login("boss", PASSWORD).await;
    boss.enrol_totp().await;
    boss
}

fn detail(r: &Value) -> &str {
    r["detail"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn refused_requests_and_administrators_reads_are_audited() {
    let mut s = Server::start();
    let boss = admin(&s).await;
    let ada = s.user("ada").await;
    let eve = s.user("eve").await;
    let room = ada.create_room(json!({"name": "Ward 7"})).await;
    let (_, sent) = ada.send_text(&room, "t1", "Mrs Patel in bed 12").await;
    let event = sent["event_id"].as_str().unwrap().to_owned();

    // Administrators' reads.
    for path in [
        format!("{A}/users"),
        format!("{A}/users/@ada:localhost"),
        format!("{A}/users/@ada:localhost/devices"),
        format!("{A}/lockouts"),
        format!("{A}/settings"),
    ] {
        let (st, b) = boss.get(&path).await;
        assert_eq!(st, 200, "{path}: {b}");
    }
    // An administrator's call that its handler refuses: no such user.
    let (st, _) = boss.get(&format!("{A}/users/@nobody:localhost")).await;
    assert_eq!(st, 404);
    // Fifteen administration calls by someone who is not an administrator.
    let calls = admin_calls_on_ada();
    for (method, path) in &calls {
        let r = eve
            .http
            .request(method.parse().unwrap(), format!("{}{path}", eve.base))
            .bearer_auth(eve.token.as_deref().unwrap())
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403, "{method} {path}");
    }
    // Reads of a room she is not in.
    let r = enc(&room);
    let (st, _) = eve.get(&format!("/_matrix/client/v3/rooms/{r}/messages?dir=b")).await;
    assert_eq!(st, 403);
    let (st, _) = eve.get(&format!("/_matrix/client/v3/rooms/{r}/state")).await;
    assert_eq!(st, 403);
    let (st, _) = eve.get(&format!("/_matrix/client/v3/rooms/{r}/event/{}", enc(&event))).await;
    assert_eq!(st, 404);
    // A token that is no longer valid.
    let (st, _) = Client { token: Some("not-a-token".into()), ..eve.clone() }.get("/_matrix/client/v3/sync").await;
    assert_eq!(st, 401);
    assert!(s.terminate());

    let records = export(&s);
    let by = |actor: &str, action: &str, outcome: &str| -> Vec<&Value> {
        records.iter().filter(|r| r["actor"] == actor && r["action"] == action && r["outcome"] == outcome).collect()
    };
    // Every read, with what was read.
    let reads = by("@boss:localhost", "admin", "success");
    for (endpoint, target) in [
        ("admin.users.list", None),
        ("admin.users.get", Some("@ada:localhost")),
        ("admin.users.devices", Some("@ada:localhost")),
        ("admin.lockouts", None),
        ("admin.settings.get", None),
    ] {
        let records: Vec<_> = reads
            .iter()
            .filter(|r| detail(r) == format!("endpoint={endpoint} status=200") && r["target_user"].as_str() == target)
            .collect();
        assert_eq!(records.len(), 1, "{endpoint} must be audited once: {reads:?}");
        assert_eq!(records[0]["ip"], "127.0.0.1");
    }
    // The call its handler refused has one record, with the refusal, and none of success.
    let nobody: Vec<_> = records.iter().filter(|r| r["target_user"] == "@nobody:localhost").collect();
    assert_eq!(nobody.len(), 1, "{nobody:?}");
    assert_eq!(nobody[0]["outcome"], "denied");
    assert!(detail(nobody[0]).starts_with("endpoint=admin.users.get status=404"), "{nobody:?}");
    // Every refused administration call.
    let refused = by("@eve:localhost", "admin", "denied");
    assert_eq!(refused.len(), calls.len(), "{refused:?}");
    assert!(refused.iter().all(|r| detail(r).contains("status=403") && detail(r).contains("administrators only")));
    assert!(
        refused
            .iter()
            .any(|r| detail(r).starts_with("endpoint=admin.users.reset_password ")
                && r["target_user"] == "@ada:localhost")
    );
    // The refused reads, with the endpoint and why.
    let reads = by("@eve:localhost", "request.refused", "denied");
    for endpoint in ["message::get_message_events::v3", "state::get_state_events::v3", "room::get_room_event::v3"] {
        assert!(reads.iter().any(|r| detail(r).starts_with(&format!("endpoint={endpoint} "))), "{endpoint}: {reads:?}");
    }
    assert!(
        records.iter().any(|r| r["action"] == "request.refused"
            && r["actor"].is_null()
            && detail(r).contains("status=401")
            && r["ip"] == "127.0.0.1"),
        "the unknown token"
    );
    let all = serde_json::to_string(&records).unwrap();
    assert!(!all.contains("Mrs Patel") && !all.contains("not-a-token"));
}

#[tokio::test]
async fn made_up_tokens_cannot_flood_the_audit_trail() {
    let mut s = Server::start_with_env(&[
        ("WARDLINE_RATE_LIMITS__ENABLED", "true"),
        ("WARDLINE_RATE_LIMITS__UNKNOWN_TOKENS__PER_SECOND", "0.001"),
        ("WARDLINE_RATE_LIMITS__UNKNOWN_TOKENS__BURST", "3"),
    ]);
    let eve = s.user("eve").await;
    let stranger = Client { token: None, ..eve.clone() };
    for i in 0..50 {
        let (st, _) = Client { token: Some(format!("made-up-{i}")), ..stranger.clone() }
            .get("/_matrix/client/v3/account/whoami")
            .await;
        assert_eq!(st, 401);
    }
    // Someone who signed in is named in the record, so their refusals are all kept.
    for _ in 0..5 {
        let (st, _) = eve.get(&format!("{A}/users")).await;
        assert_eq!(st, 403);
    }
    assert!(s.terminate());
    let records = export(&s);
    let anonymous = records.iter().filter(|r| r["action"] == "request.refused" && r["actor"].is_null()).count();
    assert_eq!(anonymous, 3, "fifty requests with made-up tokens leave the burst of records, no more");
    let named = records.iter().filter(|r| r["actor"] == "@eve:localhost" && r["outcome"] == "denied").count();
    assert_eq!(named, 5);
}

async fn login_from(s: &Server, user: &str, forwarded_for: &str) -> u16 {
    let body =
        json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": PASSWORD});
    reqwest::Client::new()
        .post(format!("{}/_matrix/client/v3/login", s.base))
        .header("x-forwarded-for", forwarded_for)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn login_ips(s: &Server) -> Vec<String> {
    export(s).iter().filter(|r| r["action"] == "login").filter_map(|r| r["ip"].as_str().map(str::to_owned)).collect()
}

#[tokio::test]
async fn forwarding_headers_are_believed_only_from_trusted_proxies() {
    // The test client is the proxy: its address is trusted.
    let mut s = Server::start_with_env(&[
        ("WARDLINE_TRUSTED_PROXIES", r#"["127.0.0.0/8"]"#),
        // Behind a proxy the server name must be chosen, even the default.
        ("WARDLINE_SERVER_NAME", "localhost"),
    ]);
    s.user("ada").await;
    assert_eq!(login_from(&s, "ada", "198.51.100.4, 203.0.113.9").await, 200);
    assert!(s.terminate());
    let ips = login_ips(&s);
    assert!(ips.contains(&"203.0.113.9".to_owned()), "the right-most address before the proxy: {ips:?}");
    assert!(!ips.contains(&"198.51.100.4".to_owned()), "{ips:?}");

    // Not a trusted proxy: the header is the client's word and is ignored.
    let mut s = Server::start_with_env(&[
        ("WARDLINE_TRUSTED_PROXIES", r#"["10.0.0.0/8"]"#),
        ("WARDLINE_SERVER_NAME", "localhost"),
    ]);
    s.user("ada").await;
    assert_eq!(login_from(&s, "ada", "203.0.113.9").await, 200);
    assert!(s.terminate());
    let ips = login_ips(&s);
    assert!(!ips.is_empty() && ips.iter().all(|ip| ip == "127.0.0.1"), "{ips:?}");
}

#[tokio::test]
async fn sign_in_limits_count_per_client_behind_a_proxy() {
    let s = Server::start_with_env(&[
        ("WARDLINE_TRUSTED_PROXIES", r#"["127.0.0.0/8"]"#),
        ("WARDLINE_SERVER_NAME", "localhost"),
        ("WARDLINE_RATE_LIMITS__ENABLED", "true"),
        ("WARDLINE_RATE_LIMITS__LOGIN__PER_SECOND", "0.001"),
        ("WARDLINE_RATE_LIMITS__LOGIN__BURST", "2"),
    ]);
    for name in ["ada", "ben"] {
        let (ok, out, err) = cli(&s.data_dir, &["user", "add", name], Some(&format!("{PASSWORD}\n")));
        assert!(ok, "{out}{err}");
    }
    let mut from_one = Vec::new();
    for _ in 0..3 {
        from_one.push(login_from(&s, "ada", "203.0.113.9").await);
    }
    assert_eq!(from_one, [200, 200, 429]);
    // Another person on the same ward, through the same proxy, is not throttled.
    assert_eq!(login_from(&s, "ben", "203.0.113.10").await, 200);
}

/// Reads until the server closes the connection; false if it was still open after `tries`
/// rounds in which the client kept trickling a header line.
pub fn closed_while_trickling(stream: &mut TcpStream, tries: usize) -> bool {
    stream.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut buf = [0u8; 1024];
    for i in 0..tries {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
        if stream.write_all(format!("X-Trickle-{i}: a\r\n").as_bytes()).is_err() {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed() {
    let s = Server::start_with_env(&[("WARDLINE_HTTP__HEADER_READ_TIMEOUT_SECS", "1")]);
    let addr = s.base.strip_prefix("http://").unwrap().to_owned();
    tokio::task::spawn_blocking(move || {
        // One header line at a time, never finishing the request.
        let mut trickle = TcpStream::connect(&addr).unwrap();
        trickle.write_all(b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n").unwrap();
        assert!(closed_while_trickling(&mut trickle, 100), "a trickling connection stayed open");
        // A kept-alive connection that sends nothing after its first request.
        let mut idle = TcpStream::connect(&addr).unwrap();
        idle.write_all(b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        idle.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match idle.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => panic!("the idle connection was not closed: {e}"),
            }
        }
        assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"), "answered first");
    })
    .await
    .unwrap();
    // The server still serves.
    let (st, _) = s.client().get("/_matrix/client/versions").await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn an_upload_over_the_limit_gets_a_readable_413() {
    let s = Server::start_with_env(&[("WARDLINE_MEDIA__MAX_UPLOAD_BYTES", "1000000")]);
    let a = s.user("ada").await;
    let url = format!("{}/_matrix/media/v3/upload?filename=big.bin", s.base);
    // With a declared length: answered before the body is read.
    // Several rounds over the same client, whose connections are reused.
    for size in [1_000_001, 8_000_000, 40_000_000].repeat(3) {
        let (st, err) = a.upload(vec![7u8; size], "application/octet-stream", "big.bin").await;
        assert_eq!((st, err["errcode"].as_str()), (413, Some("M_TOO_LARGE")), "{size}: {err}");
    }
    // In chunks, without a length: answered when the limit is passed.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..64).map(|_| Ok(vec![9u8; 256 * 1024])).collect();
    let resp = a
        .http
        .post(&url)
        .bearer_auth(a.token.as_deref().unwrap())
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .expect("the answer arrives, not a reset");
    assert_eq!(resp.status().as_u16(), 413);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errcode"], "M_TOO_LARGE", "{body}");
    // Within the limit, still fine.
    let (st, _) = a.upload(vec![1u8; 999_000], "application/octet-stream", "ok.bin").await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn a_refusal_the_trail_cannot_take_is_logged_at_the_edge() {
    let (mut s, log) = Server::start_with_log(&[]);
    let ada = s.user("ada").await;
    let eve = s.user("eve").await;
    let room = ada.create_room(json!({"name": "Ward 7"})).await;
    let messages = format!("/_matrix/client/v3/rooms/{}/messages?dir=b", enc(&room));
    // The disk refuses audit records.
    rusqlite::Connection::open(s.data_dir.join("wardline.db"))
        .unwrap()
        .execute_batch("CREATE TRIGGER refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'disk full'); END;")
        .unwrap();
    // Once the writer finds it cannot store, audited reads are refused.
    let mut failing = false;
    for _ in 0..100 {
        if ada.get(&messages).await.0 == 503 {
            failing = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(failing, "the trail never reported it cannot be written");
    // A read of a room she is not in: refused, and its record cannot be written.
    let (st, _) = eve.get(&messages).await;
    assert_eq!(st, 403);
    assert!(s.terminate());
    let logged = std::fs::read_to_string(log).unwrap();
    let line = logged
        .lines()
        .find(|l| l.contains("could not be recorded in the audit trail"))
        .unwrap_or_else(|| panic!("the unrecorded refusal is not logged:\n{logged}"));
    assert!(line.contains("message::get_message_events::v3"), "{line}");
    assert!(line.contains("403"), "{line}");
    assert!(line.contains("@eve:localhost"), "{line}");
    assert!(!line.contains(eve.token.as_deref().unwrap()), "no token in the log: {line}");
}

/// Wardline's own endpoints and the administration API take bodies no larger than Matrix
/// endpoints do (`max_request_bytes`), and say so with a `413` the client can read.
#[tokio::test]
async fn wardline_and_administration_bodies_are_held_to_the_request_limit() {
    let s = Server::start_with_env(&[("WARDLINE_MAX_REQUEST_BYTES", "4096")]);
    let ada = s.user("ada").await;
    let boss = admin(&s).await;
    let padding = "x".repeat(8192);
    for (who, path) in [(&ada, "/_wardline/client/v1/mfa/totp/confirm"), (&boss, &format!("{A}/users"))] {
        let (st, b) = who.post(path, json!({"code": "123456", "padding": padding})).await;
        assert_eq!(st, 413, "{path}: {b}");
        assert_eq!(b["errcode"], "M_TOO_LARGE", "{path}: {b}");
    }
    // Under the limit the same endpoints answer as before.
    let (st, b) = ada.post("/_wardline/client/v1/mfa/totp/confirm", json!({"code": "123456"})).await;
    assert_eq!(st, 403, "{b}");
}

/// A photo uploaded with an access token that has expired (or ended) gets a `401` the client can
/// read, and refresh, not a reset connection: the body it is still sending is never read.
#[tokio::test]
async fn an_upload_refused_before_its_body_is_read_gets_a_readable_answer() {
    let s = Server::start();
    let a = s.user("ada").await;
    let dead = Client { token: Some("an-ended-session".into()), ..a.clone() };
    // Several rounds over the same client, whose connections are reused.
    for size in [1_000_000, 8_000_000, 20_000_000].repeat(3) {
        let (st, err) = dead.upload(vec![7u8; size], "image/jpeg", "photo.jpg").await;
        assert_eq!((st, err["errcode"].as_str()), (401, Some("M_UNKNOWN_TOKEN")), "{size}: {err}");
    }
    let (st, _) = a.upload(vec![1u8; 1000], "application/octet-stream", "ok.bin").await;
    assert_eq!(st, 200);
}
