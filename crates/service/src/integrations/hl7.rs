//! An integration's HL7 v2 binding ([`Hl7Binding`]): set by administrators (the admin API and
//! the command line share this), checked when saved, audited. The MLLP listener reads it from
//! the store for every message, so a change takes effect at once.

use wardline_store::StoreError;
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::hl7_binding::Hl7Binding;
use wardline_types::integration::IntegrationId;

use super::IntegrationService;
use crate::audit::By;
use crate::{ServiceError, ServiceResult};

impl IntegrationService {
    /// An integration's HL7 binding, if it has one.
    pub async fn hl7(&self, id: &IntegrationId) -> ServiceResult<Option<Hl7Binding>> {
        if self.store.integration(id).await?.is_none() {
            return Err(ServiceError::not_found(format!("no integration {id}")));
        }
        Ok(self.store.integration_hl7(id).await?)
    }

    /// Binds an integration to the HL7 sender it is (`None` unbinds it: its messages are then
    /// refused as from an unknown sender).
    ///
    /// # Errors
    /// `400` for a binding of the wrong shape; `404` for no such integration; `409` when it is
    /// revoked or another integration is bound to the same sending application and facility.
    pub async fn set_hl7(&self, by: By<'_>, id: &IntegrationId, binding: Option<Hl7Binding>) -> ServiceResult<()> {
        let binding = binding.map(Hl7Binding::normalised);
        if let Some(b) = &binding {
            b.check().map_err(|e| ServiceError::invalid(e.to_string()))?;
            // Where the server may connect is the operator's to say (hl7.status_addresses).
            if let Some(address) = &b.status_address {
                self.status_addresses.check(address)?;
            }
        }
        let slot = self.audit.reserve()?;
        self.store.set_integration_hl7(id, binding.as_ref()).await.map_err(|e| match e {
            StoreError::NotFound => ServiceError::not_found(format!("no integration {id}")),
            StoreError::Conflict(m) => ServiceError::IntegrationConflict(m),
            other => other.into(),
        })?;
        let what = match &binding {
            Some(b) => format!(
                "integration-hl7-set integration={id} addresses={} test={} kind={} r40_ack={} report_status={} \
                 status_address={} cert_pinned={}",
                b.allowed_addresses.len(),
                b.test,
                b.default_kind,
                b.r40_ack.as_str(),
                b.report_status,
                b.status_address.as_deref().unwrap_or("-"),
                b.client_cert_sha256.is_some()
            ),
            None => format!("integration-hl7-remove integration={id}"),
        };
        let mut r = self.audit.entry_by(by, AuditAction::Admin, Outcome::Success);
        r.target_user = self.user_id(id).ok().map(|u| u.to_string());
        r.detail = Some(by.detail(&what));
        slot.record(r);
        Ok(())
    }
}
