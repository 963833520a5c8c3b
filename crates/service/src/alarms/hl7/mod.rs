//! HL7 v2's rules for receiving a message (chapter 2, "Acknowledgment messages"): which
//! messages Wardline takes, and what each is answered with. The syntax is
//! [`wardline_types::hl7`]; the MLLP listener is the binary's (`wardline/src/mllp.rs`), which
//! hands each message to [`crate::alarms::AlarmService::receive_hl7`] (`receive.rs`): what a
//! message means is read by `pcd04.rs` (IHE PCD-04 alarm reports, `ORU^R40`), `oru_r01.rs`
//! (observation results, `ORU^R01`, raising the clinical alerts rules want) and `adt.rs`
//! (`ADT^A01/A02/A03/A08`), from the parts they share (`fields.rs`).
//!
//! - **Original mode** (MSH-15 and MSH-16 both empty): the answer is an application
//!   acknowledgement on the same connection: `AA` stored, `AE` an error in the content (the
//!   sender must not send it again unchanged), `AR` rejected (a type, version, processing id or
//!   sender Wardline does not take, or it could not store the message: the sender may resend).
//! - **Enhanced mode** (either valued): an accept acknowledgement on the same connection, as
//!   MSH-15 asks: `CA` committed to safe storage, `CE` content error, `CR` rejected. `AL` always,
//!   `NE` never, `ER` only for `CE`/`CR`, `SU` only for `CA`. An empty MSH-15 in enhanced mode is
//!   taken as `AL`: a sender waiting for an answer must not hang.
//!
//! **Invariant:** `CA`/`AA` only once the message is stored (the caller says so with
//! [`Outcome::Stored`]); everything else a sender can do is refused with a reason and a code,
//! never a silence it would wait on (except what MSH-15 itself asks not to be answered).

mod ack;
pub mod adt;
pub mod fields;
pub mod oru_r01;
pub mod pcd04;
pub mod pcd05;
pub(crate) mod receive;
#[cfg(test)]
mod receive_tests;

pub use ack::{Mode, Outcome, answer, check_header, mode};
