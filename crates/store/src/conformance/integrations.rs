//! Conformance of integration accounts and their keys ([`crate::IntegrationStore`]).

use wardline_types::Timestamp;
use wardline_types::alarm::AlarmKind;
use wardline_types::integration::{IntegrationId, IntegrationScope};

use super::fail;
use crate::{IntegrationKey, NewIntegration, Store, StoreError, StoreResult};

fn key(id: &str, integration: &IntegrationId, at: u64) -> IntegrationKey {
    IntegrationKey {
        key_id: id.to_owned(),
        integration: integration.clone(),
        secret_sha256: vec![7; 32],
        label: "primary".into(),
        created: Timestamp(at),
        expires: None,
        revoked: None,
        last_used: None,
    }
}

async fn last_used(s: &impl Store, key_id: &str) -> StoreResult<Option<Timestamp>> {
    Ok(s.integration_key(key_id).await?.and_then(|(k, _)| k.last_used))
}

/// An id is taken once; keys are found with their integration; revoking the integration
/// revokes its keys in the same write and refuses new ones; a key's last use is written at most
/// once a minute.
pub(super) async fn integrations(s: &impl Store) -> StoreResult<()> {
    let nc = IntegrationId::parse("nursecall").map_err(|_| fail("id"))?;
    let new = NewIntegration {
        id: nc.clone(),
        name: "Nurse call, main site".into(),
        kind: "nurse call".into(),
        scopes: vec![IntegrationScope::AlarmsWrite, IntegrationScope::AlarmsRead],
        allowed_kinds: vec![AlarmKind::NurseCall, AlarmKind::StaffAssist],
    };
    let made = s.create_integration(new.clone(), "@boss:localhost", Timestamp(1_000)).await?;
    check!(made.active && made.version == 1 && made.revoked.is_none(), "created active");
    check!(made.scopes == new.scopes && made.allowed_kinds == new.allowed_kinds, "scopes and kinds kept in order");
    check!(made.created_by == "@boss:localhost" && made.created == Timestamp(1_000), "who and when");
    check!(
        matches!(s.create_integration(new.clone(), "x", Timestamp(2)).await, Err(StoreError::Conflict(_))),
        "an id is taken once"
    );
    check!(s.integration(&nc).await?.as_ref() == Some(&made), "read back");
    let fire = IntegrationId::parse("fire-panel").map_err(|_| fail("id"))?;
    s.create_integration(
        NewIntegration { id: fire.clone(), allowed_kinds: vec![], ..new.clone() },
        "via=cli",
        Timestamp(1_100),
    )
    .await?;
    let listed: Vec<_> = s.integrations().await?.into_iter().map(|i| i.id).collect();
    check!(listed == vec![fire.clone(), nc.clone()], "listed by id");

    s.add_integration_key(key("aaaaaaaaaaaa", &nc, 2_000)).await?;
    s.add_integration_key(key("bbbbbbbbbbbb", &nc, 3_000)).await?;
    s.add_integration_key(key("cccccccccccc", &fire, 3_000)).await?;
    check!(
        matches!(s.add_integration_key(key("aaaaaaaaaaaa", &fire, 4_000)).await, Err(StoreError::Conflict(_))),
        "a key id is taken once"
    );
    let ghost = IntegrationId::parse("ghost").map_err(|_| fail("id"))?;
    check!(
        matches!(s.add_integration_key(key("dddddddddddd", &ghost, 1)).await, Err(StoreError::NotFound)),
        "no key for a missing integration"
    );
    let (k, owner) = s.integration_key("aaaaaaaaaaaa").await?.ok_or_else(|| fail("key found"))?;
    check!(k == key("aaaaaaaaaaaa", &nc, 2_000) && owner.id == nc, "a key with its integration");
    check!(s.integration_key("zzzzzzzzzzzz").await?.is_none(), "no such key");
    let keys: Vec<_> = s.integration_keys(&nc).await?.into_iter().map(|k| k.key_id).collect();
    check!(keys == ["aaaaaaaaaaaa", "bbbbbbbbbbbb"], "an integration's keys, oldest first");

    s.touch_integration_key("aaaaaaaaaaaa", Timestamp(10_000)).await?;
    s.touch_integration_key("aaaaaaaaaaaa", Timestamp(30_000)).await?;
    check!(last_used(s, "aaaaaaaaaaaa").await? == Some(Timestamp(10_000)), "a use within the minute is not written");
    s.touch_integration_key("aaaaaaaaaaaa", Timestamp(70_000)).await?;
    check!(last_used(s, "aaaaaaaaaaaa").await? == Some(Timestamp(70_000)), "a minute later it is");

    check!(s.revoke_integration_key(&nc, "bbbbbbbbbbbb", Timestamp(5_000)).await?, "a key revoked");
    check!(!s.revoke_integration_key(&nc, "bbbbbbbbbbbb", Timestamp(6_000)).await?, "once");
    check!(
        matches!(s.revoke_integration_key(&nc, "cccccccccccc", Timestamp(6_000)).await, Err(StoreError::NotFound)),
        "only the integration's own keys"
    );
    let (b, _) = s.integration_key("bbbbbbbbbbbb").await?.ok_or_else(|| fail("revoked key kept"))?;
    check!(b.revoked == Some(Timestamp(5_000)), "the first revocation's time kept");

    check!(s.revoke_integration(&nc, "@boss:localhost", Timestamp(8_000)).await?, "integration revoked");
    check!(!s.revoke_integration(&nc, "@boss:localhost", Timestamp(9_000)).await?, "once");
    check!(
        matches!(s.revoke_integration(&ghost, "x", Timestamp(9_000)).await, Err(StoreError::NotFound)),
        "no such integration"
    );
    let gone = s.integration(&nc).await?.ok_or_else(|| fail("revoked integration kept"))?;
    check!(!gone.active && gone.revoked == Some(Timestamp(8_000)) && gone.version == 2, "revoked, kept, bumped");
    check!(gone.revoked_by.as_deref() == Some("@boss:localhost"), "by whom");
    let keys = s.integration_keys(&nc).await?;
    check!(
        keys.iter().map(|k| k.revoked).collect::<Vec<_>>() == [Some(Timestamp(8_000)), Some(Timestamp(5_000))],
        "its keys revoked with it (each first revocation kept)"
    );
    check!(
        matches!(s.add_integration_key(key("eeeeeeeeeeee", &nc, 9_500)).await, Err(StoreError::Conflict(_))),
        "no new key for a revoked integration"
    );
    check!(
        matches!(s.create_integration(new, "x", Timestamp(10)).await, Err(StoreError::Conflict(_))),
        "a revoked integration's id is never reused"
    );
    let (c, _) = s.integration_key("cccccccccccc").await?.ok_or_else(|| fail("other key"))?;
    check!(c.revoked.is_none(), "other integrations' keys untouched");
    Ok(())
}
