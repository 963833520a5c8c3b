//! Importing a rota (`wardline role rota import`, `POST /_wardline/admin/v1/roles/rota`): the
//! scheduled shifts of roles, exported by a rostering system as CSV or iCalendar. The rota is
//! one-way: it is the source of truth for scheduled holders, and the server applies each shift's
//! start and end at its boundary ([`super::shifts`]).
//!
//! Every row is checked before anything is written; if any row is bad, every bad row is reported
//! with its line number and nothing is imported. What an import replaces is the store's rule
//! ([`wardline_store::RoleStore::import_shifts`]): for each role it names, the shifts that have
//! not started within the span of that role's rows; re-importing the same rota changes nothing.
//!
//! A row is bad if its role is unknown or retired, its person unknown, deactivated or not
//! eligible for the role, a time unreadable or without an offset, its end not after its start,
//! or it overlaps another shift of the same person in the same role in the file.
//!
//! **CSV:** a header row `role,username,start,end` with an optional `note` column; `username` is
//! a username or a full user id; `start` and `end` are RFC 3339 times with an offset
//! (`2026-12-01T08:00:00Z`, `2026-12-01T08:00:00+00:00`).
//!
//! **iCalendar** (RFC 5545): each `VEVENT` is a shift: `X-WARDLINE-ROLE` (the role id),
//! `X-WARDLINE-USER` (username or user id), `DTSTART` and `DTEND` in UTC (`20261201T080000Z`),
//! optional `SUMMARY` (the note). Times with `TZID`, floating times, all-day dates, `DURATION`
//! and repeating events (`RRULE`) are refused with the event's line: export UTC times and one
//! event per shift. A bad event is reported at the line of its `BEGIN:VEVENT`.

use std::collections::HashMap;

use ruma::OwnedUserId;
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::{NewShift, RoleId, Timestamp};

use super::{RoleService, admits};
use crate::ServiceError;
use crate::audit::By;
use crate::csv_table::{HeaderError, Table};
use crate::import::RowError;

/// Most shifts in one import.
pub const MAX_SHIFTS: usize = 20_000;

/// Longest note kept with a shift.
const MAX_NOTE: usize = 200;

/// How a rota is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotaFormat {
    /// `role,username,start,end[,note]`.
    Csv,
    /// iCalendar `VEVENT`s.
    Ical,
}

impl RotaFormat {
    /// `csv`, or `ical` (also `ics`, `icalendar`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "ical" | "ics" | "icalendar" => Some(Self::Ical),
            _ => None,
        }
    }

    /// The format's name, as audited and stored as a shift's source.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Ical => "ical",
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RotaImportReport {
    /// Shifts added.
    pub created: usize,
    /// Shifts not yet started that the import replaced.
    pub removed: usize,
    /// Shifts of the import already stored.
    pub unchanged: usize,
}

impl std::fmt::Display for RotaImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} created, {} removed, {} unchanged", self.created, self.removed, self.unchanged)
    }
}

/// Why a rota import did nothing.
#[derive(Debug, thiserror::Error)]
pub enum RotaImportError {
    /// The file could not be read as the format at all.
    #[error("{0}")]
    Format(String),
    /// Some rows are bad; nothing was imported.
    #[error("{} bad row(s); nothing was imported", .0.len())]
    BadRows(Vec<RowError>),
    /// Storing failed; nothing was imported.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// A shift's line, start and end.
type ShiftSpan = (usize, Timestamp, Timestamp);

/// A row as read, before it is checked against the roles and accounts.
#[derive(Debug, Default)]
struct RawShift {
    line: usize,
    role: String,
    user: String,
    start: Option<Result<Timestamp, String>>,
    end: Option<Result<Timestamp, String>>,
    note: Option<String>,
    /// Reasons found while reading (an iCalendar property that is refused).
    problems: Vec<String>,
}

/// An RFC 3339 time with an offset.
fn rfc3339(what: &str, raw: &str) -> Result<Timestamp, String> {
    let raw = raw.trim();
    let has_time = raw.contains(['T', 't']);
    match Timestamp::parse_rfc3339(raw) {
        Some(t) if has_time => Ok(t),
        _ => Err(format!("{what} {raw:?} is not an RFC 3339 time with an offset (2026-12-01T08:00:00Z)")),
    }
}

fn read_csv(data: &[u8]) -> Result<Vec<RawShift>, RotaImportError> {
    let reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(true).from_reader(data);
    let table = Table::read(reader, &["role", "username", "start", "end"], &["note"]).map_err(|e| {
        RotaImportError::Format(match e {
            HeaderError::Missing(h) => {
                format!("the header row must be role,username,start,end (and optionally note): no {h:?} column")
            }
            e => e.to_string(),
        })
    })?;
    let mut rows = Vec::new();
    for (line, record) in table.rows() {
        let record = match record {
            Ok(r) => r,
            Err(reason) => {
                rows.push(RawShift { line, problems: vec![reason.to_owned()], ..RawShift::default() });
                continue;
            }
        };
        let get = |h: &str| record.get(h).unwrap_or("").to_owned();
        let note = Some(get("note")).filter(|n| !n.is_empty());
        rows.push(RawShift {
            line,
            role: get("role"),
            user: get("username"),
            start: Some(rfc3339("start", &get("start"))),
            end: Some(rfc3339("end", &get("end"))),
            note,
            problems: Vec::new(),
        });
    }
    Ok(rows)
}

/// An iCalendar UTC date-time (`20261201T080000Z`), or why it is refused.
fn ical_time(name: &str, params: &[&str], value: &str) -> Result<Timestamp, String> {
    if let Some(tz) = params.iter().find(|p| p.to_ascii_uppercase().starts_with("TZID=")) {
        return Err(format!("{name} has {tz}: export times in UTC (ending in Z)"));
    }
    let v = value.trim();
    let b = v.as_bytes();
    if b.len() == 8 {
        return Err(format!("{name} {v:?} is a date without a time: a shift needs times"));
    }
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return Err(format!("{name} {v:?} is not a UTC time (20261201T080000Z); floating times are refused"));
    }
    let digits = |r: std::ops::Range<usize>| v.get(r).unwrap_or("");
    let text = format!(
        "{}-{}-{}T{}:{}:{}Z",
        digits(0..4),
        digits(4..6),
        digits(6..8),
        digits(9..11),
        digits(11..13),
        digits(13..15)
    );
    Timestamp::parse_rfc3339(&text).ok_or_else(|| format!("{name} {v:?} is not a valid time"))
}

