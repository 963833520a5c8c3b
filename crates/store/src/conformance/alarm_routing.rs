//! Conformance of alarm routing ([`crate::AlarmStore`]): a source ending its alarm, dispatch's
//! claims and results, status facts once each, and rules with their versions.

use wardline_types::Timestamp;
use wardline_types::alarm::{AlarmOutcome, AlarmState, IntakeProtocol, SourcePriority};
use wardline_types::alarm_rule::{AlarmRule, Mode, RuleAction, RuleId, RuleMatch};
use wardline_types::integration::IntegrationId;
use wardline_types::priority::Level;

use super::alarms::{id, intake};
use super::fail;
use crate::{
    AlarmChange, Dispatched, FactToRecord, Intake, IntakeOutcome, NewIntegration, NewReport, ReportChannel,
    ReportOutcome, ReportQuery, Routing, StatusFact, Store, StoreError, StoreResult, Webhook,
};
use wardline_types::integration::IntegrationScope;

fn end(integration: &IntegrationId, n: u8, state: AlarmState, key: &str, at: u64) -> Intake {
    Intake {
        integration: integration.clone(),
        protocol: IntakeProtocol::Http,
        intake_key: key.to_owned(),
        raw: None,
        received: Timestamp(at),
        change: AlarmChange::End { alarm: id(n), state, reason: Some("condition gone".into()) },
        answer: format!("{{\"ended\":{n}}}"),
    }
}

fn dispatched(outcome: AlarmOutcome, ended: bool, routing: Option<Routing>) -> Dispatched {
    Dispatched { routing, outcome, ended, event: ("dispatched".into(), "{}".into()) }
}

