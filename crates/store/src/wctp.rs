//! Paging over WCTP 1.3: an integration's WCTP binding (the sender id it pages as, where its
//! reports go, how its pages are read) and the administrators' mappings of the recipient ids its
//! pages name to the people and roles they reach.

use async_trait::async_trait;
use wardline_types::Timestamp;
use wardline_types::escalation::Target;
use wardline_types::integration::IntegrationId;
use wardline_types::wctp_binding::{WctpBinding, WctpRecipient};

use crate::{Integration, StoreResult};

/// WCTP bindings and recipient mappings.
#[async_trait]
pub trait WctpStore: Send + Sync {
    /// Sets (or with `None` removes) an integration's WCTP binding, bumping its version;
    /// [`crate::StoreError::NotFound`] if there is no such integration,
    /// [`crate::StoreError::Conflict`] if it is revoked or another integration (revoked ones
    /// included: a sender id is never reused) pages as the same sender id.
    async fn set_integration_wctp(&self, id: &IntegrationId, binding: Option<&WctpBinding>) -> StoreResult<()>;
    /// An integration's WCTP binding, if it has one.
    async fn integration_wctp(&self, id: &IntegrationId) -> StoreResult<Option<WctpBinding>>;
    /// The integration (revoked or not) bound to this WCTP sender id, with its binding.
    async fn integration_by_wctp_sender(&self, sender_id: &str) -> StoreResult<Option<(Integration, WctpBinding)>>;
    /// Maps (or with `None` unmaps) one of an integration's recipient ids; `false` when unmapping
    /// one that was not mapped. [`crate::StoreError::NotFound`] if there is no such integration.
    async fn set_wctp_recipient(
        &self,
        integration: &IntegrationId,
        recipient_id: &str,
        target: Option<&Target>,
        by: &str,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Whom one of an integration's recipient ids is mapped to.
    async fn wctp_recipient(
        &self,
        integration: &IntegrationId,
        recipient_id: &str,
    ) -> StoreResult<Option<WctpRecipient>>;
    /// An integration's recipient mappings, by recipient id.
    async fn wctp_recipients(&self, integration: &IntegrationId) -> StoreResult<Vec<WctpRecipient>>;
}