/// Undoes iCalendar's text escaping.
fn ical_text(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out.trim().to_owned()
}

fn read_ical(data: &[u8]) -> Result<Vec<RawShift>, RotaImportError> {
    let text = std::str::from_utf8(data).map_err(|_| RotaImportError::Format("the calendar is not UTF-8".into()))?;
    // Unfold: a line starting with a space or tab continues the one before.
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        match (raw.strip_prefix([' ', '\t']), lines.last_mut()) {
            (Some(rest), Some((_, last))) => last.push_str(rest),
            _ if raw.is_empty() => {}
            _ => lines.push((i + 1, raw.to_owned())),
        }
    }
    if !lines.first().is_some_and(|(_, l)| l.eq_ignore_ascii_case("BEGIN:VCALENDAR")) {
        return Err(RotaImportError::Format("an iCalendar file starts with BEGIN:VCALENDAR".into()));
    }
    let mut rows = Vec::new();
    let mut event: Option<RawShift> = None;
    // Components inside an event (an alarm) are skipped whole.
    let mut nested = 0usize;
    for (line, content) in lines {
        let Some((head, value)) = content.split_once(':') else {
            if let Some(e) = event.as_mut() {
                e.problems.push(format!("line {line}: {content:?} is not a property"));
            }
            continue;
        };
        let mut parts = head.split(';');
        let name = parts.next().unwrap_or("").to_ascii_uppercase();
        let params: Vec<&str> = parts.collect();
        if event.is_some() && nested > 0 {
            match name.as_str() {
                "BEGIN" => nested += 1,
                "END" => nested -= 1,
                _ => {}
            }
            continue;
        }
        match (name.as_str(), event.as_mut()) {
            ("BEGIN", None) if value.eq_ignore_ascii_case("VEVENT") => {
                event = Some(RawShift { line, ..RawShift::default() });
            }
            ("END", Some(_)) if value.eq_ignore_ascii_case("VEVENT") => rows.extend(event.take()),
            (_, None) => {}
            ("X-WARDLINE-ROLE", Some(e)) => e.role = ical_text(value),
            ("X-WARDLINE-USER", Some(e)) => e.user = ical_text(value),
            ("DTSTART", Some(e)) => e.start = Some(ical_time("DTSTART", &params, value)),
            ("DTEND", Some(e)) => e.end = Some(ical_time("DTEND", &params, value)),
            ("SUMMARY", Some(e)) => e.note = Some(ical_text(value)).filter(|n| !n.is_empty()),
            ("DURATION", Some(e)) => e.problems.push("DURATION is not supported: give DTEND".into()),
            ("RRULE" | "RDATE", Some(e)) => {
                e.problems.push(format!("{name}: repeating events are not supported; export one event per shift"));
            }
            ("BEGIN", Some(_)) => nested += 1,
            _ => {}
        }
    }
    if let Some(e) = event {
        return Err(RotaImportError::Format(format!("the event at line {} has no END:VEVENT", e.line)));
    }
    Ok(rows)
}

