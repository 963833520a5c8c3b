//! An unfinished first sign-in (a one-time password to change, a required second factor to set
//! up) may use only what each endpoint allows: walked over every route the server registers.

use serde_json::{Value, json};
use wardline_api::routes::{FirstSignIn, RouteInfo};
use wardline_api::ruma_wrapper::Auth;

use crate::harness::{Client, PASSWORD, PathValues, Server, cli, enc, fill_path, path_params};

/// A user signed in with a one-time password they have not changed yet.
async fn one_time_password_user(s: &Server, name: &str) -> Client {
    let (ok, out, err) = cli(&s.data_dir, &["user", "add", name, "--one-time-password"], None);
    assert!(ok, "{out}{err}");
    let password = out.lines().find_map(|l| l.split(": ").nth(1).filter(|_| l.contains("one-time"))).unwrap();
    let c = s.login(name, password.trim()).await;
    let (st, b) = c.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!(st, 200, "{b}");
    c
}

/// An administrator who has not set up the second factor the organisation requires.
async fn admin_without_second_factor(s: &Server, name: &str) -> Client {
    let (ok, out, err) = cli(&s.data_dir, &["user", "add", name, "--admin"], Some(&format!("{PASSWORD}\n")));
    assert!(ok, "{out}{err}");
    s.login(name, PASSWORD).await
}

/// Values for a route's path parameters: plausible ones, then the last replaced by words the
/// old path-suffix rule let through.
fn fillings(route: &RouteInfo, room: &str, event: &str, user: &str) -> Vec<String> {
    let values = PathValues {
        room: room.to_owned(),
        event: event.to_owned(),
        user: user.to_owned(),
        device: "DEVICE".to_owned(),
        txn: "txn1".to_owned(),
    };
    let names = path_params(&route.path);
    let mut variants: Vec<Vec<String>> = vec![names.iter().map(|n| values.plausible(n)).collect()];
    if !names.is_empty() {
        for trick in ["versions", "logout", "all", "whoami", "capabilities", "password", "refresh"] {
            let mut v: Vec<String> = names.iter().map(|n| values.plausible(n)).collect();
            if let Some(last) = v.last_mut() {
                *last = trick.to_owned();
            }
            variants.push(v);
        }
    }
    variants.into_iter().map(|v| fill_path(&route.path, &v)).collect()
}

async fn call(c: &Client, method: &axum::http::Method, path: &str) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap();
    let mut req = c.http.request(method.clone(), format!("{}{path}", c.base)).bearer_auth(c.token.as_deref().unwrap());
    if method != reqwest::Method::GET {
        req = req.json(&json!({}));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn every_route_holds_an_unfinished_sign_in_to_what_its_endpoint_allows() {
    let s = Server::start();
    let owner = s.user("owner").await;
    let room = owner.create_room(json!({"name": "Ward 7"})).await;
    let (_, sent) = owner.send_text(&room, "t1", "hello").await;
    let event = sent["event_id"].as_str().unwrap().to_owned();
    let pending_password = one_time_password_user(&s, "newstarter").await;
    let pending_mfa = admin_without_second_factor(&s, "newadmin").await;

    let table = wardline_api::route_table();
    assert!(table.len() > 100, "the table lists every route: {}", table.len());
    // What may be used before finishing the first sign-in is a short, known list.
    let mut open: Vec<(&str, FirstSignIn)> = table
        .iter()
        .filter(|r| r.endpoint.first_sign_in != FirstSignIn::Refused)
        .map(|r| (r.endpoint.name, r.endpoint.first_sign_in))
        .collect();
    open.sort_by_key(|(n, _)| *n);
    open.dedup();
    assert_eq!(
        open,
        [
            ("account::change_password::v3", FirstSignIn::Allowed),
            ("account::whoami::v3", FirstSignIn::Allowed),
            ("discovery::get_capabilities::v3", FirstSignIn::Allowed),
            ("discovery::get_supported_versions", FirstSignIn::Allowed),
            ("session::logout::v3", FirstSignIn::Allowed),
            ("session::logout_all::v3", FirstSignIn::Allowed),
            ("session::refresh_token::v3", FirstSignIn::Allowed),
            ("wardline.mfa.begin", FirstSignIn::Enrolment),
            ("wardline.mfa.confirm", FirstSignIn::Enrolment),
            ("wardline.mfa.status", FirstSignIn::Enrolment),
        ]
    );

    let mut checked = 0;
    // The integration API takes hospital systems' keys, never a staff session: nothing to hold.
    for route in table.iter().filter(|r| !matches!(r.endpoint.auth, Auth::None | Auth::Integration)) {
        for (who, client, allowed, flag) in [
            (
                "one-time password",
                &pending_password,
                route.endpoint.first_sign_in == FirstSignIn::Allowed,
                "org.wardline.password_change_required",
            ),
            (
                "second factor to set up",
                &pending_mfa,
                route.endpoint.first_sign_in != FirstSignIn::Refused,
                "org.wardline.mfa_enrolment_required",
            ),
        ] {
            if allowed {
                // Allowed (signing out among them): not called, so the session stays.
                continue;
            }
            for path in fillings(route, &room, &event, &client.user_id) {
                let (st, body) = call(client, &route.method, &path).await;
                assert_eq!(
                    (st, body[flag].as_bool()),
                    (403, Some(true)),
                    "{} {path} ({}) with a {who}: {body}",
                    route.method,
                    route.endpoint.name
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "{checked} requests checked");

    // The two from the report, by name.
    let (st, b) = pending_password
        .put(&format!("/_matrix/client/v3/rooms/{}/send/m.room.message/versions", enc(&room)), json!({"body": "x"}))
        .await;
    assert_eq!((st, b["org.wardline.password_change_required"].as_bool()), (403, Some(true)), "{b}");
    let (st, b) = pending_password
        .put(&format!("/_matrix/client/v3/user/{}/account_data/logout", enc(&pending_password.user_id)), json!({}))
        .await;
    assert_eq!((st, b["org.wardline.password_change_required"].as_bool()), (403, Some(true)), "{b}");
    // An administrator who must set up a second factor reads no delivery data.
    let status = format!("/_wardline/client/v1/rooms/{}/status/{}", enc(&room), enc(&event));
    let (st, b) = pending_mfa.get(&status).await;
    assert_eq!((st, b["org.wardline.mfa_enrolment_required"].as_bool()), (403, Some(true)), "{b}");

    // What is allowed still works: the password change, then (for the administrator) enrolment.
    let (st, _) = pending_password.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!(st, 200);
    let (st, b) = pending_mfa.get("/_wardline/client/v1/mfa").await;
    assert_eq!((st, &b["required"]), (200, &json!(true)), "{b}");
    pending_mfa.enrol_totp().await;
    let (st, b) = pending_mfa.get(&status).await;
    assert_ne!(b["org.wardline.mfa_enrolment_required"].as_bool(), Some(true), "{st} {b}");
}
