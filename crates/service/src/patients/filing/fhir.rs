//! What a filing sends the record, built from messages already read (pure: no store, no
//! network): each message as a FHIR R4 `Communication`, a transcript as a `DocumentReference`,
//! and the `transaction` Bundles that carry them as conditional updates
//! (`PUT Communication?identifier=<system>|<value>`), so sending again updates the record's copy
//! and never adds a second one. What the record answered is read back into resource ids.
//!
//! People are logical references (an identifier in Wardline's user system and a display name):
//! the record need not know Wardline's users as Practitioners.

use base64::Engine;
use serde_json::{Value, json};
use wardline_types::Timestamp;
use wardline_types::patient::PatientSummary;
use wardline_types::priority::Level;

/// A person as a logical reference: their Matrix user id and the name shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// `@ann:server`.
    pub user_id: String,
    /// Their display name, if they have one.
    pub display: Option<String>,
}

/// A file sent with a message, as the record gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Its media type (`image/png`).
    pub content_type: String,
    /// Its name.
    pub title: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its bytes, when small enough to send; `None`: named only, it stays in Wardline.
    pub data: Option<Vec<u8>>,
}

/// What a message says, as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// Deleted: the record marks its copy entered in error and keeps no content.
    Deleted,
    /// Text (a location as its `geo:` URI).
    Text(String),
    /// A file.
    File(Attachment),
}

/// One message, read and resolved (its latest edit applied), ready to be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its event id.
    pub event_id: String,
    /// Who sent it.
    pub sender: Person,
    /// When (`origin_server_ts`).
    pub sent: Timestamp,
    /// What it says.
    pub payload: Payload,
    /// Who it was sent to: the conversation's members when it was sent, less its sender.
    pub recipients: Vec<Person>,
    /// The event it replies to.
    pub reply_to: Option<String>,
    /// Its priority.
    pub level: Level,
}

/// What every resource of one filing shares.
#[derive(Debug, Clone, Copy)]
pub struct Filed<'a> {
    /// The server's name (`wardline.trust.example`), which names its identifier systems.
    pub server_name: &'a str,
    /// The patient as tied.
    pub patient: &'a PatientSummary,
}

/// The identifier system of messages: `urn:wardline:<server>:event`.
#[must_use]
pub fn event_system(server_name: &str) -> String {
    format!("urn:wardline:{server_name}:event")
}

/// The identifier system of people: `urn:wardline:<server>:user`.
#[must_use]
pub fn user_system(server_name: &str) -> String {
    format!("urn:wardline:{server_name}:user")
}

/// The identifier system of transcripts: `urn:wardline:<server>:transcript`.
#[must_use]
pub fn transcript_system(server_name: &str) -> String {
    format!("urn:wardline:{server_name}:transcript")
}

/// FHIR's `Communication.priority` for a Wardline level.
#[must_use]
pub fn priority(level: Level) -> &'static str {
    match level {
        Level::Routine => "routine",
        Level::Urgent => "urgent",
        Level::Emergency => "stat",
    }
}

/// The conditional update's URL: `<kind>?identifier=<system|value, percent-encoded>`.
#[must_use]
pub fn conditional_url(kind: &str, system: &str, value: &str) -> String {
    // (A `+` in an event id must reach the record as `%2B`, or it reads a space and matches
    // nothing.)
    format!("{kind}?identifier={}", super::super::launch::percent_encode(&format!("{system}|{value}")))
}

fn person(server_name: &str, p: &Person) -> Value {
    let mut v = json!({ "identifier": { "system": user_system(server_name), "value": p.user_id } });
    if let Some(d) = &p.display {
        v["display"] = json!(d);
    }
    v
}

fn subject(patient: &PatientSummary) -> Value {
    json!({ "reference": format!("Patient/{}", patient.id), "display": patient.name })
}

