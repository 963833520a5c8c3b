//! HL7 version 2 messages (chapter 2 of the standard, "Control"): reading what a hospital
//! system sends over MLLP and writing the acknowledgements Wardline answers with. Pure: no I/O.
//!
//! - [`Message::parse`] takes one message (segments ended by carriage returns; a line feed is
//!   tolerated), learns its separators from `MSH-1`/`MSH-2`, and gives field, repetition,
//!   component and sub-component access by the standard's 1-based numbers. It never panics and
//!   never allocates more than a few times the input; a refusal is an [`Hl7Error`] carrying the
//!   code of HL7 table 0357 and, where it has one, the place (`ERR-2`, an `ERL`).
//! - [`escape`] decodes and encodes the escape sequences (`\F\ \S\ \T\ \R\ \E\ \Xhh\ \.br\`).
//! - [`write`] builds messages (an `ACK` with its `MSA` and `ERR`) with every value escaped.
//! - [`dtm`] reads an HL7 date and time (`DTM`) as a [`crate::Timestamp`].
//!
//! The protocol rules (which answer an original or enhanced-mode message gets, what an alarm
//! is) are the service layer's (`alarms/hl7/`); this module only reads and writes the syntax.

pub mod dtm;
mod error;
pub mod escape;
mod message;
pub mod write;

pub use error::{ErrorCode, Hl7Error, Place};
pub use message::{Message, Segment, Separators};

/// The largest message [`Message::parse`] takes, in bytes (an alarm or ADT message is a few
/// kilobytes; a listener may set a lower limit).
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// The most segments one message may have.
pub const MAX_SEGMENTS: usize = 10_000;
