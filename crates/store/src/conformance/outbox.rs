//! Conformance of integrations' webhooks and the outbox of reports
//! ([`crate::IntegrationOutboxStore`]): queued only to an active integration with a webhook,
//! decided in the write; one alarm's reports claimed one at a time and in order, reports without
//! an alarm each on their own; claims and their lease; retries; outcomes; the administrators'
//! view; forgetting what ended.

use wardline_types::Timestamp;
use wardline_types::alarm::AlarmId;
use wardline_types::integration::{IntegrationId, IntegrationScope};

use super::fail;
use crate::{
    NewIntegration, NewReport, ReportChannel, ReportOutcome, ReportQuery, Store, StoreError, StoreResult, Webhook,
};

fn id(s: &str) -> StoreResult<IntegrationId> {
    IntegrationId::parse(s).map_err(|_| fail("integration id"))
}

fn alarm(n: u8) -> AlarmId {
    AlarmId::from_bytes(&[n; wardline_types::alarm::ALARM_ID_BYTES])
}

fn report(to: &IntegrationId, about: Option<&AlarmId>, payload: &str, at: u64) -> NewReport {
    NewReport {
        integration: to.clone(),
        alarm: about.cloned(),
        channel: ReportChannel::Webhook,
        payload: payload.to_owned(),
        created: Timestamp(at),
    }
}

fn hook(n: u8) -> Webhook {
    Webhook { url: format!("https://nursecall.example/hooks/{n}"), secret: format!("whsec_c2VjcmV0{n}") }
}

async fn create(s: &impl Store, to: &IntegrationId) -> StoreResult<()> {
    let new = NewIntegration {
        id: to.clone(),
        name: "Lab system".into(),
        kind: "laboratory".into(),
        scopes: vec![IntegrationScope::WebhookManage],
        allowed_kinds: vec![],
    };
    s.create_integration(new, "@boss:localhost", Timestamp(1)).await?;
    Ok(())
}

/// Payloads of claimed reports, in the order returned.
async fn claim(s: &impl Store, now: u64, lease_from: u64, limit: usize) -> StoreResult<Vec<(String, String)>> {
    Ok(s.claim_due_reports(Timestamp(now), Timestamp(lease_from), limit)
        .await?
        .into_iter()
        .map(|r| (r.id, r.payload))
        .collect())
}

/// HL7 reports (PCD-05) are queued only to an integration whose HL7 binding asks for status
/// and says where, at that moment; a webhook has nothing to do with it.
pub(super) async fn hl7_reports(s: &impl Store) -> StoreResult<()> {
    use wardline_types::alarm::AlarmKind;
    use wardline_types::hl7_binding::{Hl7Binding, R40Ack};
    let mon = id("hl7-reporter")?;
    create(s, &mon).await?;
    let a = alarm(9);
    let hl7 = |payload: &str| NewReport { channel: ReportChannel::Hl7, ..report(&mon, Some(&a), payload, 900) };
    check!(s.queue_reports(vec![hl7("unbound")]).await? == 0, "no binding: not queued");
    let mut binding = Hl7Binding {
        sending_application: "REPORTER".into(),
        sending_facility: "ICU".into(),
        allowed_addresses: vec!["10.0.0.0/8".parse().map_err(|_| fail("net"))?],
        test: false,
        default_kind: AlarmKind::Monitor,
        r40_ack: R40Ack::Ack,
        status_address: Some("reporter.example:2576".into()),
        report_status: false,
        client_cert_sha256: None,
    };
    s.set_integration_hl7(&mon, Some(&binding)).await?;
    check!(s.queue_reports(vec![hl7("not asked")]).await? == 0, "the binding does not ask for status: not queued");
    binding.report_status = true;
    s.set_integration_hl7(&mon, Some(&binding)).await?;
    check!(s.integration_hl7(&mon).await?.as_ref() == Some(&binding), "read back with where and whether");
    check!(s.queue_reports(vec![hl7("s0"), hl7("s1"), hl7("s2")]).await? == 3, "asked for: queued");
    check!(s.queue_reports(vec![report(&mon, Some(&a), "w1", 900)]).await? == 0, "no webhook: no webhook report");
    // Whether an earlier one was sent (PCD-05's AD/UP): one that failed does not count.
    let mut sent_before = Vec::new();
    for (t, outcome) in [(1_000, ReportOutcome::Failed), (1_010, ReportOutcome::Sent), (1_020, ReportOutcome::Sent)] {
        let claimed = s.claim_due_reports(Timestamp(t), Timestamp(0), 10).await?;
        let mine: Vec<_> = claimed.iter().filter(|r| r.integration == mon).collect();
        let Some(r) = mine.first() else { return Err(fail("one claimed")) };
        check!(mine.len() == 1 && r.channel == ReportChannel::Hl7, "one alarm's HL7 reports one at a time, in order");
        sent_before.push((r.payload.clone(), s.sent_before(r).await?));
        s.finish_report(&r.id, outcome, "", Timestamp(t + 1)).await?;
    }
    let expected = [("s0".to_owned(), false), ("s1".to_owned(), false), ("s2".to_owned(), true)];
    check!(sent_before == expected, "in order; sent before only once one earlier was sent, not one that failed");
    let other = NewReport { alarm: Some(alarm(10)), ..hl7("other alarm") };
    check!(s.queue_reports(vec![other]).await? == 1, "another alarm's");
    let claimed = s.claim_due_reports(Timestamp(1_030), Timestamp(0), 10).await?;
    let Some(r) = claimed.iter().find(|r| r.integration == mon) else { return Err(fail("other claimed")) };
    check!(!s.sent_before(r).await?, "another alarm's reports do not count");
    let webhook_twin =
        crate::Report { channel: ReportChannel::Webhook, seq: r.seq + 1_000, alarm: Some(a.clone()), ..r.clone() };
    check!(!s.sent_before(&webhook_twin).await?, "nor another channel's");
    s.finish_report(&r.id, ReportOutcome::Sent, "", Timestamp(1_031)).await?;
    s.set_integration_hl7(&mon, None).await?;
    check!(s.queue_reports(vec![hl7("unbound again")]).await? == 0, "unbound: not queued");
    s.set_integration_hl7(&mon, Some(&binding)).await?;
    s.revoke_integration(&mon, "@boss:localhost", Timestamp(1_100)).await?;
    check!(s.queue_reports(vec![hl7("revoked")]).await? == 0, "revoked: not queued");
    Ok(())
}

