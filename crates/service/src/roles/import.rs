//! Roles from a CSV file (`wardline role import`).
//!
//! Every row is checked before anything is written; if any row is bad, every bad row is
//! reported with its line number and nothing is imported. A row whose role exists replaces its
//! definition; a row equal to what is stored changes nothing, so re-importing a file changes
//! nothing. Holders are never imported: people swipe in, or an administrator sets them.
//!
//! Columns: `id`, `name` (required); `department`, `site`, `bleep`, `may_be_empty`
//! (`yes`/`no`, default `yes`), `fallback` (a role id), `eligible_users`, `eligible_job_titles`,
//! `eligible_departments` (lists separated by `;`).

use std::collections::HashMap;

use ruma::OwnedUserId;
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::{Eligibility, RoleDefinition, RoleId};

use super::RoleService;
use super::definitions::{checked, tidy};
use crate::ServiceError;
use crate::audit::By;
use crate::csv_table::Table;
use crate::import::RowError;

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoleImportReport {
    /// Roles created.
    pub created: usize,
    /// Roles whose definition changed.
    pub updated: usize,
    /// Rows equal to what was stored.
    pub unchanged: usize,
}

/// Why an import did nothing.
#[derive(Debug, thiserror::Error)]
pub enum RoleImportError {
    /// The file could not be read as CSV with the required header.
    #[error("{0}")]
    Format(String),
    /// Some rows are bad; nothing was imported.
    #[error("{} bad row(s); nothing was imported", .0.len())]
    BadRows(Vec<RowError>),
    /// Storing failed; nothing was imported.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

const REQUIRED: [&str; 2] = ["id", "name"];
const OPTIONAL: [&str; 8] = [
    "department",
    "site",
    "bleep",
    "may_be_empty",
    "fallback",
    "eligible_users",
    "eligible_job_titles",
    "eligible_departments",
];

fn list(v: Option<&str>) -> Vec<String> {
    v.unwrap_or("").split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn yes_no(v: Option<&str>) -> Result<bool, String> {
    match v.map(|s| s.trim().to_lowercase()).as_deref() {
        None | Some("" | "yes" | "y" | "true") => Ok(true),
        Some("no" | "n" | "false") => Ok(false),
        Some(other) => Err(format!("may_be_empty {other:?}: write yes or no")),
    }
}

impl RoleService {
    /// Parses one row into a definition, or the reasons it is bad.
    fn import_row(&self, get: &dyn Fn(&str) -> Option<String>) -> Result<RoleDefinition, Vec<String>> {
        let mut reasons = Vec::new();
        let raw_id = get("id").unwrap_or_default();
        let id = RoleId::parse(raw_id.trim()).map_err(|e| reasons.push(format!("id {raw_id:?}: {e}"))).ok();
        let may_be_empty = yes_no(get("may_be_empty").as_deref()).map_err(|e| reasons.push(e)).unwrap_or(true);
        let fallback = tidy(get("fallback"))
            .map(|f| RoleId::parse(&f).map_err(|e| reasons.push(format!("fallback {f:?}: {e}"))).ok())
            .unwrap_or_default();
        let mut users = Vec::new();
        for u in list(get("eligible_users").as_deref()) {
            let resolved = if u.starts_with('@') {
                OwnedUserId::try_from(u.as_str()).ok()
            } else {
                self.accounts.user_id(&u).ok()
            };
            match resolved {
                Some(id) => users.push(id),
                None => reasons.push(format!("eligible user {u:?} is not a user id or username")),
            }
        }
        let eligibility = Eligibility {
            users,
            job_titles: list(get("eligible_job_titles").as_deref()),
            departments: list(get("eligible_departments").as_deref()),
        };
        let Some(id) = id else { return Err(reasons) };
        let d = RoleDefinition {
            id,
            name: get("name").unwrap_or_default(),
            department: get("department"),
            site: get("site"),
            bleep: get("bleep"),
            eligibility,
            may_be_empty,
            fallback,
        };
        match checked(d) {
            Ok(d) if reasons.is_empty() => Ok(d),
            Ok(_) => Err(reasons),
            Err(e) => {
                reasons.push(e);
                Err(reasons)
            }
        }
    }

    /// Imports roles from CSV: all or nothing.
    pub async fn import_csv(&self, by: By<'_>, data: &[u8]) -> Result<RoleImportReport, RoleImportError> {
        let reader = csv::ReaderBuilder::new().trim(csv::Trim::Headers).from_reader(data);
        let table = Table::read(reader, &REQUIRED, &OPTIONAL).map_err(|e| RoleImportError::Format(e.to_string()))?;
        let mut rows: Vec<(usize, RoleDefinition)> = Vec::new();
        let mut errors = Vec::new();
        let mut seen: HashMap<RoleId, usize> = HashMap::new();
        for (line, record) in table.rows() {
            let record = match record {
                Ok(r) => r,
                Err(reason) => {
                    errors.push(RowError { line, reason: reason.to_owned() });
                    continue;
                }
            };
            let get = |h: &str| record.get(h).map(str::to_owned);
            match self.import_row(&get) {
                Ok(d) => {
                    if let Some(first) = seen.insert(d.id.clone(), line) {
                        errors.push(RowError { line, reason: format!("role {} also on line {first}", d.id) });
                    }
                    rows.push((line, d));
                }
                Err(reasons) => errors.push(RowError { line, reason: reasons.join("; ") }),
            }
        }
        let existing = self.store.roles().await.map_err(ServiceError::from)?;
        let all: Vec<RoleDefinition> = rows.iter().map(|(_, d)| d.clone()).collect();
        let (mut creates, mut updates, mut unchanged) = (Vec::new(), Vec::new(), 0);
        for (line, d) in rows {
            if let Err(reason) = self.check_against_store(&d, &existing, &all).await? {
                errors.push(RowError { line, reason });
                continue;
            }
            match existing.iter().find(|r| r.definition.id == d.id) {
                None => creates.push(d),
                Some(r) if r.retired => {
                    errors.push(RowError { line, reason: format!("role {} is retired", d.id) });
                }
                Some(r) if r.definition == d => unchanged += 1,
                Some(_) => updates.push(d),
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.line);
            return Err(RoleImportError::BadRows(errors));
        }
        if creates.is_empty() && updates.is_empty() {
            return Ok(RoleImportReport { created: 0, updated: 0, unchanged });
        }
        let mut records = Vec::with_capacity(creates.len() + updates.len());
        for (defs, what) in [(&creates, "role-import-create"), (&updates, "role-import-update")] {
            for d in defs {
                let mut r = self.audit.entry_by(by, AuditAction::Admin, Outcome::Success);
                r.detail = Some(by.detail(&format!("{what} role={}", d.id)));
                records.push(r);
            }
        }
        let outcome = self.store.import_roles(creates, updates, self.clock.now()).await.map_err(ServiceError::from)?;
        self.audit.record_batch_now(records).await?;
        Ok(RoleImportReport { created: outcome.created, updated: outcome.updated, unchanged })
    }
}

/// For tests and the command line: the result as one line.
impl std::fmt::Display for RoleImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} created, {} updated, {} unchanged", self.created, self.updated, self.unchanged)
    }
}

/// Kept for symmetry with account import: the reasons as `line N: reason` lines.
#[must_use]
pub fn describe(errors: &[RowError]) -> String {
    errors.iter().map(|e| format!("line {}: {}", e.line, e.reason)).collect::<Vec<_>>().join("\n")
}
