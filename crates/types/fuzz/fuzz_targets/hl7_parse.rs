//! Any bytes, as an MLLP frame's content, through the HL7 v2 reader and every accessor the
//! service uses, and the acknowledgement of whatever was read: never a panic, and the answer
//! always reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardline_types::hl7::Message;
use wardline_types::hl7::write::{AckCode, Answerer, ack};

const ANSWERER: Answerer<'static> =
    Answerer { application: "WARDLINE", facility: "fuzz.example", now: "20261201101500+0000", control_id: "F1" };

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(m) = Message::parse(&text) else { return };
    let _ = m.message_type();
    for s in m.segments() {
        for f in 0..s.len() + 2 {
            for rep in m.repetitions(s, f) {
                for c in 0..4 {
                    let _ = m.decode(m.pick(rep, c));
                }
            }
            let _ = m.text(s, f, 1);
        }
    }
    let answer = ack(&m, AckCode::AE, &ANSWERER, None);
    assert!(Message::parse(&answer).is_ok(), "an acknowledgement that does not read back: {answer:?}");
});
