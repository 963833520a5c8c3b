//! Property tests of the HL7 v2 reader and writer (`wardline_types::hl7`).
//!
//! - **Agreement.** Messages generated from a known structure (any separators, any number of
//!   segments, fields, repetitions, components and sub-components) are read back to exactly that
//!   structure, and `hl7-parser` (a reader written by others) reads every field, repetition and
//!   component to the same text.
//! - **Escapes.** Any text, written as a value, holds no separator or line break and is read back
//!   as written (line breaks as `\n`).
//! - **Writer.** Any values written into a message are read back from it.
//! - **Hostile input.** Anything (random bytes, a real message corrupted, truncated, stuffed
//!   with separators or repetitions) is read or refused, never a panic, within the limits; and
//!   whatever is read can be answered with an acknowledgement that reads back.
//!
//! `cargo fuzz` (crates/types/fuzz) explores the same reader by coverage, for developers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use proptest::prelude::*;
use wardline_types::hl7::write::{AckCode, Answerer, Field, MessageBuilder, ack};
use wardline_types::hl7::{MAX_MESSAGE_BYTES, MAX_SEGMENTS, Message, Separators, escape};

/// A PCD-04 Report Alert as a monitoring gateway sends it (IHE PCD TF-2's shape, abridged).
const R40: &str = "MSH|^~\\&|MON_GW|ICU|WARDLINE|HOSP|20261201101500+0000||ORU^R40^ORU_R40|MSG00042|P|2.6|||AL|NE||UNICODE UTF-8|||IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.4.1^ISO\r\
PID|||H123456^^^HOSP^MR||Doe^Jane^^^Mrs\r\
PV1||I|ICU^BAY2^12^MAIN\r\
OBR|1|AL-1^MON_GW|AL-1^MON_GW|196616^MDC_EVT_ALARM^MDC|||20261201101500+0000\r\
OBX|1|ST|196616^MDC_EVT_ALARM^MDC|1.0.0.0.1|Apnea \\T\\ desaturation~second||||||F|||20261201101500+0000\r\
OBX|2|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.0.0.0.3|start||||||F\r\
NTE|1||Patient \\F\\ bed 12\r";

/// Separators a system may declare: punctuation (neither letters, digits, spaces nor control
/// characters), five distinct ones as `MSH-1` and `MSH-2` give them.
fn separators() -> impl Strategy<Value = Separators> {
    let pool: Vec<char> = "|^~\\&#!$%*+/:;<=>?@_`{}".chars().collect();
    proptest::sample::subsequence(pool, 5).prop_shuffle().prop_map(|s| Separators {
        field: s[0],
        component: s[1],
        repetition: s[2],
        escape: Some(s[3]),
        subcomponent: Some(s[4]),
        truncation: None,
    })
}

/// Text with no separator in it: letters (some beyond ASCII), digits, spaces, a few marks.
fn plain() -> impl Strategy<Value = String> {
    "[A-Za-z0-9 .,()'éüßΩ-]{0,12}"
}

/// A segment id other than `MSH`: a capital letter, then capitals or digits.
fn segment_id() -> impl Strategy<Value = String> {
    "[A-Z][A-Z0-9]{2}".prop_filter("not MSH", |id| id != "MSH")
}

/// A field: repetitions of components of sub-components.
type FieldShape = Vec<Vec<Vec<String>>>;

fn field_shape() -> impl Strategy<Value = FieldShape> {
    prop::collection::vec(prop::collection::vec(prop::collection::vec(plain(), 1..3), 1..4), 1..3)
}

fn write_field(f: &FieldShape, s: &Separators) -> String {
    let sub = s.subcomponent.unwrap().to_string();
    f.iter()
        .map(|rep| rep.iter().map(|c| c.join(&sub)).collect::<Vec<_>>().join(&s.component.to_string()))
        .collect::<Vec<_>>()
        .join(&s.repetition.to_string())
}

/// A message's shape: `MSH` fields from `MSH-3`, then segments with their fields from 1.
#[derive(Debug, Clone)]
struct Shape {
    seps: Separators,
    msh: Vec<FieldShape>,
    segments: Vec<(String, Vec<FieldShape>)>,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        separators(),
        prop::collection::vec(field_shape(), 1..12),
        // At least one field each: `hl7-parser` does not take a segment that is only its id
        // (Wardline does; `a_segment_that_is_only_its_id_is_read` below).
        prop::collection::vec((segment_id(), prop::collection::vec(field_shape(), 1..8)), 0..8),
    )
        .prop_map(|(seps, msh, segments)| Shape { seps, msh, segments })
}

