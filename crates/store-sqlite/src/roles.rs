//! [`RoleStore`] on SQLite: `roles`, `role_eligibility`, `role_holders`, the append-only
//! `role_history` (triggers refuse updates and deletes) and the `role_notices` outbox.
//!
//! Every change of holders reads the role and its holders and writes inside the single writer's
//! transaction, so the rules it checks hold against every other change.

use std::collections::HashMap;

use async_trait::async_trait;
use ruma::OwnedUserId;
use rusqlite::{Connection, OptionalExtension, params};
use wardline_store::{
    ChangeTopic, HolderChange, HolderOp, HolderRefusal, ImportOutcome, RoleNotice, RoleStore, RotaApplied,
    RotaImportOutcome, StoreError, StoreResult,
};
use wardline_types::{
    Eligibility, HolderReason, NewShift, Role, RoleChange, RoleDefinition, RoleHolder, RoleId, Shift, Timestamp,
};

use crate::pool::WriteTx;
use crate::rows::{corrupt, exec, parse_user, query_one, sql_ts, ts};
use crate::{SqliteStore, backend_err};

const ROLE_COLUMNS: &str =
    "id, name, department, site, bleep, may_be_empty, fallback_id, retired, version, created_ts, updated_ts";
const HISTORY_COLUMNS: &str = "seq, role_id, ts, reason, actor, from_user, to_user, note";

pub(crate) fn parse_role_id(s: &str) -> StoreResult<RoleId> {
    RoleId::parse(s).map_err(|e| corrupt("role id", e))
}

fn parse_reason(s: &str) -> StoreResult<HolderReason> {
    HolderReason::from_name(s).ok_or_else(|| corrupt("role change reason", s))
}

fn opt_user(s: Option<String>) -> StoreResult<Option<OwnedUserId>> {
    s.as_deref().map(parse_user).transpose()
}

struct RoleRow {
    id: String,
    name: String,
    department: Option<String>,
    site: Option<String>,
    bleep: Option<String>,
    may_be_empty: bool,
    fallback: Option<String>,
    retired: bool,
    version: i64,
    created: i64,
    updated: i64,
}

fn read_role_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RoleRow> {
    Ok(RoleRow {
        id: r.get(0)?,
        name: r.get(1)?,
        department: r.get(2)?,
        site: r.get(3)?,
        bleep: r.get(4)?,
        may_be_empty: r.get(5)?,
        fallback: r.get(6)?,
        retired: r.get(7)?,
        version: r.get(8)?,
        created: r.get(9)?,
        updated: r.get(10)?,
    })
}

