//! Receiving pages with the manual clock: stored before answered, a repeat answered as the
//! first, another page under a used messageID refused, the sender's key checked both ways, the
//! recipient found by mapping, bleep or username, and nothing stored for a refused page.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use wardline_store::NewIntegration;
use wardline_types::alarm::IntakeProtocol;
use wardline_types::escalation::Target;
use wardline_types::integration::{IntegrationId, IntegrationScope};
use wardline_types::wctp::{self, Operation};
use wardline_types::wctp_binding::WctpBinding;

use super::page::Page;
use crate::audit::By;
use crate::integrations::tests::{Fixture, fixture};

fn pager() -> NewIntegration {
    NewIntegration {
        id: IntegrationId::parse("paging").unwrap(),
        name: "Paging gateway".into(),
        kind: "paging".into(),
        scopes: vec![IntegrationScope::Wctp],
        allowed_kinds: vec![],
    }
}

fn page(code: &str, message_id: &str, recipient: &str, text: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><wctp-Operation wctpVersion="wctp-dtd-v1r3"><wctp-SubmitRequest>
<wctp-SubmitHeader submitTimestamp="2026-12-01T10:00:00"><wctp-Originator senderID="nc-gw" securityCode="{code}"/>
<wctp-MessageControl messageID="{message_id}" notifyWhenDelivered="true"/><wctp-Recipient recipientID="{recipient}"/>
</wctp-SubmitHeader><wctp-Payload><wctp-MCR><wctp-MessageText>{text}</wctp-MessageText>
<wctp-Choice>Accept</wctp-Choice><wctp-ChoicePair><wctp-SendChoice>Call me</wctp-SendChoice><wctp-ReplyChoice>3</wctp-ReplyChoice></wctp-ChoicePair>
</wctp-MCR></wctp-Payload></wctp-SubmitRequest></wctp-Operation>"#
    )
}

/// The answer's code: 200, or the failure's.
fn code(xml: &str) -> String {
    match wctp::parse(xml.as_bytes()).unwrap() {
        Operation::Confirmation(c) => c.code,
        other => panic!("not a confirmation: {other:?}"),
    }
}

