//! Integration accounts (hospital systems) and their API keys, stored by the SHA-256 of their
//! secret only.

use async_trait::async_trait;
use wardline_types::Timestamp;
use wardline_types::alarm::AlarmKind;
use wardline_types::hl7_binding::Hl7Binding;
use wardline_types::integration::{IntegrationId, IntegrationScope};

use crate::StoreResult;

/// An integration account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    /// Its id.
    pub id: IntegrationId,
    /// Its name, for people ("Ascom nurse call, main site").
    pub name: String,
    /// What kind of system it is, in the administrators' words ("nurse call", "fire panel").
    pub kind: String,
    /// What it may do.
    pub scopes: Vec<IntegrationScope>,
    /// The kinds of alarm it may raise (empty: any kind).
    pub allowed_kinds: Vec<AlarmKind>,
    /// `false` once revoked: nothing it presents works any more.
    pub active: bool,
    /// Bumped by each change.
    pub version: u64,
    /// Who created it (a user id, or the operator at the command line).
    pub created_by: String,
    /// When.
    pub created: Timestamp,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// When.
    pub revoked: Option<Timestamp>,
}

/// An integration account to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIntegration {
    /// Its id (refused if taken, even by a revoked one).
    pub id: IntegrationId,
    /// Its name.
    pub name: String,
    /// What kind of system it is.
    pub kind: String,
    /// What it may do.
    pub scopes: Vec<IntegrationScope>,
    /// The kinds of alarm it may raise (empty: any kind).
    pub allowed_kinds: Vec<AlarmKind>,
}

/// An API key of an integration. The secret itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationKey {
    /// The key's id (the part of the key before its secret).
    pub key_id: String,
    /// Whose key it is.
    pub integration: IntegrationId,
    /// SHA-256 of the secret.
    pub secret_sha256: Vec<u8>,
    /// What the administrators call it ("primary", "standby server").
    pub label: String,
    /// When it was made.
    pub created: Timestamp,
    /// When it stops working by itself, if ever.
    pub expires: Option<Timestamp>,
    /// When it was revoked.
    pub revoked: Option<Timestamp>,
    /// When it was last used (kept to the minute).
    pub last_used: Option<Timestamp>,
}

/// How often the last use of a key is written, at most (milliseconds).
pub const KEY_TOUCH_INTERVAL_MS: u64 = 60_000;

/// Integration accounts and their keys.
#[async_trait]
pub trait IntegrationStore: Send + Sync {
    /// Creates an integration; [`crate::StoreError::Conflict`] if its id is taken.
    async fn create_integration(&self, new: NewIntegration, by: &str, at: Timestamp) -> StoreResult<Integration>;
    /// One integration, revoked or not.
    async fn integration(&self, id: &IntegrationId) -> StoreResult<Option<Integration>>;
    /// Every integration, by id.
    async fn integrations(&self) -> StoreResult<Vec<Integration>>;
    /// Revokes an integration and every key of it, in one write; `false` if it was already
    /// revoked; [`crate::StoreError::NotFound`] if there is no such integration.
    async fn revoke_integration(&self, id: &IntegrationId, by: &str, at: Timestamp) -> StoreResult<bool>;
    /// Adds a key; [`crate::StoreError::NotFound`] if there is no such integration,
    /// [`crate::StoreError::Conflict`] if it is revoked or the key id is taken.
    async fn add_integration_key(&self, key: IntegrationKey) -> StoreResult<()>;
    /// An integration's keys, revoked ones included, oldest first.
    async fn integration_keys(&self, id: &IntegrationId) -> StoreResult<Vec<IntegrationKey>>;
    /// A key and its integration, by the key's id.
    async fn integration_key(&self, key_id: &str) -> StoreResult<Option<(IntegrationKey, Integration)>>;
    /// Revokes one of the integration's keys; `false` if it was already revoked;
    /// [`crate::StoreError::NotFound`] if the integration has no such key.
    async fn revoke_integration_key(&self, id: &IntegrationId, key_id: &str, at: Timestamp) -> StoreResult<bool>;
    /// Records a use of a key at `at`: written only when the last one recorded is at least
    /// [`KEY_TOUCH_INTERVAL_MS`] older, so a busy system does not write on every request.
    async fn touch_integration_key(&self, key_id: &str, at: Timestamp) -> StoreResult<()>;
    /// Sets (or with `None` removes) an integration's HL7 binding, bumping its version;
    /// [`crate::StoreError::NotFound`] if there is no such integration,
    /// [`crate::StoreError::Conflict`] if it is revoked or another active integration is bound to
    /// the same sending application and facility.
    async fn set_integration_hl7(&self, id: &IntegrationId, binding: Option<&Hl7Binding>) -> StoreResult<()>;
    /// An integration's HL7 binding, if it has one.
    async fn integration_hl7(&self, id: &IntegrationId) -> StoreResult<Option<Hl7Binding>>;
    /// The active integration bound to this sending application (`MSH-3`) and facility
    /// (`MSH-4`), with its binding.
    async fn integration_by_hl7_sender(
        &self,
        application: &str,
        facility: &str,
    ) -> StoreResult<Option<(Integration, Hl7Binding)>>;
}
