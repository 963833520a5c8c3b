//! Session lifetimes and lockouts with an injected clock, on a real SQLite store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use wardline_service::accounts::NewStaff;
use wardline_service::config::Security;
use wardline_service::sessions::LoginRequest;
use wardline_service::{Config, ServiceError, Services};
use wardline_store::Store;
use wardline_store_sqlite::{Durability, SqliteStore};
use wardline_types::audit::AuditAction;
use wardline_types::{ManualClock, Timestamp};

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
    let locked: Vec<String> = s.sessions.locked_accounts().iter().map(|l| l.user_id.to_string()).collect();
    assert_eq!(locked, vec!["@ada:localhost", "@nobody:localhost"], "unknown users lock the same way: no enumeration");
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