/// Dispatch claims an alarm at its revision under a lease, finishes it once, and a change from
/// the source while it was being dispatched makes it due again; ending is idempotent, refused
/// once ended otherwise, and never reaches another integration's alarm.
pub(super) async fn dispatch(s: &impl Store) -> StoreResult<()> {
    let nc = IntegrationId::parse("nc-routing").map_err(|_| fail("id"))?;
    let other = IntegrationId::parse("other-routing").map_err(|_| fail("id"))?;
    let IntakeOutcome::New { alarm } = s.record_intake(intake(&nc, "r-1", id(40), 50_000)).await? else {
        return Err(fail("stored"));
    };
    check!(alarm.due == Some(Timestamp(50_000)) && alarm.dispatched_revision == 0, "due at once, not dispatched");
    check!(s.next_alarm_due().await?.is_some_and(|t| t <= Timestamp(50_000)), "next due");
    let due = s.due_alarms(Timestamp(50_001), Timestamp(0), 100).await?;
    check!(due.iter().any(|a| a.id == id(40)), "listed as due");
    check!(s.due_alarms(Timestamp(49_999), Timestamp(0), 100).await?.iter().all(|a| a.id != id(40)), "not yet due");
    check!(!s.claim_alarm(&id(40), 2, Timestamp(50_001), Timestamp(0)).await?, "not at that revision");
    check!(s.claim_alarm(&id(40), 1, Timestamp(50_001), Timestamp(0)).await?, "claimed");
    check!(!s.claim_alarm(&id(40), 1, Timestamp(50_002), Timestamp(0)).await?, "claimed once within the lease");
    check!(
        s.due_alarms(Timestamp(50_002), Timestamp(0), 100).await?.iter().all(|a| a.id != id(40)),
        "a claimed alarm is not due to others"
    );
    // The lease ran out: another runner takes it over.
    check!(s.claim_alarm(&id(40), 1, Timestamp(120_000), Timestamp(60_000)).await?, "taken over after the lease");

    let room = ruma::owned_room_id!("!alarms:example.org");
    let routing = Routing {
        rule: RuleId::parse("w7").map_err(|_| fail("rule"))?,
        level: Level::Urgent,
        policy: None,
        room: Some(room.clone()),
        event: None,
    };
    s.set_alarm_routing(&id(40), &routing).await?;
    check!(s.alarm(&id(40)).await?.and_then(|a| a.routing).as_ref() == Some(&routing), "routing before acting");

    // The source resets it while it is being dispatched.
    let reset = end(&nc, 40, AlarmState::Reset, "reset:40", 121_000);
    let IntakeOutcome::Changed { alarm: changed } = s.record_intake(reset.clone()).await? else {
        return Err(fail("a reset is stored"));
    };
    check!(changed.state == AlarmState::Reset && changed.revision == 2, "reset, revision 2");
    let event = ruma::owned_event_id!("$alarm40:example.org");
    let posted = Routing { event: Some(event.clone()), ..routing.clone() };
    check!(
        s.finish_dispatch(
            &id(40),
            1,
            dispatched(AlarmOutcome::Notified, false, Some(posted.clone())),
            Timestamp(122_000)
        )
        .await?,
        "revision 1 finished"
    );
    check!(
        !s.finish_dispatch(&id(40), 1, dispatched(AlarmOutcome::Notified, false, None), Timestamp(122_001)).await?,
        "finished once"
    );
    let a = s.alarm(&id(40)).await?.ok_or_else(|| fail("alarm"))?;
    check!(a.dispatched_revision == 1 && a.outcome == AlarmOutcome::Notified, "dispatched, notified");
    check!(a.routing.as_ref() == Some(&posted), "routing with its message");
    check!(a.due == Some(Timestamp(122_000)) && a.ended.is_none(), "due again for the reset");
    check!(s.alarm_for_event(&event).await?.is_some_and(|x| x.id == id(40)), "found by its message");
    check!(s.claim_alarm(&id(40), 2, Timestamp(122_001), Timestamp(62_001)).await?, "the reset claimed");
    check!(
        s.finish_dispatch(&id(40), 2, dispatched(AlarmOutcome::Closed, true, None), Timestamp(123_000)).await?,
        "reset acted on"
    );
    let a = s.alarm(&id(40)).await?.ok_or_else(|| fail("alarm"))?;
    check!(a.due.is_none() && a.ended == Some(Timestamp(123_000)), "ended, nothing due");
    check!(a.routing.as_ref() == Some(&posted), "routing kept");

    // The same reset again is answered as before; a cancel after the reset is refused.
    check!(
        matches!(s.record_intake(reset).await?, IntakeOutcome::Duplicate { answer: Some(ref x), .. } if x == "{\"ended\":40}"),
        "a repeated reset replays its answer"
    );
    let again = end(&nc, 40, AlarmState::Reset, "reset-again", 124_000);
    check!(matches!(s.record_intake(again).await?, IntakeOutcome::Duplicate { answer: None, .. }), "reset already");
    let cancel = end(&nc, 40, AlarmState::Cancelled, "cancel:40", 124_000);
    check!(matches!(s.record_intake(cancel).await?, IntakeOutcome::Ended { .. }), "ended already");
    let theirs = end(&other, 40, AlarmState::Cancelled, "cancel:40", 124_000);
    check!(matches!(s.record_intake(theirs).await?, IntakeOutcome::UnknownAlarm), "not another integration's");
    let unknown = end(&nc, 41, AlarmState::Cancelled, "cancel:41", 124_000);
    check!(matches!(s.record_intake(unknown).await?, IntakeOutcome::UnknownAlarm), "unknown");
    let kinds: Vec<String> = s.alarm_events(&id(40)).await?.into_iter().map(|e| e.kind).collect();
    check!(kinds == ["received", "reset", "dispatched", "dispatched"], "the timeline");
    let failed = intake(&nc, "r-2", id(42), 130_000);
    s.record_intake(failed).await?;
    check!(s.claim_alarm(&id(42), 1, Timestamp(130_000), Timestamp(70_000)).await?, "claimed");
    s.retry_dispatch(&id(42), 1, Timestamp(135_000)).await?;
    let a = s.alarm(&id(42)).await?.ok_or_else(|| fail("alarm"))?;
    check!(a.due == Some(Timestamp(135_000)), "due again later");
    check!(s.claim_alarm(&id(42), 1, Timestamp(135_000), Timestamp(75_000)).await?, "claimed again when due");

    // The source changes what an active alarm says: stored with a new revision, due again.
    let update = |n: u8, text: &str, at: u64| Intake {
        integration: nc.clone(),
        protocol: IntakeProtocol::Http,
        intake_key: format!("update:{n}:{at}"),
        raw: None,
        received: Timestamp(at),
        change: AlarmChange::Update { alarm: id(n), priority: None, text: Some(text.into()), location: None },
        answer: "{}".into(),
    };
    let IntakeOutcome::Changed { alarm: a } = s.record_intake(update(42, "Bed 14 now", 140_000)).await? else {
        return Err(fail("an update is stored"));
    };
    check!(a.text == "Bed 14 now" && a.revision == 2 && a.due == Some(Timestamp(140_000)), "changed, due");
    check!(a.location.bed.as_deref() == Some("12") && a.priority == SourcePriority::High, "the rest kept");
    check!(
        matches!(
            s.record_intake(update(42, "Bed 14 now", 141_000)).await?,
            IntakeOutcome::Duplicate { answer: None, .. }
        ),
        "saying it again is a repeat"
    );
    check!(s.alarm(&id(42)).await?.is_some_and(|a| a.revision == 2), "nothing written");
    check!(matches!(s.record_intake(update(40, "x", 142_000)).await?, IntakeOutcome::Ended { .. }), "not once ended");
    let theirs = Intake { integration: other.clone(), ..update(42, "y", 143_000) };
    check!(matches!(s.record_intake(theirs).await?, IntakeOutcome::UnknownAlarm), "not another's");
    let kinds: Vec<String> = s.alarm_events(&id(42)).await?.into_iter().map(|e| e.kind).collect();
    check!(kinds == ["received", "updated"], "its timeline");
    // A dispatch of revision 2 fails while revision 3 arrives: 3 stays due when it came.
    // (The claim of revision 1 at 135 s is held until its lease runs out.)
    check!(!s.claim_alarm(&id(42), 2, Timestamp(144_000), Timestamp(84_000)).await?, "held by its lease");
    check!(s.claim_alarm(&id(42), 2, Timestamp(200_000), Timestamp(140_000)).await?, "revision 2 claimed");
    check!(
        matches!(s.record_intake(update(42, "Bed 15", 201_000)).await?, IntakeOutcome::Changed { .. }),
        "revision 3"
    );
    s.retry_dispatch(&id(42), 2, Timestamp(210_000)).await?;
    let a = s.alarm(&id(42)).await?.ok_or_else(|| fail("alarm"))?;
    check!(a.revision == 3 && a.due == Some(Timestamp(201_000)), "the newer change is not held back");
    check!(s.claim_alarm(&id(42), 3, Timestamp(201_001), Timestamp(141_001)).await?, "claimed at once");
    Ok(())
}

