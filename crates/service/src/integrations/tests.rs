//! Integration accounts with the manual clock: a key works only as made, for the scopes given,
//! until it or its integration is revoked or it expires; every use and refusal is recorded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use wardline_store::{NewIntegration, Store};
use wardline_store_sqlite::{Durability, SqliteStore};
use wardline_types::audit::{AuditAction, AuditRecord, Outcome};
use wardline_types::integration::{IntegrationId, IntegrationScope};
use wardline_types::{ManualClock, Timestamp};

use crate::audit::By;
use crate::{Config, ServiceError, Services};

const T0: Timestamp = Timestamp(1_800_000_000_000);

pub(crate) fn nurse_call() -> NewIntegration {
    NewIntegration {
        id: IntegrationId::parse("nursecall").unwrap(),
        name: " Nurse call, main site ".into(),
        kind: "nurse call".into(),
        scopes: vec![IntegrationScope::AlarmsWrite, IntegrationScope::AlarmsWrite],
        allowed_kinds: vec![],
    }
}

pub(crate) struct Fixture {
    pub s: Services,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

pub(crate) fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db"), Durability::Normal).unwrap());
    let clock = Arc::new(ManualClock::new(T0));
    let config = Config { data_dir: dir.path().to_owned(), ..Config::default() };
    let s = Services::new(config, Arc::clone(&store), clock.clone()).unwrap();
    tokio::spawn(s.audit.clone().run_writer());
    Fixture { s, store, clock, _dir: dir }
}

pub(crate) async fn records(f: &Fixture) -> Vec<AuditRecord> {
    f.s.audit.flush().await.unwrap();
    f.store.audit_records(1, 10_000).await.unwrap()
}

