//! An integration's WCTP 1.3 binding and recipient mappings, set by administrators (the admin
//! API and the command line share this), checked when saved, audited. A page reads both from the
//! store when it arrives, so a change takes effect at once.
//!
//! **Invariants:** a binding's reply URL passes [`super::address::WebhookHosts`] when set, and
//! again before each report is posted (`outbox.rs`); a recipient mapping names an active person
//! or a role that exists. The audit record names the reply URL's host only (the URL may carry
//! the receiver's token).

use wardline_store::StoreError;
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::escalation::Target;
use wardline_types::integration::IntegrationId;
use wardline_types::wctp_binding::{WctpBinding, WctpRecipient, id_ok};

use super::outbox::IntegrationOutbox;
use crate::audit::By;
use crate::{ServiceError, ServiceResult};

/// Most recipient ids one integration maps.
pub const MAX_RECIPIENTS: usize = 5_000;

fn store_err(id: &IntegrationId, e: StoreError) -> ServiceError {
    match e {
        StoreError::NotFound => ServiceError::not_found(format!("no integration {id}")),
        StoreError::Conflict(m) => ServiceError::IntegrationConflict(m),
        other => other.into(),
    }
}

fn who(by: By<'_>) -> String {
    match by.actor() {
        Some(a) => a.user_id.to_string(),
        None => by.detail("").trim().to_owned(),
    }
}

impl IntegrationOutbox {
    async fn exists(&self, id: &IntegrationId) -> ServiceResult<()> {
        match self.store.integration(id).await? {
            Some(_) => Ok(()),
            None => Err(ServiceError::not_found(format!("no integration {id}"))),
        }
    }

    /// An integration's WCTP binding, if it has one.
    pub async fn wctp(&self, id: &IntegrationId) -> ServiceResult<Option<WctpBinding>> {
        self.exists(id).await?;
        Ok(self.store.integration_wctp(id).await?)
    }

    /// Binds an integration to the WCTP sender id its pages carry (`None` unbinds it: its pages
    /// are then refused as from an unknown sender).
    ///
    /// # Errors
    /// `400` for a binding of the wrong shape; [`ServiceError::HostNotAllowed`] for a reply URL
    /// outside `integrations.webhook_hosts`; `404` for no such integration; `409` when it is
    /// revoked or another integration pages as the same sender id.
    pub async fn set_wctp(&self, by: By<'_>, id: &IntegrationId, binding: Option<WctpBinding>) -> ServiceResult<()> {
        let mut binding = binding;
        let mut host = "-".to_owned();
        if let Some(b) = binding.as_mut() {
            b.check().map_err(|e| ServiceError::invalid(e.to_string()))?;
            if let Some(url) = b.reply_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
                let parsed = self.hosts.check(url).map_err(|e| with_field(e, "reply_url"))?;
                host = parsed.host_str().unwrap_or("-").to_ascii_lowercase();
                b.reply_url = Some(parsed.to_string());
            } else {
                b.reply_url = None;
            }
        }
        let slot = self.audit.reserve()?;
        self.store.set_integration_wctp(id, binding.as_ref()).await.map_err(|e| store_err(id, e))?;
        let what = match &binding {
            Some(b) => format!(
                "integration-wctp-set integration={id} reply_host={host} kind={} accept={} decline={}",
                b.default_kind,
                b.accept_choices.len(),
                b.decline_choices.len()
            ),
            None => format!("integration-wctp-remove integration={id}"),
        };
        let mut r = self.audit.entry_by(by, AuditAction::Admin, Outcome::Success);
        r.target_user = id.user_id(&self.server_name).map(|u| u.to_string());
        r.detail = Some(by.detail(&what));
        slot.record(r);
        Ok(())
    }

    /// An integration's recipient mappings.
    pub async fn wctp_recipients(&self, id: &IntegrationId) -> ServiceResult<Vec<WctpRecipient>> {
        self.exists(id).await?;
        Ok(self.store.wctp_recipients(id).await?)
    }

    /// Maps one of an integration's recipient ids to a person or role (`None` unmaps it);
    /// `false` when unmapping one that was not mapped.
    ///
    /// # Errors
    /// `400` for a recipient id of the wrong shape, a person who is not an active user, a role
    /// that does not exist, or too many mappings; `404` for no such integration.
    pub async fn set_wctp_recipient(
        &self,
        by: By<'_>,
        id: &IntegrationId,
        recipient_id: &str,
        target: Option<Target>,
    ) -> ServiceResult<bool> {
        if !id_ok(recipient_id) {
            return Err(ServiceError::invalid(
                "recipient_id is 1 to 64 characters, without spaces around it or control characters",
            ));
        }
        self.exists(id).await?;
        if let Some(t) = &target {
            match t {
                Target::User { user_id } => match self.store.account(user_id).await? {
                    Some(a) if !a.deactivated => {}
                    _ => {
                        return Err(ServiceError::invalid(format!(
                            "{user_id} is not an active user of this organisation"
                        )));
                    }
                },
                Target::Role { role } => match self.store.role(role).await? {
                    Some(r) if !r.retired => {}
                    _ => return Err(ServiceError::invalid(format!("there is no role {role}"))),
                },
            }
            let known = self.store.wctp_recipients(id).await?;
            if known.len() >= MAX_RECIPIENTS && !known.iter().any(|r| r.recipient_id == recipient_id) {
                return Err(ServiceError::invalid(format!(
                    "an integration maps at most {MAX_RECIPIENTS} recipient ids"
                )));
            }
        }
        let slot = self.audit.reserve()?;
        let changed = self
            .store
            .set_wctp_recipient(id, recipient_id, target.as_ref(), &who(by), self.clock.now())
            .await
            .map_err(|e| store_err(id, e))?;
        if changed {
            let to = match &target {
                Some(Target::User { user_id }) => format!("user={user_id}"),
                Some(Target::Role { role }) => format!("role={role}"),
                None => "removed".to_owned(),
            };
            let mut r = self.audit.entry_by(by, AuditAction::Admin, Outcome::Success);
            r.target_user = id.user_id(&self.server_name).map(|u| u.to_string());
            r.detail = Some(
                by.detail(&format!("integration-wctp-recipient integration={id} recipient={recipient_id:?} {to}")),
            );
            slot.record(r);
        }
        Ok(changed)
    }
}

/// A refusal of a URL, naming the field it was given in.
fn with_field(e: ServiceError, field: &str) -> ServiceError {
    match e {
        ServiceError::InvalidParam(m) => ServiceError::invalid(format!("{field}: {m}")),
        ServiceError::HostNotAllowed(m) => ServiceError::HostNotAllowed(format!("{field}: {m}")),
        other => other,
    }
}