/// A message as a `Communication`.
#[must_use]
pub fn communication(f: Filed<'_>, m: &Message) -> Value {
    let system = event_system(f.server_name);
    let mut c = json!({
        "resourceType": "Communication",
        "identifier": [{ "system": system, "value": m.event_id }],
        "status": if m.payload == Payload::Deleted { "entered-in-error" } else { "completed" },
        "subject": subject(f.patient),
        "sent": m.sent.to_rfc3339(),
        "sender": person(f.server_name, &m.sender),
        "priority": priority(m.level),
    });
    if let Some(e) = &f.patient.encounter {
        c["encounter"] = json!({ "reference": format!("Encounter/{e}") });
    }
    let recipients: Vec<Value> =
        m.recipients.iter().filter(|p| p.user_id != m.sender.user_id).map(|p| person(f.server_name, p)).collect();
    if !recipients.is_empty() {
        c["recipient"] = Value::Array(recipients);
    }
    match &m.payload {
        Payload::Deleted => {}
        Payload::Text(text) => c["payload"] = json!([{ "contentString": text }]),
        Payload::File(a) => {
            let mut att = json!({ "contentType": a.content_type, "title": a.title, "size": a.size });
            match &a.data {
                Some(bytes) => att["data"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
                None => {
                    c["note"] = json!([{ "text": format!(
                        "The file \"{}\" ({} bytes) is not copied here: it stays in Wardline, in the conversation.",
                        a.title, a.size
                    ) }]);
                }
            }
            c["payload"] = json!([{ "contentAttachment": att }]);
        }
    }
    if let Some(parent) = &m.reply_to {
        c["inResponseTo"] = json!([{ "identifier": { "system": system, "value": parent } }]);
    }
    c
}

/// A conversation's transcript as a `DocumentReference`, one per conversation and tie
/// (`<room>/<tie version>`): filing it again replaces the text.
#[must_use]
pub fn document_reference(
    f: Filed<'_>,
    room_and_version: &str,
    author: &Person,
    title: &str,
    text: &str,
    now: Timestamp,
) -> Value {
    let mut d = json!({
        "resourceType": "DocumentReference",
        "identifier": [{ "system": transcript_system(f.server_name), "value": room_and_version }],
        "status": "current",
        "type": { "text": "Clinical messaging transcript" },
        "subject": subject(f.patient),
        "date": now.to_rfc3339(),
        "author": [person(f.server_name, author)],
        "description": title,
        "content": [{ "attachment": {
            "contentType": "text/plain; charset=utf-8",
            "title": title,
            "data": base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
        } }],
    });
    if let Some(e) = &f.patient.encounter {
        d["context"] = json!({ "encounter": [{ "reference": format!("Encounter/{e}") }] });
    }
    d
}

/// One entry of a transaction: a resource and its conditional URL.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `Communication?identifier=…`.
    pub url: String,
    /// The resource (without an id).
    pub resource: Value,
}

/// The entry of a resource whose first identifier keys it.
#[must_use]
pub fn entry(resource: Value) -> Entry {
    let kind = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
    let id = resource.pointer("/identifier/0");
    let system = id.and_then(|i| i.get("system")).and_then(Value::as_str).unwrap_or_default();
    let value = id.and_then(|i| i.get("value")).and_then(Value::as_str).unwrap_or_default();
    let url = conditional_url(kind, system, value);
    Entry { url, resource }
}

/// The entries in `transaction` Bundles of at most `max` entries each (at least 1), never the
/// same conditional URL twice in one Bundle (the record would refuse it).
#[must_use]
pub fn bundles(entries: Vec<Entry>, max: usize) -> Vec<Vec<Entry>> {
    let max = max.max(1);
    let mut out: Vec<Vec<Entry>> = Vec::new();
    for e in entries {
        match out.last_mut() {
            Some(last) if last.len() < max && !last.iter().any(|x| x.url == e.url) => last.push(e),
            _ => out.push(vec![e]),
        }
    }
    out
}

/// The `transaction` Bundle of these entries.
#[must_use]
pub fn transaction(entries: &[Entry]) -> Value {
    let entries: Vec<Value> = entries
        .iter()
        .map(|e| json!({ "resource": e.resource, "request": { "method": "PUT", "url": e.url } }))
        .collect();
    json!({ "resourceType": "Bundle", "type": "transaction", "entry": entries })
}

