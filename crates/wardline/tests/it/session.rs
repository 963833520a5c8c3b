//! Discovery, errors, login, devices, passwords.

use serde_json::json;

use crate::harness::{PASSWORD, Server, cli};

#[tokio::test]
async fn discovery_and_error_shapes() {
    let s = Server::start();
    let c = s.client();
    let (st, b) = c.get("/_matrix/client/versions").await;
    assert_eq!(st, 200);
    let versions: Vec<&str> = b["versions"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(versions.contains(&"v1.11"), "{versions:?}");
    let (st, b) = c.get("/.well-known/matrix/client").await;
    assert_eq!(st, 200);
    assert_eq!(b["m.homeserver"]["base_url"], s.base.as_str());
    let (st, b) = c.get("/_matrix/client/v3/nonsense").await;
    assert_eq!((st, b["errcode"].as_str()), (404, Some("M_UNRECOGNIZED")));
    let (st, b) = c.get("/_matrix/client/v3/sync").await;
    assert_eq!((st, b["errcode"].as_str()), (401, Some("M_MISSING_TOKEN")));
    let (st, b) = c.post("/_matrix/client/v3/register", json!({"username": "eve", "password": "x"})).await;
    assert_eq!((st, b["errcode"].as_str()), (403, Some("M_FORBIDDEN")));
    let bad = c.http.post(format!("{}/_matrix/client/v3/login", s.base)).body("{not json").send().await.unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let b: serde_json::Value = bad.json().await.unwrap();
    assert_eq!(b["errcode"], "M_NOT_JSON");
    let mut unknown = s.client();
    unknown.token = Some("wl_nope".into());
    let (st, b) = unknown.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!((st, b["errcode"].as_str()), (401, Some("M_UNKNOWN_TOKEN")));
}

#[tokio::test]
async fn security_headers_and_cors_on_every_response() {
    let s = Server::start();
    let http = reqwest::Client::new();
    let paths = [
        "/_matrix/client/versions",
        "/.well-known/matrix/client",
        "/_matrix/client/v3/login",
        "/_matrix/client/v3/sync",
        "/_matrix/client/v3/capabilities",
        "/_matrix/client/v3/rooms/!r:localhost/messages",
        "/_matrix/client/v3/pushrules/",
        "/_wardline/admin/v1/users",
        "/_wardline/client/v1/mfa",
        "/_matrix/media/v3/download/localhost/x",
        "/nope",
    ];
    for path in paths {
        let r =
            http.get(format!("{}{path}", s.base)).header("Origin", "https://elsewhere.example").send().await.unwrap();
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        if path.starts_with("/_") {
            assert_eq!(h["cache-control"], "no-store", "an answer is never cached: {path}");
        }
        assert_eq!(h["access-control-allow-origin"], "*", "{path}");
        assert!(h.get("strict-transport-security").is_none(), "no HSTS over plain HTTP");
    }
    let pre = http
        .request(reqwest::Method::OPTIONS, format!("{}/_matrix/client/v3/sync", s.base))
        .header("Origin", "https://elsewhere.example")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success());
    assert!(pre.headers()["access-control-allow-headers"].to_str().unwrap().to_lowercase().contains("authorization"));
}

#[tokio::test]
async fn login_whoami_logout() {
    let s = Server::start();
    let a = s.user("ada").await;
    let (st, b) = a.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!(st, 200);
    assert_eq!(b["user_id"], "@ada:localhost");
    assert_eq!(b["device_id"], a.device_id.as_str());
    // Full user id works as identifier too; wrong password and unknown user answer alike.
    let mut c = s.client();
    let (st, _) = c
        .post("/_matrix/client/v3/login", json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "@ada:localhost"}, "password": "correct horse battery staple"}))
        .await;
    assert_eq!(st, 200);
    let (st1, wrong) = c
        .post("/_matrix/client/v3/login", json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "ada"}, "password": "not the password at all"}))
        .await;
    let (st2, unknown) = c
        .post("/_matrix/client/v3/login", json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "nobody"}, "password": "not the password at all"}))
        .await;
    assert_eq!((st1, st2), (403, 403));
    assert_eq!(wrong, unknown, "no user enumeration");
    let (st, _) = a.post("/_matrix/client/v3/logout", json!({})).await;
    assert_eq!(st, 200);
    let (st, _) = a.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!(st, 401);
    c.token = None;
}

