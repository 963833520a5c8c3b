//! Every body a client can send gets a Matrix answer: a table of malformed bodies posted to
//! every route that takes a body (the Matrix API, `/_wardline/client`, `/_wardline/admin`),
//! with a valid token. None may answer 5xx; a refusal carries a Matrix `errcode` (or is a
//! user-interactive authentication challenge); and the server stays healthy throughout.

use axum::http::Method;
use serde_json::{Value, json};
use wardline_api::routes::{BodyLimit, RouteInfo};

use crate::harness::{Client, PASSWORD, PathValues, Server, cli, plausible_path};

/// Bodies that are not JSON at all, or JSON no endpoint can parse: always a 4xx.
fn broken_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(20_000), "}".repeat(20_000));
    vec![
        ("empty string body", b"\"".to_vec()),
        ("not JSON", b"this is not json".to_vec()),
        ("truncated", b"{\"a\": [1, 2".to_vec()),
        ("invalid UTF-8", b"{\"a\": \"\xff\xfe\xfd\"}".to_vec()),
        ("invalid UTF-8 key", b"{\"\xc3\x28\": 1}".to_vec()),
        ("huge number", b"{\"limit\": 1e400, \"timeout\": 1e400}".to_vec()),
        ("deep array nesting", deep.into_bytes()),
        ("deep object nesting", deep_object.into_bytes()),
        ("trailing garbage", b"{} {}".to_vec()),
        ("NUL bytes", b"\0\0\0\0".to_vec()),
    ]
}

