//! ADT (`ADT^A01` admit, `A02` transfer, `A03` discharge, `A08` update patient information):
//! the hospital's patient administration system keeping each patient's bed and details current,
//! read into a [`PatientUpdate`]. Pure.
//!
//! Updates are ordered by the message's own time, `EVN-2` (recorded date/time), else `MSH-7`:
//! the store applies one only if it is not older than the record, so a message delayed behind a
//! later one never moves a patient back (it is still acknowledged: it was received and kept).

use wardline_store::{AdtEvent, PatientUpdate};
use wardline_types::Timestamp;
use wardline_types::hl7::{ErrorCode, Hl7Error, Message, dtm};

use super::fields::{bed, patient, present, specialty_at};

/// The events read, with what each is.
pub const EVENTS: [(&str, AdtEvent); 4] =
    [("A01", AdtEvent::Admit), ("A02", AdtEvent::Transfer), ("A03", AdtEvent::Discharge), ("A08", AdtEvent::Update)];

/// Reads an ADT message received at `received`.
///
/// # Errors
/// A content error at its place: no patient identifier in `PID-3` (101), no message time in
/// How far ahead of the server's clock an ADT message's time may be (clock drift).
const MAX_AHEAD_MS: u64 = 5 * 60_000;

/// `EVN-2` or `MSH-7` (101, or 102 when not a date and time), a part too long (102).
pub fn read(m: &Message<'_>, received: Timestamp) -> Result<PatientUpdate, Hl7Error> {
    let (_, trigger, _) = m.message_type();
    let event = EVENTS.iter().find(|(t, _)| *t == trigger).map(|(_, e)| *e).ok_or_else(|| {
        Hl7Error::at(ErrorCode::UnsupportedEvent, "MSH", 1, 9, 2, "the ADT events taken are A01, A02, A03 and A08")
    })?;
    let who = patient(m)?.ok_or_else(|| {
        Hl7Error::at(ErrorCode::RequiredFieldMissing, "PID", 1, 3, 1, "PID-3 must identify the patient")
    })?;
    let evn = m.segment("EVN").and_then(|e| present(m.text(e, 2, 1)));
    let msh = m.msh().and_then(|h| present(m.text(h, 7, 1)));
    let message_time = match (evn, msh) {
        (Some(t), _) => dtm::parse(&t)
            .ok_or_else(|| Hl7Error::at(ErrorCode::DataType, "EVN", 1, 2, 1, "EVN-2 is not an HL7 date and time"))?,
        (None, Some(t)) => dtm::parse(&t)
            .ok_or_else(|| Hl7Error::at(ErrorCode::DataType, "MSH", 1, 7, 1, "MSH-7 is not an HL7 date and time"))?,
        (None, None) => {
            return Err(Hl7Error::at(
                ErrorCode::RequiredFieldMissing,
                "MSH",
                1,
                7,
                1,
                "the message's time (EVN-2 or MSH-7) orders ADT updates: it is required",
            ));
        }
    };
    // A time ahead of the server's (beyond clock drift) would make every true update after it
    // look stale: refused.
    if message_time.0 > received.0.saturating_add(MAX_AHEAD_MS) {
        return Err(Hl7Error::at(
            ErrorCode::DataType,
            "EVN",
            1,
            2,
            1,
            "the message's time (EVN-2 or MSH-7) is ahead of the server's clock",
        ));
    }
    let location = if event == AdtEvent::Discharge { None } else { bed(m)? };
    // Its code (the record keeps one value; a result's alert knows the name as well).
    let specialty = m.segment("PV1").and_then(|p| specialty_at(m, p)).map(|(code, _)| code);
    Ok(PatientUpdate {
        key: who.key,
        event,
        name: who.patient.name,
        birth_date: who.patient.birth_date,
        sex: who.sex,
        location,
        specialty,
        message_time,
        received,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn adt(trigger: &str, evn: &str, pv1: &str) -> String {
        format!(
            "MSH|^~\\&|EPR|HOSP|WARDLINE|HOSP|20261201080000||ADT^{trigger}^ADT_A01|C{trigger}|P|2.5\r\
EVN|{trigger}|{evn}\r\
PID|1||H123456^^^HOSP^MR~9434765919^^^NHS^NH||Doe^Jane^Q||19800314|F\r\
PV1|1|I|{pv1}|||||||MED\r"
        )
    }

    #[test]
    fn admissions_transfers_and_discharges_are_read_in_the_feeds_time() {
        // Received the next day (a message's time may not be ahead of the server's).
        let at = Timestamp(1_796_169_600_000);
        let a01 = read(&Message::parse(&adt("A01", "20261201081500", "Ward 7^3^12^Main")).unwrap(), at).unwrap();
        assert_eq!((a01.key.as_str(), a01.event), ("HOSP|H123456", AdtEvent::Admit), "the first identifier");
        assert_eq!(a01.name.as_deref(), Some("Jane Q Doe"));
        assert_eq!((a01.birth_date.as_deref(), a01.sex.as_deref()), (Some("1980-03-14"), Some("F")));
        assert_eq!(a01.location.as_ref().and_then(|l| l.bed.as_deref()), Some("12"));
        assert_eq!(a01.specialty.as_deref(), Some("MED"));
        assert_eq!(a01.message_time, dtm::parse("20261201081500").unwrap(), "EVN-2 first");
        assert_eq!(a01.received, at);
        let a02 = read(&Message::parse(&adt("A02", "", "Ward 9^1^4")).unwrap(), at).unwrap();
        assert_eq!(a02.event, AdtEvent::Transfer);
        assert_eq!(a02.message_time, dtm::parse("20261201080000").unwrap(), "else MSH-7");
        let a03 = read(&Message::parse(&adt("A03", "20261201090000", "Ward 9^1^4")).unwrap(), at).unwrap();
        assert_eq!((a03.event, a03.location), (AdtEvent::Discharge, None), "a discharge places nobody");
        assert_eq!(read(&Message::parse(&adt("A08", "", "")).unwrap(), at).unwrap().location, None);
        // A time ahead of the server's clock would make every true update after it stale.
        let ahead = read(&Message::parse(&adt("A08", "20261202001000", "")).unwrap(), at).unwrap_err();
        assert_eq!((ahead.code, ahead.place.unwrap().segment.as_str()), (ErrorCode::DataType, "EVN"));
        assert!(read(&Message::parse(&adt("A08", "20261202000400", "")).unwrap(), at).is_ok(), "clock drift");
    }

    #[test]
    fn what_orders_or_identifies_an_update_is_required() {
        let no_id = adt("A01", "", "W^1^2").replace("H123456^^^HOSP^MR~9434765919^^^NHS^NH", "");
        let e = read(&Message::parse(&no_id).unwrap(), Timestamp(1)).unwrap_err();
        assert_eq!((e.code, e.place.unwrap().segment.as_str()), (ErrorCode::RequiredFieldMissing, "PID"));
        let bad_time = adt("A01", "yesterday", "W^1^2");
        assert_eq!(read(&Message::parse(&bad_time).unwrap(), Timestamp(1)).unwrap_err().code, ErrorCode::DataType);
        let no_time = adt("A01", "", "W^1^2").replace("|20261201080000|", "||");
        assert_eq!(
            read(&Message::parse(&no_time).unwrap(), Timestamp(1)).unwrap_err().code,
            ErrorCode::RequiredFieldMissing
        );
    }
}
