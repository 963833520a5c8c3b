//! One HL7 v2 message, read: its separators and its segments, with access to fields,
//! repetitions, components and sub-components by the standard's numbers.

use super::error::{ErrorCode, Hl7Error};
use super::escape;
use super::{MAX_MESSAGE_BYTES, MAX_SEGMENTS};

/// The separators a message declares in `MSH-1` and `MSH-2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Separators {
    /// Between fields (`|`).
    pub field: char,
    /// Between components (`^`).
    pub component: char,
    /// Between repetitions (`~`).
    pub repetition: char,
    /// Starts and ends an escape sequence (`\`), if the message has one.
    pub escape: Option<char>,
    /// Between sub-components (`&`), if the message has them.
    pub subcomponent: Option<char>,
    /// The truncation character of HL7 2.7 and later (`#`), if declared.
    pub truncation: Option<char>,
}

impl Default for Separators {
    /// `|^~\&`, as nearly every system sends (and Wardline writes).
    fn default() -> Self {
        Self {
            field: '|',
            component: '^',
            repetition: '~',
            escape: Some('\\'),
            subcomponent: Some('&'),
            truncation: None,
        }
    }
}

impl Separators {
    /// `MSH-2` as written for these separators (`^~\&`).
    #[must_use]
    pub fn encoding_characters(&self) -> String {
        let mut s = String::new();
        s.push(self.component);
        s.push(self.repetition);
        s.extend(self.escape);
        s.extend(self.subcomponent);
        if let Some(t) = self.truncation {
            s.push(t);
        }
        s
    }

    /// Reads `MSH-1` (the character after `MSH`) and `MSH-2` (up to the next field separator).
    fn read(text: &str) -> Result<Self, Hl7Error> {
        let bad = |why: &str| Hl7Error::at(ErrorCode::RequiredFieldMissing, "MSH", 1, 2, 0, why);
        let mut chars = text.chars().skip(3);
        let field = chars.next().ok_or_else(|| bad("MSH-1 (the field separator) is missing"))?;
        let encoding: Vec<char> = chars.take_while(|c| *c != field).collect();
        if !(2..=5).contains(&encoding.len()) {
            return Err(bad("MSH-2 (the encoding characters) must be 2 to 5 characters"));
        }
        let at = |i: usize| encoding.get(i).copied();
        let seps = Self {
            field,
            component: at(0).unwrap_or('^'),
            repetition: at(1).unwrap_or('~'),
            escape: at(2),
            subcomponent: at(3),
            truncation: at(4),
        };
        let mut all = vec![seps.field, seps.component, seps.repetition];
        all.extend(seps.escape);
        all.extend(seps.subcomponent);
        all.extend(seps.truncation);
        let distinct = all.iter().enumerate().all(|(i, c)| !all.iter().skip(i + 1).any(|d| d == c));
        if !distinct || all.iter().any(|c| c.is_alphanumeric() || c.is_control() || *c == ' ') {
            return Err(bad(
                "the separators must be distinct, and neither letters, digits, spaces nor control characters",
            ));
        }
        Ok(seps)
    }
}

/// One segment: its id and its fields, raw (escape sequences not yet decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment<'a> {
    /// The segment's id (`MSH`, `PID`, `OBX`).
    pub id: &'a str,
    /// What followed the id, split at the field separator: `fields[0]` is field 1 (for `MSH`,
    /// field 2: `MSH-1` is the separator itself).
    fields: Vec<&'a str>,
    /// Which of the message's segments with this id it is (1 for the first).
    pub occurrence: usize,
    /// For `MSH`: `MSH-1`, the field separator as written.
    separator: &'a str,
}

