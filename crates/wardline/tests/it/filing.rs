//! Filing conversations to the patient's record through the whole server, against the real
//! FHIR test server (`tests/fhir-server/`): messages (a reply, an image) filed once as
//! Communications and found by their identifier; filing again updates and never duplicates; an
//! edit shows as changed and is filed as a new version; a deletion is filed as entered in
//! error; a transcript is a DocumentReference; the record down (pending, then filed exactly
//! once) or refusing (refused with its reason); only members file or read filings; a
//! conversation about nobody cannot be filed; and the audit trail, which never holds text.

use serde_json::{Value, json};

use crate::harness::{Client, Server, enc, get_until};
use crate::patients::{Fhir, detail, epr_env, of, seed_smith_and_jones, start, trail_until};

const SYSTEM: &str = "urn:wardline:localhost:event";

fn filings_path(room: &str) -> String {
    format!("/_wardline/client/v1/rooms/{}/filings", enc(room))
}

/// The Communications the record holds for a message, by its identifier.
async fn held(fhir: &Fhir, event_id: &str) -> Vec<Value> {
    let url = format!("{}/Communication?identifier={}", fhir.base(), enc(&format!("{SYSTEM}|{event_id}")));
    let v: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    v["entry"].as_array().cloned().unwrap_or_default().into_iter().map(|e| e["resource"].clone()).collect()
}

async fn the_one(fhir: &Fhir, event_id: &str) -> Value {
    let found = held(fhir, event_id).await;
    assert_eq!(found.len(), 1, "exactly one Communication for {event_id}: {found:?}");
    found[0].clone()
}

async fn versions(fhir: &Fhir, resource: &str) -> usize {
    let v: Value = reqwest::get(format!("{}/{resource}/_history", fhir.base())).await.unwrap().json().await.unwrap();
    v["entry"].as_array().map_or(0, Vec::len)
}

/// Files these messages; the filing's id.
async fn file(c: &Client, room: &str, body: Value) -> String {
    let (st, b) = c.post(&filings_path(room), body).await;
    assert_eq!(st, 202, "{b}");
    b["filing_id"].as_str().unwrap().to_owned()
}

/// The status once `filing` has left pending.
async fn settled(c: &Client, room: &str, filing: &str) -> Value {
    let id = filing.to_owned();
    get_until(c, &filings_path(room), "settled", move |v| {
        v["filings"].as_array().unwrap().iter().any(|f| f["filing_id"] == id.as_str() && f["state"] != "pending")
    })
    .await
}

/// Once `filing` has had an attempt (that failed: it is still pending, or it ended).
async fn attempted(c: &Client, room: &str, filing: &str) {
    let id = filing.to_owned();
    get_until(c, &filings_path(room), "an attempt", move |v| {
        v["filings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["filing_id"] == id.as_str() && f["attempts"].as_u64() >= Some(1))
    })
    .await;
}

fn filing_of<'a>(status: &'a Value, filing: &str) -> &'a Value {
    status["filings"].as_array().unwrap().iter().find(|f| f["filing_id"] == filing).unwrap()
}

/// Ann and Bob in a conversation about John Smith.
async fn tied_conversation(s: &crate::harness::Server) -> (Client, Client, String) {
    let ann = s.user("ann").await;
    let bob = s.user("bob").await;
    let room = ann.room_with(&[&bob]).await;
    let (st, b) =
        ann.put(&format!("/_wardline/client/v1/rooms/{}/patient", enc(&room)), json!({"patient": "pat-1"})).await;
    assert_eq!(st, 200, "{b}");
    (ann, bob, room)
}

