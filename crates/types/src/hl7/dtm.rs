//! HL7's date and time (`DTM`, and `TS`'s first component):
//! `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`.
//!
//! A value without an offset is the sender's local time, which the message does not say; it is
//! read as UTC here, and a deployment whose systems send local times sets them to send an offset
//! (or UTC).

use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

use crate::Timestamp;

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Reads a `DTM` as a [`Timestamp`]; `None` if it is not one (or is before 1970).
#[must_use]
pub fn parse(value: &str) -> Option<Timestamp> {
    let value = value.trim();
    let (main, offset) = match value.find(['+', '-']) {
        Some(i) => (value.get(..i)?, Some(value.get(i..)?)),
        None => (value, None),
    };
    let (whole, fraction) = match main.split_once('.') {
        Some((w, f)) if !f.is_empty() && f.len() <= 4 && w.len() == 14 => (w, Some(f)),
        Some(_) => return None,
        None => (main, None),
    };
    if ![4, 6, 8, 10, 12, 14].contains(&whole.len()) || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let part = |from: usize, len: usize, default: u32| match whole.get(from..from + len) {
        Some(s) => digits(s),
        None => Some(default),
    };
    let year = i32::try_from(part(0, 4, 0)?).ok()?;
    let month = Month::try_from(u8::try_from(part(4, 2, 1)?).ok()?).ok()?;
    let day = u8::try_from(part(6, 2, 1)?).ok()?;
    let (hour, minute, second) = (part(8, 2, 0)?, part(10, 2, 0)?, part(12, 2, 0)?);
    let millis = match fraction {
        Some(f) => {
            let n = digits(f)?;
            // Tenths, hundredths, thousandths, ten-thousandths: to milliseconds.
            match f.len() {
                1 => n * 100,
                2 => n * 10,
                3 => n,
                _ => n / 10,
            }
        }
        None => 0,
    };
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms_milli(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        u16::try_from(millis).ok()?,
    )
    .ok()?;
    let offset = match offset {
        None => UtcOffset::UTC,
        Some(o) => {
            let (sign, hhmm) = o.split_at_checked(1)?;
            if hhmm.len() != 4 {
                return None;
            }
            let (h, m) = (i8::try_from(digits(hhmm.get(..2)?)?).ok()?, i8::try_from(digits(hhmm.get(2..)?)?).ok()?);
            // Real offsets run from -12:00 to +14:00.
            if h > 14 || m > 59 {
                return None;
            }
            let (h, m) = if sign == "-" { (-h, -m) } else { (h, m) };
            UtcOffset::from_hms(h, m, 0).ok()?
        }
    };
    let at = PrimitiveDateTime::new(date, time).assume_offset(offset);
    u64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok().map(Timestamp)
}

/// A [`Timestamp`] written as a `DTM` in UTC to the second, with its offset: `20261201101500+0000`.
#[must_use]
pub fn format(ts: Timestamp) -> String {
    let secs = i64::try_from(ts.0 / 1000).unwrap_or(i64::MAX);
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}+0000",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_796_120_100_000; // 2026-12-01T10:15:00Z

    #[test]
    fn reads_every_precision_and_offset() {
        assert_eq!(parse("20261201101500+0000"), Some(Timestamp(T)));
        assert_eq!(parse("20261201101500"), Some(Timestamp(T)), "no offset: read as UTC");
        assert_eq!(parse("20261201111500+0100"), Some(Timestamp(T)));
        assert_eq!(parse("20261201051500-0500"), Some(Timestamp(T)));
        assert_eq!(parse("20261201101500.25+0000"), Some(Timestamp(T + 250)));
        assert_eq!(parse("20261201101500.1234"), Some(Timestamp(T + 123)));
        assert_eq!(parse("202612011015"), Some(Timestamp(T)));
        assert_eq!(parse("2026120110"), Some(Timestamp(T - 15 * 60_000)));
        assert_eq!(parse("20261201"), Some(Timestamp(T - 10 * 3_600_000 - 15 * 60_000)));
        assert_eq!(parse("2026"), parse("20260101000000"));
    }

    #[test]
    fn what_is_not_a_date_is_none() {
        for bad in [
            "",
            "yesterday",
            "2026120",
            "20261301",
            "20260230",
            "20261201251500",
            "20261201101560",
            "20261201101500+01",
            "20261201101500+2500",
            "2026120110.5",
            "20261201101500.",
            "20261201101500.12345",
            "1969",
            "２０２６",
            "20261201101500++0000",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn writes_what_it_reads() {
        assert_eq!(format(Timestamp(T + 999)), "20261201101500+0000");
        assert_eq!(parse(&format(Timestamp(T))), Some(Timestamp(T)));
    }
}
