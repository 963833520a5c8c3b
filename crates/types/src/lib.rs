//! Wardline's domain types: ids, accounts, room events and the pure rules that act on them.
//!
//! **Invariant:** nothing in this crate performs I/O. Time comes in through [`Clock`], so
//! expiry and retention rules are testable without sleeping.

pub mod account;
pub mod alarm;
pub mod alarm_rule;
pub mod alert_topic;
pub mod audit;
pub mod broadcast;
pub mod clock;
pub mod dnd;
pub mod escalation;
pub mod event;
pub mod hl7;
pub mod hl7_binding;
pub mod integration;
pub mod media;
pub mod membership;
pub mod patient;
pub mod priority;
mod random_id;
pub mod redaction;
pub mod relation;
pub mod role;
pub mod search;
pub mod shift;
pub mod stream;
pub mod wctp;
pub mod wctp_binding;

pub use account::{Account, AccountUpdate, Device, NewAccount, Username};
pub use clock::{Clock, ManualClock, ShiftedClock, SystemClock, Timestamp};
pub use dnd::{DndPeriod, DoNotDisturb};
pub use event::{
    EventKind, EventLimitError, MAX_EVENT_BYTES, MAX_EVENT_TYPE_BYTES, MAX_STATE_KEY_BYTES, NewEvent, StoredEvent,
    TxnRef, kinds,
};
pub use membership::Membership;
pub use role::{Eligibility, HolderReason, Role, RoleChange, RoleDefinition, RoleHolder, RoleId};
pub use shift::{NewShift, Shift};
pub use stream::{StreamPos, SyncToken};