#[tokio::test]
async fn a_key_works_as_made_for_its_scopes_until_revoked_and_every_use_is_recorded() {
    let f = fixture();
    let made = f.s.integrations.create(By::Server, nurse_call()).await.unwrap();
    assert_eq!(
        (made.name.as_str(), made.scopes.as_slice()),
        ("Nurse call, main site", &[IntegrationScope::AlarmsWrite][..])
    );
    let id = made.id.clone();
    let k = f.s.integrations.add_key(By::Server, &id, Some("primary".into()), None).await.unwrap();
    let stored = f.store.integration_key(&k.key.key_id).await.unwrap().unwrap().0;
    // `wlk_` and the 12-character key id and `_`, then the secret (which may itself hold `_`).
    let secret = &k.secret_key[17..];
    assert_eq!(secret.len(), 43);
    assert_eq!(stored.secret_sha256, super::keys::secret_hash(secret));

    let ip = Some("10.1.2.3".parse().unwrap());
    let caller =
        f.s.integrations
            .authenticate(&k.secret_key, Some(IntegrationScope::AlarmsWrite), ip, "alarms.create")
            .await
            .unwrap();
    assert_eq!(caller.user_id.as_str(), "@integration.nursecall:localhost");
    assert_eq!(caller.key_id, k.key.key_id);
    // The key's last use is kept (to the minute).
    let used = f.store.integration_key(&k.key.key_id).await.unwrap().unwrap().0.last_used;
    assert_eq!(used, Some(T0));

    // A scope it was not given: 403.
    let e = f.s.integrations.authenticate(&k.secret_key, Some(IntegrationScope::AlarmsRead), ip, "alarms.get").await;
    assert!(matches!(e, Err(ServiceError::Forbidden(ref m)) if m.contains("alarms.read")), "{e:?}");
    // A wrong secret, a made-up key, an access token: unknown.
    let wrong = format!("wlk_{}_{}", k.key.key_id, "A".repeat(43));
    for bad in [wrong.as_str(), "wlk_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "wl_abc"] {
        let e = f.s.integrations.authenticate(bad, Some(IntegrationScope::AlarmsWrite), ip, "alarms.create").await;
        assert!(matches!(e, Err(ServiceError::UnknownToken)), "{bad}: {e:?}");
    }
    // Revoked key: 401; a second key of the same integration still works.
    let k2 = f.s.integrations.add_key(By::Server, &id, None, None).await.unwrap();
    f.s.integrations.revoke_key(By::Server, &id, &k.key.key_id).await.unwrap();
    let e =
        f.s.integrations.authenticate(&k.secret_key, Some(IntegrationScope::AlarmsWrite), ip, "alarms.create").await;
    assert!(matches!(e, Err(ServiceError::UnknownToken)), "{e:?}");
    f.s.integrations
        .authenticate(&k2.secret_key, Some(IntegrationScope::AlarmsWrite), ip, "alarms.create")
        .await
        .unwrap();
    // An expired key: 401.
    let k3 = f.s.integrations.add_key(By::Server, &id, None, Some(T0.plus(Duration::from_secs(60)))).await.unwrap();
    f.s.integrations.authenticate(&k3.secret_key, Some(IntegrationScope::AlarmsWrite), ip, "x").await.unwrap();
    f.clock.advance(Duration::from_secs(61));
    let e = f.s.integrations.authenticate(&k3.secret_key, Some(IntegrationScope::AlarmsWrite), ip, "x").await;
    assert!(matches!(e, Err(ServiceError::UnknownToken)), "{e:?}");
    // The integration revoked: 403 for every key, and no new key.
    f.s.integrations.revoke(By::Server, &id).await.unwrap();
    let e =
        f.s.integrations.authenticate(&k2.secret_key, Some(IntegrationScope::AlarmsWrite), ip, "alarms.create").await;
    assert!(matches!(e, Err(ServiceError::Forbidden(ref m)) if m.contains("revoked")), "{e:?}");
    let e = f.s.integrations.add_key(By::Server, &id, None, None).await;
    assert!(matches!(e, Err(ServiceError::IntegrationConflict(_))), "{e:?}");
    let e = f.s.integrations.create(By::Server, nurse_call()).await;
    assert!(matches!(e, Err(ServiceError::IntegrationConflict(_))), "an id is never reused: {e:?}");

    let all = records(&f).await;
    let uses: Vec<(Outcome, String)> = all
        .iter()
        .filter(|r| r.record.action == AuditAction::IntegrationUse)
        .map(|r| (r.record.outcome, r.record.detail.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        uses,
        [
            (Outcome::Success, "endpoint=alarms.create scope=alarms.write".to_owned()),
            (
                Outcome::Denied,
                "endpoint=alarms.get reason=the integration may not do this: it needs the scope alarms.read".to_owned()
            ),
            (Outcome::Denied, "endpoint=alarms.create reason=the key has been revoked".to_owned()),
            (Outcome::Success, "endpoint=alarms.create scope=alarms.write".to_owned()),
            (Outcome::Success, "endpoint=x scope=alarms.write".to_owned()),
            (Outcome::Denied, "endpoint=x reason=the key has expired".to_owned()),
            (Outcome::Denied, "endpoint=alarms.create reason=the integration nursecall has been revoked".to_owned()),
        ]
    );
    let first = all.iter().find(|r| r.record.action == AuditAction::IntegrationUse).unwrap();
    assert_eq!(first.record.actor.as_deref(), Some("@integration.nursecall:localhost"));
    assert_eq!(first.record.device.as_deref(), Some(k.key.key_id.as_str()));
    assert_eq!(first.record.ip.as_deref(), Some("10.1.2.3"));
    let refused: Vec<_> = all.iter().filter(|r| r.record.action == AuditAction::RequestRefused).collect();
    assert_eq!(refused.len(), 3, "each unknown key once (within the per-address limit)");
    // A real key id with a wrong secret names the key it tried, as the target.
    let tried = refused.first().unwrap();
    assert_eq!(tried.record.target_user.as_deref(), Some("@integration.nursecall:localhost"));
    assert!(tried.record.detail.as_deref().unwrap().contains(&format!("key={}", k.key.key_id)), "{tried:?}");
    assert!(tried.record.actor.is_none(), "nobody is identified by a wrong secret");
    assert!(!all.iter().any(|r| format!("{r:?}").contains(&k.secret_key)), "never a key in the trail");
    let admin: Vec<String> =
        all.iter().filter(|r| r.record.action == AuditAction::Admin).filter_map(|r| r.record.detail.clone()).collect();
    assert!(
        admin.iter().any(|d| d.starts_with("integration-create integration=nursecall scopes=alarms.write")),
        "{admin:?}"
    );
    assert!(admin.iter().any(|d| d.starts_with("integration-revoke integration=nursecall")), "{admin:?}");
    assert!(
        admin
            .iter()
            .any(|d| d.starts_with(&format!("integration-key-revoke integration=nursecall key={}", k.key.key_id)))
    );
}

#[tokio::test]
async fn new_integrations_are_checked() {
    let f = fixture();
    for (bad, what) in [
        (NewIntegration { name: " ".into(), ..nurse_call() }, "name"),
        (NewIntegration { kind: "x".repeat(65), ..nurse_call() }, "kind"),
        (NewIntegration { scopes: vec![], ..nurse_call() }, "scopes"),
    ] {
        let e = f.s.integrations.create(By::Server, bad).await;
        assert!(matches!(e, Err(ServiceError::InvalidParam(ref m)) if m.contains(what)), "{what}: {e:?}");
    }
    let ghost = IntegrationId::parse("ghost").unwrap();
    assert!(matches!(f.s.integrations.add_key(By::Server, &ghost, None, None).await, Err(ServiceError::NotFound(_))));
    assert!(matches!(f.s.integrations.revoke(By::Server, &ghost).await, Err(ServiceError::NotFound(_))));
    f.s.integrations.create(By::Server, nurse_call()).await.unwrap();
    let id = nurse_call().id;
    let e = f.s.integrations.add_key(By::Server, &id, None, Some(T0)).await;
    assert!(matches!(e, Err(ServiceError::InvalidParam(_))), "an expiry in the past: {e:?}");
    let e = f.s.integrations.revoke_key(By::Server, &id, "zzzzzzzzzzzz").await;
    assert!(matches!(e, Err(ServiceError::NotFound(_))), "{e:?}");
}

#[tokio::test]
async fn a_refused_system_retrying_for_ever_cannot_fill_the_trail() {
    let f = fixture();
    f.s.integrations.create(By::Server, nurse_call()).await.unwrap();
    let id = nurse_call().id;
    let k = f.s.integrations.add_key(By::Server, &id, None, None).await.unwrap();
    f.s.integrations.revoke(By::Server, &id).await.unwrap();
    for _ in 0..200 {
        let e = f.s.integrations.authenticate(&k.secret_key, Some(IntegrationScope::AlarmsWrite), None, "x").await;
        assert!(matches!(e, Err(ServiceError::Forbidden(_))), "refused every time: {e:?}");
    }
    let denied = |all: &[AuditRecord]| {
        all.iter()
            .filter(|r| r.record.action == AuditAction::IntegrationUse && r.record.outcome == Outcome::Denied)
            .count()
    };
    let burst = usize::try_from(f.s.config.rate_limits.unknown_tokens.burst).unwrap();
    assert_eq!(denied(&records(&f).await), burst, "recorded up to the allowance, then not");
    // The allowance comes back with time: a system still failing an hour later is recorded again.
    f.clock.advance(Duration::from_secs(3600));
    let e = f.s.integrations.authenticate(&k.secret_key, Some(IntegrationScope::AlarmsWrite), None, "x").await;
    assert!(e.is_err());
    assert_eq!(denied(&records(&f).await), burst + 1);
}

#[tokio::test]
async fn an_integration_never_takes_the_identity_of_an_existing_account() {
    let f = fixture();
    let account = wardline_types::NewAccount {
        user_id: ruma::user_id!("@integration.nursecall:localhost").to_owned(),
        password_hash: "not a password".into(),
        display_name: None,
        is_admin: false,
        must_change_password: false,
        job_title: None,
        department: None,
        email: None,
        phone: None,
    };
    f.store.create_account(account, T0).await.unwrap();
    let e = f.s.integrations.create(By::Server, nurse_call()).await;
    assert!(
        matches!(e, Err(ServiceError::IntegrationConflict(ref m)) if m.contains("@integration.nursecall")),
        "{e:?}"
    );
    assert!(f.s.integrations.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn reading_alarms_back_never_uses_up_what_raising_them_needs() {
    let f = fixture();
    let both =
        NewIntegration { scopes: vec![IntegrationScope::AlarmsWrite, IntegrationScope::AlarmsRead], ..nurse_call() };
    f.s.integrations.create(By::Server, both).await.unwrap();
    let k = f.s.integrations.add_key(By::Server, &nurse_call().id, None, None).await.unwrap();
    let read = Some(IntegrationScope::AlarmsRead);
    let mut limited = false;
    for _ in 0..=f.s.config.rate_limits.integrations.burst {
        if let Err(e) = f.s.integrations.authenticate(&k.secret_key, read, None, "alarms.get").await {
            assert!(matches!(e, ServiceError::RateLimited { .. }), "{e:?}");
            limited = true;
        }
    }
    assert!(limited, "reads are limited");
    f.s.integrations
        .authenticate(&k.secret_key, Some(IntegrationScope::AlarmsWrite), None, "alarms.create")
        .await
        .unwrap();
}
