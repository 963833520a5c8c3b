//! Writing HL7 v2 messages: segments built from values, every value escaped, with the default
//! separators `|^~\&`; and the acknowledgement (`ACK` with `MSA` and `ERR`) that answers a
//! message.

use super::error::Hl7Error;
use super::escape::encode;
use super::message::{Message, Separators};

/// A field as written: its components (each escaped when written).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Field(Vec<String>);

impl Field {
    /// A field of one value.
    #[must_use]
    pub fn text(value: impl Into<String>) -> Self {
        Self(vec![value.into()])
    }

    /// A field of several components (`ACK^R40^ACK`).
    #[must_use]
    pub fn components<S: Into<String>>(parts: impl IntoIterator<Item = S>) -> Self {
        Self(parts.into_iter().map(Into::into).collect())
    }

    fn write(&self, seps: &Separators, out: &mut String) {
        for (i, c) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(seps.component);
            }
            out.push_str(&encode(c, seps));
        }
        // Trailing empty components are not written.
        while out.ends_with(seps.component) {
            out.pop();
        }
    }
}

impl<S: Into<String>> From<S> for Field {
    fn from(value: S) -> Self {
        Self::text(value)
    }
}

/// A message being written.
#[derive(Debug, Clone, Default)]
pub struct MessageBuilder {
    seps: Separators,
    out: String,
}

impl MessageBuilder {
    /// A message with the default separators, starting with its `MSH` segment: `fields` are
    /// `MSH-3` onwards.
    #[must_use]
    pub fn new(msh: Vec<Field>) -> Self {
        let seps = Separators::default();
        let mut out = String::from("MSH");
        out.push(seps.field);
        out.push_str(&seps.encoding_characters());
        let mut b = Self { seps, out };
        b.fields(msh);
        b.out.push('\r');
        b
    }

    fn fields(&mut self, fields: Vec<Field>) {
        for f in fields {
            self.out.push(self.seps.field);
            f.write(&self.seps, &mut self.out);
        }
        while self.out.ends_with(self.seps.field) {
            self.out.pop();
        }
    }

    /// Adds a segment: its id, then its fields from field 1.
    #[must_use]
    pub fn segment(mut self, id: &str, fields: Vec<Field>) -> Self {
        self.out.push_str(id);
        self.fields(fields);
        self.out.push('\r');
        self
    }

    /// The message's text (each segment ended by a carriage return).
    #[must_use]
    pub fn build(self) -> String {
        self.out
    }
}

/// The acknowledgement code of `MSA-1` (HL7 table 0008).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    /// Original mode: accepted.
    AA,
    /// Original mode: error in the content (do not send again unchanged).
    AE,
    /// Original mode: rejected (the type, version or sender; or the receiver could not take it).
    AR,
    /// Enhanced mode: committed to safe storage.
    CA,
    /// Enhanced mode: error in the content.
    CE,
    /// Enhanced mode: rejected.
    CR,
}

impl AckCode {
    /// As `MSA-1` writes it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AA => "AA",
            Self::AE => "AE",
            Self::AR => "AR",
            Self::CA => "CA",
            Self::CE => "CE",
            Self::CR => "CR",
        }
    }
}

/// Who answers, and when: what an acknowledgement's own `MSH` says.
#[derive(Debug, Clone)]
pub struct Answerer<'a> {
    /// `MSH-3` of the answer (Wardline's application name).
    pub application: &'a str,
    /// `MSH-4` of the answer (the server's name).
    pub facility: &'a str,
    /// `MSH-7`: now, as a `DTM`.
    pub now: &'a str,
    /// `MSH-10`: a new control id for the answer.
    pub control_id: &'a str,
}

