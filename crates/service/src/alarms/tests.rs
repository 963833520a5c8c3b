//! The intake with the manual clock: stored before answered, a repeat is the same alarm, input
//! is checked field by field, an integration sees only its own alarms, the trail never holds the
//! text or the patient.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use wardline_store::NewIntegration;
use wardline_types::alarm::{AlarmKind, AlarmOutcome, AlarmState, Location, PatientRef, SourcePriority};
use wardline_types::audit::AuditAction;
use wardline_types::integration::{IntegrationId, IntegrationScope};

use super::AlarmInput;
use crate::ServiceError;
use crate::audit::By;
use crate::integrations::IntegrationCaller;
use crate::integrations::tests::{Fixture, fixture, nurse_call, records};

fn call(source_id: &str) -> AlarmInput {
    AlarmInput {
        source_id: source_id.into(),
        kind: AlarmKind::NurseCall,
        priority: SourcePriority::High,
        location: Location { ward: Some("Ward 7".into()), bed: Some("12".into()), ..Location::default() },
        patient: Some(PatientRef { id: "H123".into(), system: None, name: Some("Jane Doe".into()), birth_date: None }),
        text: "Patient call: SECRET-TEXT".into(),
        occurred_at: None,
    }
}

async fn caller(f: &Fixture, new: NewIntegration) -> IntegrationCaller {
    let id = new.id.clone();
    f.s.integrations.create(By::Server, new).await.unwrap();
    let k = f.s.integrations.add_key(By::Server, &id, None, None).await.unwrap();
    let scope = IntegrationScope::AlarmsWrite;
    f.s.integrations.authenticate(&k.secret_key, Some(scope), None, "alarms.create").await.unwrap()
}

#[tokio::test]
async fn an_alarm_is_stored_once_and_a_repeat_is_answered_as_the_first() {
    let f = fixture();
    let nc = caller(&f, nurse_call()).await;
    let first = f.s.alarms.intake(&nc, call("bed-12-call-1")).await.unwrap();
    assert!(!first.duplicate);
    let a = &first.alarm;
    assert_eq!((a.state, a.outcome, a.revision), (AlarmState::Active, AlarmOutcome::Pending, 1));
    assert_eq!(first.answer["alarm_id"], a.id.as_str());
    assert_eq!(first.answer["state"], "active");
    // Stored when answered: read straight from the store.
    let stored = f.store.alarm(&a.id).await.unwrap().unwrap();
    assert_eq!(&stored, a);
    // A repeat (the source resending, its location spaced differently) is the same alarm.
    let mut resent = call("bed-12-call-1");
    resent.location.ward = Some(" Ward 7 ".into());
    let again = f.s.alarms.intake(&nc, resent).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.alarm.id, a.id);
    assert_eq!(again.answer, first.answer, "the stored answer");
    // The same source id for a different alarm is refused, never answered as the first: a
    // source that reuses its ids would otherwise lose every alarm after the first.
    for changed in [
        AlarmInput { kind: AlarmKind::CardiacArrest, priority: SourcePriority::Emergency, ..call("bed-12-call-1") },
        AlarmInput { text: "changed".into(), ..call("bed-12-call-1") },
        AlarmInput {
            location: Location { ward: Some("Ward 9".into()), ..Location::default() },
            ..call("bed-12-call-1")
        },
        AlarmInput {
            patient: Some(PatientRef { id: "H999".into(), system: None, name: None, birth_date: None }),
            ..call("bed-12-call-1")
        },
        AlarmInput { occurred_at: Some(wardline_types::Timestamp(1)), ..call("bed-12-call-1") },
    ] {
        let e = f.s.alarms.intake(&nc, changed).await;
        assert!(matches!(e, Err(ServiceError::SourceIdReused(ref m)) if m.contains(a.id.as_str())), "{e:?}");
    }
    let stored = f.store.alarm(&a.id).await.unwrap().unwrap();
    assert_eq!((stored.kind, stored.text.as_str()), (AlarmKind::NurseCall, "Patient call: SECRET-TEXT"));
    let other = f.s.alarms.intake(&nc, call("bed-14-call-1")).await.unwrap();
    assert!(!other.duplicate && other.alarm.id != a.id);

    let got = f.s.alarms.get(&nc, &a.id).await.unwrap();
    assert_eq!(got.alarm.id, a.id);
    assert_eq!(got.events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["received"]);
    assert_eq!(f.s.alarms.by_source(&nc, "bed-12-call-1").await.unwrap().id, a.id);

    // Another integration neither sees it nor collides with its source id.
    let fire = NewIntegration { id: IntegrationId::parse("fire").unwrap(), ..nurse_call() };
    let fire = caller(&f, fire).await;
    assert!(matches!(f.s.alarms.get(&fire, &a.id).await, Err(ServiceError::NotFound(_))));
    assert!(matches!(f.s.alarms.by_source(&fire, "bed-12-call-1").await, Err(ServiceError::NotFound(_))));
    let theirs = f.s.alarms.intake(&fire, call("bed-12-call-1")).await.unwrap();
    assert!(!theirs.duplicate && theirs.alarm.id != a.id);

    let all = records(&f).await;
    let alarms: Vec<String> =
        all.iter().filter(|r| r.record.action == AuditAction::Alarm).filter_map(|r| r.record.detail.clone()).collect();
    assert_eq!(alarms.len(), 9, "{alarms:?}");
    assert_eq!(
        alarms.first().unwrap(),
        &format!("received alarm={} kind=nurse_call priority=high protocol=http duplicate=false", a.id)
    );
    assert!(alarms.get(1).unwrap().ends_with("duplicate=true"));
    let refused: Vec<_> = all
        .iter()
        .filter(|r| r.record.action == AuditAction::Alarm && r.record.outcome == wardline_types::audit::Outcome::Denied)
        .collect();
    assert_eq!(refused.len(), 5, "each reuse of a source id is recorded as refused");
    assert!(refused.iter().all(|r| r.record.detail.as_deref().is_some_and(|d| d.contains("source_id already names"))));
    let text = format!("{all:?}");
    assert!(!text.contains("SECRET-TEXT") && !text.contains("Jane Doe") && !text.contains("H123"), "no content");
}