/// Status facts are recorded once per alarm, kind and person, each with a timeline entry; the
/// outcome moves only from pending or notified.
pub(super) async fn status(s: &impl Store) -> StoreResult<()> {
    let nc = IntegrationId::parse("nc-status").map_err(|_| fail("id"))?;
    s.record_intake(intake(&nc, "s-1", id(50), 200_000)).await?;
    check!(s.claim_alarm(&id(50), 1, Timestamp(200_000), Timestamp(0)).await?, "claimed");
    check!(
        s.finish_dispatch(&id(50), 1, dispatched(AlarmOutcome::Notified, false, None), Timestamp(200_001)).await?,
        "finished"
    );
    check!(s.followed_alarms(0, Timestamp(0), 100).await?.iter().any(|a| a.id == id(50)), "followed while notified");
    let nurse = ruma::owned_user_id!("@nurse:example.org");
    // The integration has a webhook: each new fact's report is queued with it, once.
    s.create_integration(
        NewIntegration {
            id: nc.clone(),
            name: "Nurse call".into(),
            kind: "nurse call".into(),
            scopes: vec![IntegrationScope::AlarmsWrite],
            allowed_kinds: vec![],
        },
        "@boss:example.org",
        Timestamp(1),
    )
    .await?;
    let hook = Webhook { url: "https://nc.example.org/hook".into(), secret: "whsec_AAAA".into() };
    s.set_integration_webhook(&nc, Some(hook)).await?;
    let fact = |kind: &str, user: Option<&ruma::OwnedUserId>, at: u64| FactToRecord {
        fact: StatusFact {
            kind: kind.into(),
            user: user.cloned(),
            answer: None,
            detail: "{}".into(),
            at: Timestamp(at),
        },
        reports: vec![NewReport {
            integration: nc.clone(),
            alarm: Some(id(50)),
            channel: ReportChannel::Webhook,
            payload: format!("{{\"status\":\"{kind}\"}}"),
            created: Timestamp(at),
        }],
    };
    let new = s
        .record_status(
            &id(50),
            vec![fact("delivered", Some(&nurse), 200_100), fact("escalated.1", None, 200_200)],
            None,
        )
        .await?;
    check!(new.len() == 2, "both new");
    let new = s
        .record_status(
            &id(50),
            vec![fact("delivered", Some(&nurse), 200_300), fact("accepted", Some(&nurse), 200_400)],
            Some(AlarmOutcome::Accepted),
        )
        .await?;
    check!(new.len() == 1 && new.first().is_some_and(|f| f.kind == "accepted"), "only the new fact");
    let a = s.alarm(&id(50)).await?.ok_or_else(|| fail("alarm"))?;
    check!(a.outcome == AlarmOutcome::Accepted, "accepted");
    let followed = |since: u64| async move {
        Ok::<_, StoreError>(s.followed_alarms(0, Timestamp(since), 100).await?.iter().any(|a| a.id == id(50)))
    };
    check!(followed(200_000).await?, "an accepted alarm is still followed for a while");
    check!(!followed(200_001).await?, "and not after");
    // The acceptance taken back: waiting again; then accepted again.
    s.record_status(&id(50), vec![], Some(AlarmOutcome::Notified)).await?;
    check!(s.alarm(&id(50)).await?.is_some_and(|a| a.outcome == AlarmOutcome::Notified), "notified again");
    s.record_status(&id(50), vec![], Some(AlarmOutcome::Accepted)).await?;
    // Ended by its source afterwards: dispatch's result does not overwrite what became of it.
    let reset = end(&nc, 50, AlarmState::Reset, "reset:50", 200_500);
    check!(matches!(s.record_intake(reset).await?, IntakeOutcome::Changed { .. }), "reset");
    check!(s.claim_alarm(&id(50), 2, Timestamp(200_600), Timestamp(0)).await?, "claimed");
    check!(
        s.finish_dispatch(&id(50), 2, dispatched(AlarmOutcome::Closed, true, None), Timestamp(200_700)).await?,
        "finished"
    );
    let a = s.alarm(&id(50)).await?.ok_or_else(|| fail("alarm"))?;
    check!(a.outcome == AlarmOutcome::Accepted && a.ended == Some(Timestamp(200_700)), "accepted stands, ended");
    s.record_status(&id(50), vec![], Some(AlarmOutcome::Notified)).await?;
    check!(s.alarm(&id(50)).await?.is_some_and(|a| a.outcome == AlarmOutcome::Accepted), "once ended, it stands");
    check!(!followed(0).await?, "an ended alarm is not followed");
    let reports =
        s.reports(ReportQuery { integration: Some(nc.clone()), outcome: None, pending_only: true, limit: 10 }).await?;
    let mut payloads: Vec<&str> = reports.iter().map(|r| r.payload.as_str()).collect();
    payloads.sort_unstable();
    check!(
        payloads == ["{\"status\":\"accepted\"}", "{\"status\":\"delivered\"}", "{\"status\":\"escalated.1\"}"],
        "one report per new fact, queued with it"
    );
    // Claimed one at a time, in the order recorded.
    let mut sent = Vec::new();
    loop {
        let due = s.claim_due_reports(Timestamp(300_000), Timestamp(0), 10).await?;
        let ours: Vec<_> = due.into_iter().filter(|r| r.integration == nc).collect();
        if ours.is_empty() {
            break;
        }
        for r in ours {
            check!(s.finish_report(&r.id, ReportOutcome::Sent, "", Timestamp(300_000)).await?, "sent");
            sent.push(r.payload);
        }
    }
    check!(sent.len() == 3 && sent.first().is_some_and(|p| p.contains("delivered")), "in the order recorded");
    let facts = s.alarm_status(&id(50)).await?;
    let kinds: Vec<_> = facts.iter().map(|f| (f.kind.as_str(), f.user.is_some(), f.at)).collect();
    check!(
        kinds
            == [
                ("delivered", true, Timestamp(200_100)),
                ("escalated.1", false, Timestamp(200_200)),
                ("accepted", true, Timestamp(200_400))
            ],
        "facts in order, first time kept"
    );
    let timeline: Vec<String> = s.alarm_events(&id(50)).await?.into_iter().map(|e| e.kind).collect();
    check!(
        timeline == ["received", "dispatched", "delivered", "escalated.1", "accepted", "reset", "dispatched"],
        "timeline"
    );
    // Each answer is a fact of its own: the same person accepting again after taking it back.
    let answered = |n: &str| FactToRecord {
        fact: StatusFact {
            kind: "accepted".into(),
            user: Some(nurse.clone()),
            answer: Some(ruma::OwnedEventId::try_from(format!("${n}:example.org")).unwrap_or_else(|_| unreachable!())),
            detail: "{}".into(),
            at: Timestamp(200_800),
        },
        reports: vec![],
    };
    check!(s.record_status(&id(51), vec![], None).await.is_err(), "no such alarm");
    let two = s.record_status(&id(50), vec![answered("a1"), answered("a2"), answered("a1")], None).await?;
    check!(two.len() == 2, "two answers, two facts; the same answer once");
    Ok(())
}

