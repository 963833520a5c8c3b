//! The administration API: administrators only, and everything an administrator needs.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Client, PASSWORD, Server, admin_calls_on_ada, cli, enc};

pub async fn admin(s: &Server) -> Client {
    let (ok, out, err) = cli(
        &s.data_dir,
        &["user", "add", "boss", "--admin", "--display-name", "IT Admin"],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(ok, "{out}{err}");
    let boss = s.login("boss", PASSWORD).await;
    // Administrators must have a second factor (the default policy) before they may act.
    let (st, b) = boss.get(&format!("{A}/users")).await;
    assert_eq!((st, b["org.wardline.mfa_enrolment_required"].as_bool()), (403, Some(true)), "{b}");
    boss.enrol_totp().await;
    boss
}

const A: &str = "/_wardline/admin/v1";

#[tokio::test]
async fn only_administrators_may_use_it() {
    let s = Server::start();
    let staff = s.user("ada").await;
    let nobody = s.client();
    for (method, path) in admin_calls_on_ada() {
        let send = |c: &Client| {
            let req = c.http.request(method.parse().unwrap(), format!("{}{path}", c.base)).json(&json!({}));
            match &c.token {
                Some(t) => req.bearer_auth(t),
                None => req,
            }
        };
        let r = send(&staff).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 403, "{method} {path} as staff");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["errcode"], "M_FORBIDDEN");
        let r = send(&nobody).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{method} {path} without a token");
    }
    // Still signed in: the refusals changed nothing. Whoami says who is an administrator (for
    // clients to offer the administration screens).
    let (st, who) = staff.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!((st, who["org.wardline.admin"].as_bool()), (200, Some(false)), "{who}");
    let boss = admin(&s).await;
    let (st, who) = boss.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!((st, who["org.wardline.admin"].as_bool()), (200, Some(true)), "{who}");
}

