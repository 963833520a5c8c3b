//! Organisation settings an administrator can change while the server runs: who needs a second
//! factor, session lifetimes, lockouts and rate limits.
//!
//! The configuration file gives the starting values; changes made through the administration
//! API are stored (as a patch over the configuration) and win over the file from then on.

use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use wardline_store::Store;
use wardline_types::audit::{AuditAction, Outcome};

use crate::audit::{Actor, AuditService};
use crate::config::{MediaSettings, RateLimits, Security};
use crate::{ServiceError, ServiceResult};

/// The settings an administrator may change at run time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSettings {
    /// Second factor, lockouts and session lifetimes.
    pub security: Security,
    /// Rate limits.
    pub rate_limits: RateLimits,
    /// Uploaded files.
    pub media: MediaSettings,
}

/// The live settings, read by the services on every use.
#[derive(Debug, Clone)]
pub struct SettingsHandle(Arc<RwLock<OrgSettings>>);

impl SettingsHandle {
    /// Settings starting at `s`.
    #[must_use]
    pub fn new(s: OrgSettings) -> Self {
        Self(Arc::new(RwLock::new(s)))
    }

    /// The current settings.
    #[must_use]
    pub fn get(&self) -> OrgSettings {
        *self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set(&self, s: OrgSettings) {
        *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = s;
    }
}

const META_KEY: &str = "org_settings_patch";

/// Reading and changing the organisation settings.
pub struct SettingsService {
    store: Arc<dyn Store>,
    audit: AuditService,
    handle: SettingsHandle,
    base: OrgSettings,
}

impl std::fmt::Debug for SettingsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingsService").field("current", &self.handle.get()).finish_non_exhaustive()
    }
}

fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, p) => *b = p,
    }
}

impl SettingsService {
    /// Settings starting from the configuration's values.
    pub fn new(store: Arc<dyn Store>, audit: AuditService, handle: SettingsHandle) -> Self {
        let base = handle.get();
        Self { store, audit, handle, base }
    }

    /// The live handle.
    #[must_use]
    pub fn handle(&self) -> &SettingsHandle {
        &self.handle
    }

    fn apply(&self, patch: &Value) -> ServiceResult<OrgSettings> {
        let mut effective = serde_json::to_value(self.base).map_err(|e| ServiceError::Internal(e.to_string()))?;
        merge(&mut effective, patch.clone());
        let s: OrgSettings = serde_json::from_value(effective).map_err(|e| ServiceError::BadJson(e.to_string()))?;
        let sec = s.security;
        if sec.lockout_threshold == 0 || sec.lockout_minutes == 0 {
            return Err(ServiceError::invalid("lockout_threshold and lockout_minutes must be at least 1"));
        }
        let per_hour = u64::from(sec.lockout_threshold) * 60_u64.div_ceil(sec.lockout_minutes);
        if per_hour > 100 {
            return Err(ServiceError::invalid(format!(
                "these lockout settings allow {per_hour} guesses an hour against one account; at most 100 are allowed"
            )));
        }
        if sec.access_token_minutes == 0 || sec.idle_timeout_minutes == 0 || sec.session_lifetime_hours == 0 {
            return Err(ServiceError::invalid("lifetimes must be at least 1"));
        }
        let m = s.media;
        if m.max_upload_bytes == 0 || m.max_image_pixels == 0 || m.unused_id_minutes == 0 {
            return Err(ServiceError::invalid("media limits must be at least 1"));
        }
        Ok(s)
    }

    async fn stored_patch(&self) -> ServiceResult<Value> {
        Ok(match self.store.meta(META_KEY).await? {
            Some(text) => serde_json::from_str(&text).map_err(|e| ServiceError::Internal(e.to_string()))?,
            None => Value::Object(serde_json::Map::new()),
        })
    }

    /// Applies the stored changes at start-up.
    pub async fn load(&self) -> ServiceResult<()> {
        let patch = self.stored_patch().await?;
        self.handle.set(self.apply(&patch)?);
        Ok(())
    }

    /// Changes some settings (a JSON object with the fields to change); returns the result.
    pub async fn update(&self, by: &Actor, patch: Value) -> ServiceResult<OrgSettings> {
        if !patch.is_object() {
            return Err(ServiceError::BadJson("settings must be a JSON object".into()));
        }
        let mut stored = self.stored_patch().await?;
        merge(&mut stored, patch.clone());
        let settings = self.apply(&stored)?;
        let slot = self.audit.reserve()?;
        self.store.put_meta(META_KEY, &stored.to_string()).await?;
        self.handle.set(settings);
        let mut r = self.audit.entry(Some(by), AuditAction::Admin, Outcome::Success);
        r.detail = Some(format!("settings {patch}"));
        slot.record(r);
        Ok(settings)
    }
}