async fn setup(f: &Fixture) -> String {
    let id = pager().id;
    f.s.integrations.create(By::Server, pager()).await.unwrap();
    let binding: WctpBinding = serde_json::from_str(r#"{"sender_id":"nc-gw","by_username":true}"#).unwrap();
    f.s.outbox.set_wctp(By::Server, &id, Some(binding)).await.unwrap();
    f.s.integrations.add_key(By::Server, &id, None, None).await.unwrap().secret_key
}

async fn make_user(f: &Fixture, name: &str) -> ruma::OwnedUserId {
    let user_id = ruma::UserId::parse(format!("@{name}:localhost")).unwrap();
    let account = wardline_types::NewAccount {
        user_id: user_id.clone(),
        password_hash: "not a password".into(),
        display_name: Some("Nia".into()),
        is_admin: false,
        must_change_password: false,
        job_title: None,
        department: None,
        email: None,
        phone: None,
    };
    f.store.create_account(account, wardline_types::Timestamp(1)).await.unwrap();
    user_id
}

async fn post(f: &Fixture, bearer: Option<&str>, body: &str) -> String {
    f.s.alarms.receive_wctp(&f.s.integrations, bearer, None, body.as_bytes(), "integration.wctp").await.xml
}

#[tokio::test]
async fn a_page_is_stored_once_for_the_recipient_it_names() {
    let f = fixture();
    let key = setup(&f).await;
    let boss = make_user(&f, "nia").await;
    let answer = post(&f, None, &page(&key, "M-1", "nia", "Bed 12 needs help")).await;
    assert_eq!(code(&answer), "200", "{answer}");
    let alarm = f.store.alarm_by_source(&pager().id, "M-1").await.unwrap().expect("stored when answered");
    assert_eq!(alarm.protocol, IntakeProtocol::Wctp);
    let p = Page::of(&alarm).unwrap();
    assert_eq!(p.target, Target::User { user_id: boss });
    assert_eq!(p.choices.len(), 2);
    assert!(p.notify_delivered && !p.notify_read && p.allow_response);
    assert_eq!(p.reply_for("c2"), Some(("3".into(), true)));
    // The same page again: the same answer, nothing new.
    assert_eq!(code(&post(&f, None, &page(&key, "M-1", "nia", "Bed 12 needs help")).await), "200");
    let all = f.store.alarms(wardline_store::AlarmQuery { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(all.len(), 1);
    // Another page under the same messageID: refused, never answered as the first.
    assert_ne!(code(&post(&f, None, &page(&key, "M-1", "nia", "Bed 14 fell")).await), "200");
    // Nobody by that id: refused, nothing stored.
    assert_eq!(code(&post(&f, None, &page(&key, "M-2", "4711", "x")).await), "403");
    assert!(f.store.alarm_by_source(&pager().id, "M-2").await.unwrap().is_none());
    // Once mapped, the id reaches whom it is mapped to.
    let role = Target::User { user_id: ruma::owned_user_id!("@nia:localhost") };
    f.s.outbox.set_wctp_recipient(By::Server, &pager().id, "4711", Some(role)).await.unwrap();
    assert_eq!(code(&post(&f, None, &page(&key, "M-2", "4711", "x")).await), "200");
    // Unmapped again, a resend of M-2 is still the page it was: answered as the first.
    f.s.outbox.set_wctp_recipient(By::Server, &pager().id, "4711", None).await.unwrap();
    assert_eq!(code(&post(&f, None, &page(&key, "M-2", "4711", "x")).await), "200");
    // A used messageID names no recipient: another page under it is refused the same way
    // whether its recipient exists or not.
    let reuse_known = code(&post(&f, None, &page(&key, "M-2", "nia", "y")).await);
    let reuse_unknown = code(&post(&f, None, &page(&key, "M-2", "nobody-here", "y")).await);
    assert_eq!(reuse_known, reuse_unknown);
    assert_ne!(reuse_known, "200");
}

#[tokio::test]
async fn usernames_and_bleeps_reach_someone_only_where_the_binding_allows() {
    let f = fixture();
    let key = setup(&f).await;
    make_user(&f, "nia").await;
    let strict: WctpBinding = serde_json::from_str(r#"{"sender_id":"nc-gw"}"#).unwrap();
    f.s.outbox.set_wctp(By::Server, &pager().id, Some(strict)).await.unwrap();
    assert_eq!(code(&post(&f, None, &page(&key, "M-9", "nia", "x")).await), "403", "no username unless allowed");
    assert!(f.store.alarm_by_source(&pager().id, "M-9").await.unwrap().is_none(), "nothing stored");
    let open: WctpBinding = serde_json::from_str(r#"{"sender_id":"nc-gw","by_username":true}"#).unwrap();
    f.s.outbox.set_wctp(By::Server, &pager().id, Some(open)).await.unwrap();
    assert_eq!(code(&post(&f, None, &page(&key, "M-9", "nia", "x")).await), "200");
}

#[tokio::test]
async fn the_sender_is_checked_by_its_key_either_way() {
    let f = fixture();
    let key = setup(&f).await;
    make_user(&f, "nia").await;
    let last = if key.ends_with('x') { 'y' } else { 'x' };
    let wrong = format!("{}{last}", &key[..key.len() - 1]);
    assert_eq!(code(&post(&f, None, &page(&wrong, "M-1", "nia", "x")).await), "402");
    assert_eq!(code(&post(&f, None, &page("", "M-1", "nia", "x").replace(" securityCode=\"\"", "")).await), "402");
    let unknown = page(&key, "M-1", "nia", "x").replace("nc-gw", "someone-else");
    assert_eq!(code(&post(&f, None, &unknown).await), "401");
    assert!(f.store.alarm_by_source(&pager().id, "M-1").await.unwrap().is_none(), "nothing stored");
    // The bearer key does as well.
    let bearer = page("", "M-1", "nia", "x").replace(" securityCode=\"\"", "");
    assert_eq!(code(&post(&f, Some(&key), &bearer).await), "200");
    // Another integration's key for this sender: refused.
    let other = NewIntegration { id: IntegrationId::parse("other").unwrap(), ..pager() };
    f.s.integrations.create(By::Server, other.clone()).await.unwrap();
    let theirs = f.s.integrations.add_key(By::Server, &other.id, None, None).await.unwrap().secret_key;
    assert_eq!(code(&post(&f, None, &page(&theirs, "M-3", "nia", "x")).await), "402");
    // Unsupported operations and bad documents.
    let poll = r#"<wctp-Operation wctpVersion="wctp-dtd-v1r3"><wctp-PollForMessages pollerID="p"/></wctp-Operation>"#;
    assert_eq!(code(&post(&f, None, poll).await), "300");
    assert_eq!(code(&post(&f, None, "<nope").await), "301");
    let q = r#"<wctp-Operation wctpVersion="wctp-dtd-v1r3"><wctp-VersionQuery inquirer="nc"/></wctp-Operation>"#;
    assert!(post(&f, None, q).await.contains("dtdName=\"wctp-dtd-v1r3\""));
}

#[test]
fn only_a_bad_key_is_answered_as_one() {
    use crate::ServiceError;
    assert_eq!(super::auth_refusal(&ServiceError::UnknownToken).code, wctp::INVALID_SECURITY_CODE);
    assert_eq!(super::auth_refusal(&ServiceError::forbidden("no scope")).code, wctp::INVALID_SENDER);
    // The server's own trouble is for the sender to send again, not a bad key.
    for e in [ServiceError::RateLimited { retry_after_ms: 1000 }, ServiceError::Internal("store".into())] {
        assert_eq!(super::auth_refusal(&e).code, wctp::PROCESSING_ERROR, "{e:?}");
    }
}

#[tokio::test]
async fn a_hostile_document_is_refused_off_the_workers() {
    let mut hostile = String::from("<wctp-Operation wctpVersion=\"wctp-dtd-v1r3\"");
    for i in 0..1_700 {
        hostile.push_str(&format!(" xmlns:p{i}=\"u\""));
    }
    hostile.push('>');
    for i in 0..2_000 {
        hostile.push_str(&format!("<q{i}:e xmlns:q{i}=\"u\">"));
    }
    let e = super::parse_off_worker(hostile.into_bytes()).await.unwrap_err();
    assert_eq!(e.code, wctp::UNPARSABLE);
}