impl Shape {
    fn text(&self, end: &str) -> String {
        let f = self.seps.field.to_string();
        let mut out = format!("MSH{f}{}", self.seps.encoding_characters());
        for field in &self.msh {
            out.push_str(&f);
            out.push_str(&write_field(field, &self.seps));
        }
        out.push_str(end);
        for (id, fields) in &self.segments {
            out.push_str(id);
            for field in fields {
                out.push_str(&f);
                out.push_str(&write_field(field, &self.seps));
            }
            out.push_str(end);
        }
        out
    }

    /// Every segment's id and fields as the standard numbers them (`MSH-3` is `fields[2]`).
    fn numbered(&self) -> Vec<(String, Vec<Option<&FieldShape>>)> {
        let mut all = vec![("MSH".to_owned(), [None, None].into_iter().chain(self.msh.iter().map(Some)).collect())];
        for (id, fields) in &self.segments {
            all.push((id.clone(), fields.iter().map(Some).collect()));
        }
        all
    }
}

/// Reads everything there is to read in `m` (the way the service does), so a panic anywhere
/// in the accessors shows.
fn read_everything(m: &Message<'_>) -> usize {
    let mut n = 0;
    let _ = m.message_type();
    for s in m.segments() {
        for f in 0..s.len() + 2 {
            for rep in m.repetitions(s, f) {
                for c in 0..4 {
                    n += m.decode(m.pick(rep, c)).len();
                }
            }
            n += m.text(s, f, 1).len();
        }
    }
    n
}