impl RoleService {
    /// Reads and checks every row; the shifts, or every bad row.
    async fn checked_shifts(&self, raw: Vec<RawShift>) -> Result<Vec<(usize, NewShift)>, RotaImportError> {
        let roles: HashMap<RoleId, wardline_types::Role> = self
            .store
            .roles()
            .await
            .map_err(ServiceError::from)?
            .into_iter()
            .map(|r| (r.definition.id.clone(), r))
            .collect();
        let mut accounts: HashMap<OwnedUserId, Option<wardline_types::Account>> = HashMap::new();
        let mut errors = Vec::new();
        let mut good: Vec<(usize, NewShift)> = Vec::new();
        for row in raw {
            let mut reasons = row.problems;
            let role = match RoleId::parse(&row.role) {
                Err(_) if row.role.is_empty() => {
                    reasons.push("no role".into());
                    None
                }
                Err(e) => {
                    reasons.push(format!("role {:?}: {e}", row.role));
                    None
                }
                Ok(id) => match roles.get(&id) {
                    None => {
                        reasons.push(format!("there is no role {id}"));
                        None
                    }
                    Some(r) if r.retired => {
                        reasons.push(format!("role {id} is retired"));
                        None
                    }
                    Some(r) => Some(r),
                },
            };
            let user = if row.user.is_empty() {
                reasons.push("no username".into());
                None
            } else {
                let resolved = if row.user.starts_with('@') {
                    OwnedUserId::try_from(row.user.as_str()).ok()
                } else {
                    self.accounts.user_id(&row.user).ok()
                };
                let account = match &resolved {
                    Some(u) => match accounts.get(u) {
                        Some(a) => a.clone(),
                        None => {
                            let a = self.store.account(u).await.map_err(ServiceError::from)?;
                            accounts.insert(u.clone(), a.clone());
                            a
                        }
                    },
                    None => None,
                };
                match (resolved, account) {
                    (Some(u), Some(a)) if !a.deactivated => {
                        if let Some(r) = role
                            && !admits(&r.definition.eligibility, &a)
                        {
                            reasons.push(format!("{u} may not hold {}", r.definition.id));
                        }
                        Some(u)
                    }
                    _ => {
                        reasons.push(format!("{:?} is not an active member of staff", row.user));
                        None
                    }
                }
            };
            let start = match row.start {
                Some(Ok(t)) => Some(t),
                Some(Err(e)) => {
                    reasons.push(e);
                    None
                }
                None => {
                    reasons.push("no start".into());
                    None
                }
            };
            let end = match row.end {
                Some(Ok(t)) => Some(t),
                Some(Err(e)) => {
                    reasons.push(e);
                    None
                }
                None => {
                    reasons.push("no end".into());
                    None
                }
            };
            if let (Some(s), Some(e)) = (start, end)
                && e <= s
            {
                reasons.push("the shift ends before it starts".into());
            }
            if row.note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
                reasons.push(format!("a note has at most {MAX_NOTE} characters"));
            }
            match (role, user, start, end) {
                (Some(r), Some(user_id), Some(starts_at), Some(ends_at)) if reasons.is_empty() => {
                    let shift =
                        NewShift { role_id: r.definition.id.clone(), user_id, starts_at, ends_at, note: row.note };
                    good.push((row.line, shift));
                }
                _ => errors.push(RowError { line: row.line, reason: reasons.join("; ") }),
            }
        }
        // One person's shifts in one role do not overlap.
        let mut by_person: HashMap<(RoleId, OwnedUserId), Vec<ShiftSpan>> = HashMap::new();
        for (line, s) in &good {
            by_person.entry((s.role_id.clone(), s.user_id.clone())).or_default().push((*line, s.starts_at, s.ends_at));
        }
        for ((role, user), mut shifts) in by_person {
            shifts.sort_by_key(|(line, start, _)| (*start, *line));
            for pair in shifts.windows(2) {
                let ((first, _, first_end), (line, start, _)) = (pair[0], pair[1]);
                if start < first_end {
                    errors.push(RowError {
                        line,
                        reason: format!("{user} has an overlapping shift of {role} on line {first}"),
                    });
                }
            }
        }
        if errors.is_empty() {
            Ok(good)
        } else {
            errors.sort_by_key(|e| e.line);
            Err(RotaImportError::BadRows(errors))
        }
    }

    /// Imports a rota: all or nothing; audited.
    pub async fn import_rota(
        &self,
        by: By<'_>,
        format: RotaFormat,
        data: &[u8],
    ) -> Result<RotaImportReport, RotaImportError> {
        let raw = match format {
            RotaFormat::Csv => read_csv(data)?,
            RotaFormat::Ical => read_ical(data)?,
        };
        if raw.len() > MAX_SHIFTS {
            return Err(RotaImportError::Format(format!("a rota has at most {MAX_SHIFTS} shifts")));
        }
        let shifts: Vec<NewShift> = self.checked_shifts(raw).await?.into_iter().map(|(_, s)| s).collect();
        let count = shifts.len();
        let source = match by.actor() {
            Some(a) => format!("{} by {}", format.name(), a.user_id),
            None => by.detail(format.name()),
        };
        let outcome = self.store.import_shifts(source, shifts, self.clock.now()).await.map_err(ServiceError::from)?;
        let report =
            RotaImportReport { created: outcome.created, removed: outcome.removed, unchanged: outcome.unchanged };
        let mut r = self.audit.entry_by(by, AuditAction::Admin, Outcome::Success);
        r.detail = Some(by.detail(&format!("rota-import format={} shifts={count} {report}", format.name())));
        self.audit.record_now(r).await?;
        self.rota_changed.notify_one();
        Ok(report)
    }
}