#[tokio::test]
async fn what_a_source_sends_is_checked_and_the_refusal_names_the_field() {
    let f = fixture();
    let limited = NewIntegration { allowed_kinds: vec![AlarmKind::NurseCall, AlarmKind::StaffAssist], ..nurse_call() };
    let nc = caller(&f, limited).await;
    let e = f.s.alarms.intake(&nc, AlarmInput { kind: AlarmKind::Fire, ..call("a") }).await;
    assert!(
        matches!(e, Err(ServiceError::Forbidden(ref m)) if m.contains("fire") && m.contains("nurse_call")),
        "{e:?}"
    );
    for (input, field) in [
        (AlarmInput { source_id: String::new(), ..call("a") }, "source_id"),
        (AlarmInput { source_id: "x".repeat(201), ..call("a") }, "source_id"),
        (AlarmInput { text: " ".into(), ..call("a") }, "text"),
        (AlarmInput { text: "x".repeat(1001), ..call("a") }, "text"),
        (AlarmInput { text: "call\u{1b}[2J".into(), ..call("a") }, "text"),
        (AlarmInput { source_id: "bed-12 ".into(), ..call("a") }, "source_id"),
        (AlarmInput { location: Location::default(), ..call("a") }, "location.ward"),
        (
            AlarmInput {
                location: Location { ward: Some("7".into()), bed: Some("b".repeat(65)), ..Location::default() },
                ..call("a")
            },
            "location.bed",
        ),
        (
            AlarmInput {
                patient: Some(PatientRef { id: String::new(), system: None, name: None, birth_date: None }),
                ..call("a")
            },
            "patient.id",
        ),
    ] {
        let e = f.s.alarms.intake(&nc, input).await;
        assert!(matches!(e, Err(ServiceError::InvalidParam(ref m)) if m.contains(field)), "{field}: {e:?}");
    }
    assert!(f.s.alarms.list(wardline_store::AlarmQuery::default()).await.unwrap().is_empty(), "nothing stored");
    // Without the scope to raise alarms (read only).
    let reader = NewIntegration {
        id: IntegrationId::parse("reader").unwrap(),
        scopes: vec![IntegrationScope::AlarmsRead],
        ..nurse_call()
    };
    f.s.integrations.create(By::Server, reader.clone()).await.unwrap();
    let k = f.s.integrations.add_key(By::Server, &reader.id, None, None).await.unwrap();
    let r =
        f.s.integrations
            .authenticate(&k.secret_key, Some(IntegrationScope::AlarmsRead), None, "alarms.get")
            .await
            .unwrap();
    let e = f.s.alarms.intake(&r, call("b")).await;
    assert!(matches!(e, Err(ServiceError::Forbidden(ref m)) if m.contains("alarms.write")), "{e:?}");
}

/// An alarm as stored, for tests of what is made from one.
pub(crate) fn sample_alarm() -> wardline_store::Alarm {
    use wardline_types::Timestamp;
    use wardline_types::alarm::{AlarmId, IntakeProtocol};
    wardline_store::Alarm {
        seq: 1,
        id: AlarmId::from_bytes(&[7; wardline_types::alarm::ALARM_ID_BYTES]),
        integration: IntegrationId::parse("nursecall").unwrap(),
        source_id: "bed-12-call-1".into(),
        kind: AlarmKind::NurseCall,
        priority: SourcePriority::High,
        text: "Patient call: SECRET-TEXT".into(),
        location: Location { ward: Some("Ward 7".into()), bed: Some("12".into()), ..Location::default() },
        patient: Some(PatientRef { id: "H123".into(), system: None, name: None, birth_date: None }),
        occurred: None,
        details: None,
        state: AlarmState::Active,
        outcome: AlarmOutcome::Notified,
        revision: 1,
        protocol: IntakeProtocol::Http,
        received: Timestamp(1),
        updated: Timestamp(1),
        dispatched_revision: 1,
        due: None,
        routing: None,
        ended: None,
    }
}