#[tokio::test]
async fn devices_and_password_change_with_uia() {
    let s = Server::start();
    let a = s.user("bea").await;
    let other = s.login("bea", "correct horse battery staple").await;
    let (st, b) = a.get("/_matrix/client/v3/devices").await;
    assert_eq!(st, 200);
    assert_eq!(b["devices"].as_array().unwrap().len(), 2);
    let (st, _) =
        a.put(&format!("/_matrix/client/v3/devices/{}", a.device_id), json!({"display_name": "Ward 7 PC"})).await;
    assert_eq!(st, 200);
    let (_, d) = a.get(&format!("/_matrix/client/v3/devices/{}", a.device_id)).await;
    assert_eq!(d["display_name"], "Ward 7 PC");
    // Deleting a device needs the password again (user-interactive auth).
    let (st, challenge) = a.post("/_matrix/client/v3/delete_devices", json!({"devices": [other.device_id]})).await;
    assert_eq!(st, 401);
    let session = challenge["session"].as_str().unwrap().to_owned();
    assert_eq!(challenge["flows"][0]["stages"][0], "m.login.password");
    let auth = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "bea"}, "password": "correct horse battery staple", "session": session});
    let (st, b) =
        a.post("/_matrix/client/v3/delete_devices", json!({"devices": [other.device_id], "auth": auth})).await;
    assert_eq!(st, 200, "{b}");
    let (st, _) = other.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!(st, 401, "the deleted device is signed out");
    // Password change: weak refused, then changed; old password stops working.
    let auth = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "bea"}, "password": "correct horse battery staple"});
    let (st, b) = a.post("/_matrix/client/v3/account/password", json!({"new_password": "short", "auth": auth})).await;
    assert_eq!((st, b["errcode"].as_str()), (400, Some("M_WEAK_PASSWORD")));
    let (st, b) = a
        .post("/_matrix/client/v3/account/password", json!({"new_password": "a brand new passphrase", "auth": auth}))
        .await;
    assert_eq!(st, 200, "{b}");
    let c = s.client();
    let (st, _) = c
        .post("/_matrix/client/v3/login", json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "bea"}, "password": "correct horse battery staple"}))
        .await;
    assert_eq!(st, 403);
    s.login("bea", "a brand new passphrase").await;
}

#[tokio::test]
async fn first_admin_and_one_time_password_must_be_changed() {
    let s = Server::start();
    // Without a terminal (a service, whose output goes to the journal) the password is not
    // printed but left in a file only the server's account can read.
    assert!(!s.stdout_lines.iter().any(|l| l.contains("One-time password")), "{:?}", s.stdout_lines);
    let file = s.data_dir.join("first-admin-password");
    assert!(s.stdout_lines.iter().any(|l| l.contains(&file.display().to_string())), "{:?}", s.stdout_lines);
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o077, 0, "private");
    }
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("@admin:localhost"));
    let password = lines.next().expect("the password").to_owned();
    let admin = s.login("admin", &password).await;
    let (st, b) = admin.get("/_matrix/client/v3/joined_rooms").await;
    assert_eq!((st, b["errcode"].as_str()), (403, Some("M_FORBIDDEN")));
    assert_eq!(b["org.wardline.password_change_required"], true);
    let auth =
        json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "admin"}, "password": password});
    let (st, b) = admin
        .post("/_matrix/client/v3/account/password", json!({"new_password": "the boss of the servers", "auth": auth}))
        .await;
    assert_eq!(st, 200, "{b}");
    // Then a second factor, which administrators must have.
    let (st, b) = admin.get("/_matrix/client/v3/joined_rooms").await;
    assert_eq!((st, b["org.wardline.mfa_enrolment_required"].as_bool()), (403, Some(true)));
    admin.enrol_totp().await;
    let (st, _) = admin.get("/_matrix/client/v3/joined_rooms").await;
    assert_eq!(st, 200);
    // A restart does not create another administrator or hand out a password, and deletes the
    // spent one.
    let mut s = s;
    assert!(s.terminate());
    let again = Server::start_in(&s.data_dir, &[]);
    assert!(!again.stdout_lines.iter().any(|l| l.contains("administrator")), "{:?}", again.stdout_lines);
    assert!(!file.exists(), "the changed one-time password is deleted");
    let (ok, out, _) = cli(&s.data_dir, &["user", "list"], None);
    assert!(ok);
    assert_eq!(out.lines().filter(|l| l.contains("admin")).count(), 1);
}

