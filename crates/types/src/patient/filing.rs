//! Writing a conversation back to the patient's record ("filing"): what a clinician asks to be
//! filed, the id of each request, and where it stands. Pure: the service builds the FHIR
//! resources and the store keeps the requests.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The most messages one filing names.
pub const MAX_FILING_EVENTS: usize = 200;

/// Random bytes in a filing id.
pub const FILING_ID_BYTES: usize = 15;
const FILING_ID_CHARS: usize = 24;

/// Wardline's id of a filing: `fl_` and 24 characters of lowercase base32 (120 random bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FilingId(String);

/// Why a filing id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a filing id is fl_ followed by 24 lowercase letters and digits 2 to 7")]
pub struct InvalidFilingId;

impl FilingId {
    /// Validates `s` as a filing id.
    ///
    /// # Errors
    /// [`InvalidFilingId`].
    pub fn parse(s: &str) -> Result<Self, InvalidFilingId> {
        let ok = s.strip_prefix("fl_").is_some_and(|r| crate::random_id::is_base32(r, FILING_ID_CHARS));
        if ok { Ok(Self(s.to_owned())) } else { Err(InvalidFilingId) }
    }

    /// The id made from `bytes` (random ones, from the caller: this crate does no I/O).
    #[must_use]
    pub fn from_bytes(bytes: &[u8; FILING_ID_BYTES]) -> Self {
        Self(crate::random_id::base32_id("fl_", bytes, FILING_ID_CHARS))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FilingId {
    type Error = InvalidFilingId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<FilingId> for String {
    fn from(id: FilingId) -> Self {
        id.0
    }
}

impl fmt::Display for FilingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a filing stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilingState {
    /// Stored, waiting to be sent or to be tried again.
    Pending,
    /// The record holds it.
    Filed,
    /// The record refused it (or did not answer for too long): not tried again.
    Refused,
}

impl FilingState {
    /// `pending`, `filed`, `refused`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Filed => "filed",
            Self::Refused => "refused",
        }
    }

    /// The state named `s`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "filed" => Some(Self::Filed),
            "refused" => Some(Self::Refused),
            _ => None,
        }
    }
}

/// Which messages a clinician asks to file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilingScope {
    /// These messages (event ids), 1 to [`MAX_FILING_EVENTS`] of them.
    Events(Vec<String>),
    /// Every message of the conversation they may see.
    All,
}

/// What a clinician asks to be filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilingRequest {
    /// Which messages.
    pub scope: FilingScope,
    /// Whether a transcript of the whole conversation is filed too (a `DocumentReference`).
    pub transcript: bool,
}

/// What the record holds of one filed message, as the status shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FiledEventState {
    /// The record holds the message as it is now.
    Filed,
    /// The message was edited or deleted after it was filed: file it again.
    Changed,
    /// The record holds it as entered in error (it was deleted, and that was filed).
    EnteredInError,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filing_id_is_fl_and_base32() {
        let id = FilingId::from_bytes(&[0xff; FILING_ID_BYTES]);
        assert_eq!(id.as_str(), format!("fl_{}", "7".repeat(24)));
        assert_eq!(FilingId::parse(id.as_str()), Ok(id.clone()));
        let zero = FilingId::from_bytes(&[0; FILING_ID_BYTES]);
        assert_eq!(zero.as_str(), format!("fl_{}", "a".repeat(24)));
        for bad in
            ["", "fl_", "al_aaaaaaaaaaaaaaaaaaaaaaaa", "fl_aaaaaaaaaaaaaaaaaaaaaaa1", "fl_AAAAAAAAAAAAAAAAAAAAAAAA"]
        {
            assert_eq!(FilingId::parse(bad), Err(InvalidFilingId), "{bad}");
        }
        for s in [FilingState::Pending, FilingState::Filed, FilingState::Refused] {
            assert_eq!(FilingState::parse(s.as_str()), Some(s));
        }
        assert_eq!(FilingState::parse("sent"), None);
    }
}