pub(super) async fn outbox(s: &impl Store) -> StoreResult<()> {
    let lab = id("lab")?;
    let pager = id("pager")?;
    let gone = id("old-system")?;
    for i in [&lab, &pager, &gone] {
        create(s, i).await?;
    }

    // The webhook: set, replaced, read back, removed; none for a missing or revoked integration.
    check!(s.integration_webhook(&lab).await?.is_none(), "no webhook yet");
    check!(!s.set_integration_webhook(&lab, Some(hook(1))).await?, "set: none before");
    check!(s.set_integration_webhook(&lab, Some(hook(2))).await?, "replaced: one before");
    check!(s.integration_webhook(&lab).await? == Some(hook(2)), "the latest kept, secret and all");
    check!(!format!("{:?}", hook(2)).contains("c2VjcmV0"), "a webhook's secret is never printed");
    let version = s.integration(&lab).await?.map(|i| i.version);
    check!(version == Some(3), "each change bumps the integration's version");
    let ghost = id("ghost")?;
    check!(
        matches!(s.set_integration_webhook(&ghost, Some(hook(1))).await, Err(StoreError::NotFound)),
        "no such integration"
    );
    s.set_integration_webhook(&gone, Some(hook(3))).await?;
    s.set_integration_webhook(&pager, Some(hook(4))).await?;

    // Queued only to an active integration that has a webhook, at that moment.
    let a1 = alarm(1);
    let a2 = alarm(2);
    check!(s.queue_reports(vec![report(&pager, Some(&a1), "p1", 900)]).await? == 1, "queued");
    check!(s.set_integration_webhook(&pager, None).await?, "removed");
    check!(s.integration_webhook(&pager).await?.is_none(), "gone");
    check!(s.queue_reports(vec![report(&pager, Some(&a1), "p2", 900)]).await? == 0, "no webhook: not queued");
    s.revoke_integration(&gone, "@boss:localhost", Timestamp(950)).await?;
    check!(s.queue_reports(vec![report(&gone, None, "g1", 960)]).await? == 0, "revoked: not queued");
    check!(
        matches!(s.set_integration_webhook(&gone, Some(hook(5))).await, Err(StoreError::Conflict(_))),
        "a revoked integration's webhook cannot be set"
    );
    check!(s.queue_reports(vec![report(&ghost, None, "x", 960)]).await? == 0, "no such integration: not queued");
    // The pager's report queued before its webhook went stays, to fail when its turn comes.
    let old = claim(s, 1_000, 0, 10).await?;
    check!(old.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>() == ["p1"], "queued before: pending");
    let (Some((p1, _)), 1) = (old.first().cloned(), old.len()) else { return Err(fail("one claimed")) };
    check!(s.finish_report(&p1, ReportOutcome::Failed, "no webhook", Timestamp(1_001)).await?, "finished");
    check!(!s.finish_report(&p1, ReportOutcome::Sent, "", Timestamp(1_002)).await?, "finished once");

    // One alarm's reports one at a time, in order; another alarm's and tests beside them.
    let queued = s
        .queue_reports(vec![
            report(&lab, Some(&a1), "a1-delivered", 2_000),
            report(&lab, Some(&a1), "a1-read", 2_000),
            report(&lab, Some(&a2), "a2-delivered", 2_000),
            report(&lab, None, "test-1", 2_000),
            report(&lab, None, "test-2", 2_000),
        ])
        .await?;
    check!(queued == 5, "five queued in one write");
    check!(s.queue_reports(vec![report(&lab, Some(&a1), "a1-accepted", 2_100)]).await? == 1, "a later one");
    check!(s.next_report_due().await? == Some(Timestamp(2_000)), "due at creation");
    check!(s.pending_reports().await? == 6, "six pending");
    check!(claim(s, 1_999, 0, 10).await?.is_empty(), "nothing before it is due");
    let first = claim(s, 3_000, 0, 10).await?;
    let payloads: Vec<&str> = first.iter().map(|(_, p)| p.as_str()).collect();
    check!(payloads == ["a1-delivered", "a2-delivered", "test-1", "test-2"], "the first of each alarm, and the tests");
    check!(first.iter().all(|(i, _)| i.starts_with("msg_") && i.len() > 20), "msg_ ids");
    let ids: std::collections::BTreeSet<&String> = first.iter().map(|(i, _)| i).collect();
    check!(ids.len() == 4, "each its own id");
    check!(claim(s, 3_001, 0, 10).await?.is_empty(), "a claim holds, and holds back what follows it");
    let by_payload = |p: &str| first.iter().find(|(_, q)| q == p).map(|(i, _)| i.clone()).ok_or_else(|| fail(p));
    let a1_delivered = by_payload("a1-delivered")?;

    // A retry keeps the alarm's order: what follows waits for it.
    s.retry_report(&a1_delivered, Timestamp(5_000), "the webhook answered 500").await?;
    let waiting = s.reports(ReportQuery { pending_only: true, limit: 100, ..ReportQuery::default() }).await?;
    let retried = waiting.iter().find(|r| r.id == a1_delivered).ok_or_else(|| fail("a1-delivered pending"))?;
    check!(retried.reason.as_deref() == Some("the webhook answered 500"), "why it waits for a retry");
    check!(claim(s, 4_000, 0, 10).await?.is_empty(), "not due yet, and a1-read waits behind it");
    let again = s.claim_due_reports(Timestamp(5_000), Timestamp(0), 10).await?;
    check!(again.len() == 1 && again.first().is_some_and(|r| r.id == a1_delivered), "retried when due");
    check!(again.first().is_some_and(|r| r.attempts == 2 && r.alarm == Some(a1.clone())), "its attempts counted");
    // Its sender died: once the lease has run out another takes it over.
    check!(claim(s, 6_000, 2_999, 10).await?.is_empty(), "leases hold");
    let taken = claim(s, 70_000, 6_000, 10).await?;
    let taken: Vec<&str> = taken.iter().map(|(_, p)| p.as_str()).collect();
    check!(taken == ["a2-delivered", "test-1", "test-2", "a1-delivered"], "leases that ran out are taken over");
    check!(s.finish_report(&a1_delivered, ReportOutcome::Sent, "", Timestamp(70_001)).await?, "sent");
    let next = claim(s, 70_002, 0, 10).await?;
    check!(next.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>() == ["a1-read"], "then the next of the alarm");
    let (Some((a1_read, _)), 1) = (next.first().cloned(), next.len()) else { return Err(fail("one next")) };
    check!(s.finish_report(&a1_read, ReportOutcome::Failed, "gave up", Timestamp(70_003)).await?, "failed");
    let last = claim(s, 70_004, 0, 10).await?;
    check!(last.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>() == ["a1-accepted"], "a failure frees the next");

    // The administrators' view: newest first, by integration, outcome, pending.
    let all = s.reports(ReportQuery { limit: 100, ..ReportQuery::default() }).await?;
    check!(all.len() == 7, "every report kept");
    check!(all.windows(2).all(|w| w.first().map(|r| r.seq) > w.get(1).map(|r| r.seq)), "newest first");
    let lab_only = s.reports(ReportQuery { integration: Some(lab.clone()), limit: 100, ..ReportQuery::default() });
    check!(lab_only.await?.len() == 6, "one system's");
    let failed =
        s.reports(ReportQuery { outcome: Some(ReportOutcome::Failed), limit: 100, ..ReportQuery::default() }).await?;
    check!(failed.len() == 2, "the failed ones");
    let read = failed.iter().find(|r| r.id == a1_read).ok_or_else(|| fail("a1-read listed"))?;
    check!(read.reason.as_deref() == Some("gave up") && read.done == Some(Timestamp(70_003)), "why and when");
    check!(read.payload == "a1-read" && read.channel == ReportChannel::Webhook, "what was sent, and how");
    let pending = s.reports(ReportQuery { pending_only: true, limit: 100, ..ReportQuery::default() }).await?;
    check!(pending.len() == 4 && pending.iter().all(|r| r.outcome.is_none()), "pending ones");
    let sent = s.reports(ReportQuery { outcome: Some(ReportOutcome::Sent), limit: 100, ..ReportQuery::default() });
    let sent = sent.await?;
    check!(sent.len() == 1 && sent.first().is_some_and(|r| r.reason.is_none()), "sent, with no reason");
    check!(s.reports(ReportQuery { limit: 2, ..ReportQuery::default() }).await?.len() == 2, "limited");

    // Housekeeping forgets what ended before a time, never what is pending.
    check!(s.forget_reports(Timestamp(70_002)).await? == 2, "the two that ended before");
    check!(s.reports(ReportQuery { limit: 100, ..ReportQuery::default() }).await?.len() == 5, "the rest kept");
    check!(s.pending_reports().await? == 4, "pending untouched");
    Ok(())
}
