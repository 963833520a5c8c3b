//! Conformance of clinical alert topics and subscriptions ([`crate::TopicStore`]), and of a
//! result's alerts in the one intake write ([`crate::AlarmChange::Results`]).

use ruma::OwnedUserId;
use wardline_types::Timestamp;
use wardline_types::alarm::{AlarmKind, AlarmState, IntakeProtocol, Location, SourcePriority};
use wardline_types::alarm_rule::{AlarmRule, Mode, RuleAction, RuleId, RuleMatch};
use wardline_types::alert_topic::{AlertTopic, OpenTo, TopicId, TopicScope};
use wardline_types::escalation::Target;
use wardline_types::integration::{IntegrationId, IntegrationScope};
use wardline_types::priority::Level;

use super::alarms::id;
use super::fail;
use crate::{AlarmChange, Intake, IntakeOutcome, NewAlarm, NewIntegration, Store, StoreError, StoreResult};

fn user(s: &str) -> StoreResult<OwnedUserId> {
    OwnedUserId::try_from(s).map_err(|_| fail("user id"))
}

fn scope(s: &str) -> StoreResult<TopicScope> {
    TopicScope::parse(s).map_err(|_| fail("scope"))
}

/// Topics are versioned (created once, replaced at their version); a subscription is replaced
/// whole, per person and topic; removing a topic removes its subscriptions; a subscription to a
/// topic that does not exist is refused.
pub(super) async fn topics(s: &impl Store) -> StoreResult<()> {
    let news2 = TopicId::parse("news2-high").map_err(|_| fail("topic id"))?;
    let aki = TopicId::parse("aki").map_err(|_| fail("topic id"))?;
    let (ann, bob) = (user("@ann:localhost")?, user("@bob:localhost")?);
    let topic = |id: &TopicId, name: &str| AlertTopic {
        id: id.clone(),
        name: name.into(),
        description: String::new(),
        open_to: vec![OpenTo::any_scope(Target::User { user_id: ann.clone() })],
    };
    check!(s.set_alert_topic(&topic(&news2, "NEWS2 ≥ 7"), None, "@admin:localhost", Timestamp(1)).await? == 1, "v1");
    check!(
        matches!(
            s.set_alert_topic(&topic(&news2, "again"), None, "x", Timestamp(2)).await,
            Err(StoreError::Conflict(_))
        ),
        "created once"
    );
    check!(
        matches!(
            s.set_alert_topic(&topic(&news2, "stale"), Some(7), "x", Timestamp(2)).await,
            Err(StoreError::Conflict(_))
        ),
        "replaced only at its version"
    );
    check!(
        matches!(s.set_alert_topic(&topic(&aki, "AKI"), Some(1), "x", Timestamp(2)).await, Err(StoreError::NotFound)),
        "replacing one that does not exist"
    );
    check!(s.set_alert_topic(&topic(&news2, "NEWS2 seven+"), Some(1), "x", Timestamp(3)).await? == 2, "v2");
    s.set_alert_topic(&topic(&aki, "AKI"), None, "x", Timestamp(3)).await?;
    let read = s.alert_topic(&news2).await?.ok_or_else(|| fail("read back"))?;
    check!(read.topic.name == "NEWS2 seven+" && read.version == 2 && read.subscribers == 0, "read back");

    let (w7, all) = (scope("ward:Ward 7")?, scope("all")?);
    s.set_topic_subscription(&ann, &news2, &[w7.clone(), scope("specialty:Renal")?], Timestamp(4)).await?;
    s.set_topic_subscription(&ann, &news2, &[w7.clone(), all.clone()], Timestamp(5)).await?;
    s.set_topic_subscription(&ann, &aki, std::slice::from_ref(&all), Timestamp(5)).await?;
    s.set_topic_subscription(&bob, &news2, std::slice::from_ref(&w7), Timestamp(5)).await?;
    let mine = s.topic_subscriptions_of(&ann).await?;
    check!(
        mine == vec![(aki.clone(), vec![all.clone()]), (news2.clone(), vec![all.clone(), w7.clone()])],
        "a subscription is replaced whole"
    );
    let subs = s.topic_subscribers(&news2).await?;
    check!(subs.len() == 3 && subs.iter().filter(|(u, _)| *u == ann).count() == 2, "one row per scope");
    check!(s.alert_topic(&news2).await?.is_some_and(|t| t.subscribers == 2), "subscribers counted once each");
    s.set_topic_subscription(&bob, &news2, &[], Timestamp(6)).await?;
    check!(s.topic_subscriptions_of(&bob).await?.is_empty(), "none: unsubscribed");
    let gone = TopicId::parse("gone").map_err(|_| fail("topic id"))?;
    check!(
        matches!(
            s.set_topic_subscription(&bob, &gone, std::slice::from_ref(&all), Timestamp(6)).await,
            Err(StoreError::NotFound)
        ),
        "no subscription to a topic that does not exist"
    );
    // A rule naming a topic keeps it; a rule cannot name one that does not exist: both checked
    // in the write itself.
    let topic_rule = |id: &str, topic: &TopicId| -> StoreResult<AlarmRule> {
        Ok(AlarmRule {
            id: RuleId::parse(id).map_err(|_| fail("rule id"))?,
            name: id.into(),
            enabled: true,
            position: 1,
            matches: RuleMatch::default(),
            action: RuleAction {
                mode: Mode::Topic,
                targets: vec![],
                level: Level::Urgent,
                policy: None,
                title: None,
                needed: None,
                topic: Some(topic.clone()),
            },
        })
    };
    s.set_alarm_rule(&topic_rule("news2-rule", &news2)?, None, "x", Timestamp(7)).await?;
    check!(
        matches!(s.remove_alert_topic(&news2).await, Err(StoreError::Conflict(m)) if m.contains("news2-rule")),
        "a topic a rule names is kept, and the refusal names the rule"
    );
    check!(
        matches!(
            s.set_alarm_rule(&topic_rule("gone-rule", &gone)?, None, "x", Timestamp(7)).await,
            Err(StoreError::Conflict(m)) if m.starts_with(crate::TOPIC_MISSING)
        ),
        "a rule cannot name a topic that does not exist"
    );
    check!(s.remove_alarm_rule(&RuleId::parse("news2-rule").map_err(|_| fail("rule id"))?).await?, "rule removed");
    check!(s.remove_alert_topic(&news2).await?, "removed");
    check!(!s.remove_alert_topic(&news2).await?, "removed once");
    check!(s.topic_subscribers(&news2).await?.is_empty(), "its subscriptions went with it");
    check!(s.topic_subscriptions_of(&ann).await? == vec![(aki.clone(), vec![all])], "others' stay");
    check!(s.alert_topics().await?.len() == 1, "one left");
    results(s).await
}

