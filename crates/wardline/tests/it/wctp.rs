//! Paging over WCTP 1.3 through the whole server (issue 15): a paging system's
//! `wctp-SubmitRequest` to a recipient id is confirmed `200` only once stored, a repeat is
//! answered as the first, another page under a used `messageID`, an unknown recipient and a
//! wrong `securityCode` are refused in WCTP with nothing stored; the recipient (a role, by the
//! administrators' mapping) sees the page with its multiple-choice answers as buttons and
//! answers; the paging system's own listener hears `DELIVERED`, `READ` and the
//! `wctp-MessageReply` carrying the chosen `ReplyChoice`, in that order.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wardline_types::wctp::{self, Operation};

use crate::admin::admin;
use crate::alarms::{messages, role};
use crate::harness::{Client, Server, enc};

const A: &str = "/_wardline/admin/v1";
const I: &str = "/_wardline/integration/v1";

/// A paging system's listener on 127.0.0.1: records each WCTP operation posted to it and
/// confirms it (`wctp-Confirmation/wctp-Success`).
#[derive(Clone, Default)]
struct Listener {
    received: Arc<Mutex<Vec<String>>>,
}

impl Listener {
    async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let local = listener.local_addr().unwrap();
        let me = self.clone();
        let app = axum::Router::new().route(
            "/wctp",
            axum::routing::post(move |body: String| {
                let me = me.clone();
                async move {
                    me.received.lock().unwrap().push(body);
                    let ok = wctp::write::success("Received");
                    ([(axum::http::header::CONTENT_TYPE, "text/xml")], ok)
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{local}/wctp")
    }

    async fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..400 {
            let got = self.received.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the listener got {:?}, not {n} operations", self.received.lock().unwrap());
    }
}

fn page(code: &str, message_id: &str, recipient: &str, text: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE wctp-Operation SYSTEM "http://dtd.wctp.org/wctp-dtd-v1r3.dtd">
<wctp-Operation wctpVersion="wctp-dtd-v1r3">
 <wctp-SubmitRequest>
  <wctp-SubmitHeader submitTimestamp="2026-12-01T10:00:00">
   <wctp-Originator senderID="nc-gw" securityCode="{code}"/>
   <wctp-MessageControl messageID="{message_id}" transactionID="T-{message_id}" notifyWhenDelivered="true" notifyWhenRead="true" deliveryPriority="HIGH"/>
   <wctp-Recipient recipientID="{recipient}"/>
  </wctp-SubmitHeader>
  <wctp-Payload>
   <wctp-MCR>
    <wctp-MessageText>{text}</wctp-MessageText>
    <wctp-ChoicePair><wctp-SendChoice>Accept</wctp-SendChoice><wctp-ReplyChoice>1</wctp-ReplyChoice></wctp-ChoicePair>
    <wctp-Choice>Busy</wctp-Choice>
    <wctp-ChoicePair><wctp-SendChoice>Call me</wctp-SendChoice><wctp-ReplyChoice>3</wctp-ReplyChoice></wctp-ChoicePair>
   </wctp-MCR>
  </wctp-Payload>
 </wctp-SubmitRequest>
</wctp-Operation>"#
    )
}

/// Posts a WCTP document; the HTTP status, the content type and what it was answered with.
async fn post(c: &Client, body: &str, bearer: Option<&str>) -> (u16, String, Operation) {
    let mut req = c.http.post(format!("{}{I}/wctp", c.base)).header("content-type", "text/xml").body(body.to_owned());
    if let Some(k) = bearer {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ctype = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let text = resp.text().await.unwrap();
    let op = wctp::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, ctype, op)
}

/// The code of a confirmation: `200`, or the failure's.
fn code(op: &Operation) -> (bool, String) {
    match op {
        Operation::Confirmation(c) => (c.success, c.code.clone()),
        other => panic!("not a confirmation: {other:?}"),
    }
}

async fn alarms_of(boss: &Client) -> Vec<Value> {
    let (st, b) = boss.get(&format!("{A}/alarms?integration=paging")).await;
    assert_eq!(st, 200, "{b}");
    b["alarms"].as_array().unwrap().clone()
}

/// Makes the paging integration (scope `wctp`), binds it to `nc-gw` with `reply_url`, and maps
/// the recipient id 4711 to the role `w7-nurse`; returns its key.
async fn paging(boss: &Client, reply_url: &str) -> String {
    let (st, made) = boss
        .post(
            &format!("{A}/integrations"),
            json!({"integration_id": "paging", "name": "Paging gateway", "kind": "paging", "scopes": ["wctp"]}),
        )
        .await;
    assert_eq!(st, 201, "{made}");
    let (st, k) = boss.post(&format!("{A}/integrations/paging/keys"), json!({})).await;
    assert_eq!(st, 201, "{k}");
    let (st, b) =
        boss.put(&format!("{A}/integrations/paging/wctp"), json!({"sender_id": "nc-gw", "reply_url": reply_url})).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["wctp"]["levels"], json!({"high": "urgent", "normal": "urgent", "low": "routine"}), "{b}");
    let (st, b) = boss
        .put(&format!("{A}/integrations/paging/wctp/recipients/4711"), json!({"kind": "role", "role": "w7-nurse"}))
        .await;
    assert_eq!(st, 200, "{b}");
    k["key"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_page_reaches_the_role_its_recipient_id_names_and_its_answers_go_back_in_wctp() {
    let listener = Listener::default();
    let url = listener.serve().await;
    let env =
        [("WARDLINE_INTEGRATIONS__WEBHOOK_HOSTS", "127.0.0.1"), ("WARDLINE_INTEGRATIONS__ALLOW_LOOPBACK_HTTP", "true")];
    let s = Server::start_with_env(&env);
    let boss = admin(&s).await;
    let nia = s.user("nia").await;
    role(&boss, "w7-nurse", "Ward 7 nurse", &[&nia]).await;
    let key = paging(&boss, &url).await;
    let anyone = s.client();

    // Confirmed once stored, in XML, with HTTP 200.
    let (st, ctype, op) = post(&anyone, &page(&key, "M-1", "4711", "Bed 12 needs help"), None).await;
    assert_eq!((st, code(&op)), (200, (true, "200".to_owned())), "{op:?}");
    assert!(ctype.starts_with("text/xml"), "{ctype}");
    let listed = alarms_of(&boss).await;
    assert_eq!(listed.len(), 1, "stored when confirmed: {listed:?}");
    // The same page again: confirmed as the first, stored once.
    let (_, _, op) = post(&anyone, &page(&key, "M-1", "4711", "Bed 12 needs help"), None).await;
    assert_eq!(code(&op), (true, "200".to_owned()));
    // Another page under the same messageID: refused, never confirmed as the first.
    let (st, _, op) = post(&anyone, &page(&key, "M-1", "4711", "Bed 14 fell"), None).await;
    assert_eq!((st, code(&op).0), (200, false), "{op:?}");
    // An unknown recipient and a wrong security code: refused in WCTP, nothing stored.
    let (_, _, op) = post(&anyone, &page(&key, "M-2", "9999", "x"), None).await;
    assert_eq!(code(&op), (false, "403".to_owned()), "{op:?}");
    let wrong = format!("{}A", &key[..key.len() - 1]);
    let wrong = if wrong == key { format!("{}B", &key[..key.len() - 1]) } else { wrong };
    let (_, _, op) = post(&anyone, &page(&wrong, "M-3", "4711", "x"), None).await;
    assert_eq!(code(&op), (false, "402".to_owned()), "{op:?}");
    let (_, _, op) = post(&anyone, "<not-wctp", None).await;
    assert_eq!(code(&op), (false, "301".to_owned()), "{op:?}");
    let poll =
        r#"<wctp-Operation wctpVersion="wctp-dtd-v1r3"><wctp-PollForMessages pollerID="nc-gw"/></wctp-Operation>"#;
    let (_, _, op) = post(&anyone, poll, Some(&key)).await;
    assert_eq!(code(&op), (false, "300".to_owned()), "{op:?}");
    assert_eq!(alarms_of(&boss).await.len(), 1, "nothing stored for what was refused");

    // The role's holder sees it, urgent (HIGH), with the page's choices as buttons.
    let id = listed[0]["alarm_id"].as_str().unwrap().to_owned();
    let a =
        crate::harness::get_until(&boss, &format!("{A}/alarms/{id}"), "was delivered", |a| a["outcome"] == "notified")
            .await;
    assert_eq!((a["protocol"].as_str(), a["level"].as_str()), (Some("wctp"), Some("urgent")), "{a}");
    let room = a["room_id"].as_str().unwrap().to_owned();
    let event = a["event_id"].as_str().unwrap().to_owned();
    let msgs = messages(&nia, &room).await;
    let posted = msgs.iter().find(|e| e["event_id"] == event.as_str()).expect("the nurse sees the page");
    assert_eq!(posted["sender"], "@integration.paging:localhost");
    assert!(posted["content"]["body"].as_str().unwrap().contains("Bed 12 needs help"), "{posted}");
    let labels: Vec<&str> = posted["content"]["org.wardline.ask"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Accept", "Busy", "Call me"], "{posted}");
    let means: Vec<&str> = posted["content"]["org.wardline.ask"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["means"].as_str().unwrap())
        .collect();
    assert_eq!(means, ["accept", "decline", "info"], "{posted}");
    assert!(!posted["content"].to_string().contains(&key), "never the key");

    // Delivered (her device syncs it), read, answered: each reported in WCTP, in order.
    nia.sync(None, 0, None).await;
    let got = listener.wait_for(1).await;
    let (st, b) =
        nia.post(&format!("/_matrix/client/v3/rooms/{}/receipt/m.read/{}", enc(&room), enc(&event)), json!({})).await;
    assert_eq!(st, 200, "{b}");
    let got2 = listener.wait_for(2).await;
    assert_eq!(got2[0], got[0], "in order");
    let accept = json!({"msgtype": "m.text", "body": "Accept",
        "m.relates_to": {"rel_type": "m.reference", "event_id": event},
        "org.wardline.response": {"option": "c1"}});
    nia.sent_event(&room, "m.room.message", "ans1", accept).await;
    let got = listener.wait_for(3).await;
    let ops: Vec<Operation> =
        got.iter().map(|x| wctp::parse(x.as_bytes()).unwrap_or_else(|e| panic!("{e}: {x}"))).collect();
    assert!(ops.iter().all(|o| matches!(o, Operation::Other(_))), "reports, not confirmations: {ops:?}");
    assert!(got[0].contains("<wctp-StatusInfo>") && got[0].contains("type=\"DELIVERED\""), "{}", got[0]);
    assert!(got[1].contains("<wctp-StatusInfo>") && got[1].contains("type=\"READ\""), "{}", got[1]);
    assert!(got[2].contains("<wctp-MessageReply MCRMessageReply=\"true\">"), "{}", got[2]);
    assert!(got[2].contains("<wctp-Alphanumeric>1</wctp-Alphanumeric>"), "the ReplyChoice: {}", got[2]);
    for g in &got {
        assert!(g.contains("responseToMessageID=\"M-1\"") && g.contains("recipientID=\"nc-gw\""), "{g}");
        assert!(g.contains("transactionID=\"T-M-1\"") && g.contains("onBehalfOfRecipientID=\"4711\""), "{g}");
        assert!(!g.contains("Bed 12"), "never the page's text: {g}");
    }
    crate::harness::get_until(&boss, &format!("{A}/alarms/{id}"), "was accepted", |a| a["outcome"] == "accepted").await;
    // The listener confirmed each: nothing left to send.
    let (st, b) = boss.get(&format!("{A}/integration_outbox?integration=paging")).await;
    assert_eq!(st, 200, "{b}");
}

#[tokio::test]
async fn a_bearer_key_pages_too_a_username_is_a_recipient_and_mappings_are_checked() {
    let env =
        [("WARDLINE_INTEGRATIONS__WEBHOOK_HOSTS", "127.0.0.1"), ("WARDLINE_INTEGRATIONS__ALLOW_LOOPBACK_HTTP", "true")];
    let s = Server::start_with_env(&env);
    let boss = admin(&s).await;
    let nia = s.user("nia").await;
    role(&boss, "w7-nurse", "Ward 7 nurse", &[&nia]).await;
    let key = paging(&boss, "http://127.0.0.1:9/wctp").await;
    let anyone = s.client();
    let plain = page("", "B-1", "nia", "By username").replace(" securityCode=\"\"", "");
    let (_, _, op) = post(&anyone, &plain, Some(&key)).await;
    assert_eq!(code(&op), (false, "403".to_owned()), "a username reaches nobody unless the binding allows: {op:?}");
    let binding = json!({"sender_id": "nc-gw", "reply_url": "http://127.0.0.1:9/wctp", "by_username": true});
    let (st, b) = boss.put(&format!("{A}/integrations/paging/wctp"), binding).await;
    assert_eq!((st, b["wctp"]["by_username"].as_bool()), (200, Some(true)), "{b}");
    let (_, _, op) = post(&anyone, &plain, Some(&key)).await;
    assert_eq!(code(&op), (true, "200".to_owned()), "{op:?}");
    let (_, _, op) = post(&anyone, &plain.replace("B-1", "B-2"), None).await;
    assert_eq!(code(&op), (false, "402".to_owned()), "no key at all: {op:?}");
    // A VersionQuery is answered with the DTD Wardline supports.
    let q = r#"<wctp-Operation wctpVersion="wctp-dtd-v1r3"><wctp-VersionQuery inquirer="nc-gw"/></wctp-Operation>"#;
    let resp = anyone.http.post(format!("{}{I}/wctp", anyone.base)).body(q).send().await.unwrap();
    let text = resp.text().await.unwrap();
    assert!(text.contains("<wctp-DTDSupport dtdName=\"wctp-dtd-v1r3\""), "{text}");
    // The administrators' view and removal of mappings.
    let (st, b) = boss.get(&format!("{A}/integrations/paging/wctp/recipients")).await;
    assert_eq!((st, b["recipients"][0]["recipient_id"].as_str()), (200, Some("4711")), "{b}");
    let (st, b) = boss.delete_path(&format!("{A}/integrations/paging/wctp/recipients/4711")).await;
    assert_eq!((st, b["removed"].as_bool()), (200, Some(true)), "{b}");
    let (st, b) = boss
        .put(&format!("{A}/integrations/paging/wctp/recipients/x1"), json!({"kind": "role", "role": "no-such-role"}))
        .await;
    assert_eq!((st, b["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{b}");
    let (st, b) = boss
        .put(
            &format!("{A}/integrations/paging/wctp"),
            json!({"sender_id": "nc-gw", "reply_url": "https://evil.example/x"}),
        )
        .await;
    assert_eq!((st, b["errcode"].as_str()), (400, Some("ORG.WARDLINE.HOST_NOT_ALLOWED")), "{b}");
    let _ = nia;
}