#[tokio::test]
async fn messages_are_filed_once_updated_when_edited_and_entered_in_error_when_deleted() {
    let fhir = Fhir::start(&[]);
    seed_smith_and_jones(&fhir).await;
    let s = start(&epr_env(&fhir, &[]));
    let (ann, bob, room) = tied_conversation(&s).await;

    let m1 =
        ann.sent_event(&room, "m.room.message", "t1", json!({"msgtype": "m.text", "body": "K+ 6.8 on the gas"})).await;
    let m2 = bob
        .sent_event(
            &room,
            "m.room.message",
            "t2",
            json!({"msgtype": "m.text", "body": "Repeat it, I'm coming",
                   "m.relates_to": {"m.in_reply_to": {"event_id": m1}}}),
        )
        .await;
    let png = {
        let img = image::RgbImage::from_pixel(4, 3, image::Rgb([200, 30, 30]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let (st, up) = ann.upload(png.clone(), "image/png", "wound.png").await;
    assert_eq!(st, 200, "{up}");
    let m3 = ann
        .sent_event(
            &room,
            "m.room.message",
            "t3",
            json!({"msgtype": "m.image", "body": "wound.png", "url": up["content_uri"],
                   "info": {"mimetype": "image/png", "size": png.len(), "w": 4, "h": 3}}),
        )
        .await;

    let filing = file(&ann, &room, json!({"event_ids": [m1, m2, m3], "transcript": true})).await;
    assert!(filing.starts_with("fl_"), "{filing}");
    let status = settled(&ann, &room, &filing).await;
    let f = filing_of(&status, &filing);
    assert_eq!(f["state"], "filed", "{status}");
    assert_eq!((f["event_count"].as_u64(), f["transcript"].as_bool()), (Some(3), Some(true)));
    assert_eq!(f["requested_by"], "@ann:localhost");
    let resources: Vec<&str> = f["resources"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert_eq!(resources.iter().filter(|r| r.starts_with("Communication/")).count(), 3, "{resources:?}");
    assert_eq!(resources.iter().filter(|r| r.starts_with("DocumentReference/")).count(), 1, "{resources:?}");
    for m in [&m1, &m2, &m3] {
        let e = &status["events"][m.as_str()];
        assert_eq!(e["state"], "filed", "{m}: {status}");
        assert!(e["resource"].as_str().unwrap().starts_with("Communication/"), "{e}");
    }

    // In the record: each message once, about the patient, from its sender to the others.
    let c1 = the_one(&fhir, &m1).await;
    assert_eq!(c1["status"], "completed");
    assert_eq!(c1["subject"]["reference"], "Patient/pat-1");
    assert_eq!(c1["encounter"]["reference"], "Encounter/enc-1");
    assert_eq!(c1["payload"][0]["contentString"], "K+ 6.8 on the gas");
    assert_eq!(c1["sender"]["identifier"]["value"], "@ann:localhost");
    assert_eq!(c1["recipient"][0]["identifier"]["value"], "@bob:localhost");
    let c2 = the_one(&fhir, &m2).await;
    assert_eq!(c2["inResponseTo"][0]["identifier"], json!({"system": SYSTEM, "value": m1}));
    let c3 = the_one(&fhir, &m3).await;
    let attached = &c3["payload"][0]["contentAttachment"];
    assert_eq!((attached["title"].as_str(), attached["contentType"].as_str()), (Some("wound.png"), Some("image/png")));
    assert_eq!(attached["size"], png.len());
    use base64::Engine;
    assert_eq!(attached["data"], base64::engine::general_purpose::STANDARD.encode(&png));
    let doc_id = resources.iter().find(|r| r.starts_with("DocumentReference/")).unwrap();
    let doc: Value = reqwest::get(format!("{}/{doc_id}", fhir.base())).await.unwrap().json().await.unwrap();
    let text = base64::engine::general_purpose::STANDARD
        .decode(doc["content"][0]["attachment"]["data"].as_str().unwrap())
        .unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("About: SMITH, John — NHS 943 476 5919 — from "), "{text}");
    assert!(text.contains("K+ 6.8 on the gas"), "{text}");

    // Filing again updates, never duplicates.
    let again = file(&ann, &room, json!({"event_ids": [m1, m2, m3]})).await;
    assert_eq!(filing_of(&settled(&ann, &room, &again).await, &again)["state"], "filed");
    for m in [&m1, &m2, &m3] {
        the_one(&fhir, m).await;
    }
    let c1_id = format!("Communication/{}", c1["id"].as_str().unwrap());
    let before = versions(&fhir, &c1_id).await;

    // An edit: changed; filed again, a new version with the new text.
    ann.sent_event(
        &room,
        "m.room.message",
        "t4",
        json!({"msgtype": "m.text", "body": "* K+ 6.9 on the gas",
               "m.new_content": {"msgtype": "m.text", "body": "K+ 6.9 on the gas"},
               "m.relates_to": {"rel_type": "m.replace", "event_id": m1}}),
    )
    .await;
    let (_, status) = ann.get(&filings_path(&room)).await;
    assert_eq!(status["events"][m1.as_str()]["state"], "changed", "{status}");
    assert_eq!(status["events"][m2.as_str()]["state"], "filed", "{status}");
    let edited = file(&ann, &room, json!({"event_ids": [m1]})).await;
    let status = settled(&ann, &room, &edited).await;
    assert_eq!(status["events"][m1.as_str()]["state"], "filed", "{status}");
    let c1 = the_one(&fhir, &m1).await;
    assert_eq!(c1["payload"][0]["contentString"], "K+ 6.9 on the gas");
    assert_eq!(versions(&fhir, &c1_id).await, before + 1, "one more version of the same Communication");

    // A deletion: changed; filed (with everything else) as entered in error, no content.
    let (st, b) = bob.put(&format!("/_matrix/client/v3/rooms/{}/redact/{}/r1", enc(&room), enc(&m2)), json!({})).await;
    assert_eq!(st, 200, "{b}");
    let (_, status) = ann.get(&filings_path(&room)).await;
    assert_eq!(status["events"][m2.as_str()]["state"], "changed", "{status}");
    let all = file(&ann, &room, json!({"all": true})).await;
    let status = settled(&ann, &room, &all).await;
    assert_eq!(filing_of(&status, &all)["event_count"], 3, "the deleted one is included as it was filed");
    assert_eq!(status["events"][m2.as_str()]["state"], "entered_in_error", "{status}");
    let c2 = the_one(&fhir, &m2).await;
    assert_eq!(c2["status"], "entered-in-error");
    assert!(c2.get("payload").is_none(), "{c2}");

    // Every conditional URL sent the event id percent-encoded.
    let sent: Vec<Value> = fhir.requests().await;
    for r in sent.iter().filter(|r| r["method"] == "POST" && r["url"].as_str().unwrap().ends_with("/fhir/R4")) {
        for e in r["body"]["entry"].as_array().unwrap() {
            let url = e["request"]["url"].as_str().unwrap();
            assert!(url.contains("?identifier=urn%3Awardline%3Alocalhost%3A"), "{url}");
            assert!(!url.contains('+') && !url.contains('|'), "{url}");
        }
    }

    // The trail: requested and filed, with resource ids; never the messages' text.
    let trail = trail_until(&s, "the last filing", |r| {
        r["action"] == "record.filing" && detail(r).contains(&format!("filed filing={all}"))
    });
    let filings = of(&trail, "record.filing");
    assert!(filings.iter().any(|r| detail(r).starts_with(&format!("requested filing={filing}"))), "{filings:?}");
    assert!(
        filings
            .iter()
            .any(|r| detail(r).contains(&format!("filed filing={filing}"))
                && detail(r).contains("resources=Communication/")),
        "{filings:?}"
    );
    for r in &filings {
        assert!(!detail(r).contains("K+"), "no message text in the trail: {r}");
    }
}

#[tokio::test]
async fn the_record_down_or_refusing_and_who_may_file() {
    let fhir = Fhir::start(&[]);
    seed_smith_and_jones(&fhir).await;
    let s = start(&epr_env(&fhir, &[]));
    let (ann, _bob, room) = tied_conversation(&s).await;
    let m1 = ann.sent_event(&room, "m.room.message", "t1", json!({"msgtype": "m.text", "body": "Sats 88%"})).await;

    // Down: accepted, waiting with the reason; back up, filed exactly once.
    fhir.post("down").await;
    let filing = file(&ann, &room, json!({"event_ids": [m1]})).await;
    let id = filing.clone();
    let status = get_until(&ann, &filings_path(&room), "retrying", move |v| {
        v["filings"].as_array().unwrap().iter().any(|f| f["filing_id"] == id.as_str() && !f["last_error"].is_null())
    })
    .await;
    let f = filing_of(&status, &filing);
    assert_eq!(f["state"], "pending", "{f}");
    assert!(f["last_error"].as_str().unwrap().contains("not answering"), "{f}");
    assert!(f["attempts"].as_u64().unwrap() >= 1, "{f}");
    fhir.post("up").await;
    let status = settled(&ann, &room, &filing).await;
    assert_eq!(filing_of(&status, &filing)["state"], "filed", "{status}");
    the_one(&fhir, &m1).await;

    // Refused by the record: refused, with its reason, never tried again.
    fhir.control(
        reqwest::Method::POST,
        "reject",
        Some(json!({"resourceType": "Communication", "reason": "Patient record is locked"})),
    )
    .await;
    let m2 = ann.sent_event(&room, "m.room.message", "t2", json!({"msgtype": "m.text", "body": "Call ITU"})).await;
    let refused = file(&ann, &room, json!({"event_ids": [m2]})).await;
    let status = settled(&ann, &room, &refused).await;
    let f = filing_of(&status, &refused);
    assert_eq!(f["state"], "refused", "{f}");
    assert!(f["last_error"].as_str().unwrap().contains("Patient record is locked"), "{f}");
    assert!(held(&fhir, &m2).await.is_empty());

    // Not a member (whether or not the conversation exists): refused, and audited.
    let eve = s.user("eve").await;
    for r in [room.as_str(), "!nowhere:localhost"] {
        let (st, b) = eve.post(&filings_path(r), json!({"event_ids": [m1]})).await;
        assert_eq!((st, b["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{b}");
        let (st, b) = eve.get(&filings_path(r)).await;
        assert_eq!(st, 403, "{b}");
    }
    // Bad requests: another conversation's message, neither or both ways, too many.
    let other = ann.create_room(json!({"name": "Other"})).await;
    let elsewhere = ann.sent_event(&other, "m.room.message", "o1", json!({"msgtype": "m.text", "body": "x"})).await;
    let (st, b) = ann.post(&filings_path(&room), json!({"event_ids": [elsewhere]})).await;
    assert_eq!(st, 404, "{b}");
    for bad in [json!({}), json!({"event_ids": [m1], "all": true}), json!({"event_ids": [m1], "extra": 1})] {
        let (st, b) = ann.post(&filings_path(&room), bad.clone()).await;
        assert_eq!(st, 400, "{bad}: {b}");
    }
    let many: Vec<String> = (0..201).map(|i| format!("$e{i}")).collect();
    let (st, b) = ann.post(&filings_path(&room), json!({"event_ids": many})).await;
    assert_eq!(st, 400, "{b}");

    // A conversation about nobody.
    let (st, b) = ann.post(&filings_path(&other), json!({"event_ids": [elsewhere]})).await;
    assert_eq!((st, b["errcode"].as_str()), (409, Some("ORG.WARDLINE.NO_PATIENT")), "{b}");

    let trail = trail_until(&s, "the refusal", |r| {
        r["action"] == "record.filing" && r["actor"] == "@eve:localhost" && r["outcome"] == "denied"
    });
    let filings = of(&trail, "record.filing");
    assert!(
        filings
            .iter()
            .any(|r| r["outcome"] == "failure" && detail(r).starts_with("refused") && detail(r).contains(&refused)),
        "{filings:?}"
    );
}

#[tokio::test]
async fn only_what_was_said_about_a_patient_is_filed_to_their_record_and_a_waiting_filing_never_follows_a_change() {
    let fhir = Fhir::start(&[]);
    seed_smith_and_jones(&fhir).await;
    let s = start(&epr_env(&fhir, &[]));
    let (ann, _bob, room) = tied_conversation(&s).await;
    let (_, m1) = ann.send_text(&room, "j1", "John's potassium is 6.1").await;
    let m1 = m1["event_id"].as_str().unwrap().to_owned();
    // The conversation is now about Mary: John's message is not hers to file.
    let tie = format!("/_wardline/client/v1/rooms/{}/patient", enc(&room));
    assert_eq!(ann.put(&tie, json!({"patient": "pat-2"})).await.0, 200);
    let (st, b) = ann.post(&filings_path(&room), json!({"event_ids": [m1]})).await;
    assert_eq!(st, 400, "{b}");
    // Asking to file a message one cannot see is refused, and the trail says so.
    let (st, b) = ann.post(&filings_path(&room), json!({"event_ids": ["$elsewhere:localhost"]})).await;
    assert_eq!(st, 404, "{b}");
    let trail = trail_until(&s, "the refused filing", |r| detail(r).contains("messages not theirs to see"));
    let refused = of(&trail, "record.filing");
    assert!(
        refused.iter().any(|r| r["outcome"] == "denied" && detail(r).contains("messages not theirs")),
        "{refused:?}"
    );
    let (_, m2) = ann.send_text(&room, "m2", "Mary: for review").await;
    let m2 = m2["event_id"].as_str().unwrap().to_owned();
    // "All" files Mary's part only.
    let all = file(&ann, &room, json!({"all": true, "transcript": true})).await;
    let status = settled(&ann, &room, &all).await;
    assert_eq!(filing_of(&status, &all)["state"], "filed", "{status}");
    assert!(held(&fhir, &m1).await.is_empty(), "John's message never reaches Mary's record");
    assert_eq!(the_one(&fhir, &m2).await["subject"]["reference"], "Patient/pat-2");
    // Her transcript names only her and holds only what was said about her.
    let docs: Value = reqwest::get(format!("{}/DocumentReference", fhir.base())).await.unwrap().json().await.unwrap();
    let data = docs["entry"][0]["resource"]["content"][0]["attachment"]["data"].as_str().unwrap().to_owned();
    use base64::Engine;
    let text = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(data).unwrap()).unwrap();
    assert!(text.contains("JONES, Mary") && !text.contains("SMITH"), "{text}");
    assert!(text.contains("for review") && !text.contains("potassium"), "{text}");

    // A filing waiting for the record when the conversation is re-tied is never sent to the
    // new patient: it is refused, saying why.
    fhir.post("down").await;
    let waiting = file(&ann, &room, json!({"event_ids": [m2]})).await;
    attempted(&ann, &room, &waiting).await;
    // The record is back, and before the next attempt (seconds away) the conversation is
    // re-tied to John.
    fhir.post("up").await;
    assert_eq!(ann.put(&tie, json!({"patient": "pat-1"})).await.0, 200);
    let status = settled(&ann, &room, &waiting).await;
    let f = filing_of(&status, &waiting);
    assert_eq!(f["state"], "refused", "{status}");
    assert!(f["last_error"].as_str().unwrap().contains("no longer about the patient"), "{f}");
    assert!(held(&fhir, &m2).await.iter().all(|c| c["subject"]["reference"] == "Patient/pat-2"));
}

/// The comma-separated list after `key=` in an audit detail, sorted.
fn listed(detail: &str, key: &str) -> Vec<String> {
    let value = detail.split(' ').find_map(|w| w.strip_prefix(&format!("{key}="))).unwrap_or_default();
    let mut out: Vec<String> = value.split(',').filter(|v| !v.is_empty()).map(str::to_owned).collect();
    out.sort();
    out
}

fn sorted(ids: &[String]) -> Vec<String> {
    let mut out = ids.to_vec();
    out.sort();
    out
}

/// Ann's messages `first..=last` (`"n<i>"` each); their event ids.
async fn numbered(c: &Client, room: &str, range: std::ops::RangeInclusive<usize>) -> Vec<String> {
    let mut out = Vec::new();
    for i in range {
        let (st, b) = c.send_text(room, &format!("n{i}"), &format!("Obs round {i}: stable")).await;
        assert_eq!(st, 200, "{b}");
        out.push(b["event_id"].as_str().unwrap().to_owned());
    }
    out
}

fn recipients(c: &Value) -> Vec<String> {
    let mut r: Vec<String> = c["recipient"]
        .as_array()
        .map(|a| a.iter().map(|p| p["identifier"]["value"].as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    r.sort();
    r
}

#[tokio::test]
async fn many_messages_in_several_bundles_a_refusal_part_way_a_lost_answer_and_who_received_each() {
    let fhir = Fhir::start(&[]);
    seed_smith_and_jones(&fhir).await;
    let env = epr_env(&fhir, &[("WARDLINE_EPR__MAX_ATTACHMENT_BYTES", "1000")]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (s, log) = Server::start_with_log(&env);
    let (ann, bob, room) = tied_conversation(&s).await;
    let dan = s.user("dan").await;
    let cal = s.user("cal").await;
    assert_eq!(ann.invite(&room, &dan.user_id).await.0, 200);
    dan.join(&room).await;
    // 1–3 reach Bob and Dan; Dan leaves; 4–6 reach Bob; Cal joins; 7–10 reach Bob and Cal.
    let mut ids = numbered(&ann, &room, 1..=3).await;
    let (st, b) = dan.post(&format!("/_matrix/client/v3/rooms/{}/leave", enc(&room)), json!({})).await;
    assert_eq!(st, 200, "{b}");
    ids.extend(numbered(&ann, &room, 4..=6).await);
    assert_eq!(ann.invite(&room, &cal.user_id).await.0, 200);
    cal.join(&room).await;
    ids.extend(numbered(&ann, &room, 7..=9).await);
    // 10: a file whose sender says it is 10 bytes; it is 3,000, over the 1,000 sent inline.
    let (st, up) = ann.upload(vec![b'x'; 3000], "text/plain", "obs.txt").await;
    assert_eq!(st, 200, "{up}");
    let file_msg = ann
        .sent_event(
            &room,
            "m.room.message",
            "n10",
            json!({"msgtype": "m.file", "body": "obs.txt", "url": up["content_uri"],
                   "info": {"mimetype": "text/plain", "size": 10}}),
        )
        .await;
    ids.push(file_msg.clone());

    // The record refuses the last one: the first Bundle (8) was taken, the second refused whole.
    let reason = "Communication n10 refused: record locked for audit";
    fhir.control(
        reqwest::Method::POST,
        "reject",
        Some(json!({"resourceType": "Communication", "reason": reason, "identifier": file_msg})),
    )
    .await;
    let part = file(&ann, &room, json!({"all": true})).await;
    let status = settled(&ann, &room, &part).await;
    let f = filing_of(&status, &part);
    assert_eq!(f["state"], "refused", "{f}");
    assert!(f["last_error"].as_str().unwrap().contains(reason), "the record's words, for the members: {f}");
    assert_eq!(f["event_count"], 10);
    let taken: Vec<&str> = f["resources"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert_eq!(taken.len(), 8, "what the record took before it refused the rest: {f}");
    for (i, id) in ids.iter().enumerate() {
        if i < 8 {
            assert_eq!(status["events"][id.as_str()]["state"], "filed", "message {}: {status}", i + 1);
            the_one(&fhir, id).await;
        } else {
            assert!(status["events"].get(id.as_str()).is_none(), "message {}: {status}", i + 1);
            assert!(held(&fhir, id).await.is_empty(), "message {} is not in the record", i + 1);
        }
    }

    // The answer to the first Bundle is lost after the record committed it: tried again, and
    // the record still holds each message once.
    fhir.control(reqwest::Method::POST, "reject-clear", Some(json!({}))).await;
    fhir.control(reqwest::Method::POST, "lose-answers", Some(json!({"count": 1}))).await;
    let again = file(&ann, &room, json!({"all": true})).await;
    let status = settled(&ann, &room, &again).await;
    let f = filing_of(&status, &again);
    assert_eq!(f["state"], "filed", "{f}");
    assert!(f["attempts"].as_u64() >= Some(2), "the lost answer was an attempt: {f}");
    assert_eq!(f["resources"].as_array().unwrap().len(), 10, "{f}");
    for id in &ids {
        assert_eq!(status["events"][id.as_str()]["state"], "filed", "{status}");
    }
    let mut held_ids = Vec::new();
    for id in &ids {
        held_ids.push(the_one(&fhir, id).await["id"].as_str().unwrap().to_owned());
    }
    // Each transaction said to keep its answer minimal, and held at most 8 entries.
    let sent: Vec<Value> = fhir.requests().await;
    let transactions: Vec<&Value> =
        sent.iter().filter(|r| r["method"] == "POST" && r["url"].as_str().unwrap().ends_with("/fhir/R4")).collect();
    assert!(transactions.len() >= 5, "{} transactions", transactions.len());
    for t in &transactions {
        assert_eq!(t["headers"]["prefer"], "return=minimal", "{}", t["headers"]);
        assert!(t["body"]["entry"].as_array().unwrap().len() <= 8);
    }

    // Each message's recipients are the people it was sent to.
    let (b, d, c) = ("@bob:localhost", "@dan:localhost", "@cal:localhost");
    for (i, id) in ids.iter().enumerate() {
        let want: Vec<&str> = match i {
            0..=2 => vec![b, d],
            3..=5 => vec![b],
            _ => vec![b, c],
        };
        let mut want: Vec<String> = want.into_iter().map(str::to_owned).collect();
        want.sort();
        assert_eq!(recipients(&the_one(&fhir, id).await), want, "message {}", i + 1);
    }
    // The file: its size as stored, not the sender's word, and not read into the record.
    let c10 = the_one(&fhir, &file_msg).await;
    let att = &c10["payload"][0]["contentAttachment"];
    assert_eq!(att["size"], 3000, "{c10}");
    assert!(att.get("data").is_none(), "over the inline limit: {c10}");

    // The trail names the messages filed and the status of the refusal, never the record's words.
    let trail = trail_until(&s, "the second filing", |r| detail(r).contains(&format!("filed filing={again}")));
    let filings = of(&trail, "record.filing");
    let refusal = filings.iter().find(|r| detail(r).starts_with("refused") && detail(r).contains(&part)).unwrap();
    assert!(detail(refusal).contains("refused status=422"), "{refusal}");
    assert_eq!(listed(detail(refusal), "filed_events"), sorted(&ids[..8]), "{refusal}");
    assert!(!detail(refusal).contains("record locked"), "{refusal}");
    let filed = filings.iter().find(|r| detail(r).contains(&format!("filed filing={again}"))).unwrap();
    assert_eq!(listed(detail(filed), "events"), sorted(&ids), "{filed}");
    assert_eq!(listed(detail(filed), "filed_events"), sorted(&ids), "{filed}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains(&part), "the refusal is logged: {logged}");
    assert!(!logged.contains("record locked") && !logged.contains("Obs round"), "{logged}");
    drop(bob);
}

#[tokio::test]
async fn a_crash_while_the_record_answers_files_once_after_the_lease_and_a_record_down_for_a_day_is_given_up() {
    let fhir = Fhir::start(&[]);
    seed_smith_and_jones(&fhir).await;
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock");
    std::fs::write(&clock, "0").unwrap();
    let data = dir.path().join("data");
    let mut env = epr_env(&fhir, &[]);
    env.push(("WARDLINE_TEST_CLOCK_FILE".into(), clock.to_str().unwrap().into()));
    // Ann's session outlives the day the record is down.
    env.push(("WARDLINE_SECURITY__IDLE_TIMEOUT_MINUTES".into(), (3 * 24 * 60).to_string()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut s = Server::start_in(&data, &env);
    let (ann, _bob, room) = tied_conversation(&s).await;
    let m1 = ann.sent_event(&room, "m.room.message", "c1", json!({"msgtype": "m.text", "body": "Sats 91%"})).await;

    // The record commits the Bundle and holds its answer; Wardline is killed meanwhile.
    fhir.control(reqwest::Method::POST, "lose-answers", Some(json!({"count": 1, "hold_ms": 60_000}))).await;
    let filing = file(&ann, &room, json!({"event_ids": [m1]})).await;
    for _ in 0..200 {
        if fhir.requests().await.iter().any(|r| r["method"] == "POST" && r["url"].as_str().unwrap().ends_with("/R4")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    the_one(&fhir, &m1).await;
    s.kill9();

    // Restarted: the claim of the dead process holds until its lease (6 × the 5 s timeout +
    // 60 s = 90 s) runs out: meanwhile nothing is sent (the runner looks every half second);
    // then it is sent again, and the record updates its one copy.
    fhir.clear_requests().await;
    let s = Server::start_in(&data, &env);
    let ann = Client { base: s.base.clone(), ..ann };
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let (_, status) = ann.get(&filings_path(&room)).await;
    assert_eq!(filing_of(&status, &filing)["state"], "pending", "{status}");
    assert!(
        !fhir.requests().await.iter().any(|r| r["method"] == "POST"),
        "nothing sent while the dead process's lease holds"
    );
    std::fs::write(&clock, "95000").unwrap();
    let status = settled(&ann, &room, &filing).await;
    assert_eq!(filing_of(&status, &filing)["state"], "filed", "{status}");
    let c = the_one(&fhir, &m1).await;
    assert_eq!(versions(&fhir, &format!("Communication/{}", c["id"].as_str().unwrap())).await, 2);

    // The record down for longer than `give_up_hours` (24): given up, said and audited.
    fhir.post("down").await;
    let m2 = ann.sent_event(&room, "m.room.message", "c2", json!({"msgtype": "m.text", "body": "Sats 89%"})).await;
    let waiting = file(&ann, &room, json!({"event_ids": [m2]})).await;
    attempted(&ann, &room, &waiting).await;
    std::fs::write(&clock, (95_000u64 + 25 * 3_600_000).to_string()).unwrap();
    let status = settled(&ann, &room, &waiting).await;
    let f = filing_of(&status, &waiting);
    assert_eq!(f["state"], "refused", "{f}");
    assert!(f["last_error"].as_str().unwrap().contains("not filed after trying for 24 hours"), "{f}");
    assert!(held(&fhir, &m2).await.is_empty());
    let trail = trail_until(&s, "the given-up filing", |r| {
        detail(r).contains("retry-given-up") && detail(r).contains(&waiting)
    });
    assert!(
        of(&trail, "record.filing").iter().any(|r| r["outcome"] == "failure" && detail(r).contains(&waiting)),
        "{trail:?}"
    );
}

#[tokio::test]
async fn a_re_tie_between_two_bundles_stops_the_filing_and_what_the_record_took_first_is_known() {
    let fhir = Fhir::start(&[]);
    seed_smith_and_jones(&fhir).await;
    let s = start(&epr_env(&fhir, &[]));
    let (ann, _bob, room) = tied_conversation(&s).await;
    let ids = numbered(&ann, &room, 1..=10).await;
    // Each answer comes 3 s after the record took the Bundle: the conversation is re-tied to
    // Mary while John's first Bundle is being answered.
    fhir.control(reqwest::Method::POST, "hold-answers", Some(json!({"ms": 3000}))).await;
    let filing = file(&ann, &room, json!({"all": true})).await;
    for _ in 0..200 {
        if fhir.requests().await.iter().any(|r| r["method"] == "POST") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let tie = format!("/_wardline/client/v1/rooms/{}/patient", enc(&room));
    assert_eq!(ann.put(&tie, json!({"patient": "pat-2"})).await.0, 200);
    let status = settled(&ann, &room, &filing).await;
    let f = filing_of(&status, &filing);
    assert_eq!(f["state"], "refused", "{f}");
    assert!(f["last_error"].as_str().unwrap().starts_with("the conversation is no longer about the patient"), "{f}");
    assert_eq!(f["resources"].as_array().unwrap().len(), 8, "John's record took the first Bundle: {f}");
    for (i, id) in ids.iter().enumerate() {
        if i < 8 {
            assert_eq!(status["events"][id.as_str()]["state"], "filed", "{status}");
            assert_eq!(the_one(&fhir, id).await["subject"]["reference"], "Patient/pat-1");
        } else {
            assert!(held(&fhir, id).await.is_empty(), "nothing more went anywhere once re-tied");
        }
    }
    let posts = fhir.requests().await.into_iter().filter(|r| r["method"] == "POST").count();
    assert_eq!(posts, 1, "the second Bundle was never sent");
    let is_refusal = |r: &Value| detail(r).starts_with("refused") && detail(r).contains(&format!("filing={filing}"));
    let trail = trail_until(&s, "the refusal", is_refusal);
    let refusal = of(&trail, "record.filing").into_iter().find(|r| is_refusal(r)).unwrap();
    assert!(detail(refusal).starts_with("refused by=wardline"), "{refusal}");
    assert_eq!(listed(detail(refusal), "filed_events"), sorted(&ids[..8]), "{refusal}");
}

/// The text of the record's one transcript DocumentReference.
async fn transcript_text(fhir: &Fhir) -> String {
    let docs: Value = reqwest::get(format!("{}/DocumentReference", fhir.base())).await.unwrap().json().await.unwrap();
    let entries = docs["entry"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 1, "one transcript per conversation and tie: {docs}");
    let data = entries[0]["resource"]["content"][0]["attachment"]["data"].as_str().unwrap().to_owned();
    use base64::Engine;
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(data).unwrap()).unwrap()
}

#[tokio::test]
async fn an_older_transcript_never_replaces_a_newer_one_and_a_record_merged_since_the_tie_is_not_written_to() {
    let fhir = Fhir::start(&[]);
    seed_smith_and_jones(&fhir).await;
    let s = start(&epr_env(&fhir, &[]));
    let (ann, _bob, room) = tied_conversation(&s).await;
    ann.send_text(&room, "x1", "Plan: fluids").await;

    // The first transcript waits for the record; a second, asked once more was said, is filed
    // first (the first is still waiting its turn); then the first is sent: its shorter text
    // does not replace the second's.
    fhir.post("down").await;
    let first = file(&ann, &room, json!({"all": true, "transcript": true})).await;
    attempted(&ann, &room, &first).await;
    ann.send_text(&room, "x2", "Update: bloods back, K+ normal").await;
    fhir.post("up").await;
    let second = file(&ann, &room, json!({"all": true, "transcript": true})).await;
    let status = settled(&ann, &room, &second).await;
    assert_eq!(filing_of(&status, &second)["state"], "filed", "{status}");
    assert_eq!(filing_of(&status, &first)["state"], "pending", "the first still waits its turn: {status}");
    assert!(transcript_text(&fhir).await.contains("bloods back"));
    let status = settled(&ann, &room, &first).await;
    assert_eq!(filing_of(&status, &first)["state"], "filed", "{status}");
    assert!(transcript_text(&fhir).await.contains("bloods back"), "the fuller transcript stays");

    // John's record is merged into Mary's after the conversation was tied to him: a filing
    // is not written to the old record, and says why.
    fhir.change("Patient/pat-1", |john| {
        john["active"] = json!(false);
        john["link"] = json!([{"type": "replaced-by", "other": {"reference": "Patient/pat-2"}}]);
    })
    .await;
    let (_, m) = ann.send_text(&room, "x3", "Seen by the registrar").await;
    let m = m["event_id"].as_str().unwrap().to_owned();
    let merged = file(&ann, &room, json!({"event_ids": [m]})).await;
    let status = settled(&ann, &room, &merged).await;
    let f = filing_of(&status, &merged);
    assert_eq!((f["state"].as_str(), f["refused_by"].as_str()), (Some("refused"), Some("wardline")), "{f}");
    assert!(f["last_error"].as_str().unwrap().contains("merged into another record (pat-2)"), "{f}");
    assert!(held(&fhir, &m).await.is_empty());
}
