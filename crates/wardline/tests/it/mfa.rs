//! Signing in with a second factor (TOTP), recovery codes, and the organisation's policy.

use serde_json::{Value, json};

use crate::harness::{PASSWORD, Server, totp_code};

fn password_login(user: &str, password: &str) -> Value {
    json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password})
}

#[tokio::test]
async fn totp_sign_in_reuse_and_recovery_codes() {
    let s = Server::start();
    let ada = s.user("ada").await;
    let (st, status) = ada.get("/_wardline/client/v1/mfa").await;
    assert_eq!((st, status["totp"].as_bool(), status["required"].as_bool()), (200, Some(false), Some(false)));
    let (st, e) = ada.post("/_wardline/client/v1/mfa/totp", json!({})).await;
    assert_eq!(st, 200);
    let secret = e["secret"].as_str().unwrap().to_owned();
    assert!(
        e["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Wardline%20localhost%3A%40ada%3Alocalhost?secret=")
    );
    assert!(e["qr_svg"].as_str().unwrap().contains("<svg"));
    let (st, _) = ada.post("/_wardline/client/v1/mfa/totp/confirm", json!({"code": "000000"})).await;
    assert_eq!(st, 403, "a wrong first code does not enrol");
    let (st, c) = ada.post("/_wardline/client/v1/mfa/totp/confirm", json!({"code": totp_code(&secret, 0)})).await;
    assert_eq!(st, 200);
    let recovery: Vec<String> =
        c["recovery_codes"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    assert_eq!(recovery.len(), 10);

    // The password alone no longer signs in: the server asks for the second step.
    let c = s.client();
    let (st, step1) = c.post("/_matrix/client/v3/login", password_login("ada", PASSWORD)).await;
    assert_eq!(st, 401, "{step1}");
    assert_eq!(step1["errcode"], "ORG.WARDLINE.MFA_REQUIRED");
    assert_eq!(step1["completed"], json!(["m.login.password"]));
    assert!(step1["access_token"].is_null());
    let session = step1["session"].as_str().unwrap().to_owned();
    let (st, wrong) = c
        .post(
            "/_matrix/client/v3/login",
            json!({"type": "org.wardline.login.totp", "session": session, "code": "123456"}),
        )
        .await;
    assert_eq!((st, wrong["errcode"].as_str()), (403, Some("M_FORBIDDEN")));
    // The next step's code (one step of skew is allowed; the enrolment used this step's).
    let code = totp_code(&secret, 1);
    let (st, ok) = c
        .post("/_matrix/client/v3/login", json!({"type": "org.wardline.login.totp", "session": session, "code": code}))
        .await;
    assert_eq!(st, 200, "{ok}");
    assert!(ok["access_token"].is_string());
    // The same code cannot be used again, even in a new sign-in.
    let (_, again) = c.post("/_matrix/client/v3/login", password_login("ada", PASSWORD)).await;
    let session2 = again["session"].as_str().unwrap().to_owned();
    let (st, _) = c
        .post("/_matrix/client/v3/login", json!({"type": "org.wardline.login.totp", "session": session2, "code": code}))
        .await;
    assert_eq!(st, 403, "a code works once");
    // A recovery code works, once.
    let (st, ok) = c
        .post(
            "/_matrix/client/v3/login",
            json!({"type": "org.wardline.login.recovery_code", "session": session2, "code": recovery[0]}),
        )
        .await;
    assert_eq!(st, 200, "{ok}");
    let (_, again) = c.post("/_matrix/client/v3/login", password_login("ada", PASSWORD)).await;
    let session3 = again["session"].as_str().unwrap().to_owned();
    let (st, _) = c
        .post(
            "/_matrix/client/v3/login",
            json!({"type": "org.wardline.login.recovery_code", "session": session3, "code": recovery[0]}),
        )
        .await;
    assert_eq!(st, 403, "a recovery code works once");
    // A made-up session gets nowhere.
    let (st, _) = c
        .post(
            "/_matrix/client/v3/login",
            json!({"type": "org.wardline.login.totp", "session": "invented", "code": totp_code(&secret, 0)}),
        )
        .await;
    assert_eq!(st, 403);
    // Removing the second factor needs the password again and the factor itself: a stolen
    // session and password cannot take it off (nor replace it).
    let (st, _) = ada
        .post("/_wardline/client/v1/mfa/totp/remove", json!({"password": "not my password", "code": recovery[1]}))
        .await;
    assert_eq!(st, 403);
    let (st, b) = ada.post("/_wardline/client/v1/mfa/totp/remove", json!({"password": PASSWORD})).await;
    assert_eq!((st, b["org.wardline.wrong_code"].as_bool()), (403, Some(true)), "the password alone is not enough");
    let (st, _) = ada
        .post("/_wardline/client/v1/mfa/totp/remove", json!({"password": PASSWORD, "code": wrong_code(&secret)}))
        .await;
    assert_eq!(st, 403);
    let (st, _) = ada.post("/_wardline/client/v1/mfa/totp", json!({})).await;
    assert_eq!(st, 403, "nor can a new one replace it");
    let (st, b) =
        ada.post("/_wardline/client/v1/mfa/totp/remove", json!({"password": PASSWORD, "code": recovery[1]})).await;
    assert_eq!(st, 200, "{b}");
    let (st, _) = c.post("/_matrix/client/v3/login", password_login("ada", PASSWORD)).await;
    assert_eq!(st, 200, "the password alone works again");
}

#[tokio::test]
async fn an_organisation_can_require_it_for_everyone() {
    let s = Server::start_with_env(&[("WARDLINE_SECURITY__MFA_REQUIRED", "everyone")]);
    let ada = s.user("ada").await;
    let (st, b) = ada.get("/_matrix/client/v3/joined_rooms").await;
    assert_eq!((st, b["org.wardline.mfa_enrolment_required"].as_bool()), (403, Some(true)));
    let (st, _) = ada.get("/_matrix/client/v3/account/whoami").await;
    assert_eq!(st, 200, "what a client needs to find out still works");
    let (_, status) = ada.get("/_wardline/client/v1/mfa").await;
    assert_eq!(status["required"], true);
    ada.enrol_totp().await;
    let (st, _) = ada.get("/_matrix/client/v3/joined_rooms").await;
    assert_eq!(st, 200);
}

fn totp_login(session: &str, code: &str) -> Value {
    json!({"type": "org.wardline.login.totp", "session": session, "code": code})
}

/// A code that is wrong now (none of the three steps the server accepts).
fn wrong_code(secret: &str) -> String {
    let valid: Vec<String> = (-1..=2).map(|o| totp_code(secret, o)).collect();
    (0..10u32).map(|i| format!("{i:06}")).find(|c| !valid.contains(c)).unwrap()
}

#[tokio::test]
async fn alternating_the_password_with_wrong_codes_locks_the_account() {
    // The defaults: ten failures lock an account for 15 minutes.
    let s = Server::start();
    let ada = s.user("ada").await;
    let secret = ada.enrol_totp().await;
    let c = s.client();
    let mut codes_tried = 0;
    let mut waiting = None;
    let mut locked = false;
    for _ in 0..10 {
        let (st, step1) = c.post("/_matrix/client/v3/login", password_login("ada", PASSWORD)).await;
        if st == 429 {
            assert_eq!(step1["errcode"], "M_LIMIT_EXCEEDED");
            assert!(step1["retry_after_ms"].as_u64().unwrap() > 14 * 60 * 1000, "{step1}");
            locked = true;
            break;
        }
        assert_eq!(st, 401, "{step1}");
        let session = step1["session"].as_str().unwrap().to_owned();
        // A second sign-in, left waiting for its code (as if it were Ada's own).
        if waiting.is_none() {
            let (_, other) = c.post("/_matrix/client/v3/login", password_login("ada", PASSWORD)).await;
            waiting = other["session"].as_str().map(ToOwned::to_owned);
        }
        for _ in 0..5 {
            let (st, b) = c.post("/_matrix/client/v3/login", totp_login(&session, &wrong_code(&secret))).await;
            if st != 403 || b["org.wardline.wrong_code"] != true {
                break;
            }
            assert!(b["error"].as_str().unwrap().contains("code"), "says what was wrong: {b}");
            codes_tried += 1;
        }
    }
    assert!(locked, "the account locked");
    assert_eq!(codes_tried, 10, "no more codes than the lockout threshold were checked");
    // The lock ended the sign-in left waiting: even the right code does not finish it.
    let (st, b) = c.post("/_matrix/client/v3/login", totp_login(&waiting.unwrap(), &totp_code(&secret, 1))).await;
    assert!(st == 403 || st == 429, "{st} {b}");
    assert!(b["access_token"].is_null());
}

#[tokio::test]
async fn an_administrator_cannot_remove_their_own_factor_through_the_administration_api() {
    let s = Server::start();
    let (ok, out, err) = crate::harness::cli(
        &s.data_dir,
        &["user", "add", "boss", "--admin", "--display-name", "IT Admin"],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(ok, "{out}{err}");
    let boss = s.login("boss", PASSWORD).await;
    boss.enrol_totp().await;
    let ada = s.user("ada").await;
    ada.enrol_totp().await;
    let (st, b) = boss.delete_path("/_wardline/admin/v1/users/%40boss%3Alocalhost/mfa").await;
    assert_eq!((st, b["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{b}");
    let (_, status) = boss.get("/_wardline/client/v1/mfa").await;
    assert_eq!(status["totp"], true, "still set up");
    // A colleague's lost factor is still removed by an administrator.
    let (st, _) = boss.delete_path("/_wardline/admin/v1/users/%40ada%3Alocalhost/mfa").await;
    assert_eq!(st, 200);
}