/// Every role, or the one with id `one`, with its eligibility and holders.
fn load_roles(c: &Connection, one: Option<&str>) -> StoreResult<Vec<Role>> {
    let (where_role, where_child) = if one.is_some() { ("WHERE id = ?1", "WHERE role_id = ?1") } else { ("", "") };
    let args: Vec<&str> = one.into_iter().collect();
    let rows: Vec<RoleRow> = c
        .prepare_cached(&format!("SELECT {ROLE_COLUMNS} FROM roles {where_role} ORDER BY id"))
        .and_then(|mut s| s.query_map(rusqlite::params_from_iter(&args), read_role_row)?.collect())
        .map_err(backend_err)?;
    let mut eligibility: HashMap<String, Eligibility> = HashMap::new();
    let elig: Vec<(String, String, String)> = c
        .prepare_cached(&format!(
            "SELECT role_id, kind, value FROM role_eligibility {where_child} ORDER BY role_id, kind, value"
        ))
        .and_then(|mut s| {
            s.query_map(rusqlite::params_from_iter(&args), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect()
        })
        .map_err(backend_err)?;
    for (role, kind, value) in elig {
        let e = eligibility.entry(role).or_default();
        match kind.as_str() {
            "user" => e.users.push(parse_user(&value)?),
            "job_title" => e.job_titles.push(value),
            "department" => e.departments.push(value),
            other => return Err(corrupt("eligibility kind", other)),
        }
    }
    let mut holders: HashMap<String, Vec<RoleHolder>> = HashMap::new();
    let held: Vec<(String, String, i64, String, Option<String>)> = c
        .prepare_cached(&format!(
            "SELECT role_id, user_id, since_ts, reason, from_user FROM role_holders {where_child}
             ORDER BY role_id, since_ts, user_id"
        ))
        .and_then(|mut s| {
            s.query_map(rusqlite::params_from_iter(&args), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect()
        })
        .map_err(backend_err)?;
    for (role, user, since, reason, from) in held {
        holders.entry(role).or_default().push(RoleHolder {
            user_id: parse_user(&user)?,
            since: ts(since),
            reason: parse_reason(&reason)?,
            from: opt_user(from)?,
        });
    }
    rows.into_iter()
        .map(|r| {
            Ok(Role {
                definition: RoleDefinition {
                    id: parse_role_id(&r.id)?,
                    name: r.name,
                    department: r.department,
                    site: r.site,
                    bleep: r.bleep,
                    eligibility: eligibility.remove(&r.id).unwrap_or_default(),
                    may_be_empty: r.may_be_empty,
                    fallback: r.fallback.as_deref().map(parse_role_id).transpose()?,
                },
                retired: r.retired,
                version: u64::try_from(r.version).unwrap_or(0),
                created_at: ts(r.created),
                updated_at: ts(r.updated),
                holders: holders.remove(&r.id).unwrap_or_default(),
            })
        })
        .collect()
}

pub(crate) fn load_role(c: &Connection, id: &RoleId) -> StoreResult<Option<Role>> {
    Ok(load_roles(c, Some(id.as_str()))?.pop())
}

/// Writes a definition's row (without its fallback, set by [`set_fallback`]) and eligibility.
fn write_definition(w: &WriteTx<'_>, d: &RoleDefinition, now: Timestamp, create: bool) -> StoreResult<()> {
    let n = if create {
        exec(
            w.tx,
            "INSERT INTO roles (id, name, department, site, bleep, may_be_empty, created_ts, updated_ts)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT DO NOTHING",
            params![d.id.as_str(), d.name, d.department, d.site, d.bleep, d.may_be_empty, sql_ts(now)],
        )
    } else {
        exec(
            w.tx,
            "UPDATE roles SET name = ?2, department = ?3, site = ?4, bleep = ?5, may_be_empty = ?6,
                 version = version + 1, updated_ts = ?7
             WHERE id = ?1",
            params![d.id.as_str(), d.name, d.department, d.site, d.bleep, d.may_be_empty, sql_ts(now)],
        )
    }
    .map_err(backend_err)?;
    if n == 0 {
        return Err(if create {
            StoreError::Conflict(format!("role {} already exists", d.id))
        } else {
            StoreError::NotFound
        });
    }
    exec(w.tx, "DELETE FROM role_eligibility WHERE role_id = ?1", params![d.id.as_str()]).map_err(backend_err)?;
    let e = &d.eligibility;
    let entries = e.users.iter().map(|u| ("user", u.as_str())).chain(
        e.job_titles
            .iter()
            .map(|t| ("job_title", t.as_str()))
            .chain(e.departments.iter().map(|t| ("department", t.as_str()))),
    );
    for (kind, value) in entries {
        exec(
            w.tx,
            "INSERT OR IGNORE INTO role_eligibility (role_id, kind, value) VALUES (?1, ?2, ?3)",
            params![d.id.as_str(), kind, value],
        )
        .map_err(backend_err)?;
    }
    w.changed(ChangeTopic::Roles);
    Ok(())
}

fn set_fallback(w: &WriteTx<'_>, d: &RoleDefinition) -> StoreResult<()> {
    exec(
        w.tx,
        "UPDATE roles SET fallback_id = ?2 WHERE id = ?1",
        params![d.id.as_str(), d.fallback.as_ref().map(RoleId::as_str)],
    )
    .map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Conflict(format!("role {}: its fallback role does not exist", d.id))
        }
        other => backend_err(other),
    })?;
    Ok(())
}

/// One entry of the history, and the holder change it records.
pub(crate) struct Step {
    pub(crate) reason: HolderReason,
    pub(crate) from: Option<OwnedUserId>,
    pub(crate) to: Option<OwnedUserId>,
}