fn rule(id: &str, position: i64, name: &str) -> StoreResult<AlarmRule> {
    Ok(AlarmRule {
        id: RuleId::parse(id).map_err(|_| fail("rule id"))?,
        name: name.into(),
        enabled: true,
        position,
        matches: RuleMatch::default(),
        action: RuleAction {
            mode: Mode::Record,
            targets: vec![],
            level: Level::Urgent,
            policy: None,
            title: None,
            needed: None,
            topic: None,
        },
    })
}

/// Rules are created once, replaced only at the version read, listed in order and removed.
pub(super) async fn rules(s: &impl Store) -> StoreResult<()> {
    let b = rule("b", 1, "B")?;
    let a = rule("a", 2, "A")?;
    check!(s.set_alarm_rule(&b, None, "@admin:example.org", Timestamp(1)).await? == 1, "created at 1");
    check!(s.set_alarm_rule(&a, None, "@admin:example.org", Timestamp(2)).await? == 1, "created at 1");
    check!(matches!(s.set_alarm_rule(&a, None, "x", Timestamp(3)).await, Err(StoreError::Conflict(_))), "created once");
    let a2 = AlarmRule { position: 0, name: "A2".into(), ..a.clone() };
    check!(
        matches!(s.set_alarm_rule(&a2, Some(2), "x", Timestamp(3)).await, Err(StoreError::Conflict(_))),
        "only at the version read"
    );
    let missing = rule("c", 0, "C")?;
    check!(
        matches!(s.set_alarm_rule(&missing, Some(1), "x", Timestamp(3)).await, Err(StoreError::NotFound)),
        "replacing nothing"
    );
    check!(s.set_alarm_rule(&a2, Some(1), "@other:example.org", Timestamp(4)).await? == 2, "replaced");
    let all = s.alarm_rules().await?;
    let listed: Vec<_> = all.iter().map(|r| (r.rule.id.as_str(), r.version, r.rule.name.as_str())).collect();
    check!(listed == [("a", 2, "A2"), ("b", 1, "B")], "by position");
    check!(
        all.first().is_some_and(|r| r.updated_by == "@other:example.org" && r.updated == Timestamp(4)),
        "who and when"
    );
    check!(s.remove_alarm_rule(&b.id).await?, "removed");
    check!(!s.remove_alarm_rule(&b.id).await?, "removed once");
    check!(s.alarm_rules().await?.len() == 1, "one left");
    Ok(())
}
