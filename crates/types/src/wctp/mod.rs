//! WCTP 1.3 (Wireless Communication Transfer Protocol, DTD `wctp-dtd-v1r3`): the XML operations
//! paging and nurse-call systems send over HTTP, read by [`parse()`], and the operations Wardline
//! answers and reports with, written by [`write`]. Pure: no I/O.
//!
//! Only what Wardline takes is read: `wctp-SubmitRequest` (a page to one recipient: alphanumeric
//! text, or a multiple-choice response, MCR), `wctp-VersionQuery`, and a peer's
//! `wctp-Confirmation` (its answer to a report Wardline pushed). Any other operation is named,
//! for a `300` answer. The structure is checked as the DTD declares it (order of elements, the
//! required attributes, the enumerated values); a document that breaks it is refused `302`.
//!
//! **Safety.** The text must be UTF-8 and at most [`MAX_BYTES`]; a document declaring entities
//! is refused before it is parsed (no entity expansion at all, so no "billion laughs"), external
//! entities are never fetched (no resolver is given to `roxmltree`), and the tree may hold at most
//! [`MAX_NODES`] nodes. WCTP has no namespaces: a document holding `xmlns` is refused before it
//! is parsed (resolving thousands of nested prefix declarations costs seconds), and so is one
//! nesting elements deeper than [`MAX_DEPTH`], found by a cheap scan. Parsing never panics;
//! callers on an async runtime run it off the workers (`spawn_blocking`).

mod parse;
pub mod write;

pub use parse::parse;

use crate::Timestamp;

/// The `wctpVersion` Wardline writes.
pub const VERSION: &str = "wctp-dtd-v1r3";
/// The largest document read, in bytes (a page is a few hundred).
pub const MAX_BYTES: usize = 64 * 1024;
/// The most nodes (elements, attributes' owners, text) one document may have.
pub const MAX_NODES: u32 = 2_000;
/// The deepest elements may nest (a page nests six deep: operation, request, payload, MCR,
/// pair, choice).
pub const MAX_DEPTH: usize = 12;
/// The most choices a multiple-choice page may offer (a message's answers, 1️⃣ … 6️⃣).
pub const MAX_CHOICES: usize = 6;

/// `200`: the operation was received and stored.
pub const SUCCESS: u16 = 200;
/// `300`: the operation is not supported.
pub const UNSUPPORTED_OPERATION: u16 = 300;
/// `301`: the input cannot be parsed (not XML, not UTF-8, too large, entities declared).
pub const UNPARSABLE: u16 = 301;
/// `302`: the XML is not valid against the DTD's structure.
pub const NOT_VALID: u16 = 302;
/// `303`: the `wctpVersion` is not one Wardline takes.
pub const VERSION_ERROR: u16 = 303;
/// `400`: the function asked for is not supported for this operation (transparent data, more
/// choices than a message can offer).
pub const FUNCTION_NOT_SUPPORTED: u16 = 400;
/// `401`: the `senderID` is not known.
pub const INVALID_SENDER: u16 = 401;
/// `402`: the `securityCode` (or bearer key) is not valid for the sender.
pub const INVALID_SECURITY_CODE: u16 = 402;
/// `403`: the `recipientID` names nobody.
pub const INVALID_RECIPIENT: u16 = 403;
/// `500`: the message could not be processed now (stored nothing): send it again.
pub const PROCESSING_ERROR: u16 = 500;

/// Why an operation was refused: a WCTP error code and a text for the sender's operators.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("wctp {code}: {text}")]
pub struct WctpError {
    /// The WCTP error code.
    pub code: u16,
    /// What was wrong.
    pub text: String,
}

impl WctpError {
    /// An error with this code and text.
    #[must_use]
    pub fn new(code: u16, text: impl Into<String>) -> Self {
        Self { code, text: text.into() }
    }
}

/// `deliveryPriority`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryPriority {
    /// `HIGH`.
    High,
    /// `NORMAL` (the DTD's default).
    Normal,
    /// `LOW`.
    Low,
}

impl DeliveryPriority {
    /// `HIGH`, `NORMAL`, `LOW`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::High => "HIGH",
            Self::Normal => "NORMAL",
            Self::Low => "LOW",
        }
    }
}

