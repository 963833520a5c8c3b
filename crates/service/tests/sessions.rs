//! Session lifetimes and lockouts with an injected clock, on a real SQLite store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use wardline_service::accounts::NewStaff;
use wardline_service::config::Security;
use wardline_service::sessions::{LoginRequest, SecondFactor};
use wardline_service::{Config, ServiceError, Services, totp};
use wardline_store::Store;
use wardline_store_sqlite::{Durability, SqliteStore};
use wardline_types::audit::AuditAction;
use wardline_types::{Clock, ManualClock, Timestamp};

const PW: &str = "correct horse battery staple";

async fn setup(security: Security) -> (Services, Arc<ManualClock>, Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db"), Durability::Normal).unwrap());
    let clock = Arc::new(ManualClock::new(Timestamp(1_800_000_000_000)));
    let config = Config { security, ..Config::default() };
    let services = Services::new(config, Arc::clone(&store), clock.clone()).unwrap();
    tokio::spawn(services.audit.clone().run_writer());
    services
        .accounts
        .create(NewStaff { username: "ada".into(), password: Some(PW.into()), ..NewStaff::default() })
        .await
        .unwrap();
    (services, clock, store, dir)
}

fn login(user: &str, password: &str, refresh: bool) -> LoginRequest {
    LoginRequest {
        user: user.into(),
        password: password.into(),
        device_id: None,
        device_name: None,
        ip: None,
        refresh_token: refresh,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn access_tokens_expire_and_refresh_once() {
    let (s, clock, _, _dir) = setup(Security { access_token_minutes: 5, ..Security::default() }).await;
    let out = s.sessions.login(login("ada", PW, true)).await.unwrap();
    assert_eq!(out.expires_in_ms, Some(300_000));
    let refresh = out.refresh_token.clone().unwrap();
    assert!(s.sessions.authenticate(&out.access_token, None).await.is_ok());
    clock.advance(Duration::from_secs(301));
    assert!(matches!(s.sessions.authenticate(&out.access_token, None).await, Err(ServiceError::TokenExpired)));
    let renewed = s.sessions.refresh(&refresh).await.unwrap();
    assert!(s.sessions.authenticate(&renewed.access_token, None).await.is_ok());
    assert_eq!(renewed.device_id, out.device_id, "same session, same device");
    assert!(
        matches!(s.sessions.refresh(&refresh).await, Err(ServiceError::UnknownToken)),
        "a refresh token works once"
    );
    assert!(matches!(s.sessions.authenticate(&out.access_token, None).await, Err(ServiceError::UnknownToken)));
    // Clients that did not ask for refresh tokens get tokens that last as long as the session.
    let plain = s.sessions.login(login("ada", PW, false)).await.unwrap();
    assert!(plain.refresh_token.is_none() && plain.expires_in_ms.is_none());
    clock.advance(Duration::from_secs(3600));
    assert!(s.sessions.authenticate(&plain.access_token, None).await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_sessions_and_old_sessions_end() {
    let security = Security { idle_timeout_minutes: 60, session_lifetime_hours: 24, ..Security::default() };
    let (s, clock, _, _dir) = setup(security).await;
    let idle = s.sessions.login(login("ada", PW, false)).await.unwrap();
    clock.advance(Duration::from_secs(59 * 60));
    assert!(s.sessions.authenticate(&idle.access_token, None).await.is_ok(), "59 minutes idle is fine");
    clock.advance(Duration::from_secs(61 * 60));
    assert!(matches!(s.sessions.authenticate(&idle.access_token, None).await, Err(ServiceError::UnknownToken)));
    assert!(s.sessions.devices(&idle.user_id).await.unwrap().iter().all(|d| d.device_id != idle.device_id));

    // Used every 30 minutes, a session still ends after its absolute lifetime.
    let busy = s.sessions.login(login("ada", PW, false)).await.unwrap();
    for _ in 0..47 {
        clock.advance(Duration::from_secs(30 * 60));
        assert!(s.sessions.authenticate(&busy.access_token, None).await.is_ok());
    }
    clock.advance(Duration::from_secs(31 * 60));
    assert!(matches!(s.sessions.authenticate(&busy.access_token, None).await, Err(ServiceError::UnknownToken)));
}

#[tokio::test(flavor = "multi_thread")]
async fn lockout_after_failed_attempts_for_real_and_unknown_accounts() {
    let security = Security { lockout_threshold: 5, lockout_minutes: 15, ..Security::default() };
    let (s, clock, store, _dir) = setup(security).await;
    for user in ["ada", "nobody"] {
        for _ in 0..5 {
            assert!(matches!(
                s.sessions.login(login(user, "wrong guess here", false)).await,
                Err(ServiceError::InvalidCredentials)
            ));
        }
        match s.sessions.login(login(user, PW, false)).await {
            Err(ServiceError::RateLimited { retry_after_ms }) => assert!(retry_after_ms > 14 * 60 * 1000),
            other => panic!("{user}: expected a lockout, got {other:?}"),
        }
    }
    // Unknown users lock the same way (the answers above are the same: no enumeration), but
    // administrators are shown locks of accounts only: a name with no account may be a
    // password typed into the username field.
    let locked: Vec<String> = s.sessions.locked_accounts().iter().map(|l| l.user_id.to_string()).collect();
    assert_eq!(locked, vec!["@ada:localhost"]);
    assert!(s.sessions.unlock(ruma::user_id!("@ada:localhost")));
    assert!(s.sessions.login(login("ada", PW, false)).await.is_ok(), "an administrator unlocked it");
    clock.advance(Duration::from_secs(15 * 60 + 1));
    assert!(s.sessions.locked_accounts().is_empty(), "locks lapse");
    s.audit.flush().await.unwrap();
    let records = store.audit_records(1, 1000).await.unwrap();
    assert!(
        records.iter().any(|r| r.record.action == AuditAction::AccountLocked
            && r.record.target_user.as_deref() == Some("@ada:localhost"))
    );
    assert_eq!(records.iter().filter(|r| r.record.action == AuditAction::LoginFailed).count(), 12);
}

fn actor(user: &str) -> wardline_service::audit::Actor {
    wardline_service::audit::Actor { user_id: user.try_into().unwrap(), device_id: None, ip: None }
}

/// Sets up an authenticator app for `user` at the clock's time; returns the secret.
async fn enrol(s: &Services, clock: &ManualClock, user: &str) -> Vec<u8> {
    let e = s.mfa.begin(&actor(user), clock.now()).await.unwrap();
    let key = totp::base32_decode(&e.secret).unwrap();
    s.mfa.confirm(&actor(user), clock.now(), &totp::code(&key, totp::step_at(clock.now()))).await.unwrap();
    key
}

/// A code that is wrong now (none of the three steps the server accepts).
fn wrong_code(key: &[u8], clock: &ManualClock) -> String {
    let step = totp::step_at(clock.now());
    let valid: Vec<String> = [step - 1, step, step + 1].iter().map(|s| totp::code(key, *s)).collect();
    (0..10u32).map(|i| format!("{i:06}")).find(|c| !valid.contains(c)).unwrap()
}

async fn second_step(s: &Services, user: &str) -> String {
    match s.sessions.login(login(user, PW, false)).await {
        Err(ServiceError::MfaRequired { session }) => session,
        other => panic!("expected the second step, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_second_factor_cannot_be_brute_forced_with_a_known_password() {
    let security = Security { lockout_threshold: 10, lockout_minutes: 15, ..Security::default() };
    let (s, clock, _, _dir) = setup(security).await;
    let key = enrol(&s, &clock, "@ada:localhost").await;
    // Someone who knows the password alternates it with wrong codes, five per sign-in.
    let mut wrong_codes = 0;
    let mut locked_after = None;
    for round in 0..20 {
        let session = match s.sessions.login(login("ada", PW, false)).await {
            Err(ServiceError::MfaRequired { session }) => session,
            Err(ServiceError::RateLimited { retry_after_ms }) => {
                assert!(retry_after_ms > 14 * 60 * 1000);
                locked_after = Some(round);
                break;
            }
            other => panic!("round {round}: {other:?}"),
        };
        for _ in 0..5 {
            match s.sessions.login_second_factor(&session, SecondFactor::Totp, &wrong_code(&key, &clock), None).await {
                Err(ServiceError::WrongSecondFactor) => wrong_codes += 1,
                Err(ServiceError::RateLimited { .. } | ServiceError::Forbidden(_)) => break,
                other => panic!("{other:?}"),
            }
        }
        // Thirty seconds between sign-ins refill the per-account rate limit (which codes count
        // against too) by the six attempts of a round, so the lockout is what stops them.
        clock.advance(Duration::from_secs(30));
    }
    assert_eq!(locked_after, Some(2), "locked once ten wrong codes were tried");
    assert_eq!(wrong_codes, 10, "the lockout threshold bounds the codes tried");
    assert_eq!(s.sessions.locked_accounts().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lockout_ends_sign_ins_waiting_for_their_second_factor() {
    let security = Security { lockout_threshold: 3, lockout_minutes: 15, ..Security::default() };
    let (s, clock, _, _dir) = setup(security).await;
    let key = enrol(&s, &clock, "@ada:localhost").await;
    clock.advance(Duration::from_secs(90));
    // Ada's own sign-in waits for her code while someone locks the account with wrong passwords.
    let waiting = second_step(&s, "ada").await;
    for _ in 0..3 {
        let _ = s.sessions.login(login("ada", "not the password at all", false)).await;
    }
    let good = totp::code(&key, totp::step_at(clock.now()));
    let r = s.sessions.login_second_factor(&waiting, SecondFactor::Totp, &good, None).await;
    assert!(r.is_err(), "a locked account finishes no sign-in: {r:?}");
    // After the lock, the sign-in starts again and works; then the count starts from zero.
    clock.advance(Duration::from_secs(15 * 60 + 1));
    let again = second_step(&s, "ada").await;
    let good = totp::code(&key, totp::step_at(clock.now()));
    assert!(s.sessions.login_second_factor(&again, SecondFactor::Totp, &good, None).await.is_ok());
    for _ in 0..2 {
        let _ = s.sessions.login(login("ada", "not the password at all", false)).await;
    }
    assert!(s.sessions.locked_accounts().is_empty(), "a completed sign-in reset the count");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_right_password_alone_does_not_reset_the_count() {
    let security = Security { lockout_threshold: 3, lockout_minutes: 15, ..Security::default() };
    let (s, clock, _, _dir) = setup(security).await;
    let key = enrol(&s, &clock, "@ada:localhost").await;
    for _ in 0..2 {
        let _ = s.sessions.login(login("ada", "not the password at all", false)).await;
    }
    let session = second_step(&s, "ada").await;
    let r = s.sessions.login_second_factor(&session, SecondFactor::Totp, &wrong_code(&key, &clock), None).await;
    assert!(matches!(r, Err(ServiceError::WrongSecondFactor)), "{r:?}");
    assert_eq!(s.sessions.locked_accounts().len(), 1, "two wrong passwords and a wrong code make three");
}

/// Services with `config` and staff `nurse0` to `nurse{n-1}`.
async fn with_config(n: usize, config: Config) -> (Services, Arc<ManualClock>, Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db"), Durability::Normal).unwrap());
    let clock = Arc::new(ManualClock::new(Timestamp(1_800_000_000_000)));
    let s = Services::new(config, Arc::clone(&store), clock.clone()).unwrap();
    tokio::spawn(s.audit.clone().run_writer());
    for i in 0..n {
        let staff = NewStaff { username: format!("nurse{i}"), password: Some(PW.into()), ..NewStaff::default() };
        s.accounts.create(staff).await.unwrap();
    }
    (s, clock, store, dir)
}

/// Services whose global budget of failed sign-ins is ten, with staff `nurse0` to `nurse{n-1}`.
async fn small_failure_budget(
    n: usize,
    security: Security,
) -> (Services, Arc<ManualClock>, Arc<dyn Store>, tempfile::TempDir) {
    let mut config = Config { security, ..Config::default() };
    config.rate_limits.failed_logins = wardline_service::config::Bucket { per_second: 0.1, burst: 10 };
    with_config(n, config).await
}

fn login_from(user: &str, password: &str, ip: [u8; 4]) -> LoginRequest {
    LoginRequest { ip: Some(std::net::IpAddr::from(ip)), ..login(user, password, false) }
}

/// Spends the global budget: one wrong password per account, each from its own address.
/// Returns the attempt that was refused.
async fn spray(s: &Services, accounts: u8) -> Option<u8> {
    for i in 0..accounts {
        match s.sessions.login(login_from(&format!("nurse{i}"), "Spring2026!Spring", [10, 0, 0, i])).await {
            Err(ServiceError::InvalidCredentials) => {}
            Err(ServiceError::RateLimited { .. }) => return Some(i),
            other => panic!("{other:?}"),
        }
    }
    None
}

/// Second-factor codes checked so far: each one checked, right or wrong, is recorded.
async fn codes_checked(s: &Services, store: &Arc<dyn Store>) -> usize {
    s.audit.flush().await.unwrap();
    let records = store.audit_records(1, 10_000).await.unwrap();
    let checked = |r: &&wardline_types::audit::AuditRecord| {
        r.record.action == AuditAction::LoginMfa && matches!(r.record.detail.as_deref(), Some("Totp" | "RecoveryCode"))
    };
    records.iter().filter(checked).count()
}

/// Sends `each` wrong codes to every one of `sessions`, all at once, on many threads: codes
/// from the app and recovery codes in turn (checking a recovery code waits for the store).
async fn codes_at_once(s: &Services, sessions: &[String], each: usize, totp: &str) -> Vec<ServiceError> {
    let mut set = tokio::task::JoinSet::new();
    for session in sessions {
        for i in 0..each {
            let (service, session) = (Arc::clone(&s.sessions), session.clone());
            let (kind, code) = if i % 2 == 0 {
                (SecondFactor::RecoveryCode, "wrong-recovery-code".to_owned())
            } else {
                (SecondFactor::Totp, totp.to_owned())
            };
            set.spawn(async move { service.login_second_factor(&session, kind, &code, None).await });
        }
    }
    set.join_all().await.into_iter().map(|r| r.expect_err("every code is wrong")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_codes_for_one_sign_in_are_checked_five_at_most() {
    let security = Security { lockout_threshold: 100, lockout_minutes: 15, ..Security::default() };
    let (s, clock, store, _dir) = setup(security).await;
    let key = enrol(&s, &clock, "@ada:localhost").await;
    let session = second_step(&s, "ada").await;
    let before = codes_checked(&s, &store).await;
    let errors = codes_at_once(&s, std::slice::from_ref(&session), 20, &wrong_code(&key, &clock)).await;
    assert_eq!(codes_checked(&s, &store).await - before, 5, "five codes per sign-in, however they arrive");
    assert_eq!(errors.iter().filter(|e| matches!(e, ServiceError::WrongSecondFactor)).count(), 5);
    assert!(
        errors.iter().all(|e| matches!(
            e,
            ServiceError::WrongSecondFactor | ServiceError::RateLimited { .. } | ServiceError::Forbidden(_)
        )),
        "the others were refused unchecked: {errors:?}"
    );
    let good = totp::code(&key, totp::step_at(clock.now()));
    assert!(s.sessions.login_second_factor(&session, SecondFactor::Totp, &good, None).await.is_err(), "it ended");
}

#[tokio::test(flavor = "multi_thread")]
async fn second_factor_codes_count_against_the_account_rate_limit() {
    let security = Security { lockout_threshold: 100, lockout_minutes: 15, ..Security::default() };
    let (s, clock, _, _dir) = setup(security).await;
    let key = enrol(&s, &clock, "@ada:localhost").await;
    // Three sign-ins would allow fifteen codes; the account's limit is ten attempts at once,
    // three of them the passwords.
    let sessions = [second_step(&s, "ada").await, second_step(&s, "ada").await, second_step(&s, "ada").await];
    let wrong = wrong_code(&key, &clock);
    for i in 0..7 {
        let r = s.sessions.login_second_factor(&sessions[i % 3], SecondFactor::Totp, &wrong, None).await;
        assert!(matches!(r, Err(ServiceError::WrongSecondFactor)), "code {i}: {r:?}");
    }
    let r = s.sessions.login_second_factor(&sessions[1], SecondFactor::Totp, &wrong, None).await;
    assert!(matches!(r, Err(ServiceError::RateLimited { .. })), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_codes_across_sign_ins_of_one_account_stop_at_the_lockout() {
    let mut config = Config {
        security: Security { lockout_threshold: 7, lockout_minutes: 15, ..Security::default() },
        ..Config::default()
    };
    // Only the lockout limits here.
    config.rate_limits.login = wardline_service::config::Bucket { per_second: 1.0, burst: 1000 };
    let (s, clock, store, _dir) = with_config(0, config).await;
    s.accounts
        .create(NewStaff { username: "ada".into(), password: Some(PW.into()), ..NewStaff::default() })
        .await
        .unwrap();
    let key = enrol(&s, &clock, "@ada:localhost").await;
    let mut sessions = Vec::new();
    for _ in 0..4 {
        sessions.push(second_step(&s, "ada").await);
    }
    let before = codes_checked(&s, &store).await;
    let errors = codes_at_once(&s, &sessions, 5, &wrong_code(&key, &clock)).await;
    assert_eq!(codes_checked(&s, &store).await - before, 7, "no code is checked once the account is locked");
    assert_eq!(errors.iter().filter(|e| matches!(e, ServiceError::WrongSecondFactor)).count(), 7);
    let locks = s.sessions.locked_accounts();
    assert_eq!(locks.len(), 1);
    assert_eq!(locks[0].failures, 7, "seven failures counted, no more");
    let good = totp::code(&key, totp::step_at(clock.now()));
    for session in &sessions {
        let r = s.sessions.login_second_factor(session, SecondFactor::Totp, &good, None).await;
        assert!(r.is_err(), "the lock ended every waiting sign-in: {r:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_sign_ins_are_limited_across_accounts_and_addresses() {
    let (s, clock, _, _dir) = small_failure_budget(12, Security::default()).await;
    // nurse11 signed in on the ward's workstation before the attack.
    let ward = [192, 168, 7, 11];
    s.sessions.login(login_from("nurse11", PW, ward)).await.unwrap();
    assert_eq!(spray(&s, 12).await, Some(10), "the global budget of failed sign-ins ran out");
    assert!(
        matches!(s.sessions.login(login("nurse11", PW, false)).await, Err(ServiceError::RateLimited { .. })),
        "while it is empty, a sign-in from no known address waits"
    );
    assert!(
        matches!(
            s.sessions.login(login_from("nurse11", PW, [192, 168, 7, 12])).await,
            Err(ServiceError::RateLimited { .. })
        ),
        "even with the right password, from an address the account was never seen from"
    );
    assert!(
        s.sessions.login(login_from("nurse11", PW, ward)).await.is_ok(),
        "but not from where the account was seen before"
    );
    clock.advance(Duration::from_secs(10));
    assert!(s.sessions.login(login("nurse11", PW, false)).await.is_ok(), "and it refills with time");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spent_failure_budget_still_lets_staff_in_from_where_they_were_seen() {
    let security = Security { lockout_threshold: 3, lockout_minutes: 15, ..Security::default() };
    let (s, clock, store, _dir) = small_failure_budget(3, security).await;
    s.accounts
        .create(NewStaff { username: "ada".into(), password: Some(PW.into()), ..NewStaff::default() })
        .await
        .unwrap();
    let key = enrol(&s, &clock, "@ada:localhost").await;
    clock.advance(Duration::from_secs(90));
    let ward = [192, 168, 7, 1];
    let theatre = [192, 168, 9, 1];
    // nurse0 signed in on the ward; nurse1's session on the ward moved to theatre (the device
    // store keeps where a device was last seen); Ada is halfway through signing in.
    s.sessions.login(login_from("nurse0", PW, ward)).await.unwrap();
    let moved = s.sessions.login(login_from("nurse1", PW, ward)).await.unwrap();
    s.sessions.authenticate(&moved.access_token, Some(std::net::IpAddr::from(theatre))).await.unwrap();
    let waiting = match s.sessions.login(login_from("ada", PW, ward)).await {
        Err(ServiceError::MfaRequired { session }) => session,
        other => panic!("{other:?}"),
    };
    // Failures from a hundred addresses spend the budget.
    for i in 0..100u8 {
        let _ = s.sessions.login(login_from(&format!("ghost{i}"), "Spring2026!Spring", [10, 1, 0, i])).await;
    }
    let spent = |r: &Result<_, ServiceError>| matches!(r, Err(ServiceError::RateLimited { .. }));
    assert!(spent(&s.sessions.login(login_from("nurse2", PW, ward)).await), "nurse2 was never seen anywhere");
    assert!(spent(&s.sessions.login(login_from("nurse0", PW, [10, 9, 9, 9])).await), "a new address waits");
    assert!(spent(&s.sessions.login(login_from("nobody", PW, ward)).await), "names without an account wait");
    assert!(spent(&s.sessions.login(login_from("nurse1", PW, ward)).await), "nurse1's device is now in theatre");
    assert!(s.sessions.login(login_from("nurse1", PW, theatre)).await.is_ok(), "where nurse1 was last seen");
    assert!(s.sessions.login(login_from("nurse0", PW, ward)).await.is_ok(), "nurse0 on the ward signs in");
    // A sign-in whose password step passed finishes its second factor.
    let good = totp::code(&key, totp::step_at(clock.now()));
    let done = s.sessions.login_second_factor(&waiting, SecondFactor::Totp, &good, None).await;
    assert!(done.is_ok(), "the second factor is not held up by the global budget: {done:?}");
    // From a known address the account's own limits still hold: wrong passwords lock it.
    clock.advance(Duration::from_secs(5));
    for _ in 0..3 {
        let r = s.sessions.login(login_from("nurse0", "still guessing here", ward)).await;
        assert!(matches!(r, Err(ServiceError::InvalidCredentials)), "{r:?}");
    }
    assert!(spent(&s.sessions.login(login_from("nurse0", PW, ward)).await), "locked");
    assert_eq!(s.sessions.locked_accounts().len(), 1);
    s.audit.flush().await.unwrap();
    let records = store.audit_records(1, 10_000).await.unwrap();
    assert!(
        records.iter().any(|r| r.record.action == AuditAction::LoginFailed
            && r.record.detail.as_deref() == Some("reason=rate limited"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn names_without_an_account_are_recorded_only_as_keyed_digests() {
    let security = Security { lockout_threshold: 3, ..Security::default() };
    let (s, _clock, store, _dir) = setup(security).await;
    // A password typed into the username field, three times: refused, then locked.
    let typed = "Tr0ub4dor-and-3";
    for _ in 0..4 {
        let _ = s.sessions.login(login(typed, "whatever", false)).await;
    }
    let _ = s.sessions.login(login("ada", "wrong password here", false)).await;
    s.audit.flush().await.unwrap();
    let records = store.audit_records(1, 1000).await.unwrap();
    let failed: Vec<&str> = records
        .iter()
        .filter(|r| matches!(r.record.action, AuditAction::LoginFailed | AuditAction::AccountLocked))
        .filter_map(|r| r.record.target_user.as_deref())
        .collect();
    assert_eq!(failed.len(), 6, "{failed:?}");
    for r in &records {
        let all = format!("{:?}", r.record).to_lowercase();
        assert!(!all.contains("tr0ub4dor"), "the typed name is not in the trail: {all}");
    }
    let digests: Vec<&&str> = failed.iter().filter(|t| t.starts_with("unknown:")).collect();
    assert_eq!(digests.len(), 5, "four failures and a lock, under one digest");
    assert!(digests.iter().all(|d| d == &digests[0]), "one name, one digest, so attempts can be correlated");
    assert!(failed.contains(&"@ada:localhost"), "an existing account is named");
    assert!(s.sessions.locked_accounts().is_empty(), "administrators see locks of accounts only");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deactivated_account_is_told_so_only_after_the_right_password() {
    let (s, _clock, _, _dir) = setup(Security::default()).await;
    let session = s.sessions.login(login("ada", PW, false)).await.unwrap();
    let ada: ruma::OwnedUserId = "@ada:localhost".try_into().unwrap();
    s.deactivate_account(wardline_service::audit::By::Server, &ada).await.unwrap();
    assert!(
        matches!(
            s.sessions.authenticate(&session.access_token, None).await,
            Err(ServiceError::SessionEndedDeactivated)
        ),
        "the ended session says why"
    );
    assert!(matches!(s.sessions.authenticate("wl_never_issued", None).await, Err(ServiceError::UnknownToken)));
    assert!(matches!(s.sessions.login(login("ada", PW, false)).await, Err(ServiceError::Deactivated)));
    assert!(
        matches!(
            s.sessions.login(login("ada", "a wrong password", false)).await,
            Err(ServiceError::InvalidCredentials)
        ),
        "without the password, nothing is revealed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_of_unknown_tokens_are_recorded_a_bounded_number_of_times_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db"), Durability::Normal).unwrap());
    let clock = Arc::new(ManualClock::new(Timestamp(1_800_000_000_000)));
    let mut config = Config::default();
    config.rate_limits.unknown_tokens = wardline_service::config::Bucket { per_second: 0.1, burst: 5 };
    let s = Services::new(config, Arc::clone(&store), clock.clone()).unwrap();
    let flooder = Some(std::net::IpAddr::from([10, 0, 0, 1]));
    let recorded = (0..1000).filter(|_| s.sessions.audit_unknown_token(flooder)).count();
    assert_eq!(recorded, 5, "a flood of made-up tokens from one address leaves the burst, no more");
    assert!(s.sessions.audit_unknown_token(Some(std::net::IpAddr::from([10, 0, 0, 2]))), "addresses are separate");
    clock.advance(Duration::from_secs(10));
    assert!(s.sessions.audit_unknown_token(flooder), "and it refills with time");
    assert!(!s.sessions.audit_unknown_token(flooder));
}

/// While the audit trail cannot be written, actions with effects do not happen: their record's
/// place is taken before they act. A password change leaves the old password and the other
/// sessions as they were; a sign-out leaves the session open.
#[tokio::test(flavor = "multi_thread")]
async fn nothing_changes_unrecorded_while_the_trail_cannot_be_written() {
    let (s, _clock, _store, dir) = setup(Security::default()).await;
    let phone = s.sessions.login(login("ada", PW, false)).await.unwrap();
    let desk = s.sessions.login(login("ada", PW, false)).await.unwrap();
    let caller = s.sessions.authenticate(&desk.access_token, None).await.unwrap();
    // The disk refuses audit records from now on.
    let conn = rusqlite::Connection::open(dir.path().join("db")).unwrap();
    conn.execute_batch("CREATE TRIGGER refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'disk full'); END;")
        .unwrap();
    let mut r = s.audit.entry(None, wardline_types::audit::AuditAction::Admin, wardline_types::audit::Outcome::Success);
    r.detail = Some("probe".into());
    s.audit.record(r).unwrap();
    assert!(matches!(s.audit.flush().await, Err(ServiceError::AuditUnavailable { .. })));

    let changed = s.sessions.change_password(&caller, "a brand new passphrase for the ward", true).await;
    assert!(matches!(changed, Err(ServiceError::AuditUnavailable { .. })), "{changed:?}");
    let logged_out = s.sessions.logout(&caller).await;
    assert!(matches!(logged_out, Err(ServiceError::AuditUnavailable { .. })), "{logged_out:?}");

    conn.execute_batch("DROP TRIGGER refuse").unwrap();
    for _ in 0..5 {
        if s.audit.flush().await.is_ok() {
            break;
        }
    }
    s.audit.flush().await.unwrap();
    // The old password still signs in, and both sessions are still open.
    assert!(s.sessions.login(login("ada", PW, false)).await.is_ok());
    assert!(s.sessions.authenticate(&phone.access_token, None).await.is_ok());
    assert!(s.sessions.authenticate(&desk.access_token, None).await.is_ok());
}

/// A session that signed in a while ago (stolen, say) cannot put an authenticator app on an
/// account that has none: setting one up is for a fresh sign-in.
#[tokio::test(flavor = "multi_thread")]
async fn only_a_fresh_sign_in_sets_up_a_second_factor() {
    let (s, clock, _store, _dir) = setup(Security::default()).await;
    let out = s.sessions.login(login("ada", PW, false)).await.unwrap();
    let caller = s.sessions.authenticate(&out.access_token, None).await.unwrap();
    clock.advance(std::time::Duration::from_secs(11 * 60));
    let caller = s.sessions.authenticate(&out.access_token, None).await.unwrap_or(caller);
    let late = s.mfa.begin(&caller.actor(), caller.signed_in_at).await;
    assert!(matches!(late, Err(ServiceError::Forbidden(_))), "{late:?}");
    let late = s.mfa.confirm(&caller.actor(), caller.signed_in_at, "123456").await;
    assert!(matches!(late, Err(ServiceError::Forbidden(_))), "{late:?}");
    assert!(!s.mfa.enrolled(&caller.user_id).await.unwrap());
    // Signing in again allows it.
    let fresh = s.sessions.login(login("ada", PW, false)).await.unwrap();
    let caller = s.sessions.authenticate(&fresh.access_token, None).await.unwrap();
    assert!(s.mfa.begin(&caller.actor(), caller.signed_in_at).await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_old_account_with_the_servers_own_name_can_neither_sign_in_nor_act() {
    let (s, clock, store, _dir) = setup(Security::default()).await;
    // A database from before `wardline` was reserved may hold such an account, with a session.
    let ada: ruma::OwnedUserId = "@ada:localhost".try_into().unwrap();
    let hash = store.password_hash(&ada).await.unwrap().unwrap();
    let me: ruma::OwnedUserId = "@wardline:localhost".try_into().unwrap();
    let account = wardline_types::NewAccount {
        user_id: me.clone(),
        password_hash: hash,
        display_name: None,
        is_admin: false,
        must_change_password: false,
        job_title: None,
        department: None,
        email: None,
        phone: None,
    };
    store.create_account(account, clock.now()).await.unwrap();
    let refused = s.sessions.login(login("wardline", PW, false)).await;
    assert!(matches!(refused, Err(ServiceError::InvalidCredentials)), "{refused:?}");
    store
        .create_session(wardline_store::NewSession {
            user_id: me,
            device_id: "OLD".into(),
            device_name: None,
            token_hash: wardline_service::sessions::hash_token("old-token"),
            refresh_hash: Some(wardline_service::sessions::hash_token("old-refresh")),
            expires_at: None,
            created_at: clock.now(),
            ip: None,
        })
        .await
        .unwrap();
    let refused = s.sessions.authenticate("old-token", None).await;
    assert!(matches!(refused, Err(ServiceError::UnknownToken)), "{refused:?}");
    let refused = s.sessions.refresh("old-refresh").await;
    assert!(matches!(refused, Err(ServiceError::UnknownToken)), "nor refreshed: {refused:?}");
    // (The same password still signs Ada in: the refusal is the name's.)
    assert!(s.sessions.login(login("ada", PW, false)).await.is_ok());
}