pub(crate) fn append(
    w: &WriteTx<'_>,
    role: &RoleId,
    step: &Step,
    by: Option<&OwnedUserId>,
    note: Option<&str>,
    at: Timestamp,
) -> StoreResult<RoleChange> {
    if let Some(from) = &step.from {
        exec(
            w.tx,
            "DELETE FROM role_holders WHERE role_id = ?1 AND user_id = ?2",
            params![role.as_str(), from.as_str()],
        )
        .map_err(backend_err)?;
    }
    if let Some(to) = &step.to {
        let handed_by = if step.reason == HolderReason::Handover { step.from.as_ref() } else { None };
        exec(
            w.tx,
            "INSERT INTO role_holders (role_id, user_id, since_ts, reason, from_user) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![role.as_str(), to.as_str(), sql_ts(at), step.reason.name(), handed_by.map(|u| u.as_str())],
        )
        .map_err(backend_err)?;
    }
    exec(
        w.tx,
        "INSERT INTO role_history (role_id, ts, reason, actor, from_user, to_user, note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            role.as_str(),
            sql_ts(at),
            step.reason.name(),
            by.map(|u| u.as_str()),
            step.from.as_ref().map(|u| u.as_str()),
            step.to.as_ref().map(|u| u.as_str()),
            note
        ],
    )
    .map_err(backend_err)?;
    let seq = u64::try_from(w.tx.last_insert_rowid()).map_err(backend_err)?;
    if step.reason == HolderReason::Handover
        && let Some(to) = &step.to
    {
        exec(w.tx, "INSERT INTO role_notices (seq, user_id) VALUES (?1, ?2)", params![seq, to.as_str()])
            .map_err(backend_err)?;
    }
    w.changed(ChangeTopic::RoleHolders(role.clone()));
    Ok(RoleChange {
        seq,
        role_id: role.clone(),
        at,
        reason: step.reason,
        by: by.cloned(),
        from: step.from.clone(),
        to: step.to.clone(),
        note: note.map(str::to_owned),
    })
}

/// The steps `op` takes from `holders`, or why it may not.
fn plan(role: &Role, op: &HolderOp) -> Result<Vec<Step>, HolderRefusal> {
    let holds = |u: &OwnedUserId| role.holders.iter().any(|h| &h.user_id == u);
    let remaining = |leaving: usize, joining: usize| role.holders.len() - leaving + joining;
    let steps = match op {
        HolderOp::SwipeIn { user } => {
            if holds(user) {
                return Err(HolderRefusal::AlreadyHolder(user.clone()));
            }
            vec![Step { reason: HolderReason::SwipeIn, from: None, to: Some(user.clone()) }]
        }
        HolderOp::SwipeOut { user } => {
            if !holds(user) {
                return Err(HolderRefusal::NotHolder(user.clone()));
            }
            vec![Step { reason: HolderReason::SwipeOut, from: Some(user.clone()), to: None }]
        }
        HolderOp::Handover { from, to } => {
            if !holds(from) {
                return Err(HolderRefusal::NotHolder(from.clone()));
            }
            if holds(to) {
                return Err(HolderRefusal::AlreadyHolder(to.clone()));
            }
            vec![Step { reason: HolderReason::Handover, from: Some(from.clone()), to: Some(to.clone()) }]
        }
        HolderOp::Release { user } => {
            if !holds(user) {
                return Err(HolderRefusal::NotHolder(user.clone()));
            }
            // Never refused for leaving the role empty: a deactivated account cannot act.
            return Ok(vec![Step { reason: HolderReason::Deactivated, from: Some(user.clone()), to: None }]);
        }
        HolderOp::Set { holders } => {
            let mut wanted = holders.clone();
            wanted.sort();
            wanted.dedup();
            let leaving = role.holders.iter().filter(|h| !wanted.contains(&h.user_id));
            let mut steps: Vec<Step> = leaving
                .map(|h| Step { reason: HolderReason::Admin, from: Some(h.user_id.clone()), to: None })
                .collect();
            steps.extend(wanted.into_iter().filter(|u| !holds(u)).map(|u| Step {
                reason: HolderReason::Admin,
                from: None,
                to: Some(u),
            }));
            steps
        }
    };
    let leaving = steps.iter().filter(|s| s.from.is_some()).count();
    let joining = steps.iter().filter(|s| s.to.is_some()).count();
    if !role.definition.may_be_empty && remaining(leaving, joining) == 0 && !steps.is_empty() {
        return Err(HolderRefusal::WouldBeEmpty);
    }
    Ok(steps)
}

