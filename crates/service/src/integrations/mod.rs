//! Integration accounts ([`wardline_types::integration`]): the hospital systems that raise
//! alarms, each with its own API keys and scopes, managed by administrators (the admin API and
//! the command line share these rules).
//!
//! **Invariants:**
//! - A key's secret is shown once, when made ([`IntegrationService::add_key`]); only its SHA-256
//!   is stored, and a presented secret is compared with it in constant time ([`keys`]).
//! - Every use of a key is in the audit trail ([`IntegrationService::authenticate`]): a call
//!   that is let through is recorded before it runs (`integration.use`, with the endpoint, the
//!   key and the scope); a refusal of a known key (revoked, expired, its integration revoked, a
//!   scope it lacks) is recorded with the reason, at most `rate_limits.unknown_tokens` times per
//!   integration (a revoked system retrying for ever cannot fill the trail); a refusal of an
//!   unknown key, or of a known key id with the wrong secret (naming that key as the target), is
//!   recorded as a refused request, at most `rate_limits.unknown_tokens` times per address.
//!   Refusals by the endpoint itself after the key was accepted (a kind it may not raise,
//!   another system's alarm) are recorded at the HTTP edge with the integration as the actor.
//! - A revoked integration, a revoked or expired key, and a key of an integration without the
//!   endpoint's scope, let nothing through.
//!
//! Reporting back to the systems: `address.rs` the one check of where a webhook may point
//! (`integrations.webhook_hosts`), `webhook.rs` Standard Webhooks signing, `webhooks.rs` a system
//! setting its webhook and administrators' tests and view, `outbox.rs` the background task
//! `run_integration_outbox` that sends the durable outbox's reports.

pub mod address;
mod hl7;
pub mod keys;
pub mod mllp_client;
pub mod outbox;
#[cfg(test)]
mod outbox_hl7_tests;
#[cfg(test)]
mod outbox_tests;
pub mod status_address;
pub mod wctp;
pub mod webhook;
mod webhooks;

pub use outbox::IntegrationOutbox;
pub use webhooks::{MAX_REPORTS, NewWebhook, TEST_TYPE};

use std::net::IpAddr;
use std::sync::Arc;

use ruma::{OwnedDeviceId, OwnedServerName, OwnedUserId};
use wardline_store::{Integration, IntegrationKey, KEY_TOUCH_INTERVAL_MS, NewIntegration, Store, StoreError};
use wardline_types::Clock;
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::integration::{ApiKey, IntegrationId, IntegrationScope};

use crate::audit::{Actor, AuditService, By};
use crate::core::Core;
use crate::ratelimit::{LimitKind, RateLimiter};
use crate::{ServiceError, ServiceResult};
use status_address::StatusAddresses;

/// Longest name of an integration, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest kind of system or key label, in characters.
pub const MAX_LABEL_CHARS: usize = 64;

/// A hospital system whose key was accepted for the endpoint it called.
#[derive(Debug, Clone)]
pub struct IntegrationCaller {
    /// Its account, as stored when the call arrived.
    pub integration: Integration,
    /// The key it used.
    pub key_id: String,
    /// Its reserved Matrix user id (`@integration.<id>:<server>`).
    pub user_id: OwnedUserId,
    /// Where the call came from.
    pub ip: Option<IpAddr>,
}

impl IntegrationCaller {
    /// The caller as an audit actor: its user id, its key as the device.
    #[must_use]
    pub fn actor(&self) -> Actor {
        Actor { user_id: self.user_id.clone(), device_id: Some(OwnedDeviceId::from(self.key_id.as_str())), ip: self.ip }
    }

    /// May it do this?
    #[must_use]
    pub fn has(&self, scope: IntegrationScope) -> bool {
        self.integration.scopes.contains(&scope)
    }
}

/// A key just made: its record, and the key itself, to show this once.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The stored record (the secret's hash only).
    pub key: IntegrationKey,
    /// `wlk_<key id>_<secret>`: never stored, never shown again.
    pub secret_key: String,
}

/// Integration accounts, their keys, and the one check of a presented key.
pub struct IntegrationService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    audit: AuditService,
    limiter: RateLimiter,
    server_name: OwnedServerName,
    status_addresses: StatusAddresses,
}

impl std::fmt::Debug for IntegrationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrationService").finish_non_exhaustive()
    }
}

fn text_ok(s: &str, max: usize) -> bool {
    let n = s.trim().chars().count();
    n > 0 && n <= max && !s.chars().any(char::is_control)
}