#[tokio::test]
async fn login_rate_limit_when_enabled() {
    let s = Server::start_with_env(&[
        ("WARDLINE_RATE_LIMITS__ENABLED", "true"),
        ("WARDLINE_RATE_LIMITS__LOGIN__BURST", "3"),
        ("WARDLINE_RATE_LIMITS__LOGIN__PER_SECOND", "0.01"),
    ]);
    let c = s.client();
    let mut statuses = Vec::new();
    let mut last = serde_json::Value::Null;
    for _ in 0..5 {
        let (st, b) = c
            .post("/_matrix/client/v3/login", json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "nobody"}, "password": "guessing guessing"}))
            .await;
        statuses.push(st);
        last = b;
    }
    assert_eq!(statuses, vec![403, 403, 403, 429, 429]);
    assert_eq!(last["errcode"], "M_LIMIT_EXCEEDED");
    assert!(last["retry_after_ms"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn the_server_name_cannot_change_under_existing_data() {
    let mut s = Server::start();
    let _keep = s.keep_dir();
    assert!(s.terminate());
    let out = std::process::Command::new(crate::harness::bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--server-name", "other.example", "--data-dir"])
        .arg(&s.data_dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("belongs to server name \"localhost\""), "{err}");
}

#[tokio::test]
async fn refresh_tokens_over_http() {
    let s = Server::start();
    s.user("ada").await;
    let c = s.client();
    let (st, b) = c
        .post("/_matrix/client/v3/login", json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "ada"}, "password": crate::harness::PASSWORD, "refresh_token": true}))
        .await;
    assert_eq!(st, 200);
    assert_eq!(b["expires_in_ms"], 15 * 60 * 1000);
    let refresh = b["refresh_token"].as_str().unwrap().to_owned();
    let (st, r) = c.post("/_matrix/client/v3/refresh", json!({"refresh_token": refresh})).await;
    assert_eq!(st, 200, "{r}");
    let mut renewed = s.client();
    renewed.token = r["access_token"].as_str().map(ToOwned::to_owned);
    let (st, who) = renewed.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!((st, who["user_id"].as_str()), (200, Some("@ada:localhost")));
    let (st, again) = c.post("/_matrix/client/v3/refresh", json!({"refresh_token": refresh})).await;
    assert_eq!((st, again["errcode"].as_str()), (401, Some("M_UNKNOWN_TOKEN")), "a refresh token works once");
}

/// Unknown users and wrong passwords get the same answer, so it does not tell which usernames
/// exist. They also cost the same: an unknown name is checked against a stand-in hash made by
/// the same `password::hash` as every account's (`SessionService::check_password`), so argon2
/// runs with the same parameters either way; that is shown by construction, not by timing
/// requests here (no timing thresholds in tests: BENCHMARKS.md is where time is measured).
#[tokio::test]
async fn unknown_users_get_the_same_answer_as_wrong_passwords() {
    let s = Server::start();
    s.user("ada").await;
    let c = s.client();
    let attempt = |user: &'static str| {
        let c = c.clone();
        async move {
            c.post("/_matrix/client/v3/login", json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": "not the right one"}))
                .await
        }
    };
    let known = attempt("ada").await;
    let unknown = attempt("nobody-by-this-name").await;
    assert_eq!(known.0, 403);
    assert_eq!(known, unknown, "the same status and body");
}

