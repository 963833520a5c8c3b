//! A hospital system's webhook, set by the system itself (`PUT /webhook`, scope
//! `webhook.manage`), and what administrators do with the outbox: queue a test report, read the
//! reports and how they ended.
//!
//! **Invariants:** a webhook's URL passes [`super::address::WebhookHosts`] when set (and before
//! each send); its secret is made here, answered once and never shown again; every change is in
//! the audit trail with the host only (never the whole URL, which may carry the receiver's
//! token, nor the secret).

use reqwest::Url;
use serde_json::json;
use wardline_store::{NewReport, Report, ReportChannel, ReportQuery, StoreError, Webhook};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::integration::IntegrationId;

use super::IntegrationCaller;
use super::outbox::IntegrationOutbox;
use super::webhook;
use crate::audit::By;
use crate::{ServiceError, ServiceResult};

/// Most reports one read of the administrators' view returns.
pub const MAX_REPORTS: usize = 500;
/// The `type` of an administrator's test report.
pub const TEST_TYPE: &str = "webhook.test";

/// A webhook just set: where, and the secret that signs what is sent there (shown this once).
#[derive(Clone)]
pub struct NewWebhook {
    /// The URL, as the server will use it.
    pub url: String,
    /// `whsec_…`: never stored anywhere the system can read it back.
    pub secret: String,
}

impl std::fmt::Debug for NewWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewWebhook").field("url", &"<hidden>").field("secret", &"<hidden>").finish()
    }
}

fn host_of(url: &Url) -> String {
    url.host_str().unwrap_or("-").to_ascii_lowercase()
}

fn store_err(id: &IntegrationId, e: StoreError) -> ServiceError {
    match e {
        StoreError::NotFound => ServiceError::not_found(format!("no integration {id}")),
        StoreError::Conflict(m) => ServiceError::IntegrationConflict(m),
        other => other.into(),
    }
}

impl IntegrationOutbox {
    /// Sets the calling system's webhook to `url` with a new secret (any earlier secret stops
    /// signing at once): answered with the secret, this once.
    ///
    /// # Errors
    /// [`ServiceError::HostNotAllowed`] for a host not in `integrations.webhook_hosts`;
    /// [`ServiceError::InvalidParam`] for what is not a URL.
    pub async fn set_webhook(&self, caller: &IntegrationCaller, url: &str) -> ServiceResult<NewWebhook> {
        let parsed = self.hosts.check(url.trim())?;
        let id = &caller.integration.id;
        let made = NewWebhook { url: parsed.to_string(), secret: webhook::generate_secret() };
        let slot = self.audit.reserve()?;
        let hook = Webhook { url: made.url.clone(), secret: made.secret.clone() };
        let replaced = self.store.set_integration_webhook(id, Some(hook)).await.map_err(|e| store_err(id, e))?;
        let mut r = self.audit.entry(Some(&caller.actor()), AuditAction::IntegrationReport, Outcome::Success);
        r.detail = Some(format!("webhook-set integration={id} host={} replaced={replaced}", host_of(&parsed)));
        slot.record(r);
        Ok(made)
    }

    /// The calling system's webhook URL, if it set one (never the secret).
    pub async fn webhook_url(&self, caller: &IntegrationCaller) -> ServiceResult<Option<String>> {
        Ok(self.store.integration_webhook(&caller.integration.id).await?.map(|h| h.url))
    }

    /// Where an integration's webhook reports go, for administrators: the URL's origin
    /// (`https://host:port`) only, never its path or query (which may carry the receiver's
    /// token) nor the secret; `None` if the system set none.
    ///
    /// # Errors
    /// Only the store's.
    pub async fn webhook_origin(&self, id: &IntegrationId) -> ServiceResult<Option<String>> {
        let Some(hook) = self.store.integration_webhook(id).await? else { return Ok(None) };
        Ok(Some(Url::parse(&hook.url).map_or_else(|_| "(not a URL)".to_owned(), |u| u.origin().ascii_serialization())))
    }

    /// Removes the calling system's webhook; whether it had one. Reports still queued for it
    /// fail when their turn comes.
    pub async fn remove_webhook(&self, caller: &IntegrationCaller) -> ServiceResult<bool> {
        let id = &caller.integration.id;
        let slot = self.audit.reserve()?;
        let had = self.store.set_integration_webhook(id, None).await.map_err(|e| store_err(id, e))?;
        if had {
            let mut r = self.audit.entry(Some(&caller.actor()), AuditAction::IntegrationReport, Outcome::Success);
            r.detail = Some(format!("webhook-remove integration={id}"));
            slot.record(r);
        }
        Ok(had)
    }

    /// Queues a test report to an integration's webhook (`{"type": "webhook.test",
    /// "integration", "at"}`, `at` in milliseconds since the epoch), sent like any other.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for no such integration; [`ServiceError::IntegrationConflict`]
    /// if it is revoked or has no webhook.
    pub async fn queue_test(&self, by: By<'_>, id: &IntegrationId) -> ServiceResult<()> {
        let integration =
            self.store.integration(id).await?.ok_or_else(|| ServiceError::not_found(format!("no integration {id}")))?;
        if !integration.active {
            return Err(ServiceError::IntegrationConflict(format!("the integration {id} is revoked")));
        }
        let no_webhook = || {
            ServiceError::IntegrationConflict(format!(
                "the integration {id} has no webhook: the system sets one with PUT /_wardline/integration/v1/webhook"
            ))
        };
        if self.store.integration_webhook(id).await?.is_none() {
            return Err(no_webhook());
        }
        let now = self.clock.now();
        let payload = json!({ "type": TEST_TYPE, "integration": id, "at": now.0 }).to_string();
        let report =
            NewReport { integration: id.clone(), alarm: None, channel: ReportChannel::Webhook, payload, created: now };
        let slot = self.audit.reserve()?;
        // Its webhook may have gone since it was read: the store decides, in the write.
        if self.store.queue_reports(vec![report]).await? == 0 {
            return Err(no_webhook());
        }
        let mut r = self.audit.entry_by(by, AuditAction::IntegrationReport, Outcome::Success);
        r.target_user = id.user_id(&self.server_name).map(|u| u.to_string());
        r.detail = Some(by.detail(&format!("webhook-test integration={id}")));
        slot.record(r);
        self.poke();
        Ok(())
    }

    /// Reports for administrators, newest first (at most [`MAX_REPORTS`]).
    pub async fn reports(&self, mut query: ReportQuery) -> ServiceResult<Vec<Report>> {
        query.limit = query.limit.clamp(1, MAX_REPORTS);
        Ok(self.store.reports(query).await?)
    }
}
