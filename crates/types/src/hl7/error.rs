//! Why a message was refused, in HL7's terms: a code of table 0357 (`ERR-3`) and the place of
//! the fault (`ERR-2`, an `ERL`: segment, its occurrence, field, repetition, component).

use std::fmt;

/// HL7 table 0357, "Message error condition codes" (the ones Wardline uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 100: segment sequence error (a segment missing, or out of its place).
    SegmentSequence,
    /// 101: a required field is missing.
    RequiredFieldMissing,
    /// 102: a field's value is not of its data type.
    DataType,
    /// 103: a coded value is not in its table.
    TableValue,
    /// 200: the message type is not supported.
    UnsupportedMessageType,
    /// 201: the event code is not supported.
    UnsupportedEvent,
    /// 202: the processing id is not supported.
    UnsupportedProcessingId,
    /// 203: the version is not supported.
    UnsupportedVersion,
    /// 207: application internal error (what the receiver could not do, not the sender's fault).
    ApplicationError,
}

impl ErrorCode {
    /// The code as `ERR-3` carries it.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::SegmentSequence => "100",
            Self::RequiredFieldMissing => "101",
            Self::DataType => "102",
            Self::TableValue => "103",
            Self::UnsupportedMessageType => "200",
            Self::UnsupportedEvent => "201",
            Self::UnsupportedProcessingId => "202",
            Self::UnsupportedVersion => "203",
            Self::ApplicationError => "207",
        }
    }

    /// Table 0357's text for it.
    #[must_use]
    pub const fn text(self) -> &'static str {
        match self {
            Self::SegmentSequence => "Segment sequence error",
            Self::RequiredFieldMissing => "Required field missing",
            Self::DataType => "Data type error",
            Self::TableValue => "Table value not found",
            Self::UnsupportedMessageType => "Unsupported message type",
            Self::UnsupportedEvent => "Unsupported event code",
            Self::UnsupportedProcessingId => "Unsupported processing id",
            Self::UnsupportedVersion => "Unsupported version id",
            Self::ApplicationError => "Application internal error",
        }
    }

    /// Is it the message's content (answered `AE`/`CE`), rather than something the receiver
    /// cannot take at all (`AR`/`CR`)?
    #[must_use]
    pub const fn is_content(self) -> bool {
        matches!(self, Self::SegmentSequence | Self::RequiredFieldMissing | Self::DataType | Self::TableValue)
    }
}

/// Where in a message a fault is (an `ERL`); numbers are 1-based, 0 where not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The segment's id (`OBX`).
    pub segment: String,
    /// Which of the message's segments with that id (1 for the first).
    pub occurrence: usize,
    /// The field (`OBX-3` is 3).
    pub field: usize,
    /// The component (0: the whole field).
    pub component: usize,
}

impl fmt::Display for Place {
    /// As `ERR-2` writes it: `OBX^1^3^1^2` (segment, occurrence, field, repetition, component).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}^{}", self.segment, self.occurrence)?;
        if self.field > 0 {
            write!(f, "^{}", self.field)?;
            if self.component > 0 {
                write!(f, "^1^{}", self.component)?;
            }
        }
        Ok(())
    }
}

/// A message refused, with why and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} ({}): {message}", code.code(), code.text())]
pub struct Hl7Error {
    /// Table 0357's code.
    pub code: ErrorCode,
    /// Where, if known.
    pub place: Option<Place>,
    /// For people (`ERR-8`): what is wrong, never the message's content.
    pub message: String,
}

impl Hl7Error {
    /// A refusal with no place.
    #[must_use]
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, place: None, message: message.into() }
    }

    /// A refusal at `segment` (its `occurrence`), `field` and `component` (0: the whole field).
    #[must_use]
    pub fn at(
        code: ErrorCode,
        segment: &str,
        occurrence: usize,
        field: usize,
        component: usize,
        message: impl Into<String>,
    ) -> Self {
        let place = Place { segment: segment.to_owned(), occurrence, field, component };
        Self { code, place: Some(place), message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_written_as_err_2_and_codes_as_table_0357() {
        let e = Hl7Error::at(ErrorCode::DataType, "OBX", 2, 14, 0, "OBX-14 is not a date and time");
        assert_eq!(e.place.as_ref().map(ToString::to_string).as_deref(), Some("OBX^2^14"));
        let p = Place { segment: "PV1".into(), occurrence: 1, field: 3, component: 2 };
        assert_eq!(p.to_string(), "PV1^1^3^1^2");
        assert_eq!(Place { segment: "OBR".into(), occurrence: 1, field: 0, component: 0 }.to_string(), "OBR^1");
        assert_eq!(e.to_string(), "102 (Data type error): OBX-14 is not a date and time");
        assert!(ErrorCode::RequiredFieldMissing.is_content() && !ErrorCode::UnsupportedVersion.is_content());
        assert_eq!(ErrorCode::ApplicationError.code(), "207");
    }
}