#[tokio::test]
async fn https_with_tls_1_2_and_1_3_only() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let cert = format!("{fixtures}/test-cert.pem");
    let key = format!("{fixtures}/test-key.pem");
    let s = Server::start_with_env(&[("WARDLINE_TLS__CERT_FILE", &cert), ("WARDLINE_TLS__KEY_FILE", &key)]);
    assert!(s.base.starts_with("https://127.0.0.1:"), "{}", s.base);
    let root = reqwest::Certificate::from_pem(&std::fs::read(format!("{fixtures}/test-ca.pem")).unwrap()).unwrap();
    for (min, max) in [
        (reqwest::tls::Version::TLS_1_2, reqwest::tls::Version::TLS_1_2),
        (reqwest::tls::Version::TLS_1_3, reqwest::tls::Version::TLS_1_3),
    ] {
        let http = reqwest::Client::builder()
            .add_root_certificate(root.clone())
            .min_tls_version(min)
            .max_tls_version(max)
            .build()
            .unwrap();
        let r = http.get(format!("{}/_matrix/client/versions", s.base)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000; includeSubDomains");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    }
    // Older protocols are refused (checked with OpenSSL's own client).
    let port = s.base.rsplit(':').next().unwrap().to_owned();
    for old in ["-tls1", "-tls1_1"] {
        let out = std::process::Command::new("openssl")
            .args(["s_client", old, "-connect", &format!("127.0.0.1:{port}")])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("openssl s_client");
        let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() || text.contains("Cipher is (NONE)"), "{old} was accepted: {text}");
    }
    // Plain HTTP to the TLS port gets nothing useful.
    assert!(reqwest::get(format!("http://127.0.0.1:{port}/_matrix/client/versions")).await.is_err());
}

fn password_auth(user: &str, session: Option<&str>) -> serde_json::Value {
    let mut auth =
        json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": PASSWORD});
    if let Some(s) = session {
        auth["session"] = json!(s);
    }
    auth
}