fn alert(n: u8, source_id: &str) -> NewAlarm {
    NewAlarm {
        id: id(n),
        source_id: source_id.into(),
        kind: AlarmKind::ClinicalAlert,
        priority: SourcePriority::High,
        text: "NEWS2 score 9".into(),
        location: Location { ward: Some("Ward 7".into()), ..Location::default() },
        patient: None,
        occurred: None,
        details: Some(r#"{"result":{"observation":{"code":"NEWS2","value":"9"}}}"#.into()),
    }
}

/// A result's alerts are stored in its intake write, each once per source id; a resend of the
/// message is a repeat; another message naming an alert already raised leaves it as it was.
async fn results(s: &impl Store) -> StoreResult<()> {
    let new = NewIntegration {
        id: IntegrationId::parse("hl7-results").map_err(|_| fail("id"))?,
        name: "EPR results".into(),
        kind: "epr".into(),
        scopes: vec![IntegrationScope::Hl7Observations],
        allowed_kinds: vec![],
    };
    let epr = s.create_integration(new, "x", Timestamp(1)).await?.id;
    let message_ending = |key: &str, alerts: Vec<NewAlarm>, withdrawn: Vec<(String, String)>| Intake {
        integration: epr.clone(),
        protocol: IntakeProtocol::Hl7,
        intake_key: key.into(),
        raw: Some(b"MSH|...".to_vec()),
        received: Timestamp(50_000),
        change: AlarmChange::Results { alerts, withdrawn },
        answer: "CA f00d".into(),
    };
    let message = |key: &str, alerts: Vec<NewAlarm>| message_ending(key, alerts, Vec::new());
    let first = message("EPR|H|R1", vec![alert(201, "r01:R1:1.1"), alert(202, "r01:R1:2.1")]);
    let IntakeOutcome::Results { raised, changed, known, .. } = s.record_intake(first.clone()).await? else {
        return Err(fail("a result's alerts are stored"));
    };
    check!(raised.len() == 2 && changed.is_empty() && known == 0, "both raised");
    check!(raised[0].id == id(201) && raised[1].source_id == "r01:R1:2.1", "in order, as given");
    check!(raised.iter().all(|a| a.due.is_some() && a.kind == AlarmKind::ClinicalAlert), "each due for dispatch");
    check!(
        matches!(s.record_intake(first).await?, IntakeOutcome::Repeated { answer } if answer == "CA f00d"),
        "a resend is a repeat, answered as the first"
    );
    // A later result of the same orders: the first alert unchanged, the second corrected
    // (brought up to date, due for dispatch to edit its message), a third new.
    let mut corrected = alert(205, "r01:R1:2.1");
    corrected.text = "NEWS2 score 11".into();
    corrected.details = Some(r#"{"result":{"observation":{"code":"NEWS2","value":"11"}}}"#.into());
    let overlap = message("EPR|H|R2", vec![alert(203, "r01:R1:1.1"), corrected, alert(204, "r01:R2:1.1")]);
    let IntakeOutcome::Results { raised, changed, known, .. } = s.record_intake(overlap).await? else {
        return Err(fail("a second result is stored"));
    };
    check!(raised.len() == 1 && raised[0].id == id(204), "only the new one raised");
    check!(known == 1 && s.alarm(&id(203)).await?.is_none(), "the same one again is not raised again");
    check!(changed.len() == 1 && changed[0].id == id(202), "the corrected one is the alert raised first");
    check!(
        changed[0].text == "NEWS2 score 11" && changed[0].revision == 2 && changed[0].due.is_some(),
        "brought up to date and due"
    );
    check!(changed[0].details.as_deref().is_some_and(|d| d.contains("\"11\"")), "with its new value");
    let empty = message("EPR|H|R3", Vec::new());
    check!(
        matches!(s.record_intake(empty.clone()).await?, IntakeOutcome::Results { ref raised, known: 0, .. } if raised.is_empty()),
        "a result raising nothing is kept"
    );
    check!(matches!(s.record_intake(empty).await?, IntakeOutcome::Repeated { .. }), "and known when resent");
    // A result striking one out: the alert raised under it is cancelled with the reason; one
    // never raised, or one ended already, is nothing to end.
    let struck = message_ending(
        "EPR|H|R4",
        Vec::new(),
        vec![
            ("r01:R1:1.1".into(), "withdrawn by the sender".into()),
            ("r01:never".into(), "deleted by the sender".into()),
        ],
    );
    let IntakeOutcome::Results { raised, withdrawn, .. } = s.record_intake(struck).await? else {
        return Err(fail("a result withdrawing an alert is stored"));
    };
    check!(raised.is_empty() && withdrawn.len() == 1 && withdrawn[0].id == id(201), "the one raised is ended");
    check!(
        withdrawn[0].state == AlarmState::Cancelled && withdrawn[0].due.is_some(),
        "cancelled, and due for dispatch to tell its conversation"
    );
    let events = s.alarm_events(&id(201)).await?;
    check!(
        events.last().is_some_and(|e| e.kind == "cancelled" && e.detail.contains("withdrawn by the sender")),
        "why, in its history"
    );
    let again = message_ending("EPR|H|R5", Vec::new(), vec![("r01:R1:1.1".into(), "withdrawn".into())]);
    check!(
        matches!(s.record_intake(again).await?, IntakeOutcome::Results { ref withdrawn, .. } if withdrawn.is_empty()),
        "an alert ended already is not ended again"
    );
    Ok(())
}