/// The acknowledgement of `message`: `MSH` (sender and receiver swapped, `ACK^<trigger>^ACK`,
/// its processing id and version), `MSA` (the code, and `MSA-2` = the message's `MSH-10`), and
/// for a refusal an `ERR` (`ERR-2` place, `ERR-3` table 0357 code, `ERR-4` severity `E`,
/// `ERR-8` the reason).
#[must_use]
pub fn ack(message: &Message<'_>, code: AckCode, by: &Answerer<'_>, error: Option<&Hl7Error>) -> String {
    let (sender_app, sender_facility, control, processing, version, trigger) = match message.msh() {
        Some(m) => (
            message.text(m, 3, 0),
            message.text(m, 4, 0),
            message.text(m, 10, 0),
            message.text(m, 11, 1),
            message.text(m, 12, 1),
            message.text(m, 9, 2),
        ),
        None => Default::default(),
    };
    let msh = vec![
        Field::text(by.application),
        Field::text(by.facility),
        Field::text(sender_app),
        Field::text(sender_facility),
        Field::text(by.now),
        Field::default(),
        Field::components(["ACK", trigger.as_str(), "ACK"]),
        Field::text(by.control_id),
        Field::text(processing),
        Field::text(version),
    ];
    let mut b = MessageBuilder::new(msh).segment("MSA", vec![Field::text(code.as_str()), Field::text(control)]);
    if let Some(e) = error {
        let place = e
            .place
            .as_ref()
            .map(|p| {
                let mut parts = vec![p.segment.clone(), p.occurrence.to_string()];
                if p.field > 0 {
                    parts.push(p.field.to_string());
                    if p.component > 0 {
                        parts.push("1".to_owned());
                        parts.push(p.component.to_string());
                    }
                }
                Field::components(parts)
            })
            .unwrap_or_default();
        b = b.segment(
            "ERR",
            vec![
                Field::default(),
                place,
                Field::components([e.code.code(), e.code.text(), "HL70357"]),
                Field::text("E"),
                Field::default(),
                Field::default(),
                Field::default(),
                Field::text(e.message.as_str()),
            ],
        );
    }
    b.build()
}

#[cfg(test)]
mod tests {
    use super::super::error::ErrorCode;
    use super::*;

    const BY: Answerer<'static> = Answerer {
        application: "WARDLINE",
        facility: "hospital.example",
        now: "20261201101501+0000",
        control_id: "WL1",
    };

    #[test]
    fn an_acknowledgement_answers_the_message_it_acknowledges() {
        let text = "MSH|^~\\&|NC|WARD7|WARDLINE|HOSP|20261201101500||ORU^R40^ORU_R40|MSG00042|P|2.6|||AL|NE\rOBR|1\r";
        let m = Message::parse(text).unwrap();
        let a = ack(&m, AckCode::CA, &BY, None);
        assert_eq!(
            a,
            "MSH|^~\\&|WARDLINE|hospital.example|NC|WARD7|20261201101501+0000||ACK^R40^ACK|WL1|P|2.6\rMSA|CA|MSG00042\r"
        );
        let back = Message::parse(&a).unwrap();
        assert_eq!(back.message_type(), ("ACK".into(), "R40".into(), "ACK".into()));
        assert_eq!(back.text(back.segment("MSA").unwrap(), 2, 0), "MSG00042");
    }

    #[test]
    fn a_refusal_says_why_and_where_and_escapes_what_it_quotes() {
        let m = Message::parse("MSH|^~\\&|A|B|C|D|20261201||ORU^R40|X\\F\\1|P|2.6\r").unwrap();
        let e = Hl7Error::at(ErrorCode::RequiredFieldMissing, "OBX", 1, 3, 2, "OBX-3 needs a code | and a system");
        let a = ack(&m, AckCode::AE, &BY, Some(&e));
        let back = Message::parse(&a).unwrap();
        let msa = back.segment("MSA").unwrap();
        assert_eq!(
            (back.text(msa, 1, 0), back.text(msa, 2, 0)),
            ("AE".into(), "X|1".into()),
            "MSA-2 is the control id"
        );
        let err = back.segment("ERR").unwrap();
        assert_eq!(back.component_raw(err, 2, 0), "OBX^1^3^1^2");
        assert_eq!((back.text(err, 3, 1), back.text(err, 3, 3)), ("101".into(), "HL70357".into()));
        assert_eq!(back.text(err, 4, 0), "E");
        assert_eq!(back.text(err, 8, 0), "OBX-3 needs a code | and a system");
        let whole = Hl7Error::new(ErrorCode::UnsupportedVersion, "version 2.1 is not supported");
        let a = ack(&m, AckCode::AR, &BY, Some(&whole));
        assert!(a.contains("\rERR|||203^Unsupported version id^HL70357|E||||version 2.1 is not supported\r"), "{a}");
    }

    #[test]
    fn values_cannot_break_out_of_their_field() {
        let b = MessageBuilder::new(vec![Field::text("A|B\rPID|1"), Field::components(["x^y", "", ""])]).build();
        let m = Message::parse(&b).unwrap();
        assert_eq!(m.segments().len(), 1, "{b:?}");
        let msh = m.msh().unwrap();
        assert_eq!((m.text(msh, 3, 0), m.text(msh, 4, 1)), ("A|B\nPID|1".into(), "x^y".into()));
    }
}