const ANSWERER: Answerer<'static> =
    Answerer { application: "WARDLINE", facility: "hospital.example", now: "20261201101500+0000", control_id: "W1" };

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A message written from a known shape reads back to that shape, and `hl7-parser` reads
    /// it the same way.
    #[test]
    fn generated_messages_read_back_and_agree_with_hl7_parser(shape in shape(), lf in any::<bool>()) {
        let text = shape.text(if lf { "\n" } else { "\r" });
        let ours = Message::parse(&text).unwrap();
        prop_assert_eq!(ours.separators(), &shape.seps);
        let expected = shape.numbered();
        prop_assert_eq!(ours.segments().len(), expected.len());
        let theirs = hl7_parser::Message::parse_with_lenient_newlines(&text, lf).unwrap();
        let theirs: Vec<_> = theirs.segments().collect();
        prop_assert_eq!(theirs.len(), expected.len());
        for ((s, (id, fields)), t) in ours.segments().iter().zip(&expected).zip(&theirs) {
            prop_assert_eq!(s.id, id.as_str());
            prop_assert_eq!(t.name, id.as_str());
            for (i, field) in fields.iter().enumerate() {
                let n = i + 1;
                let their_field = t.field(n);
                prop_assert_eq!(s.raw(n), their_field.map_or("", |f| f.raw_value()), "{}-{}", id, n);
                let Some(field) = field else { continue };
                prop_assert_eq!(s.raw(n), write_field(field, &shape.seps));
                let reps: Vec<&str> = ours.repetitions(s, n).collect();
                prop_assert_eq!(reps.len(), field.len());
                let their_reps: Vec<_> = their_field.unwrap().repeats().collect();
                prop_assert_eq!(their_reps.len(), field.len());
                for ((rep, comps), their_rep) in reps.iter().zip(field.iter()).zip(&their_reps) {
                    prop_assert_eq!(*rep, their_rep.raw_value());
                    for (c, subs) in comps.iter().enumerate() {
                        let raw = ours.pick(rep, c + 1);
                        prop_assert_eq!(raw, their_rep.component(c + 1).unwrap().raw_value());
                        prop_assert_eq!(raw, subs.join(&shape.seps.subcomponent.unwrap().to_string()));
                        // Text reads as its first sub-component, nothing decoded away.
                        prop_assert_eq!(ours.decode(raw), subs[0].clone());
                    }
                    prop_assert_eq!(ours.pick(rep, comps.len() + 1), "");
                }
            }
            prop_assert_eq!(s.raw(fields.len() + 1), "");
        }
    }

    /// Any text written as a value holds no separator or line break and reads back as it was.
    #[test]
    fn escaped_text_holds_no_separator_and_reads_back(seps in separators(), text in any::<String>()) {
        let written = escape::encode(&text, &seps);
        let esc = seps.escape.unwrap();
        // Outside escape sequences, no separator and no control character.
        for (i, part) in written.split(esc).enumerate() {
            if i % 2 == 0 {
                prop_assert!(
                    !part.chars().any(|c| c == seps.field || c == seps.component || c == seps.repetition
                        || Some(c) == seps.subcomponent || c.is_control()),
                    "{:?} in {:?}", part, written
                );
            }
        }
        let expected = text.replace("\r\n", "\n").replace('\r', "\n");
        prop_assert_eq!(escape::decode(&written, &seps), expected);
    }

    /// Values written into a message (any text) are read back from it, field by field.
    #[test]
    fn written_messages_read_back(values in prop::collection::vec(any::<String>(), 1..10)) {
        let fields: Vec<Field> = values.iter().map(|v| Field::text(v.clone())).collect();
        let text = MessageBuilder::new(vec![Field::text("APP"), Field::text("FAC")])
            .segment("ZZZ", fields)
            .build();
        let m = Message::parse(&text).unwrap();
        let z = m.segment("ZZZ").unwrap();
        for (i, v) in values.iter().enumerate() {
            let expected = v.replace("\r\n", "\n").replace('\r', "\n");
            prop_assert_eq!(m.text(z, i + 1, 1), expected);
        }
    }

    /// Random bytes are read or refused, never a panic.
    #[test]
    fn random_input_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(m) = Message::parse(&text) {
            read_everything(&m);
        }
        let with_msh = format!("MSH{text}");
        if let Ok(m) = Message::parse(&with_msh) {
            read_everything(&m);
            let answer = ack(&m, AckCode::AR, &ANSWERER, None);
            prop_assert!(Message::parse(&answer).is_ok(), "{:?}", answer);
        }
    }

    /// A real message corrupted (bytes replaced, inserted, removed, cut short) is read or
    /// refused, never a panic; what is read can be acknowledged, and the answer reads back
    /// with the same control id.
    #[test]
    fn corrupted_messages_never_panic(
        edits in prop::collection::vec((0usize..R40.len(), prop::sample::select(
            vec![b'|', b'^', b'~', b'\\', b'&', b'\r', b'\n', b'M', b'S', b'H', 0u8, 0xC3, 0xFF, b' ']), 0u8..3), 1..12),
        cut in 0usize..=R40.len(),
    ) {
        let mut b = R40.as_bytes().to_vec();
        for (at, byte, how) in edits {
            let at = at.min(b.len());
            match how {
                0 if at < b.len() => b[at] = byte,
                1 => b.insert(at, byte),
                _ if at < b.len() => { b.remove(at); }
                _ => {}
            }
        }
        b.truncate(cut.max(3));
        let text = String::from_utf8_lossy(&b);
        if let Ok(m) = Message::parse(&text) {
            read_everything(&m);
            let answer = ack(&m, AckCode::CA, &ANSWERER, None);
            let back = Message::parse(&answer).unwrap();
            let msa = back.segment("MSA").unwrap();
            let control = m.msh().map(|h| m.text(h, 10, 0)).unwrap_or_default();
            prop_assert_eq!(back.text(msa, 2, 0), control);
        }
    }

    /// Storms of one separator (thousands of fields, repetitions, components) are read in
    /// one pass and their parts counted right.
    #[test]
    fn separator_storms_are_read(which in 0usize..4, count in 1usize..20_000) {
        let c = ['|', '~', '^', '&'][which];
        let storm: String = std::iter::repeat_n(c, count).collect();
        let text = format!("MSH|^~\\&|A|B\rZZZ|x{storm}y\r");
        let m = Message::parse(&text).unwrap();
        let z = m.segment("ZZZ").unwrap();
        match c {
            '|' => prop_assert_eq!(z.len(), count + 1),
            '~' => prop_assert_eq!(m.repetitions(z, 1).count(), count + 1),
            '^' => prop_assert_eq!(m.pick(z.raw(1), count + 1), "y"),
            _ => prop_assert_eq!(m.decode(z.raw(1)), "x"),
        }
        read_everything(&m);
    }
}

/// A segment with no fields (trailing empty fields may be left out, all of them) is read.
#[test]
fn a_segment_that_is_only_its_id_is_read() {
    let m = Message::parse("MSH|^~\\&|A|B\rNTE\rZZZ|1\r").unwrap();
    let ids: Vec<&str> = m.segments().iter().map(|s| s.id).collect();
    assert_eq!(ids, ["MSH", "NTE", "ZZZ"]);
    assert_eq!(m.segment("NTE").unwrap().raw(1), "");
}

/// The limits hold: a message over [`MAX_MESSAGE_BYTES`] or with more than [`MAX_SEGMENTS`]
/// segments is refused without being read.
#[test]
fn limits_hold() {
    let big = format!("MSH|^~\\&|A|B\rZZZ|{}\r", "x".repeat(MAX_MESSAGE_BYTES));
    assert!(Message::parse(&big).is_err());
    let many = format!("MSH|^~\\&|A|B\r{}", "ZZZ|1\r".repeat(MAX_SEGMENTS));
    assert!(Message::parse(&many).is_err());
    let just = format!("MSH|^~\\&|A|B\r{}", "ZZZ|1\r".repeat(MAX_SEGMENTS - 1));
    assert_eq!(Message::parse(&just).unwrap().segments().len(), MAX_SEGMENTS);
}
