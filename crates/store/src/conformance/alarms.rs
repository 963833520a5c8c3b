//! Conformance of alarms ([`crate::AlarmStore`]).

use wardline_types::Timestamp;
use wardline_types::alarm::{
    AlarmId, AlarmKind, AlarmOutcome, AlarmState, IntakeProtocol, Location, PatientRef, SourcePriority,
};
use wardline_types::integration::IntegrationId;

use super::fail;
use crate::{AlarmChange, AlarmQuery, Intake, IntakeOutcome, NewAlarm, Store, StoreResult};

pub(super) fn id(n: u8) -> AlarmId {
    AlarmId::from_bytes(&[n; wardline_types::alarm::ALARM_ID_BYTES])
}

pub(super) fn intake(integration: &IntegrationId, source_id: &str, alarm: AlarmId, at: u64) -> Intake {
    Intake {
        integration: integration.clone(),
        protocol: IntakeProtocol::Http,
        intake_key: format!("create:{source_id}"),
        raw: None,
        received: Timestamp(at),
        change: AlarmChange::Open(Box::new(NewAlarm {
            id: alarm.clone(),
            source_id: source_id.to_owned(),
            kind: AlarmKind::NurseCall,
            priority: SourcePriority::High,
            text: "Patient call, bay 3".into(),
            location: Location {
                site: None,
                ward: Some("Ward 7".into()),
                room: Some("3".into()),
                bed: Some("12".into()),
            },
            patient: Some(PatientRef { id: "H123".into(), system: Some("mrn".into()), name: None, birth_date: None }),
            occurred: Some(Timestamp(at - 5)),
            details: None,
        })),
        answer: format!("{{\"alarm_id\":\"{alarm}\"}}"),
    }
}