/// The resource ids (`Communication/123`) of a `transaction-response` to `sent` entries, in
/// their order, from each entry's `response.location` (without its `_history` part).
///
/// # Errors
/// An answer that is not a transaction response of as many entries, each with a location of
/// the kind sent.
pub fn locations(answer: &Value, sent: &[Entry]) -> Result<Vec<String>, String> {
    if answer.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err("the answer to a transaction is not a Bundle".into());
    }
    let entries = answer.get("entry").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if entries.len() != sent.len() {
        return Err(format!("the record answered {} entries for {}", entries.len(), sent.len()));
    }
    entries
        .iter()
        .zip(sent)
        .map(|(answer, e)| {
            let kind = e.resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
            let location = answer.pointer("/response/location").and_then(Value::as_str).unwrap_or_default();
            let mut parts = location.split('/');
            let id = parts
                .by_ref()
                .position(|p| p == kind)
                .and_then(|_| parts.next())
                .or_else(|| answer.pointer("/resource/id").and_then(Value::as_str))
                .filter(|id| super::super::record::is_fhir_id(id));
            id.map(|id| format!("{kind}/{id}")).ok_or_else(|| format!("the record gave no location for a {kind}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patient(encounter: Option<&str>) -> PatientSummary {
        PatientSummary {
            id: "pat-1".into(),
            name: "SMITH, John".into(),
            encounter: encounter.map(str::to_owned),
            ..PatientSummary::default()
        }
    }

    fn who(user: &str, name: Option<&str>) -> Person {
        Person { user_id: user.into(), display: name.map(str::to_owned) }
    }

    fn message(id: &str, payload: Payload) -> Message {
        Message {
            event_id: id.into(),
            sender: who("@ann:w.example", Some("Dr Ann")),
            sent: Timestamp(1_764_583_200_000),
            payload,
            recipients: vec![],
            reply_to: None,
            level: Level::Routine,
        }
    }

    #[test]
    fn a_message_is_a_communication_about_the_patient_from_its_sender_to_the_others() {
        let p = patient(Some("enc-1"));
        let f = Filed { server_name: "w.example", patient: &p };
        let mut m = message("$m+1", Payload::Text("K+ 6.9, repeat bloods".into()));
        m.recipients = vec![who("@ann:w.example", Some("Dr Ann")), who("@bob:w.example", None)];
        let c = communication(f, &m);
        assert_eq!(c["identifier"], json!([{"system": "urn:wardline:w.example:event", "value": "$m+1"}]));
        assert_eq!(c["status"], "completed");
        assert_eq!(c["subject"], json!({"reference": "Patient/pat-1", "display": "SMITH, John"}));
        assert_eq!(c["encounter"], json!({"reference": "Encounter/enc-1"}));
        assert_eq!(c["sent"], "2025-12-01T10:00:00.000Z");
        assert_eq!(
            c["sender"],
            json!({"identifier": {"system": "urn:wardline:w.example:user", "value": "@ann:w.example"}, "display": "Dr Ann"})
        );
        assert_eq!(
            c["recipient"],
            json!([{"identifier": {"system": "urn:wardline:w.example:user", "value": "@bob:w.example"}}]),
            "the others, never the sender"
        );
        assert_eq!(c["payload"], json!([{"contentString": "K+ 6.9, repeat bloods"}]));
        assert_eq!(c["priority"], "routine");
        assert!(c.get("inResponseTo").is_none() && c.get("note").is_none() && c.get("id").is_none());

        // No encounter, no recipients: neither element.
        let p = patient(None);
        let c =
            communication(Filed { server_name: "w.example", patient: &p }, &message("$x", Payload::Text("x".into())));
        assert!(c.get("encounter").is_none() && c.get("recipient").is_none(), "{c}");
    }

    #[test]
    fn priority_reply_and_deletion() {
        assert_eq!([Level::Routine, Level::Urgent, Level::Emergency].map(priority), ["routine", "urgent", "stat"]);
        let p = patient(None);
        let f = Filed { server_name: "w.example", patient: &p };
        let mut m = message("$r", Payload::Text("on my way".into()));
        m.reply_to = Some("$parent+x".into());
        m.level = Level::Emergency;
        let c = communication(f, &m);
        assert_eq!(c["priority"], "stat");
        assert_eq!(
            c["inResponseTo"],
            json!([{"identifier": {"system": "urn:wardline:w.example:event", "value": "$parent+x"}}])
        );
        let c = communication(f, &message("$d", Payload::Deleted));
        assert_eq!(c["status"], "entered-in-error");
        assert!(c.get("payload").is_none(), "a deleted message's content never reaches the record: {c}");
    }

    #[test]
    fn a_file_is_inline_when_small_and_named_only_when_too_big() {
        let p = patient(None);
        let f = Filed { server_name: "w.example", patient: &p };
        let small = Attachment {
            content_type: "image/png".into(),
            title: "wound.png".into(),
            size: 3,
            data: Some(vec![1, 2, 3]),
        };
        let c = communication(f, &message("$i", Payload::File(small)));
        assert_eq!(
            c["payload"],
            json!([{"contentAttachment": {"contentType": "image/png", "title": "wound.png", "size": 3, "data": "AQID"}}])
        );
        assert!(c.get("note").is_none());
        let big =
            Attachment { content_type: "video/mp4".into(), title: "gait.mp4".into(), size: 50_000_000, data: None };
        let c = communication(f, &message("$v", Payload::File(big)));
        assert_eq!(
            c["payload"],
            json!([{"contentAttachment": {"contentType": "video/mp4", "title": "gait.mp4", "size": 50_000_000}}])
        );
        let note = c["note"][0]["text"].as_str().unwrap_or_default();
        assert!(note.contains("gait.mp4") && note.contains("stays in Wardline"), "{note}");
    }

    #[test]
    fn conditional_urls_percent_encode_the_identifier() {
        assert_eq!(
            conditional_url("Communication", "urn:wardline:w.example:event", "$a+b/c=d"),
            "Communication?identifier=urn%3Awardline%3Aw.example%3Aevent%7C%24a%2Bb%2Fc%3Dd"
        );
        let e = entry(json!({"resourceType": "Communication", "identifier": [{"system": "s", "value": "$x+y"}]}));
        assert_eq!(e.url, "Communication?identifier=s%7C%24x%2By");
        assert!(!e.url.contains('+'), "a bare + would be read as a space");
        let t = transaction(std::slice::from_ref(&e));
        assert_eq!(t["type"], "transaction");
        assert_eq!(t["entry"][0]["request"], json!({"method": "PUT", "url": e.url}));
    }

    fn entries(values: &[&str]) -> Vec<Entry> {
        values
            .iter()
            .map(|v| entry(json!({"resourceType": "Communication", "identifier": [{"system": "s", "value": v}]})))
            .collect()
    }

    #[test]
    fn bundles_hold_at_most_eight_and_never_one_identifier_twice() {
        let ids: Vec<String> = (0..20).map(|i| format!("$e{i}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let sizes: Vec<usize> = bundles(entries(&refs), 8).iter().map(Vec::len).collect();
        assert_eq!(sizes, [8, 8, 4]);
        assert_eq!(bundles(entries(&refs[..8]), 8).len(), 1, "exactly eight fit one");
        assert_eq!(bundles(entries(&refs[..3]), 0).len(), 3, "at least one per bundle");
        let split = bundles(entries(&["$a", "$b", "$a", "$c"]), 8);
        assert_eq!(split.len(), 2, "the same identifier twice starts another bundle");
        for b in &split {
            let mut urls: Vec<&str> = b.iter().map(|e| e.url.as_str()).collect();
            urls.sort_unstable();
            urls.dedup();
            assert_eq!(urls.len(), b.len());
        }
    }

    #[test]
    fn the_record_answer_gives_resource_ids() {
        let sent = entries(&["$a", "$b"]);
        let answer = json!({"resourceType": "Bundle", "type": "transaction-response", "entry": [
            {"response": {"status": "201 Created", "location": "Communication/c1/_history/1"}},
            {"response": {"status": "200 OK", "location": "https://epr.example/fhir/R4/Communication/c2/_history/3"}}
        ]});
        assert_eq!(locations(&answer, &sent), Ok(vec!["Communication/c1".into(), "Communication/c2".into()]));
        let by_resource = json!({"resourceType": "Bundle", "entry": [
            {"response": {"status": "200"}, "resource": {"resourceType": "Communication", "id": "c9"}}
        ]});
        assert_eq!(locations(&by_resource, &sent[..1]), Ok(vec!["Communication/c9".into()]));
        assert!(locations(&answer, &sent[..1]).is_err(), "a count that does not match");
        assert!(locations(&json!({"resourceType": "OperationOutcome"}), &sent).is_err());
        let bad = json!({"resourceType": "Bundle", "entry": [{"response": {"location": "Patient/p1"}}]});
        assert!(locations(&bad, &sent[..1]).is_err(), "another kind");
    }

    #[test]
    fn a_transcript_is_a_document_per_conversation_and_tie() {
        let p = patient(Some("enc-1"));
        let f = Filed { server_name: "w.example", patient: &p };
        let d = document_reference(
            f,
            "!r:w.example/2",
            &who("@ann:w.example", Some("Dr Ann")),
            "Transcript",
            "hé",
            Timestamp(0),
        );
        assert_eq!(
            d["identifier"],
            json!([{"system": "urn:wardline:w.example:transcript", "value": "!r:w.example/2"}])
        );
        assert_eq!(d["status"], "current");
        assert_eq!(d["type"], json!({"text": "Clinical messaging transcript"}));
        assert_eq!(d["context"], json!({"encounter": [{"reference": "Encounter/enc-1"}]}));
        assert_eq!(d["content"][0]["attachment"]["contentType"], "text/plain; charset=utf-8");
        assert_eq!(d["content"][0]["attachment"]["data"], "aMOp");
        assert_eq!(
            entry(d).url,
            "DocumentReference?identifier=urn%3Awardline%3Aw.example%3Atranscript%7C%21r%3Aw.example%2F2"
        );
    }
}