/// JSON of the wrong shape: refused with a 4xx, unless it happens to be a valid (if empty)
/// request for that endpoint (`{}` is a valid `PUT /devices/{id}`).
fn odd_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let wrong_types = json!({
        "type": 5, "user": [], "identifier": "x", "password": {}, "session": 7, "code": [1],
        "devices": "DEVICE", "auth": "x", "new_password": 1, "logout_devices": "yes",
        "display_name": [], "displayname": 7, "avatar_url": 9, "presence": 1, "typing": "yes",
        "timeout": "long", "user_id": 12, "reason": {}, "visibility": 3, "preset": [], "invite": "x",
        "name": {}, "topic": [], "search_term": 4, "limit": "ten", "m.fully_read": 5, "refresh_token": 3,
        "username": 1, "security": "x", "rate_limits": [], "is_admin": "yes", "is_direct": "no",
        "thread_id": 3, "filter": 1, "room": "x", "event_fields": "x", "devices_keys": 1,
    });
    vec![
        ("{}", b"{}".to_vec()),
        ("[]", b"[]".to_vec()),
        ("null", b"null".to_vec()),
        ("\"\"", b"\"\"".to_vec()),
        ("empty", Vec::new()),
        ("a number", b"12345678901234567890123456789".to_vec()),
        ("u64 overflow", b"{\"timeout\": 18446744073709551616, \"limit\": -1}".to_vec()),
        ("wrong types", wrong_types.to_string().into_bytes()),
        ("login without identifier", br#"{"type": "m.login.password", "identifier": {}}"#.to_vec()),
        ("login without type", br#"{"password": "SECRET-MARKER-7f3a"}"#.to_vec()),
        ("second factor without a code", br#"{"type": "org.wardline.login.totp"}"#.to_vec()),
        ("auth without type", br#"{"auth": {"session": "x"}, "devices": []}"#.to_vec()),
    ]
}

/// Endpoints that end the session they are called with: each path is called by a user of its
/// own, so the administrator's stays usable for the rest of the table.
const ENDS_SESSION: [&str; 2] = ["session::logout::v3", "session::logout_all::v3"];

/// Endpoints after which the administrator is no longer in the room: called last.
const LEAVES_ROOM: [&str; 2] = ["membership::leave_room::v3", "membership::forget_room::v3"];

/// Every route that takes a body, from the server's own route table (so a route added later is
/// covered without touching this test): every `POST`, `PUT`, `PATCH` and `DELETE`, except the
/// uploads, whose body is the file's raw bytes, and WCTP, whose body is XML (the table marks
/// them `BodyLimit::Upload` and `BodyLimit::Xml`; `it::wctp` covers WCTP's bad bodies). The
/// rooms are left, and the sessions ended, last.
fn routes() -> Vec<RouteInfo> {
    let mut routes: Vec<RouteInfo> = wardline_api::route_table()
        .into_iter()
        .filter(|r| matches!(r.method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE))
        .filter(|r| r.endpoint.body_limit == BodyLimit::Request)
        .collect();
    let rank = |r: &RouteInfo| {
        if ENDS_SESSION.contains(&r.endpoint.name) {
            2
        } else if LEAVES_ROOM.contains(&r.endpoint.name) {
            1
        } else {
            0
        }
    };
    routes.sort_by_key(rank);
    routes
}

async fn send_raw(c: &Client, method: &Method, path: &str, body: Vec<u8>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap();
    let resp = c
        .http
        .request(method, format!("{}{path}", c.base))
        .bearer_auth(c.token.as_deref().unwrap())
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn healthy(c: &Client) {
    let (st, _) = c.get("/_matrix/client/versions").await;
    assert_eq!(st, 200, "the server answers");
    let (st, who) = c.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!(st, 200, "the session still works: {who}");
}

#[tokio::test]
async fn every_body_gets_a_matrix_answer_on_every_route() {
    let (mut s, log) = Server::start_with_log(&[]);
    let (ok, out, err) =
        cli(&s.data_dir, &["user", "add", "boss", "--admin", "--display-name", "Boss"], Some(&format!("{PASSWORD}\n")));
    assert!(ok, "{out}{err}");
    s.user("cat").await;
    let boss = s.login("boss", PASSWORD).await;
    boss.enrol_totp().await;
    let room = boss.create_room(json!({"name": "Scratch"})).await;
    let (st, sent) = boss.send_text(&room, "t0", "hello").await;
    assert_eq!(st, 200);
    let event = sent["event_id"].as_str().unwrap().to_owned();
    let routes = routes();
    for name in ["session::logout::v3", "membership::forget_room::v3", "wardline.mfa.begin", "admin.users.create"] {
        assert!(routes.iter().any(|r| r.endpoint.name == name), "{name} is in the table");
    }
    assert!(routes.len() > 60, "every route that takes a body: {}", routes.len());
    // A user of its own for each path that ends sessions, signed in before the table runs (it
    // tries `POST /login` often enough to be rate-limited).
    let mut own_sessions = std::collections::HashMap::new();
    for (i, r) in routes.iter().filter(|r| ENDS_SESSION.contains(&r.endpoint.name)).enumerate() {
        own_sessions.insert(r.path.clone(), s.user(&format!("leaver{i}")).await);
    }
    let mut n = 0;
    let mut failures = Vec::new();
    for route in &routes {
        let caller = own_sessions.get(&route.path).unwrap_or(&boss).clone();
        // The administration API acts on ada, never on the administrator running the table.
        let user = if route.path.starts_with("/_wardline/admin/") {
            "@ada:localhost".to_owned()
        } else {
            boss.user_id.clone()
        };
        for (always_bad, (name, body)) in
            broken_bodies().into_iter().map(|b| (true, b)).chain(odd_bodies().into_iter().map(|b| (false, b)))
        {
            n += 1;
            let values = PathValues {
                room: room.clone(),
                event: event.clone(),
                user: user.clone(),
                device: caller.device_id.clone(),
                txn: format!("txn-{n}"),
            };
            let path = plausible_path(&route.path, &values);
            let method = &route.method;
            let (st, b) = send_raw(&caller, method, &path, body).await;
            let uia_challenge = st == 401 && b["flows"].is_array();
            let matrix_error = b["errcode"].as_str().is_some_and(|c| c.starts_with("M_") || c.starts_with("ORG."));
            let ok = match st {
                200..=299 => !always_bad,
                400..=499 => matrix_error || uia_challenge,
                _ => false,
            };
            if !ok {
                failures.push(format!("{method} {path} ({}) with {name}: {st} {b}", route.endpoint.name));
            }
            if ENDS_SESSION.contains(&route.endpoint.name) && ok && st < 300 {
                // The session is over: later bodies would only meet the token check.
                break;
            }
        }
        healthy(&boss).await;
    }
    assert!(failures.is_empty(), "{} bad answers:\n{}", failures.len(), failures.join("\n"));
    // `POST /login` with `{}` made ruma panic: now a plain 400, and no panic left its trace.
    let c = s.client();
    let (st, b) = c.post("/_matrix/client/v3/login", json!({})).await;
    assert_eq!((st, b["errcode"].as_str()), (400, Some("M_BAD_JSON")), "{b}");
    assert!(s.terminate());
    let logged = std::fs::read_to_string(log).unwrap();
    assert!(!logged.contains("SECRET-MARKER-7f3a"), "no request body in the log");
    assert!(!logged.contains("stack backtrace"), "no backtrace for a bad body");
}