#[tokio::test]
async fn an_authentication_session_serves_only_the_request_it_was_started_for() {
    let s = Server::start();
    let a = s.user("bea").await;
    let phone = s.login("bea", PASSWORD).await;
    let ward_pc = s.login("bea", PASSWORD).await;
    // Bea starts removing her phone...
    let (st, challenge) = a.delete_path(&format!("/_matrix/client/v3/devices/{}", phone.device_id)).await;
    assert_eq!(st, 401);
    let session = challenge["session"].as_str().unwrap().to_owned();
    // ...and that session is quoted to remove the ward PC instead.
    let (st, b) = a
        .send_json(
            reqwest::Method::DELETE,
            &format!("/_matrix/client/v3/devices/{}", ward_pc.device_id),
            json!({"auth": password_auth("bea", Some(&session))}),
        )
        .await;
    assert_eq!((st, b["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{b}");
    assert_eq!(ward_pc.get("/_matrix/client/v3/account/whoami").await.0, 200, "the ward PC is still signed in");
    // The same session for another list of devices, or another endpoint, is refused too.
    let (_, challenge) = a.post("/_matrix/client/v3/delete_devices", json!({"devices": [phone.device_id]})).await;
    let session = challenge["session"].as_str().unwrap().to_owned();
    let auth = password_auth("bea", Some(&session));
    let (st, _) = a
        .post(
            "/_matrix/client/v3/delete_devices",
            json!({"devices": [phone.device_id, ward_pc.device_id], "auth": auth}),
        )
        .await;
    assert_eq!(st, 403);
    let (_, challenge) = a.post("/_matrix/client/v3/delete_devices", json!({"devices": [phone.device_id]})).await;
    let session = challenge["session"].as_str().unwrap().to_owned();
    let (st, _) = a
        .post(
            "/_matrix/client/v3/account/password",
            json!({"new_password": "a quite different passphrase", "auth": password_auth("bea", Some(&session))}),
        )
        .await;
    assert_eq!(st, 403, "a session for removing devices does not change the password");
    // The request it was started for goes through (the same body in another key order).
    let (_, challenge) = a.post("/_matrix/client/v3/delete_devices", json!({"devices": [phone.device_id]})).await;
    let session = challenge["session"].as_str().unwrap().to_owned();
    let (st, b) = a
        .post(
            "/_matrix/client/v3/delete_devices",
            json!({"auth": password_auth("bea", Some(&session)), "devices": [phone.device_id]}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(phone.get("/_matrix/client/v3/account/whoami").await.0, 401);
    assert_eq!(ward_pc.get("/_matrix/client/v3/account/whoami").await.0, 200);
    // An invented session is not accepted either.
    let (st, b) = a
        .post(
            "/_matrix/client/v3/delete_devices",
            json!({"devices": [ward_pc.device_id], "auth": password_auth("bea", Some("invented"))}),
        )
        .await;
    assert_eq!(st, 401, "{b}");
    assert_eq!(ward_pc.get("/_matrix/client/v3/account/whoami").await.0, 200);
}

#[tokio::test]
async fn weak_passwords_are_refused_and_a_change_ends_other_sessions() {
    let s = Server::start();
    let a = s.user("bea").await;
    let other = s.login("bea", PASSWORD).await;
    for weak in ["password1234", "Welcome2025!", "aaaaaaaaaaaa", "123456789012", "Password1234"] {
        let (st, b) = a
            .post(
                "/_matrix/client/v3/account/password",
                json!({"new_password": weak, "auth": password_auth("bea", None)}),
            )
            .await;
        assert_eq!((st, b["errcode"].as_str()), (400, Some("M_WEAK_PASSWORD")), "{weak}: {b}");
    }
    let (st, b) = a
        .post(
            "/_matrix/client/v3/account/password",
            json!({"new_password": "nine otters juggle quietly", "auth": password_auth("bea", None)}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(a.get("/_matrix/client/v3/account/whoami").await.0, 200, "this session goes on");
    assert_eq!(other.get("/_matrix/client/v3/account/whoami").await.0, 401, "other sessions end");
}

#[tokio::test]
async fn a_name_with_no_account_stays_out_of_the_audit_trail_and_the_log() {
    let (mut s, log) = Server::start_with_log(&[("WARDLINE_SECURITY__LOCKOUT_THRESHOLD", "3")]);
    let c = s.client();
    // A password typed into the username field, until the name locks.
    let typed = "Tr0ub4dor-and-3";
    for _ in 0..4 {
        let (st, _) = c
            .post(
                "/_matrix/client/v3/login",
                json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": typed}, "password": "x"}),
            )
            .await;
        assert!(st == 403 || st == 429, "{st}");
    }
    assert!(s.terminate());
    let (ok, out, err) = cli(&s.data_dir, &["audit", "export"], None);
    assert!(ok, "{err}");
    let failed: Vec<serde_json::Value> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["action"] == "login.failed" || r["action"] == "account.locked")
        .collect();
    assert_eq!(failed.len(), 5, "{out}");
    assert!(failed.iter().all(|r| r["target_user"].as_str().is_some_and(|t| t.starts_with("unknown:"))));
    let logged = std::fs::read_to_string(log).unwrap();
    for (what, text) in [("audit trail", out.as_str()), ("log", logged.as_str())] {
        assert!(!text.to_lowercase().contains("tr0ub4dor"), "the typed name is in the {what}: {text}");
    }
    assert!(logged.contains("locked"), "the lock is logged, by digest: {logged}");
}
