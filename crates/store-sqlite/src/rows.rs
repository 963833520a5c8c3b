//! Turning rows into records.

use ruma::{OwnedDeviceId, OwnedEventId, OwnedRoomId, OwnedTransactionId, OwnedUserId};
use rusqlite::Row;
use wardline_store::StoreError;
use wardline_types::{Account, NewEvent, StoredEvent, StreamPos, Timestamp, TxnRef};

/// Columns read by [`event_from_row`], in order.
pub(crate) const EVENT_COLUMNS: &str = "stream, event_id, room_id, sender, type, state_key, content, \
     origin_server_ts, redacts, txn_device, txn_id, redacted_because";

/// Columns read by [`account_from_row`], in order.
pub(crate) const ACCOUNT_COLUMNS: &str = "user_id, display_name, avatar_url, is_admin, \
     must_change_password, deactivated, job_title, department, email, phone, created_ts, last_sign_in_ts, may_broadcast";

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

pub(crate) fn parse_user(s: &str) -> Result<OwnedUserId, StoreError> {
    OwnedUserId::try_from(s).map_err(|e| corrupt("user id", e))
}

pub(crate) fn parse_room(s: &str) -> Result<OwnedRoomId, StoreError> {
    OwnedRoomId::try_from(s).map_err(|e| corrupt("room id", e))
}

pub(crate) fn parse_event_id(s: &str) -> Result<OwnedEventId, StoreError> {
    OwnedEventId::try_from(s).map_err(|e| corrupt("event id", e))
}

/// A device id as stored: `''` for none (recorded before devices were).
pub(crate) fn parse_device(s: &str) -> Option<OwnedDeviceId> {
    (!s.is_empty()).then(|| OwnedDeviceId::from(s))
}

/// A device id to store: `''` for none.
pub(crate) fn sql_device(d: Option<&OwnedDeviceId>) -> &str {
    d.map_or("", |d| d.as_str())
}

pub(crate) fn ts(v: i64) -> Timestamp {
    Timestamp(u64::try_from(v).unwrap_or(0))
}

pub(crate) fn sql_ts(t: Timestamp) -> i64 {
    i64::try_from(t.0).unwrap_or(i64::MAX)
}

/// The raw columns of an event row, read inside rusqlite's row callback.
pub(crate) struct EventRow {
    stream: i64,
    event_id: String,
    room_id: String,
    sender: String,
    kind: String,
    state_key: Option<String>,
    content: String,
    origin_server_ts: i64,
    redacts: Option<String>,
    txn_device: Option<String>,
    txn_id: Option<String>,
    redacted_because: Option<String>,
}

impl EventRow {
    pub(crate) fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            stream: r.get(0)?,
            event_id: r.get(1)?,
            room_id: r.get(2)?,
            sender: r.get(3)?,
            kind: r.get(4)?,
            state_key: r.get(5)?,
            content: r.get(6)?,
            origin_server_ts: r.get(7)?,
            redacts: r.get(8)?,
            txn_device: r.get(9)?,
            txn_id: r.get(10)?,
            redacted_because: r.get(11)?,
        })
    }

    pub(crate) fn into_event(self) -> Result<StoredEvent, StoreError> {
        let txn = match (self.txn_device, self.txn_id) {
            (Some(d), Some(t)) => {
                Some(TxnRef { device_id: OwnedDeviceId::from(d), txn_id: OwnedTransactionId::from(t) })
            }
            _ => None,
        };
        Ok(StoredEvent {
            stream: StreamPos(self.stream),
            event: NewEvent {
                event_id: parse_event_id(&self.event_id)?,
                room_id: parse_room(&self.room_id)?,
                sender: parse_user(&self.sender)?,
                kind: self.kind,
                state_key: self.state_key,
                content: serde_json::from_str(&self.content).map_err(|e| corrupt("event content", e))?,
                origin_server_ts: ts(self.origin_server_ts),
                redacts: self.redacts.as_deref().map(parse_event_id).transpose()?,
                txn,
            },
            redacted_because: self
                .redacted_because
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| corrupt("redacted_because", e))?,
        })
    }
}

/// Runs an event query and converts every row.
pub(crate) fn query_events(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(crate::backend_err)?;
    let rows = stmt.query_map(params, EventRow::read).map_err(crate::backend_err)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(crate::backend_err)?.into_event()?);
    }
    Ok(out)
}

/// The raw columns of an account row.
pub(crate) struct AccountRow {
    user_id: String,
    display_name: Option<String>,
    avatar_url: Option<String>,
    is_admin: bool,
    must_change_password: bool,
    deactivated: bool,
    job_title: Option<String>,
    department: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    created_ts: i64,
    last_sign_in_ts: Option<i64>,
    may_broadcast: bool,
}

impl AccountRow {
    pub(crate) fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            user_id: r.get(0)?,
            display_name: r.get(1)?,
            avatar_url: r.get(2)?,
            is_admin: r.get(3)?,
            must_change_password: r.get(4)?,
            deactivated: r.get(5)?,
            job_title: r.get(6)?,
            department: r.get(7)?,
            email: r.get(8)?,
            phone: r.get(9)?,
            created_ts: r.get(10)?,
            last_sign_in_ts: r.get(11)?,
            may_broadcast: r.get(12)?,
        })
    }

    pub(crate) fn into_account(self) -> Result<Account, StoreError> {
        Ok(Account {
            user_id: parse_user(&self.user_id)?,
            display_name: self.display_name,
            avatar_url: self.avatar_url,
            is_admin: self.is_admin,
            must_change_password: self.must_change_password,
            deactivated: self.deactivated,
            job_title: self.job_title,
            department: self.department,
            email: self.email,
            phone: self.phone,
            created_at: ts(self.created_ts),
            last_sign_in: self.last_sign_in_ts.map(ts),
            may_broadcast: self.may_broadcast,
        })
    }
}

/// Runs an account query and converts every row.
pub(crate) fn query_accounts(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Account>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(crate::backend_err)?;
    let rows = stmt.query_map(params, AccountRow::read).map_err(crate::backend_err)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(crate::backend_err)?.into_account()?);
    }
    Ok(out)
}

/// Runs a statement through the connection's statement cache (parsed once per connection).
pub(crate) fn exec(conn: &rusqlite::Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// Reads one row through the connection's statement cache.
pub(crate) fn query_one<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

/// A list of ids as one JSON array: a single SQL parameter that `json_each` opens, whatever the
/// number of ids (SQLite caps the number of parameters of a statement).
pub(crate) fn json_list<S: AsRef<str>>(items: &[S]) -> String {
    serde_json::Value::from(items.iter().map(AsRef::as_ref).collect::<Vec<&str>>()).to_string()
}
