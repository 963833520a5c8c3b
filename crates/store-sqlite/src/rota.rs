//! The rota on SQLite: `role_shifts`, imported all at once and applied at its boundaries inside
//! the single writer's transaction (see [`wardline_store::RoleStore::apply_rota`] for the rules).
//!
//! Applying is idempotent because each boundary is marked on its row (`started_ts`, `ended_ts`)
//! in the same transaction that changes the holders: a second application, from this node or
//! another sharing the store, finds nothing due.

use std::collections::{BTreeMap, HashSet};

use ruma::OwnedUserId;
use rusqlite::{Connection, params};
use wardline_store::{RotaApplied, RotaImportOutcome, StoreError, StoreResult, Uncovered};
use wardline_types::{HolderReason, NewShift, RoleId, Shift, Timestamp};

use crate::backend_err;
use crate::pool::WriteTx;
use crate::roles::{Step, append, load_role, parse_role_id};
use crate::rows::{exec, parse_user, sql_ts, ts};

const SHIFT_COLUMNS: &str =
    "id, role_id, user_id, starts_ts, ends_ts, source, note, imported_ts, started_ts, ended_ts, uncovered_ts";

type ShiftRow = (i64, String, String, i64, i64, String, Option<String>, i64, Option<i64>, Option<i64>, Option<i64>);

fn read_shift(r: &rusqlite::Row<'_>) -> rusqlite::Result<ShiftRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
    ))
}

fn into_shift(row: ShiftRow) -> StoreResult<Shift> {
    let (id, role, user, starts, ends, source, note, imported, started, ended, uncovered) = row;
    Ok(Shift {
        id: u64::try_from(id).map_err(backend_err)?,
        shift: NewShift {
            role_id: parse_role_id(&role)?,
            user_id: parse_user(&user)?,
            starts_at: ts(starts),
            ends_at: ts(ends),
            note,
        },
        source,
        imported_at: ts(imported),
        started_at: started.map(ts),
        ended_at: ended.map(ts),
        uncovered_at: uncovered.map(ts),
    })
}

/// A role's shifts overlapping [`from`, `to`).
pub(crate) fn shifts(c: &Connection, role: &RoleId, from: Timestamp, to: Timestamp) -> StoreResult<Vec<Shift>> {
    let rows: Vec<ShiftRow> = c
        .prepare_cached(&format!(
            "SELECT {SHIFT_COLUMNS} FROM role_shifts WHERE role_id = ?1 AND ends_ts > ?2 AND starts_ts < ?3
             ORDER BY starts_ts, id"
        ))
        .and_then(|mut s| s.query_map(params![role.as_str(), sql_ts(from), sql_ts(to)], read_shift)?.collect())
        .map_err(backend_err)?;
    rows.into_iter().map(into_shift).collect()
}

/// Imports `shifts` (see [`wardline_store::RoleStore::import_shifts`]).
pub(crate) fn import(
    w: &WriteTx<'_>,
    source: &str,
    shifts: Vec<NewShift>,
    now: Timestamp,
) -> StoreResult<RotaImportOutcome> {
    let mut by_role: BTreeMap<RoleId, Vec<NewShift>> = BTreeMap::new();
    for s in shifts {
        by_role.entry(s.role_id.clone()).or_default().push(s);
    }
    let mut outcome = RotaImportOutcome::default();
    for (role, mut new) in by_role {
        let (Some(first), Some(last)) = (new.iter().map(|s| s.starts_at).min(), new.iter().map(|s| s.ends_at).max())
        else {
            continue;
        };
        let stored: Vec<(i64, String, i64, i64, Option<i64>)> = w
            .tx
            .prepare_cached("SELECT id, user_id, starts_ts, ends_ts, started_ts FROM role_shifts WHERE role_id = ?1")
            .and_then(|mut s| {
                s.query_map(params![role.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                    .collect()
            })
            .map_err(backend_err)?;
        let wanted: HashSet<(String, i64, i64)> =
            new.iter().map(|s| (s.user_id.to_string(), sql_ts(s.starts_at), sql_ts(s.ends_at))).collect();
        let mut kept: HashSet<(String, i64, i64)> = HashSet::new();
        for (id, user, starts, ends, started) in stored {
            let key = (user, starts, ends);
            if wanted.contains(&key) {
                outcome.unchanged += 1;
                kept.insert(key);
            } else if started.is_none() && starts > sql_ts(now) && starts >= sql_ts(first) && starts < sql_ts(last) {
                exec(w.tx, "DELETE FROM role_shifts WHERE id = ?1", params![id]).map_err(backend_err)?;
                outcome.removed += 1;
            }
        }
        new.retain(|s| !kept.contains(&(s.user_id.to_string(), sql_ts(s.starts_at), sql_ts(s.ends_at))));
        for s in new {
            let n = exec(
                w.tx,
                "INSERT INTO role_shifts (role_id, user_id, starts_ts, ends_ts, source, note, imported_ts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
                params![
                    role.as_str(),
                    s.user_id.as_str(),
                    sql_ts(s.starts_at),
                    sql_ts(s.ends_at),
                    source,
                    s.note,
                    sql_ts(now)
                ],
            )
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                    StoreError::Conflict(format!(
                        "a shift of {role} names an unknown role or user, or ends before it starts"
                    ))
                }
                other => backend_err(other),
            })?;
            outcome.created += n;
        }
    }
    Ok(outcome)
}