#[tokio::test]
async fn managing_accounts_sessions_and_lockouts() {
    let s = Server::start();
    let boss = admin(&s).await;
    // Create with a one-time password; contact details visible to administrators only.
    let (st, created) = boss
        .post(&format!("{A}/users"), json!({"username": "nurse.jones", "display_name": "Staff Nurse Jones", "job_title": "Staff Nurse", "phone": "+44 7700 900123", "email": "jones@hospital.example"}))
        .await;
    assert_eq!(st, 201, "{created}");
    let one_time = created["one_time_password"].as_str().unwrap().to_owned();
    assert_eq!(created["must_change_password"], true);
    let (st, dup) = boss.post(&format!("{A}/users"), json!({"username": "nurse.jones"})).await;
    assert_eq!((st, dup["errcode"].as_str()), (400, Some("M_USER_IN_USE")));
    let (st, bad) = boss.post(&format!("{A}/users"), json!({"username": "x", "surprise": 1})).await;
    assert_eq!((st, bad["errcode"].as_str()), (400, Some("M_BAD_JSON")));
    let jones = s.login("nurse.jones", &one_time).await;
    let (st, _) = jones.get("/_matrix/client/v3/joined_rooms").await;
    assert_eq!(st, 403, "must change the one-time password first");
    let colleague = s.user("ada").await;
    let (_, dir) = colleague.post("/_matrix/client/v3/user_directory/search", json!({"search_term": "jones"})).await;
    assert!(!dir.to_string().contains("7700"), "{dir}");
    let (_, dir) = boss.post("/_matrix/client/v3/user_directory/search", json!({"search_term": "jones"})).await;
    assert_eq!(dir["results"][0]["org.wardline.phone"], "+44 7700 900123");
    // Update.
    let (st, updated) = boss
        .put(&format!("{A}/users/@nurse.jones:localhost"), json!({"job_title": "Charge Nurse", "department": "Ward 7"}))
        .await;
    assert_eq!(st, 200, "{updated}");
    assert_eq!(updated["job_title"], "Charge Nurse");
    assert_eq!(updated["phone"], "+44 7700 900123", "unchanged fields stay");
    let (_, got) = boss.get(&format!("{A}/users/nurse.jones")).await;
    assert_eq!(got["department"], "Ward 7", "usernames work as well as user ids");
    let (st, _) = boss.get(&format!("{A}/users/@nobody:localhost")).await;
    assert_eq!(st, 404);

    // Lockouts are visible and can be lifted.
    for _ in 0..10 {
        s.client()
            .post("/_matrix/client/v3/login", json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "ada"}, "password": "guess guess guess"}))
            .await;
    }
    let (st, locked) = s
        .client()
        .post("/_matrix/client/v3/login", json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "ada"}, "password": PASSWORD}))
        .await;
    assert_eq!((st, locked["errcode"].as_str()), (429, Some("M_LIMIT_EXCEEDED")), "{locked}");
    assert!(locked["retry_after_ms"].as_u64().unwrap() > 60_000);
    let (_, list) = boss.get(&format!("{A}/lockouts")).await;
    assert_eq!(list["lockouts"][0]["user_id"], "@ada:localhost");
    let (_, u) = boss.get(&format!("{A}/users/@ada:localhost")).await;
    assert!(u["locked_until_ts"].is_u64());
    assert!(u["last_sign_in_ts"].is_u64(), "she signed in before the lockout: {u}");
    assert_eq!(u["second_factor"], false);
    let (_, me) = boss.get(&format!("{A}/users/{}", boss.user_id)).await;
    assert_eq!(me["second_factor"], true, "administrators have one: {me}");
    let (st, r) = boss.post(&format!("{A}/users/@ada:localhost/unlock"), json!({})).await;
    assert_eq!((st, r["was_locked"].as_bool()), (200, Some(true)));
    let ada = s.login("ada", PASSWORD).await;

    // Sessions: list, end one, log out everywhere (open long-polls included).
    let (_, devs) = boss.get(&format!("{A}/users/@ada:localhost/devices")).await;
    assert_eq!(devs["devices"].as_array().unwrap().len(), 2);
    let (st, _) = boss.delete_path(&format!("{A}/users/@ada:localhost/devices/{}", enc(&colleague.device_id))).await;
    assert_eq!(st, 200);
    let (st, _) = colleague.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!(st, 401);
    let since = ada.sync(None, 0, None).await["next_batch"].as_str().unwrap().to_owned();
    let poller = ada.clone();
    let start = Instant::now();
    let handle = tokio::spawn(async move {
        poller.get(&format!("/_matrix/client/v3/sync?timeout=30000&since={}", enc(&since))).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (st, _) = boss.post(&format!("{A}/users/@ada:localhost/logout"), json!({})).await;
    assert_eq!(st, 200);
    let (st, _) = handle.await.unwrap();
    assert_eq!(st, 401);
    assert!(start.elapsed() < Duration::from_secs(20));

    // Reset password: a new one-time password, old sessions end, must change at sign-in.
    let ada = s.login("ada", PASSWORD).await;
    let (st, reset) = boss.post(&format!("{A}/users/@ada:localhost/reset_password"), json!({})).await;
    assert_eq!(st, 200);
    let (st, _) = ada.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!(st, 401);
    let fresh = s.login("ada", reset["one_time_password"].as_str().unwrap()).await;
    let (st, _) = fresh.get("/_matrix/client/v3/joined_rooms").await;
    assert_eq!(st, 403);

    // Deactivate and reactivate; an administrator cannot lock themselves out.
    let (st, _) = boss.post(&format!("{A}/users/@nurse.jones:localhost/deactivate"), json!({})).await;
    assert_eq!(st, 200);
    let (_, u) = boss.get(&format!("{A}/users/@nurse.jones:localhost")).await;
    assert_eq!(u["deactivated"], true);
    let (st, _) = boss.post(&format!("{A}/users/@nurse.jones:localhost/reactivate"), json!({})).await;
    assert_eq!(st, 200);
    let (st, _) = boss.post(&format!("{A}/users/@boss:localhost/deactivate"), json!({})).await;
    assert_eq!(st, 403);
    let (st, _) = boss.put(&format!("{A}/users/@boss:localhost"), json!({"admin": false})).await;
    assert_eq!(st, 403);
    let (_, all) = boss.get(&format!("{A}/users")).await;
    assert!(all["users"].as_array().unwrap().len() >= 4);
    let _ = jones;
}

#[tokio::test]
async fn organisation_settings_change_at_run_time_and_persist() {
    let mut s = Server::start();
    let keep = s.keep_dir();
    let boss = admin(&s).await;
    let staff = s.user("ada").await;
    let (st, settings) = boss.get(&format!("{A}/settings")).await;
    assert_eq!(st, 200);
    assert_eq!(settings["security"]["mfa_required"], "admins");
    let (st, _) = staff.get("/_matrix/client/v3/joined_rooms").await;
    assert_eq!(st, 200);
    // Require a second factor of everyone: it applies at once.
    let (st, changed) = boss
        .put(&format!("{A}/settings"), json!({"security": {"mfa_required": "everyone", "idle_timeout_minutes": 480}}))
        .await;
    assert_eq!(st, 200, "{changed}");
    assert_eq!(changed["security"]["idle_timeout_minutes"], 480);
    assert_eq!(changed["security"]["lockout_threshold"], 10, "other settings unchanged");
    let (st, b) = staff.get("/_matrix/client/v3/joined_rooms").await;
    assert_eq!((st, b["org.wardline.mfa_enrolment_required"].as_bool()), (403, Some(true)));
    // Settings that would allow more than 100 guesses an hour, or that do not exist, are refused.
    let (st, b) =
        boss.put(&format!("{A}/settings"), json!({"security": {"lockout_threshold": 50, "lockout_minutes": 1}})).await;
    assert_eq!((st, b["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{b}");
    let (st, b) = boss.put(&format!("{A}/settings"), json!({"security": {"lockout_treshold": 5}})).await;
    assert_eq!((st, b["errcode"].as_str()), (400, Some("M_BAD_JSON")), "{b}");
    let (st, _) = staff.put(&format!("{A}/settings"), json!({"security": {"mfa_required": "off"}})).await;
    assert_eq!(st, 403);
    // They survive a restart, and the change is in the audit trail.
    assert!(s.terminate());
    let s2 = Server::start_in(&s.data_dir, &[]);
    let ada = s2.login("ada", PASSWORD).await;
    let (st, _) = ada.get("/_matrix/client/v3/joined_rooms").await;
    assert_eq!(st, 403, "still required after a restart");
    drop(s2);
    let (ok, out, _) = cli(&s.data_dir, &["audit", "export", "--user", "@boss:localhost"], None);
    assert!(ok);
    assert!(
        out.contains(
            "settings {\\\"security\\\":{\\\"idle_timeout_minutes\\\":480,\\\"mfa_required\\\":\\\"everyone\\\"}}"
        ),
        "{out}"
    );
    drop(keep);
}