/// One answer a multiple-choice page offers: what the device shows, and what goes back to the
/// sender when it is chosen (`wctp-ReplyChoice`; the shown text when there is none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McrChoice {
    /// `wctp-SendChoice` (or a plain `wctp-Choice`).
    pub send: String,
    /// `wctp-ReplyChoice`.
    pub reply: Option<String>,
}

impl McrChoice {
    /// What goes back in a `wctp-MessageReply` when this is chosen.
    #[must_use]
    pub fn reply_text(&self) -> &str {
        self.reply.as_deref().unwrap_or(&self.send)
    }
}

/// What a page carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// `wctp-Alphanumeric`: text.
    Alphanumeric(String),
    /// `wctp-MCR`: text and the answers to choose from.
    Mcr {
        /// `wctp-MessageText`.
        text: String,
        /// The choices, in order.
        choices: Vec<McrChoice>,
    },
    /// `wctp-TransparentData`: binary for a device; not taken (`400`).
    TransparentData,
}

/// A `wctp-SubmitRequest`: one page to one recipient. The security code never appears in
/// `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct SubmitRequest {
    /// `wctp-SubmitHeader@submitTimestamp`, as sent.
    pub submit_timestamp: Option<String>,
    /// `wctp-Originator@senderID`.
    pub sender_id: String,
    /// `wctp-Originator@securityCode`.
    pub security_code: Option<String>,
    /// Where the security code's value stands in the document read (bytes), for
    /// [`SubmitRequest::redacted`].
    pub security_code_at: Option<std::ops::Range<usize>>,
    /// `wctp-MessageControl@messageID`: the sender's id of this page.
    pub message_id: String,
    /// `@transactionID`.
    pub transaction_id: Option<String>,
    /// `@allowResponse` (default `true`).
    pub allow_response: bool,
    /// `@notifyWhenQueued`.
    pub notify_queued: bool,
    /// `@notifyWhenDelivered`.
    pub notify_delivered: bool,
    /// `@notifyWhenRead`.
    pub notify_read: bool,
    /// `@deliveryPriority` (default `NORMAL`).
    pub priority: DeliveryPriority,
    /// `wctp-Recipient@recipientID`.
    pub recipient_id: String,
    /// What it says.
    pub payload: Payload,
}

impl SubmitRequest {
    /// The document this request was read from (`bytes`, as given to [`parse()`]) with the
    /// security code's value replaced by `redacted`: what may be kept, since the code is an API
    /// key.
    #[must_use]
    pub fn redacted(&self, bytes: &[u8]) -> Vec<u8> {
        match &self.security_code_at {
            Some(at) if at.start <= at.end && at.end <= bytes.len() => {
                let mut out = Vec::with_capacity(bytes.len());
                out.extend_from_slice(bytes.get(..at.start).unwrap_or_default());
                out.extend_from_slice(b"redacted");
                out.extend_from_slice(bytes.get(at.end..).unwrap_or_default());
                out
            }
            _ => bytes.to_vec(),
        }
    }
}

impl std::fmt::Debug for SubmitRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubmitRequest")
            .field("sender_id", &self.sender_id)
            .field("message_id", &self.message_id)
            .field("recipient_id", &self.recipient_id)
            .field("priority", &self.priority)
            .finish_non_exhaustive()
    }
}

/// A peer's `wctp-Confirmation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// `wctp-Success` (else `wctp-Failure`).
    pub success: bool,
    /// Its `successCode` or `errorCode`, as sent.
    pub code: String,
    /// Its text, if any.
    pub text: Option<String>,
}

/// An operation as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// A page.
    Submit(Box<SubmitRequest>),
    /// `wctp-VersionQuery@inquirer`.
    VersionQuery {
        /// Who asks.
        inquirer: String,
    },
    /// A `wctp-Confirmation`.
    Confirmation(Confirmation),
    /// Any other operation, by its element's name.
    Other(String),
}

/// A WCTP timestamp, `yyyy-mm-ddThh:mm:ss`, in UTC.
#[must_use]
pub fn timestamp(at: Timestamp) -> String {
    let secs = i64::try_from(at.0 / 1000).unwrap_or(0);
    time::OffsetDateTime::from_unix_timestamp(secs).map_or_else(
        |_| "1970-01-01T00:00:00".to_owned(),
        |t| {
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        },
    )
}

#[cfg(test)]
mod tests;
