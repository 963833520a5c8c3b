//! HL7 v2's rules for receiving a message (chapter 2, "Acknowledgment messages"): which
//! messages Wardline takes, and what each is answered with. The syntax is
//! [`wardline_types::hl7`]; the MLLP listener and what a message means for alarms and patients
//! come with the rest of issue 15's phase 3.
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

pub use ack::{Mode, Outcome, answer, check_header, mode};