/// The intake stores the alarm with its first timeline entry; a repeat of the key is answered
/// with the stored answer and writes nothing; the same source id under another key finds the
/// alarm already raised; alarms are listed in the order stored, filtered as asked.
pub(super) async fn alarms(s: &impl Store) -> StoreResult<()> {
    let nc = IntegrationId::parse("nursecall").map_err(|_| fail("id"))?;
    let other = IntegrationId::parse("monitors").map_err(|_| fail("id"))?;
    let first = intake(&nc, "bed-12-call-1", id(1), 10_000);
    let IntakeOutcome::New { alarm } = s.record_intake(first.clone()).await? else {
        return Err(fail("a first intake stores a new alarm"));
    };
    check!(alarm.id == id(1) && alarm.integration == nc && alarm.source_id == "bed-12-call-1", "ids kept");
    check!(alarm.state == AlarmState::Active && alarm.outcome == AlarmOutcome::Pending, "active, pending");
    check!(alarm.revision == 1 && alarm.received == Timestamp(10_000) && alarm.updated == Timestamp(10_000), "rev 1");
    check!(alarm.kind == AlarmKind::NurseCall && alarm.priority == SourcePriority::High, "kind and priority");
    check!(alarm.location.bed.as_deref() == Some("12") && alarm.location.site.is_none(), "location kept");
    check!(alarm.patient.as_ref().is_some_and(|p| p.id == "H123"), "patient kept");
    check!(alarm.occurred == Some(Timestamp(9_995)) && alarm.protocol == IntakeProtocol::Http, "occurred, protocol");
    check!(s.alarm(&id(1)).await?.as_ref() == Some(&alarm), "read back by id");
    check!(s.alarm_by_source(&nc, "bed-12-call-1").await?.as_ref() == Some(&alarm), "read back by source id");
    check!(s.alarm_by_source(&other, "bed-12-call-1").await?.is_none(), "source ids are per integration");

    // The same intake again, with a new id and answer of its own: the first is replayed.
    let again = Intake { answer: "different".into(), ..intake(&nc, "bed-12-call-1", id(2), 11_000) };
    match s.record_intake(again).await? {
        IntakeOutcome::Duplicate { alarm: a, answer } => {
            check!(a == alarm, "the stored alarm");
            check!(answer.as_deref() == Some(first.answer.as_str()), "the stored answer replayed");
        }
        _ => return Err(fail("a repeated intake stores nothing")),
    }
    check!(s.alarm(&id(2)).await?.is_none(), "no second alarm");
    // Another key (another protocol) naming the same source id finds the alarm raised.
    let other_key = Intake { protocol: IntakeProtocol::Hl7, ..intake(&nc, "bed-12-call-1", id(3), 12_000) };
    check!(
        matches!(s.record_intake(other_key).await?, IntakeOutcome::Duplicate { alarm: ref a, answer: None } if *a == alarm),
        "one alarm per source id"
    );
    check!(s.alarm(&id(3)).await?.is_none(), "still one");
    let events = s.alarm_events(&id(1)).await?;
    check!(events.len() == 1, "one timeline entry");
    check!(
        events.first().is_some_and(|e| e.kind == "received" && e.revision == 1 && e.ts == Timestamp(10_000)),
        "received"
    );

    let IntakeOutcome::New { alarm: second } = s.record_intake(intake(&other, "bed-12-call-1", id(4), 13_000)).await?
    else {
        return Err(fail("another integration's alarm"));
    };
    let IntakeOutcome::New { alarm: third } = s.record_intake(intake(&nc, "bed-14-call-1", id(5), 14_000)).await?
    else {
        return Err(fail("a second alarm"));
    };
    check!(alarm.seq < second.seq && second.seq < third.seq, "stored in order");
    let all: Vec<_> =
        s.alarms(AlarmQuery { limit: 10, ..AlarmQuery::default() }).await?.into_iter().map(|a| a.id).collect();
    check!(all == [id(1), id(4), id(5)], "all, oldest first");
    let mine: Vec<_> = s
        .alarms(AlarmQuery { integration: Some(nc.clone()), limit: 10, ..AlarmQuery::default() })
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    check!(mine == [id(1), id(5)], "one integration's");
    let after: Vec<_> = s
        .alarms(AlarmQuery { after_seq: Some(alarm.seq), limit: 1, ..AlarmQuery::default() })
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    check!(after == [id(4)], "after a seq, limited");
    let pending = s
        .alarms(AlarmQuery {
            state: Some(AlarmState::Active),
            outcome: Some(AlarmOutcome::Pending),
            limit: 10,
            ..AlarmQuery::default()
        })
        .await?;
    check!(pending.len() == 3, "by state and outcome");
    let accepted =
        s.alarms(AlarmQuery { outcome: Some(AlarmOutcome::Accepted), limit: 10, ..AlarmQuery::default() }).await?;
    check!(accepted.is_empty(), "none accepted");

    // The live log's newest page, paging back from it, and one kind.
    let mut fire = intake(&other, "zone-4-fire", id(6), 15_000);
    if let AlarmChange::Open(new) = &mut fire.change {
        new.kind = AlarmKind::Fire;
    }
    s.record_intake(fire).await?;
    let ids =
        |q: AlarmQuery| async move { s.alarms(q).await.map(|list| list.into_iter().map(|a| a.id).collect::<Vec<_>>()) };
    let newest = ids(AlarmQuery { newest_first: true, limit: 2, ..AlarmQuery::default() }).await?;
    check!(newest == [id(6), id(5)], "the newest first, limited");
    let earlier =
        ids(AlarmQuery { newest_first: true, before_seq: Some(third.seq), limit: 10, ..AlarmQuery::default() }).await?;
    check!(earlier == [id(4), id(1)], "before a seq, newest first");
    let between =
        ids(AlarmQuery { after_seq: Some(alarm.seq), before_seq: Some(third.seq), limit: 10, ..AlarmQuery::default() })
            .await?;
    check!(between == [id(4)], "between two seqs");
    let fires = ids(AlarmQuery { kind: Some(AlarmKind::Fire), limit: 10, ..AlarmQuery::default() }).await?;
    check!(fires == [id(6)], "one kind");
    let calls =
        ids(AlarmQuery { kind: Some(AlarmKind::NurseCall), newest_first: true, limit: 10, ..AlarmQuery::default() })
            .await?;
    check!(calls == [id(5), id(4), id(1)], "another kind, newest first");
    Ok(())
}
