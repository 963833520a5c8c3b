//! Conformance of WCTP bindings and recipient mappings ([`crate::WctpStore`]), and of WCTP
//! reports in the outbox: a binding set, read back by sender id, refused for a sender id another
//! integration (even a revoked one) pages as; recipients mapped, replaced and removed per
//! integration; a WCTP report queued only while the integration has a reply URL; a page's
//! details kept with its alarm.

use wardline_types::Timestamp;
use wardline_types::alarm::{AlarmId, AlarmKind, IntakeProtocol, Location, SourcePriority};
use wardline_types::escalation::Target;
use wardline_types::integration::{IntegrationId, IntegrationScope};
use wardline_types::wctp_binding::{PriorityLevels, WctpBinding};

use super::fail;
use crate::{
    AlarmChange, Intake, IntakeOutcome, NewAlarm, NewIntegration, NewReport, ReportChannel, Store, StoreError,
    StoreResult,
};

fn id(s: &str) -> StoreResult<IntegrationId> {
    IntegrationId::parse(s).map_err(|_| fail("integration id"))
}

fn binding(sender: &str, reply: Option<&str>) -> WctpBinding {
    WctpBinding {
        sender_id: sender.to_owned(),
        reply_url: reply.map(str::to_owned),
        levels: PriorityLevels::default(),
        accept_choices: vec!["Accept".into()],
        decline_choices: vec!["Busy".into()],
        default_kind: AlarmKind::NurseCall,
        by_bleep: false,
        by_username: true,
    }
}

pub(super) async fn wctp(s: &impl Store) -> StoreResult<()> {
    let pager = id("paging")?;
    let other = id("paging-two")?;
    for i in [&pager, &other] {
        let new = NewIntegration {
            id: i.clone(),
            name: "Paging".into(),
            kind: "paging".into(),
            scopes: vec![IntegrationScope::Wctp],
            allowed_kinds: vec![],
        };
        s.create_integration(new, "@boss:localhost", Timestamp(1)).await?;
    }
    let missing = id("nobody-here")?;
    check!(s.integration_wctp(&pager).await?.is_none(), "no binding yet");
    check!(
        matches!(s.set_integration_wctp(&missing, Some(&binding("x", None))).await, Err(StoreError::NotFound)),
        "no such integration"
    );
    s.set_integration_wctp(&pager, Some(&binding("nc-1", None))).await?;
    check!(s.integration_wctp(&pager).await? == Some(binding("nc-1", None)), "read back");
    let found = s.integration_by_wctp_sender("nc-1").await?;
    check!(found.as_ref().map(|(i, _)| &i.id) == Some(&pager), "found by sender id");
    check!(s.integration_by_wctp_sender("nc-2").await?.is_none(), "another sender id: none");
    check!(
        matches!(s.set_integration_wctp(&other, Some(&binding("nc-1", None))).await, Err(StoreError::Conflict(_))),
        "a sender id is one integration's"
    );
    // A WCTP report is queued only while there is a reply URL.
    let report = |at| NewReport {
        integration: pager.clone(),
        alarm: None,
        channel: ReportChannel::Wctp,
        payload: "<wctp-Operation/>".into(),
        created: Timestamp(at),
    };
    check!(s.queue_reports(vec![report(10)]).await? == 0, "no reply URL: not queued");
    s.set_integration_wctp(&pager, Some(&binding("nc-1", Some("https://pager.example/wctp")))).await?;
    check!(
        s.integration_wctp(&pager).await?.and_then(|b| b.reply_url).as_deref() == Some("https://pager.example/wctp"),
        "reply URL read back"
    );
    check!(s.queue_reports(vec![report(11)]).await? == 1, "queued once it has one");
    // Revoked: its sender id stays its own.
    s.revoke_integration(&pager, "@boss:localhost", Timestamp(20)).await?;
    check!(
        matches!(s.set_integration_wctp(&other, Some(&binding("nc-1", None))).await, Err(StoreError::Conflict(_))),
        "never reused, even once revoked"
    );
    check!(
        matches!(s.set_integration_wctp(&pager, None).await, Err(StoreError::Conflict(_))),
        "a revoked integration's binding stays"
    );
    s.set_integration_wctp(&other, Some(&binding("nc-9", None))).await?;
    s.set_integration_wctp(&other, None).await?;
    check!(s.integration_wctp(&other).await?.is_none(), "removed");
    check!(s.integration_by_wctp_sender("nc-9").await?.is_none(), "removed: not found by sender id");

    // Recipients, per integration.
    let role = Target::Role { role: wardline_types::RoleId::parse("w7-nurse").map_err(|_| fail("role id"))? };
    let ada = Target::User { user_id: ruma::owned_user_id!("@ada:localhost") };
    check!(s.wctp_recipient(&other, "4711").await?.is_none(), "not mapped yet");
    check!(s.set_wctp_recipient(&other, "4711", Some(&role), "@boss:localhost", Timestamp(30)).await?, "mapped");
    s.set_wctp_recipient(&other, "4711", Some(&ada), "@boss:localhost", Timestamp(31)).await?;
    s.set_wctp_recipient(&other, "0815", Some(&role), "@boss:localhost", Timestamp(32)).await?;
    let got = s.wctp_recipient(&other, "4711").await?.ok_or_else(|| fail("mapped recipient"))?;
    check!(got.target == ada && got.updated == Timestamp(31), "replaced");
    check!(s.wctp_recipient(&pager, "4711").await?.is_none(), "another integration's mapping is its own");
    let all: Vec<String> = s.wctp_recipients(&other).await?.into_iter().map(|r| r.recipient_id).collect();
    check!(all == ["0815", "4711"], "listed by recipient id");
    check!(s.set_wctp_recipient(&other, "4711", None, "@boss:localhost", Timestamp(33)).await?, "unmapped");
    check!(!s.set_wctp_recipient(&other, "4711", None, "@boss:localhost", Timestamp(34)).await?, "unmapped twice");
    check!(
        matches!(s.set_wctp_recipient(&missing, "1", Some(&ada), "b", Timestamp(35)).await, Err(StoreError::NotFound)),
        "no such integration"
    );

    // A page's details are kept with its alarm.
    let alarm = AlarmId::from_bytes(&[77; wardline_types::alarm::ALARM_ID_BYTES]);
    let intake = Intake {
        integration: other.clone(),
        protocol: IntakeProtocol::Wctp,
        intake_key: "M-1".into(),
        raw: Some(b"<wctp-Operation/>".to_vec()),
        received: Timestamp(40),
        change: AlarmChange::Open(Box::new(NewAlarm {
            id: alarm.clone(),
            source_id: "M-1".into(),
            kind: AlarmKind::NurseCall,
            priority: SourcePriority::High,
            text: "Bed 12".into(),
            location: Location::default(),
            patient: None,
            occurred: None,
            details: Some("{\"wctp\":{\"recipient_id\":\"0815\"}}".into()),
        })),
        answer: "200 abc".into(),
    };
    let IntakeOutcome::New { alarm: stored } = s.record_intake(intake.clone()).await? else {
        return Err(fail("a page stored"));
    };
    check!(stored.details.as_deref() == Some("{\"wctp\":{\"recipient_id\":\"0815\"}}"), "details kept");
    check!(
        matches!(s.record_intake(intake).await?, IntakeOutcome::Duplicate { answer: Some(a), .. } if a == "200 abc"),
        "a repeat of the messageID is answered as the first"
    );
    check!(s.alarm(&alarm).await?.and_then(|a| a.details).is_some(), "details read back");
    Ok(())
}