/// A `role_history` row as read, before its values are checked.
struct HistoryRow {
    seq: i64,
    role: String,
    at: i64,
    reason: String,
    by: Option<String>,
    from: Option<String>,
    to: Option<String>,
    note: Option<String>,
}

fn read_change(r: &rusqlite::Row<'_>) -> rusqlite::Result<HistoryRow> {
    Ok(HistoryRow {
        seq: r.get(0)?,
        role: r.get(1)?,
        at: r.get(2)?,
        reason: r.get(3)?,
        by: r.get(4)?,
        from: r.get(5)?,
        to: r.get(6)?,
        note: r.get(7)?,
    })
}

fn into_change(h: HistoryRow) -> StoreResult<RoleChange> {
    Ok(RoleChange {
        seq: u64::try_from(h.seq).map_err(|e| corrupt("role history seq", e))?,
        role_id: parse_role_id(&h.role)?,
        at: ts(h.at),
        reason: parse_reason(&h.reason)?,
        by: opt_user(h.by)?,
        from: opt_user(h.from)?,
        to: opt_user(h.to)?,
        note: h.note,
    })
}

#[async_trait]
impl RoleStore for SqliteStore {
    async fn create_role(&self, definition: RoleDefinition, now: Timestamp) -> StoreResult<Role> {
        self.writer
            .write(move |w| {
                write_definition(w, &definition, now, true)?;
                set_fallback(w, &definition)?;
                load_role(w.tx, &definition.id)?.ok_or(StoreError::NotFound)
            })
            .await
    }

    async fn update_role(&self, definition: RoleDefinition, now: Timestamp) -> StoreResult<Role> {
        self.writer
            .write(move |w| {
                write_definition(w, &definition, now, false)?;
                set_fallback(w, &definition)?;
                load_role(w.tx, &definition.id)?.ok_or(StoreError::NotFound)
            })
            .await
    }

    async fn import_roles(
        &self,
        creates: Vec<RoleDefinition>,
        updates: Vec<RoleDefinition>,
        now: Timestamp,
    ) -> StoreResult<ImportOutcome> {
        self.writer
            .write(move |w| {
                for d in &creates {
                    write_definition(w, d, now, true)?;
                }
                for d in &updates {
                    write_definition(w, d, now, false)?;
                }
                // Fallbacks once every role of the file exists, so they may name each other.
                for d in creates.iter().chain(&updates) {
                    set_fallback(w, d)?;
                }
                Ok(ImportOutcome { created: creates.len(), updated: updates.len() })
            })
            .await
    }

    async fn retire_role(
        &self,
        role_id: &RoleId,
        by: Option<OwnedUserId>,
        now: Timestamp,
    ) -> StoreResult<Vec<RoleChange>> {
        let role_id = role_id.clone();
        self.writer
            .write(move |w| {
                let role = load_role(w.tx, &role_id)?.ok_or(StoreError::NotFound)?;
                let mut changes = Vec::new();
                for h in &role.holders {
                    let step = Step { reason: HolderReason::Admin, from: Some(h.user_id.clone()), to: None };
                    changes.push(append(w, &role_id, &step, by.as_ref(), Some("role retired"), now)?);
                }
                exec(
                    w.tx,
                    "UPDATE roles SET retired = 1, version = version + 1, updated_ts = ?2 WHERE id = ?1",
                    params![role_id.as_str(), sql_ts(now)],
                )
                .map_err(backend_err)?;
                w.changed(ChangeTopic::Roles);
                Ok(changes)
            })
            .await
    }

    async fn role(&self, role_id: &RoleId) -> StoreResult<Option<Role>> {
        let role_id = role_id.clone();
        self.readers.read(move |c| load_role(c, &role_id)).await
    }

    async fn roles(&self) -> StoreResult<Vec<Role>> {
        self.readers.read_blocking(|c| load_roles(c, None)).await
    }

