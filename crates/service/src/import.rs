//! Bulk onboarding from an HR export (CSV).
//!
//! Every row is validated before anything is written; if any row is bad, every bad row is
//! reported with its line number and nothing is imported. Re-importing the same file updates
//! accounts and never duplicates them. Passwords are hashed on all cores.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use ruma::OwnedUserId;
use wardline_types::{AccountUpdate, NewAccount};

use crate::accounts::{AccountService, NewStaff};
use crate::audit::By;
use crate::csv_table::Table;
use crate::{ServiceError, ServiceResult, password};

/// One bad row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// Line number in the file (the header is line 1).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// A validated row.
#[derive(Debug, Clone)]
struct Row {
    line: usize,
    staff: NewStaff,
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Accounts created.
    pub created: usize,
    /// Accounts updated.
    pub updated: usize,
    /// Generated one-time passwords: (username, password), for distribution.
    pub one_time_passwords: Vec<(String, String)>,
}

/// Why an import did nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
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

const REQUIRED: [&str; 2] = ["username", "display_name"];
const OPTIONAL: [&str; 5] = ["password", "job_title", "department", "email", "phone"];

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Parses and validates the whole file.
fn parse(data: &[u8], accounts: &AccountService) -> Result<Vec<Row>, ImportError> {
    let reader = csv::ReaderBuilder::new().trim(csv::Trim::Headers).from_reader(data);
    let table = Table::read(reader, &REQUIRED, &OPTIONAL).map_err(|e| ImportError::Format(e.to_string()))?;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (line, record) in table.rows() {
        let record = match record {
            Ok(r) => r,
            Err(reason) => {
                errors.push(RowError { line, reason: reason.to_owned() });
                continue;
            }
        };
        let get = |h: &str| record.get(h);
        let username = get("username").unwrap_or("").trim().to_owned();
        let mut reasons = Vec::new();
        if let Err(e) = accounts.user_id(&username) {
            reasons.push(format!("username {username:?}: {e}"));
        }
        if let Some(first) = seen.insert(username.clone(), line) {
            reasons.push(format!("username {username:?} also on line {first}"));
        }
        let display_name = non_empty(get("display_name"));
        if display_name.is_none() {
            reasons.push("display_name is empty".into());
        }
        let pw = get("password").filter(|p| !p.is_empty()).map(str::to_owned);
        if let Some(p) = &pw
            && let Err(e) = accounts.check_password_policy(p, &username)
        {
            reasons.push(format!("password: {e}"));
        }
        if let Some(email) = non_empty(get("email"))
            && !email.contains('@')
        {
            reasons.push(format!("email {email:?} is not an e-mail address"));
        }
        if reasons.is_empty() {
            rows.push(Row {
                line,
                staff: NewStaff {
                    username,
                    display_name,
                    password: pw,
                    is_admin: false,
                    job_title: non_empty(get("job_title")),
                    department: non_empty(get("department")),
                    email: non_empty(get("email")),
                    phone: non_empty(get("phone")),
                },
            });
        } else {
            errors.push(RowError { line, reason: reasons.join("; ") });
        }
    }
    if errors.is_empty() { Ok(rows) } else { Err(ImportError::BadRows(errors)) }
}

/// Imports a CSV file. `progress(done, total)` is called as passwords are hashed.
pub async fn import_csv(
    accounts: &AccountService,
    by: By<'_>,
    data: &[u8],
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<ImportReport, ImportError> {
    let rows = parse(data, accounts)?;
    let existing: HashSet<OwnedUserId> = accounts.list().await?.into_iter().map(|a| a.user_id).collect();
    let total = rows.len();
    let done = AtomicUsize::new(0);
    // Hashing is the expensive part: spread it over every core.
    let prepared: Vec<Result<(OwnedUserId, Prepared), RowError>> = tokio::task::block_in_place(|| {
        rows.into_par_iter()
            .map(|row| {
                let line = row.line;
                prepare_row(accounts, &existing, row).map_err(|e| RowError { line, reason: e.to_string() })
            })
            .inspect(|_| {
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_multiple_of(100) || n == total {
                    progress(n, total);
                }
            })
            .collect()
    });
    let mut creates = Vec::new();
    let mut updates = Vec::new();
    let mut report = ImportReport::default();
    let mut failures = Vec::new();
    for p in prepared {
        match p {
            Ok((_, Prepared::Create(account, one_time))) => {
                creates.push(account);
                report.one_time_passwords.extend(one_time);
            }
            Ok((user_id, Prepared::Update(u))) => updates.push((user_id, u)),
            Err(e) => failures.push(e),
        }
    }
    if !failures.is_empty() {
        return Err(ImportError::BadRows(failures));
    }
    let outcome = accounts.apply_import(by, creates, updates).await?;
    report.created = outcome.created;
    report.updated = outcome.updated;
    report.one_time_passwords.sort();
    Ok(report)
}

/// Hashes one row's password and turns it into a create or an update.
fn prepare_row(
    accounts: &AccountService,
    existing: &HashSet<OwnedUserId>,
    row: Row,
) -> ServiceResult<(OwnedUserId, Prepared)> {
    let user_id = accounts.user_id(&row.staff.username)?;
    let prepared = if existing.contains(&user_id) {
        let password = row.staff.password.as_deref().map(password::hash).transpose()?.map(|h| (h, false));
        Prepared::Update(AccountUpdate {
            display_name: row.staff.display_name,
            job_title: row.staff.job_title,
            department: row.staff.department,
            email: row.staff.email,
            phone: row.staff.phone,
            password,
            is_admin: None,
            may_broadcast: None,
        })
    } else {
        let username = row.staff.username.clone();
        let (account, one_time) = accounts.prepare(row.staff)?;
        Prepared::Create(account, one_time.map(|p| (username, p)))
    };
    Ok((user_id, prepared))
}

enum Prepared {
    Create(NewAccount, Option<(String, String)>),
    Update(AccountUpdate),
}
