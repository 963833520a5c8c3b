//! The NHS number: ten digits, the last a modulus-11 check digit (NHS Data Dictionary, "NHS
//! Number"). Checked before any query is made with one, so a mistyped number is refused at once
//! instead of finding nobody (or, worse, someone else).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The FHIR identifier system of NHS numbers (NHS England's FHIR naming system).
pub const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

/// A valid NHS number, held as its ten digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NhsNumber([u8; 10]);

/// Why a text is not an NHS number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NhsNumberError {
    /// Not ten digits (spaces and hyphens between groups aside).
    #[error("an NHS number is 10 digits")]
    NotTenDigits,
    /// The check digit does not match the first nine.
    #[error("this NHS number's check digit is wrong: please check the number")]
    CheckDigit,
}

impl NhsNumber {
    /// Reads an NHS number written as ten digits, optionally grouped `3 3 4` with spaces or
    /// hyphens (`943 476 5919`, `943-476-5919`), and checks its check digit.
    ///
    /// # Errors
    /// Not ten digits, or a wrong check digit.
    pub fn parse(text: &str) -> Result<Self, NhsNumberError> {
        let text = text.trim();
        let mut digits = [0u8; 10];
        let mut n = 0;
        for c in text.chars() {
            match c {
                '0'..='9' if n < 10 => {
                    digits[n] = c as u8 - b'0';
                    n += 1;
                }
                ' ' | '-' if n == 3 || n == 6 => {}
                _ => return Err(NhsNumberError::NotTenDigits),
            }
        }
        if n != 10 || text.len() > 12 {
            return Err(NhsNumberError::NotTenDigits);
        }
        if check_digit(&digits) != Some(digits[9]) {
            return Err(NhsNumberError::CheckDigit);
        }
        Ok(Self(digits))
    }

    /// The ten digits, ungrouped (`9434765919`): as FHIR identifiers carry it.
    #[must_use]
    pub fn digits(&self) -> String {
        self.0.iter().map(|d| char::from(b'0' + d)).collect()
    }

    /// Grouped for reading (`943 476 5919`), as the NHS displays it.
    #[must_use]
    pub fn grouped(&self) -> String {
        let d = self.digits();
        format!("{} {} {}", &d[..3], &d[3..6], &d[6..])
    }
}

/// The check digit of the first nine digits: weights 10 down to 2, `11 - (sum mod 11)`, where
/// 11 means 0 and 10 means no number has these nine digits.
fn check_digit(digits: &[u8; 10]) -> Option<u8> {
    let sum: u32 = digits[..9].iter().zip((2..=10u32).rev()).map(|(d, w)| u32::from(*d) * w).sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        c => u8::try_from(c).ok(),
    }
}

impl fmt::Display for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.grouped())
    }
}

impl fmt::Debug for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NhsNumber({})", self.digits())
    }
}

impl Serialize for NhsNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.digits())
    }
}

impl<'de> Deserialize<'de> for NhsNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_numbers_are_read_grouped_or_not() {
        // The NHS's own example numbers (Data Dictionary, test data).
        for text in ["9434765919", "943 476 5919", "943-476-5919", " 4010232137 ", "9990000026"] {
            let n = NhsNumber::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(n.digits().len(), 10);
        }
        assert_eq!(NhsNumber::parse("943 476 5919").map(|n| n.grouped()), Ok("943 476 5919".to_owned()));
        assert_eq!(NhsNumber::parse("9434765919").map(|n| n.digits()), Ok("9434765919".to_owned()));
    }

    #[test]
    fn a_wrong_check_digit_is_refused() {
        for text in ["9434765918", "9434765910", "4010232138", "1234567890"] {
            assert_eq!(NhsNumber::parse(text), Err(NhsNumberError::CheckDigit), "{text}");
        }
    }

    #[test]
    fn a_check_digit_of_ten_means_no_number() {
        // 100000001: 1*10 + 1*2 = 12, 12 mod 11 = 1, 11 - 1 = 10: no tenth digit makes it valid.
        for last in 0..=9 {
            let text = format!("100000001{last}");
            assert_eq!(NhsNumber::parse(&text), Err(NhsNumberError::CheckDigit), "{text}");
        }
    }

    #[test]
    fn a_remainder_of_zero_gives_check_digit_zero() {
        // 000000000: 0 mod 11 = 0, 11 - 0 = 11, which means 0.
        // 110000000: 10 + 9 = 19, 19 mod 11 = 8, 11 - 8 = 3.
        assert!(NhsNumber::parse("0000000000").is_ok());
        assert!(NhsNumber::parse("1100000003").is_ok());
        assert_eq!(NhsNumber::parse("1100000004"), Err(NhsNumberError::CheckDigit));
    }

    #[test]
    fn anything_but_ten_digits_is_refused() {
        for text in [
            "",
            "943476591",
            "94347659190",
            "9434765919x",
            "94 34765919",
            "943  476 5919",
            "943.476.5919",
            "９４３４７６５９１９",
            "943 476 5919 ",
            "+9434765919",
        ] {
            let got = NhsNumber::parse(text);
            if text == "943 476 5919 " {
                // Surrounding spaces are trimmed.
                assert!(got.is_ok());
            } else {
                assert_eq!(got, Err(NhsNumberError::NotTenDigits), "{text:?}");
            }
        }
    }

    #[test]
    fn serde_round_trips_as_digits_and_checks() {
        let n = NhsNumber::parse("943 476 5919").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(serde_json::to_string(&n).ok(), Some("\"9434765919\"".to_owned()));
        assert!(serde_json::from_str::<NhsNumber>("\"9434765918\"").is_err());
    }
}