    async fn change_holders(&self, change: HolderChange) -> StoreResult<Result<Vec<RoleChange>, HolderRefusal>> {
        self.writer
            .write(move |w| {
                // The single writer makes this read and the writes below one step.
                let Some(role) = load_role(w.tx, &change.role_id)? else { return Ok(Err(HolderRefusal::NoSuchRole)) };
                if role.retired {
                    return Ok(Err(HolderRefusal::Retired));
                }
                if role.version != change.expected_version {
                    return Ok(Err(HolderRefusal::DefinitionChanged));
                }
                let steps = match plan(&role, &change.op) {
                    Ok(steps) => steps,
                    Err(refusal) => return Ok(Err(refusal)),
                };
                if steps.len() > change.max_changes {
                    return Ok(Err(HolderRefusal::HoldersChanged));
                }
                // Checked in the write: an account deactivated while the change was decided
                // never becomes a holder.
                for joining in steps.iter().filter_map(|s| s.to.as_ref()) {
                    let active: bool = query_one(
                        w.tx,
                        "SELECT EXISTS (SELECT 1 FROM accounts WHERE user_id = ?1 AND deactivated = 0)",
                        params![joining.as_str()],
                        |r| r.get(0),
                    )
                    .map_err(backend_err)?;
                    if !active {
                        return Ok(Err(HolderRefusal::NotActive(joining.clone())));
                    }
                }
                let mut written = Vec::with_capacity(steps.len());
                for step in &steps {
                    written.push(append(
                        w,
                        &change.role_id,
                        step,
                        change.by.as_ref(),
                        change.note.as_deref(),
                        change.at,
                    )?);
                }
                Ok(Ok(written))
            })
            .await
    }

    async fn role_history(&self, role_id: &RoleId, limit: usize) -> StoreResult<Vec<RoleChange>> {
        let role_id = role_id.clone();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers
            .read(move |c| {
                let rows: Vec<_> = c
                    .prepare_cached(&format!(
                        "SELECT {HISTORY_COLUMNS} FROM role_history WHERE role_id = ?1 ORDER BY seq DESC LIMIT ?2"
                    ))
                    .and_then(|mut s| {
                        s.query_map(params![role_id.as_str(), limit], read_change)?.collect::<Result<Vec<_>, _>>()
                    })
                    .map_err(backend_err)?;
                rows.into_iter().map(into_change).collect()
            })
            .await
    }

    async fn pending_role_notices(&self, limit: usize) -> StoreResult<Vec<RoleNotice>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers
            .read(move |c| {
                let rows: Vec<(i64, String, String, Option<String>, i64)> = c
                    .prepare_cached(
                        "SELECT n.seq, h.role_id, n.user_id, h.from_user, h.ts FROM role_notices n
                         JOIN role_history h ON h.seq = n.seq WHERE n.sent_ts IS NULL ORDER BY n.seq LIMIT ?1",
                    )
                    .and_then(|mut s| {
                        s.query_map(params![limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                            .collect()
                    })
                    .map_err(backend_err)?;
                rows.into_iter()
                    .map(|(seq, role, user, from, at)| {
                        Ok(RoleNotice {
                            seq: u64::try_from(seq).map_err(|e| corrupt("role notice seq", e))?,
                            role_id: parse_role_id(&role)?,
                            user_id: parse_user(&user)?,
                            from: opt_user(from)?,
                            at: ts(at),
                        })
                    })
                    .collect()
            })
            .await
    }

    async fn role_notice_sent(&self, seq: u64, at: Timestamp) -> StoreResult<()> {
        self.writer
            .write(move |w| {
                let seq = i64::try_from(seq).map_err(backend_err)?;
                let n = exec(
                    w.tx,
                    "UPDATE role_notices SET sent_ts = ?2 WHERE seq = ?1 AND sent_ts IS NULL",
                    params![seq, sql_ts(at)],
                )
                .map_err(backend_err)?;
                let exists: Option<i64> =
                    w.tx.query_row("SELECT seq FROM role_notices WHERE seq = ?1", params![seq], |r| r.get(0))
                        .optional()
                        .map_err(backend_err)?;
                if n == 0 && exists.is_none() {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn import_shifts(
        &self,
        source: String,
        shifts: Vec<NewShift>,
        now: Timestamp,
    ) -> StoreResult<RotaImportOutcome> {
        self.writer.write(move |w| crate::rota::import(w, &source, shifts, now)).await
    }

    async fn shifts(&self, role_id: &RoleId, from: Timestamp, to: Timestamp) -> StoreResult<Vec<Shift>> {
        let role_id = role_id.clone();
        self.readers.read(move |c| crate::rota::shifts(c, &role_id, from, to)).await
    }

    async fn apply_rota(&self, now: Timestamp) -> StoreResult<RotaApplied> {
        self.writer.write(move |w| crate::rota::apply(w, now)).await
    }
}