/// Why a presented key was refused, for the record and the answer.
enum Refusal {
    /// Not a key this server made: nobody is identified.
    Unknown(&'static str),
    /// One of this server's key ids with the wrong secret: nobody is identified, but the key
    /// (and its integration) someone tried is named as the target.
    WrongSecret { key_id: String, integration: IntegrationId },
    /// A known key, refused (`401`): revoked or expired.
    KeyEnded(&'static str),
    /// A known key, refused (`403`): its integration is revoked, or lacks the scope.
    Forbidden(String),
}

impl IntegrationService {
    /// The service.
    #[must_use]
    pub fn new(core: &Core, hl7: &crate::config::Hl7Settings) -> Self {
        Self {
            store: Arc::clone(&core.store),
            clock: Arc::clone(&core.clock),
            audit: core.audit.clone(),
            limiter: core.limiter.clone(),
            server_name: core.server_name.clone(),
            status_addresses: StatusAddresses::new(hl7),
        }
    }

    /// The integration's reserved Matrix user id on this server.
    pub fn user_id(&self, id: &IntegrationId) -> ServiceResult<OwnedUserId> {
        id.user_id(&self.server_name)
            .ok_or_else(|| ServiceError::Internal(format!("no user id for the integration {id}")))
    }

    /// Checks and tidies a new integration: a name, a kind, at least one scope; scopes and
    /// kinds each once.
    fn checked(mut new: NewIntegration) -> ServiceResult<NewIntegration> {
        if !text_ok(&new.name, MAX_NAME_CHARS) {
            return Err(ServiceError::invalid(format!(
                "name is 1 to {MAX_NAME_CHARS} characters without control characters"
            )));
        }
        if !text_ok(&new.kind, MAX_LABEL_CHARS) {
            return Err(ServiceError::invalid(format!(
                "kind (what sort of system, such as \"nurse call\") is 1 to {MAX_LABEL_CHARS} characters"
            )));
        }
        if new.scopes.is_empty() {
            return Err(ServiceError::invalid("scopes: give at least one (such as alarms.write)"));
        }
        new.name = new.name.trim().to_owned();
        new.kind = new.kind.trim().to_owned();
        new.scopes.sort();
        new.scopes.dedup();
        new.allowed_kinds.sort();
        new.allowed_kinds.dedup();
        Ok(new)
    }

    /// Creates an integration account (no key yet: [`IntegrationService::add_key`]).
    pub async fn create(&self, by: By<'_>, new: NewIntegration) -> ServiceResult<Integration> {
        let new = Self::checked(new)?;
        // An account made before `integration.` names were reserved would share the
        // integration's identity: refused, for an administrator to rename one of them.
        let user_id = self.user_id(&new.id)?;
        if self.store.account(&user_id).await?.is_some() {
            return Err(ServiceError::IntegrationConflict(format!(
                "{user_id} is already a person's account: choose another id for the integration"
            )));
        }
        let slot = self.audit.reserve()?;
        let id = new.id.clone();
        let scopes = new.scopes.iter().map(|s| s.name()).collect::<Vec<_>>().join(",");
        let made = self.store.create_integration(new, &by_name(by), self.clock.now()).await.map_err(|e| match e {
            StoreError::Conflict(m) => ServiceError::IntegrationConflict(m),
            other => other.into(),
        })?;
        let mut r = self.audit.entry_by(by, AuditAction::Admin, Outcome::Success);
        r.target_user = self.user_id(&id).ok().map(|u| u.to_string());
        r.detail = Some(by.detail(&format!("integration-create integration={id} scopes={scopes}")));
        slot.record(r);
        Ok(made)
    }

    /// Every integration, by id.
    pub async fn list(&self) -> ServiceResult<Vec<Integration>> {
        Ok(self.store.integrations().await?)
    }

    /// One integration and its keys (their hashes are not for showing).
    pub async fn get(&self, id: &IntegrationId) -> ServiceResult<(Integration, Vec<IntegrationKey>)> {
        let integration =
            self.store.integration(id).await?.ok_or_else(|| ServiceError::not_found(format!("no integration {id}")))?;
        let keys = self.store.integration_keys(id).await?;
        Ok((integration, keys))
    }

    /// Revokes an integration and all its keys at once. Revoking one already revoked changes
    /// nothing.
    pub async fn revoke(&self, by: By<'_>, id: &IntegrationId) -> ServiceResult<Integration> {
        let slot = self.audit.reserve()?;
        let changed = self.store.revoke_integration(id, &by_name(by), self.clock.now()).await.map_err(|e| match e {
            StoreError::NotFound => ServiceError::not_found(format!("no integration {id}")),
            other => other.into(),
        })?;
        if changed {
            let mut r = self.audit.entry_by(by, AuditAction::Admin, Outcome::Success);
            r.target_user = self.user_id(id).ok().map(|u| u.to_string());
            r.detail = Some(by.detail(&format!("integration-revoke integration={id}")));
            slot.record(r);
        }
        self.store.integration(id).await?.ok_or_else(|| ServiceError::not_found(format!("no integration {id}")))
    }

    /// Makes a key for an integration: answered once with the key itself; only its hash is kept.
    pub async fn add_key(
        &self,
        by: By<'_>,
        id: &IntegrationId,
        label: Option<String>,
        expires: Option<wardline_types::Timestamp>,
    ) -> ServiceResult<NewKey> {
        let label = label.map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()).unwrap_or_else(|| "key".into());
        if !text_ok(&label, MAX_LABEL_CHARS) {
            return Err(ServiceError::invalid(format!("label is 1 to {MAX_LABEL_CHARS} characters")));
        }
        let now = self.clock.now();
        if expires.is_some_and(|e| e <= now) {
            return Err(ServiceError::invalid("expires_ts is in the past"));
        }
        let api_key = keys::generate();
        let key = IntegrationKey {
            key_id: api_key.key_id.clone(),
            integration: id.clone(),
            secret_sha256: keys::secret_hash(&api_key.secret),
            label,
            created: now,
            expires,
            revoked: None,
            last_used: None,
        };
        let slot = self.audit.reserve()?;
        self.store.add_integration_key(key.clone()).await.map_err(|e| match e {
            StoreError::NotFound => ServiceError::not_found(format!("no integration {id}")),
            StoreError::Conflict(m) => ServiceError::IntegrationConflict(m),
            other => other.into(),
        })?;
        let mut r = self.audit.entry_by(by, AuditAction::Admin, Outcome::Success);
        r.target_user = self.user_id(id).ok().map(|u| u.to_string());
        r.detail = Some(by.detail(&format!("integration-key-add integration={id} key={}", key.key_id)));
        slot.record(r);
        Ok(NewKey { key, secret_key: api_key.expose() })
    }

    /// Revokes one key of an integration (its other keys keep working).
    pub async fn revoke_key(&self, by: By<'_>, id: &IntegrationId, key_id: &str) -> ServiceResult<()> {
        let slot = self.audit.reserve()?;
        let changed = self.store.revoke_integration_key(id, key_id, self.clock.now()).await.map_err(|e| match e {
            StoreError::NotFound => ServiceError::not_found(format!("the integration {id} has no key {key_id}")),
            other => other.into(),
        })?;
        if changed {
            let mut r = self.audit.entry_by(by, AuditAction::Admin, Outcome::Success);
            r.target_user = self.user_id(id).ok().map(|u| u.to_string());
            r.detail = Some(by.detail(&format!("integration-key-revoke integration={id} key={key_id}")));
            slot.record(r);
        }
        Ok(())
    }

    /// The one check of a presented key for an endpoint that needs `scope` (`None`: any key
    /// that works, as `whoami` asks): the caller if the
    /// key is this server's, unrevoked and unexpired, its integration is active and has the
    /// scope, and it is within its rate limit. The use is recorded in the audit trail before the
    /// endpoint runs (and the call refused if it cannot be); a refusal is recorded too (see the
    /// module's invariants).
    pub async fn authenticate(
        &self,
        presented: &str,
        scope: Option<IntegrationScope>,
        ip: Option<IpAddr>,
        endpoint: &str,
    ) -> ServiceResult<IntegrationCaller> {
        let Some(api_key) = ApiKey::parse(presented) else {
            return Err(self.refuse(None, ip, endpoint, Refusal::Unknown("not an integration key")));
        };
        let Some((key, integration)) = self.store.integration_key(&api_key.key_id).await? else {
            return Err(self.refuse(None, ip, endpoint, Refusal::Unknown("unknown key")));
        };
        if !keys::secret_matches(&key.secret_sha256, &api_key.secret) {
            let why = Refusal::WrongSecret { key_id: key.key_id.clone(), integration: integration.id.clone() };
            return Err(self.refuse(None, ip, endpoint, why));
        }
        let caller =
            IntegrationCaller { user_id: self.user_id(&integration.id)?, integration, key_id: key.key_id.clone(), ip };
        let now = self.clock.now();
        if !caller.integration.active {
            let why = Refusal::Forbidden(format!("the integration {} has been revoked", caller.integration.id));
            return Err(self.refuse(Some(&caller), ip, endpoint, why));
        }
        if key.revoked.is_some() {
            return Err(self.refuse(Some(&caller), ip, endpoint, Refusal::KeyEnded("the key has been revoked")));
        }
        if key.expires.is_some_and(|e| e <= now) {
            return Err(self.refuse(Some(&caller), ip, endpoint, Refusal::KeyEnded("the key has expired")));
        }
        if let Some(scope) = scope
            && !caller.has(scope)
        {
            let why = Refusal::Forbidden(format!("the integration may not do this: it needs the scope {scope}"));
            return Err(self.refuse(Some(&caller), ip, endpoint, why));
        }
        // Beyond its limit a system is refused without a record: the limit is what keeps a
        // faulty one from filling the trail. Each scope has its own allowance, so a system
        // polling for status cannot use up what it needs to raise alarms in a storm.
        let bucket = format!("{}:{}", caller.integration.id, scope.map_or("any", IntegrationScope::name));
        self.limiter.check(LimitKind::Integration, &bucket)?;
        let mut r = self.audit.entry(Some(&caller.actor()), AuditAction::IntegrationUse, Outcome::Success);
        let scope = scope.map_or("-", IntegrationScope::name);
        r.detail = Some(format!("endpoint={endpoint} scope={scope}"));
        self.audit.record(r)?;
        if key.last_used.is_none_or(|t| now.millis_since(t) >= KEY_TOUCH_INTERVAL_MS) {
            self.store.touch_integration_key(&key.key_id, now).await?;
        }
        Ok(caller)
    }

    /// Records a call refused before any key was presented that names no integration (a WCTP
    /// page from an unknown sender id, or one without a security code), within the same
    /// allowance per address as unknown keys; the error the caller gets.
    pub fn refuse_unidentified(&self, ip: Option<IpAddr>, endpoint: &str, reason: &'static str) -> ServiceError {
        self.refuse(None, ip, endpoint, Refusal::Unknown(reason))
    }

    /// Records a refused key and answers the error the caller gets.
    fn refuse(
        &self,
        who: Option<&IntegrationCaller>,
        ip: Option<IpAddr>,
        endpoint: &str,
        why: Refusal,
    ) -> ServiceError {
        let mut target = None;
        let (error, reason) = match why {
            Refusal::Unknown(reason) => (ServiceError::UnknownToken, reason.to_owned()),
            Refusal::WrongSecret { key_id, integration } => {
                target = self.user_id(&integration).ok();
                (ServiceError::UnknownToken, format!("wrong secret for key={key_id} integration={integration}"))
            }
            Refusal::KeyEnded(reason) => (ServiceError::UnknownToken, reason.to_owned()),
            Refusal::Forbidden(reason) => (ServiceError::forbidden(reason.clone()), reason),
        };
        // Refusals are recorded within the same small allowance as unknown access tokens (per
        // integration, or per address when nobody is identified): a revoked or misconfigured
        // system retrying for ever cannot fill the trail.
        let allowance = match who {
            Some(caller) => format!("integration:{}", caller.integration.id),
            None => ip.map_or_else(|| "unknown".to_owned(), |i| i.to_string()),
        };
        let record = self.limiter.check(LimitKind::UnknownToken, &allowance).is_ok().then(|| match who {
            Some(caller) => {
                let mut r = self.audit.entry(Some(&caller.actor()), AuditAction::IntegrationUse, Outcome::Denied);
                r.detail = Some(format!("endpoint={endpoint} reason={reason}"));
                r
            }
            None => {
                let mut r = self.audit.entry(None, AuditAction::RequestRefused, Outcome::Denied);
                r.ip = ip.map(|i| i.to_string());
                r.target_user = target.map(|u| u.to_string());
                r.detail = Some(format!("endpoint={endpoint} status=401 errcode=M_UNKNOWN_TOKEN reason={reason}"));
                r
            }
        });
        if record.is_none() {
            tracing::debug!(endpoint, "a refused integration key: over the audit allowance, not recorded");
        }
        if let Some(r) = record
            && let Err(e) = self.audit.record(r)
        {
            tracing::warn!(target: "audit", endpoint, error = %e, "a refused integration key could not be recorded");
        }
        error
    }
}

/// How the store names who changed an integration: the staff member's user id, or the operator
/// or the server as the audit trail describes them.
fn by_name(by: By<'_>) -> String {
    match by.actor() {
        Some(a) => a.user_id.to_string(),
        None => by.detail(""),
    }
}

#[cfg(test)]
pub(crate) mod tests;