impl<'a> Segment<'a> {
    /// Field `n`, raw (empty if absent). For `MSH`, `field(1)` is the field separator itself
    /// and `field(2)` the encoding characters, as the standard numbers them.
    #[must_use]
    pub fn raw(&self, n: usize) -> &'a str {
        if self.id == "MSH" && n == 1 {
            return self.separator;
        }
        let index = if self.id == "MSH" { n.checked_sub(2) } else { n.checked_sub(1) };
        index.and_then(|i| self.fields.get(i)).copied().unwrap_or("")
    }

    /// How many fields it has (the last one present).
    #[must_use]
    pub fn len(&self) -> usize {
        if self.id == "MSH" { self.fields.len() + 1 } else { self.fields.len() }
    }

    /// Has it no fields?
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// A message read from its text.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    seps: Separators,
    segments: Vec<Segment<'a>>,
}

/// Is `id` a segment id: three characters, an upper-case letter then upper-case letters or digits?
fn is_segment_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 3
        && b.first().is_some_and(u8::is_ascii_uppercase)
        && b.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

impl<'a> Message<'a> {
    /// Reads one message. Segments end with a carriage return (a line feed, or both, is taken
    /// too); empty lines are skipped. The first segment must be `MSH`.
    ///
    /// # Errors
    /// Too large, not starting with `MSH`, bad separators, a segment whose id is not one.
    pub fn parse(text: &'a str) -> Result<Self, Hl7Error> {
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(Hl7Error::new(ErrorCode::ApplicationError, "the message is too large"));
        }
        if !text.starts_with("MSH") {
            return Err(Hl7Error::at(
                ErrorCode::SegmentSequence,
                "MSH",
                1,
                0,
                0,
                "a message starts with its MSH segment",
            ));
        }
        let seps = Separators::read(text)?;
        let mut segments: Vec<Segment<'a>> = Vec::new();
        // How many of each id so far (a count per id, not a scan per segment: thousands of
        // segments stay linear).
        let mut seen: std::collections::HashMap<&'a str, usize> = std::collections::HashMap::new();
        for line in text.split(['\r', '\n']).filter(|l| !l.trim().is_empty()) {
            if segments.len() >= MAX_SEGMENTS {
                return Err(Hl7Error::new(ErrorCode::ApplicationError, "the message has too many segments"));
            }
            let mut parts = line.split(seps.field);
            let id = parts.next().unwrap_or("");
            if !is_segment_id(id) {
                let n = segments.len() + 1;
                return Err(Hl7Error::new(
                    ErrorCode::SegmentSequence,
                    format!("segment {n} does not start with a segment id (three capital letters or digits)"),
                ));
            }
            let occurrence = {
                let n = seen.entry(id).or_insert(0);
                *n += 1;
                *n
            };
            let separator = if id == "MSH" { line.get(3..3 + seps.field.len_utf8()).unwrap_or("") } else { "" };
            segments.push(Segment { id, fields: parts.collect(), occurrence, separator });
        }
        Ok(Self { seps, segments })
    }

    /// Its separators.
    #[must_use]
    pub fn separators(&self) -> &Separators {
        &self.seps
    }

    /// Every segment, in order.
    #[must_use]
    pub fn segments(&self) -> &[Segment<'a>] {
        &self.segments
    }

    /// The `MSH` segment (there always is one).
    #[must_use]
    pub fn msh(&self) -> Option<&Segment<'a>> {
        self.segments.first()
    }

    /// The first segment with this id.
    #[must_use]
    pub fn segment(&self, id: &str) -> Option<&Segment<'a>> {
        self.segments.iter().find(|s| s.id == id)
    }

    /// Every segment with this id.
    pub fn all(&self, id: &'a str) -> impl Iterator<Item = &Segment<'a>> + '_ {
        self.segments.iter().filter(move |s| s.id == id)
    }

    /// The repetitions of a segment's field `n`, raw.
    pub fn repetitions(&self, segment: &Segment<'a>, n: usize) -> impl Iterator<Item = &'a str> + '_ {
        let raw = segment.raw(n);
        // `MSH-2` holds the separators themselves: never split.
        let whole = segment.id == "MSH" && n <= 2;
        let mut split = raw.split(self.seps.repetition);
        let mut once = Some(raw);
        std::iter::from_fn(move || if whole { once.take() } else { split.next() })
    }

    /// Component `c` (1-based) of the first repetition of field `n`, raw (empty if absent;
    /// `c` = 0 is the whole repetition).
    #[must_use]
    pub fn component_raw(&self, segment: &Segment<'a>, n: usize, c: usize) -> &'a str {
        let first = self.repetitions(segment, n).next().unwrap_or("");
        self.pick(first, c)
    }

    /// Component `c` of one repetition, raw.
    #[must_use]
    pub fn pick(&self, repetition: &'a str, c: usize) -> &'a str {
        match c.checked_sub(1) {
            None => repetition,
            Some(i) => repetition.split(self.seps.component).nth(i).unwrap_or(""),
        }
    }

    /// Component `c` of the first repetition of field `n`, its escape sequences decoded (the
    /// first sub-component's, if it has several).
    #[must_use]
    pub fn text(&self, segment: &Segment<'a>, n: usize, c: usize) -> String {
        self.decode(self.component_raw(segment, n, c))
    }

    /// A raw value's escape sequences decoded, up to its first sub-component separator.
    #[must_use]
    pub fn decode(&self, raw: &str) -> String {
        let first = match self.seps.subcomponent {
            Some(s) => raw.split(s).next().unwrap_or(""),
            None => raw,
        };
        escape::decode(first, &self.seps)
    }

    /// `MSH-9`'s message code, trigger event and structure (`ORU`, `R40`, `ORU_R40`).
    #[must_use]
    pub fn message_type(&self) -> (String, String, String) {
        match self.msh() {
            Some(msh) => (self.text(msh, 9, 1), self.text(msh, 9, 2), self.text(msh, 9, 3)),
            None => Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IHE PCD TF-2's shape of a PCD-04 Report Alert (abridged), as a nurse-call or monitoring
    /// gateway sends it.
    const R40: &str = "MSH|^~\\&|NC_GATEWAY|WARD7|WARDLINE|HOSP|20261201101500+0000||ORU^R40^ORU_R40|MSG00042|P|2.6|||AL|NE||UNICODE UTF-8|||IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.4.1^ISO\r\
PID|||H123456^^^HOSP^MR||Doe^Jane^^^Mrs\r\
PV1||I|WARD7^BAY2^12^MAIN\r\
OBR|1||ALM-991^NC_GATEWAY|196616^MDC_EVT_ALARM^MDC|||20261201101500+0000\r\
OBX|1|ST|0^MDC_EVT_NURSE_CALL^MDC|1.0.0.1|Patient call \\T\\ assist\\F\\bay 2||||||F|||20261201101459+0000\r\
OBX|2|ST|68484^MDC_ATTR_ALARM_PRIORITY^MDC|1.0.0.6|PH||||||F\r";

    #[test]
    fn reads_segments_fields_components_and_escapes() {
        let m = Message::parse(R40).unwrap();
        assert_eq!(m.separators(), &Separators::default());
        let ids: Vec<&str> = m.segments().iter().map(|s| s.id).collect();
        assert_eq!(ids, ["MSH", "PID", "PV1", "OBR", "OBX", "OBX"]);
        let msh = m.msh().unwrap();
        assert_eq!(
            (msh.raw(1), msh.raw(2), msh.raw(3), msh.raw(10), msh.raw(12)),
            ("|", "^~\\&", "NC_GATEWAY", "MSG00042", "2.6")
        );
        assert_eq!(m.message_type(), ("ORU".into(), "R40".into(), "ORU_R40".into()));
        assert_eq!((msh.raw(15), msh.raw(16)), ("AL", "NE"));
        let pv1 = m.segment("PV1").unwrap();
        assert_eq!(
            (m.text(pv1, 3, 1), m.text(pv1, 3, 3), m.text(pv1, 3, 4)),
            ("WARD7".into(), "12".into(), "MAIN".into())
        );
        let pid = m.segment("PID").unwrap();
        assert_eq!(m.text(pid, 5, 2), "Jane");
        assert_eq!(m.text(pid, 3, 5), "MR");
        let obx: Vec<&Segment<'_>> = m.all("OBX").collect();
        assert_eq!(obx.len(), 2);
        assert_eq!(obx[1].occurrence, 2);
        assert_eq!(m.text(obx[0], 5, 0), "Patient call & assist|bay 2", "escapes decoded");
        assert_eq!(m.text(obx[1], 5, 0), "PH");
        assert_eq!(m.text(obx[0], 99, 1), "", "an absent field is empty");
        assert_eq!(pid.raw(0), "");
    }

    #[test]
    fn line_feeds_and_other_separators_are_taken() {
        let m = Message::parse("MSH#*%!@#APP\nPID###a*b%c*d@e\r\n\r\n").unwrap();
        assert_eq!((m.separators().field, m.separators().component), ('#', '*'));
        let pid = m.segment("PID").unwrap();
        assert_eq!(m.repetitions(pid, 3).collect::<Vec<_>>(), ["a*b", "c*d@e"]);
        assert_eq!(m.text(pid, 3, 2), "b");
        assert_eq!(m.pick("c*d@e", 2), "d@e");
        assert_eq!(m.decode("d@e"), "d", "the first sub-component");
        assert_eq!(m.msh().unwrap().raw(1), "#");
        // Two encoding characters: no escape, no sub-components.
        let m = Message::parse("MSH|^~|A|B\rNTE|||x&y\\F\\").unwrap();
        assert_eq!((m.separators().escape, m.separators().subcomponent), (None, None));
        assert_eq!(m.text(m.segment("NTE").unwrap(), 3, 1), "x&y\\F\\");
    }

    #[test]
    fn what_is_not_a_message_is_refused_with_a_reason() {
        for bad in [
            "",
            "PID|1",
            "MSH",
            "MSH|",
            "MSH|^|A",
            "MSH|^~\\&&|A",
            "MSH|a~\\&|A",
            "MSH|^~\\&|A\rpid|1",
            "MSH|^~\\&|A\rPI|1",
        ] {
            let e = Message::parse(bad).unwrap_err();
            assert!(matches!(e.code, ErrorCode::SegmentSequence | ErrorCode::RequiredFieldMissing), "{bad:?}: {e}");
        }
        let big = format!("MSH|^~\\&|{}", "x".repeat(MAX_MESSAGE_BYTES));
        assert_eq!(Message::parse(&big).unwrap_err().code, ErrorCode::ApplicationError);
        let many = format!("MSH|^~\\&|A{}", "\rNTE|1".repeat(MAX_SEGMENTS));
        assert_eq!(Message::parse(&many).unwrap_err().code, ErrorCode::ApplicationError);
    }

    #[test]
    fn never_panics_on_any_prefix_or_corruption_of_a_real_message() {
        // Every prefix, and the message with each byte replaced by each separator: total.
        for end in 0..=R40.len() {
            if let Some(prefix) = R40.get(..end) {
                let _ = Message::parse(prefix).map(|m| (m.message_type(), m.segments().len()));
            }
        }
        let bytes = R40.as_bytes();
        for i in 0..bytes.len() {
            for c in [b'|', b'^', b'~', b'\\', b'&', b'\r', b'\n', b'M'] {
                let mut b = bytes.to_vec();
                if let Some(x) = b.get_mut(i) {
                    *x = c;
                }
                if let Ok(text) = std::str::from_utf8(&b)
                    && let Ok(m) = Message::parse(text)
                {
                    for s in m.segments() {
                        for n in 0..s.len() + 2 {
                            let _ = m.text(s, n, 1);
                            let _ = m.repetitions(s, n).count();
                        }
                    }
                }
            }
        }
    }
}
