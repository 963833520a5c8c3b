//! The rota at work: a background task applies each shift's start and end at its boundary, by
//! the injected clock, and staff see the shifts of the hours ahead.
//!
//! The rules of a boundary are the store's, decided inside one write
//! ([`wardline_store::RoleStore::apply_rota`]), so applying twice, or from two nodes sharing
//! the store, changes nothing the second time, and what fell due while the server was stopped is
//! applied when it starts again. Each change of hands is audited as `role.holders` by the server;
//! a role the rota left uncovered (it must not be empty, and the last holder's shift ended) is
//! audited and logged, and its holder is kept until someone else holds it.

use std::sync::Arc;
use std::time::Duration;

use wardline_store::RotaApplied;
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::{RoleId, Shift};

use super::RoleService;
use crate::ServiceError;
use crate::ServiceResult;
use crate::audit::By;

/// Longest wait between two applications, so that a boundary imported on another node, or a
/// holder kept over a gap, is seen within this time.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// Shortest wait, so that a failing store is not asked in a tight loop.
const MIN_WAIT: Duration = Duration::from_millis(200);

/// Most hours of rota shown at once.
pub const MAX_ROTA_HOURS: u64 = 24 * 14;

impl RoleService {
    /// Applies every rota boundary due now and audits what changed.
    pub async fn apply_rota(&self) -> ServiceResult<RotaApplied> {
        let applied = self.store.apply_rota(self.clock.now()).await?;
        let mut records: Vec<_> = applied.changes.iter().map(|c| self.holder_record(By::Server, c)).collect();
        for u in &applied.uncovered {
            tracing::warn!(role = %u.role_id, kept = %u.kept, "the rota leaves a role that must not be empty uncovered; its holder is kept");
            let mut r = self.audit.entry_by(By::Server, AuditAction::RoleHolders, Outcome::Failure);
            r.target_user = Some(u.kept.to_string());
            r.detail = Some(By::Server.detail(&format!(
                "role={} reason=rota uncovered: nobody is scheduled next, kept={}",
                u.role_id, u.kept
            )));
            records.push(r);
        }
        if !records.is_empty() {
            self.audit.record_batch_now(records).await?;
        }
        if !applied.changes.is_empty() {
            self.holders_changed.notify_one();
        }
        Ok(applied)
    }

    /// Applies the rota at each boundary (and at least every [`MAX_WAIT`]) until dropped.
    pub async fn run_rota(self: Arc<Self>) {
        loop {
            let wait = match self.apply_rota().await {
                Ok(applied) => applied
                    .next_boundary
                    .map_or(MAX_WAIT, |next| Duration::from_millis(next.millis_since(self.clock.now())).min(MAX_WAIT)),
                Err(e) => {
                    tracing::warn!(error = %e, "applying the rota failed");
                    MAX_WAIT
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait.max(MIN_WAIT)) => {}
                () = self.rota_changed.notified() => {}
            }
        }
    }

    /// A role's shifts from now for the next `hours`: who, from when, to when.
    pub async fn rota(&self, id: &RoleId, hours: u64) -> ServiceResult<Vec<Shift>> {
        if hours == 0 || hours > MAX_ROTA_HOURS {
            return Err(ServiceError::invalid(format!("hours is 1 to {MAX_ROTA_HOURS}")));
        }
        self.get(id).await?;
        let now = self.clock.now();
        Ok(self.store.shifts(id, now, now.plus(Duration::from_secs(hours * 3600))).await?)
    }
}