fn mark(w: &WriteTx<'_>, column: &str, id: i64, now: Timestamp) -> StoreResult<()> {
    exec(w.tx, &format!("UPDATE role_shifts SET {column} = ?2 WHERE id = ?1"), params![id, sql_ts(now)])
        .map_err(backend_err)?;
    Ok(())
}

fn shift_note(source: &str, note: Option<&str>) -> String {
    match note {
        Some(n) => format!("rota ({source}): {n}"),
        None => format!("rota ({source})"),
    }
}

/// Applies the boundaries due at `now` (see [`wardline_store::RoleStore::apply_rota`]).
pub(crate) fn apply(w: &WriteTx<'_>, now: Timestamp) -> StoreResult<RotaApplied> {
    let at = sql_ts(now);
    let mut applied = RotaApplied::default();
    type Due = (i64, String, String, String, Option<String>, Option<i64>);
    let due = |sql: &str| -> StoreResult<Vec<Due>> {
        w.tx.prepare_cached(sql)
            .and_then(|mut s| {
                s.query_map(params![at], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
                    .collect()
            })
            .map_err(backend_err)
    };
    let starting = due("SELECT id, role_id, user_id, source, note, uncovered_ts FROM role_shifts
         WHERE started_ts IS NULL AND starts_ts <= ?1 AND ends_ts > ?1 ORDER BY starts_ts, id")?;
    for (id, role, user, source, note, _) in starting {
        let role_id = parse_role_id(&role)?;
        let user: OwnedUserId = parse_user(&user)?;
        let Some(r) = load_role(w.tx, &role_id)? else { return Err(StoreError::NotFound) };
        let active: bool =
            w.tx.query_row("SELECT deactivated = 0 FROM accounts WHERE user_id = ?1", params![user.as_str()], |row| {
                row.get(0)
            })
            .map_err(backend_err)?;
        if active && !r.retired && !r.holders.iter().any(|h| h.user_id == user) {
            let step = Step { reason: HolderReason::Rota, from: None, to: Some(user) };
            let note = shift_note(&source, note.as_deref());
            applied.changes.push(append(w, &role_id, &step, None, Some(&note), now)?);
        }
        mark(w, "started_ts", id, now)?;
    }
    let ending = due("SELECT id, role_id, user_id, source, note, uncovered_ts FROM role_shifts
         WHERE started_ts IS NOT NULL AND ended_ts IS NULL AND ends_ts <= ?1 ORDER BY ends_ts, id")?;
    for (id, role, user_raw, source, note, uncovered) in ending {
        let role_id = parse_role_id(&role)?;
        let user: OwnedUserId = parse_user(&user_raw)?;
        let Some(r) = load_role(w.tx, &role_id)? else { return Err(StoreError::NotFound) };
        let added_by_rota = r.holders.iter().any(|h| h.user_id == user && h.reason == HolderReason::Rota);
        let still_on: bool =
            w.tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM role_shifts WHERE role_id = ?1 AND user_id = ?2 AND id != ?3
                     AND started_ts IS NOT NULL AND ended_ts IS NULL AND ends_ts > ?4)",
                params![role, user_raw, id, at],
                |row| row.get(0),
            )
            .map_err(backend_err)?;
        if added_by_rota && !still_on && !r.retired {
            if !r.definition.may_be_empty && r.holders.len() == 1 {
                if uncovered.is_none() {
                    mark(w, "uncovered_ts", id, now)?;
                    applied.uncovered.push(Uncovered {
                        role_id,
                        kept: user,
                        shift_id: u64::try_from(id).map_err(backend_err)?,
                    });
                }
                continue;
            }
            let step = Step { reason: HolderReason::Rota, from: Some(user), to: None };
            let note = shift_note(&source, note.as_deref());
            applied.changes.push(append(w, &role_id, &step, None, Some(&note), now)?);
        }
        mark(w, "ended_ts", id, now)?;
    }
    applied.next_boundary =
        w.tx.query_row(
            "SELECT MIN(t) FROM (
                 SELECT MIN(starts_ts) AS t FROM role_shifts WHERE started_ts IS NULL AND starts_ts > ?1
                 UNION ALL
                 SELECT MIN(ends_ts) AS t FROM role_shifts
                 WHERE started_ts IS NOT NULL AND ended_ts IS NULL AND uncovered_ts IS NULL AND ends_ts > ?1)",
            params![at],
            |r| r.get::<_, Option<i64>>(0),
        )
        .map_err(backend_err)?
        .map(ts);
    Ok(applied)
}
