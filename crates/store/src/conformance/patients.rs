//! Conformance of patients from the ADT feed ([`crate::PatientStore`]), of HL7 messages in the
//! one intake write, and of integrations' HL7 bindings.

use wardline_types::Timestamp;
use wardline_types::alarm::{AlarmKind, AlarmState, IntakeProtocol, Location};
use wardline_types::hl7_binding::{Hl7Binding, R40Ack};
use wardline_types::integration::{IntegrationId, IntegrationScope};

use super::alarms::{id, intake};
use super::fail;
use crate::{
    AdtApplied, AdtEvent, AlarmChange, Intake, IntakeOutcome, NewIntegration, PatientUpdate, Store, StoreError,
    StoreResult,
};

fn bed(ward: &str, room: &str, bed: &str) -> Location {
    Location { site: Some("Main".into()), ward: Some(ward.into()), room: Some(room.into()), bed: Some(bed.into()) }
}

fn update(event: AdtEvent, at: u64, location: Option<Location>) -> PatientUpdate {
    PatientUpdate {
        key: "HOSP|H1".into(),
        event,
        name: Some("Jane Doe".into()),
        birth_date: Some("1950-02-03".into()),
        sex: Some("F".into()),
        location,
        specialty: None,
        message_time: Timestamp(at),
        received: Timestamp(at + 7),
    }
}

/// Updates apply in the feed's time order only (an older one is stale and changes nothing); a
/// transfer moves the bed, a discharge empties it; the patient in a bed is found by the bed.
pub(super) async fn patients(s: &impl Store) -> StoreResult<()> {
    let AdtApplied::Applied(p) = s.apply_adt(update(AdtEvent::Admit, 1_000, Some(bed("Ward 7", "3", "12")))).await?
    else {
        return Err(fail("a first admission applies"));
    };
    check!(p.name.as_deref() == Some("Jane Doe") && p.location == bed("Ward 7", "3", "12"), "admitted to a bed");
    check!(p.admitted == Some(Timestamp(1_000)) && p.discharged.is_none(), "admission time");
    check!(s.patient_in_bed(&bed("Ward 7", "3", "12")).await?.is_some_and(|q| q.key == "HOSP|H1"), "found by bed");
    let moved = s.apply_adt(update(AdtEvent::Transfer, 3_000, Some(bed("Ward 9", "1", "4")))).await?;
    check!(matches!(&moved, AdtApplied::Applied(q) if q.location == bed("Ward 9", "1", "4")), "transferred");
    // A delayed message from before the transfer: stale, nothing changes.
    let old = s.apply_adt(update(AdtEvent::Update, 2_000, Some(bed("Ward 7", "3", "12")))).await?;
    check!(matches!(&old, AdtApplied::Stale(q) if q.location == bed("Ward 9", "1", "4")), "stale refused");
    check!(s.patient_in_bed(&bed("Ward 7", "3", "12")).await?.is_none(), "the old bed is empty");
    // An update without a name keeps the one known.
    let renamed = PatientUpdate { name: None, ..update(AdtEvent::Update, 3_500, None) };
    check!(
        matches!(s.apply_adt(renamed).await?, AdtApplied::Applied(q) if q.name.as_deref() == Some("Jane Doe")
            && q.location == bed("Ward 9", "1", "4")),
        "what a message does not give is kept"
    );
    let out = s.apply_adt(update(AdtEvent::Discharge, 4_000, Some(bed("Ward 9", "1", "4")))).await?;
    check!(
        matches!(&out, AdtApplied::Applied(q) if q.location == Location::default() && q.discharged == Some(Timestamp(4_000))),
        "discharged: no bed"
    );
    check!(s.patient_in_bed(&bed("Ward 9", "1", "4")).await?.is_none(), "nobody in the bed after discharge");
    let after = s.apply_adt(update(AdtEvent::Update, 4_500, Some(bed("Ward 9", "1", "4")))).await?;
    check!(
        matches!(&after, AdtApplied::Applied(q) if q.location == Location::default()),
        "an update places nobody discharged"
    );
    check!(s.patient("HOSP|nobody").await?.is_none(), "unknown patient");
    hl7_intake(s).await?;
    bindings(s).await
}

fn hl7(nc: &IntegrationId, key: &str, change: AlarmChange, at: u64) -> Intake {
    Intake {
        integration: nc.clone(),
        protocol: IntakeProtocol::Hl7,
        intake_key: key.to_owned(),
        raw: Some(b"MSH|^~\\&|...".to_vec()),
        received: Timestamp(at),
        change,
        answer: "CA".into(),
    }
}

/// Every HL7 message's key is kept with its answer, whatever it did, and a resend is answered
/// from it: an ADT message (applied in the same write), a report of an alarm the source never
/// raised, a report of one already raised (an update).
async fn hl7_intake(s: &impl Store) -> StoreResult<()> {
    let nc = IntegrationId::parse("nursecall").map_err(|_| fail("id"))?;
    let hl7 = |key: &str, change, at| hl7(&nc, key, change, at);
    let adt =
        AlarmChange::Adt(Box::new(PatientUpdate { key: "HOSP|H2".into(), ..update(AdtEvent::Admit, 9_000, None) }));
    check!(
        matches!(
            s.record_intake(hl7("EPR|HOSP|A1", adt.clone(), 9_001)).await?,
            IntakeOutcome::Patient(AdtApplied::Applied(_))
        ),
        "an ADT message is applied in the intake write"
    );
    check!(s.patient("HOSP|H2").await?.is_some(), "and stored");
    check!(
        matches!(s.record_intake(hl7("EPR|HOSP|A1", adt, 9_002)).await?, IntakeOutcome::Repeated { ref answer } if answer == "CA"),
        "its resend is answered as the first"
    );
    let end = AlarmChange::End { alarm: id(90), state: AlarmState::Reset, reason: None };
    check!(
        matches!(s.record_intake(hl7("NC|W7|E1", end.clone(), 9_003)).await?, IntakeOutcome::UnknownAlarm),
        "unknown"
    );
    check!(
        matches!(s.record_intake(hl7("NC|W7|E1", end, 9_004)).await?, IntakeOutcome::Repeated { .. }),
        "a report of an unknown alarm is kept too"
    );
    let Intake { change: open, .. } = intake(&nc, "hl7-alarm-1", id(91), 9_005);
    check!(matches!(s.record_intake(hl7("NC|W7|O1", open.clone(), 9_005)).await?, IntakeOutcome::New { .. }), "opened");
    let AlarmChange::Open(mut louder) = open.clone() else { return Err(fail("open")) };
    louder.text = "Patient call, bay 3, again".into();
    louder.id = id(92);
    check!(
        matches!(s.record_intake(hl7("NC|W7|O2", AlarmChange::Open(louder), 9_006)).await?,
            IntakeOutcome::Changed { ref alarm } if alarm.id == id(91) && alarm.revision == 2),
        "the same alarm reported again with new text is an update"
    );
    check!(
        matches!(s.record_intake(hl7("NC|W7|O2", open, 9_007)).await?,
            IntakeOutcome::Duplicate { ref alarm, answer: Some(ref a) } if alarm.id == id(91) && a == "CA"),
        "its resend is answered from the key, whatever it holds now"
    );
    check!(s.alarm(&id(92)).await?.is_none(), "no second alarm");
    Ok(())
}

/// A binding is found by its sender while the integration is active; two active integrations
/// cannot share a sender.
async fn bindings(s: &impl Store) -> StoreResult<()> {
    let new = |id: &str| -> StoreResult<NewIntegration> {
        Ok(NewIntegration {
            id: IntegrationId::parse(id).map_err(|_| fail("id"))?,
            name: "Monitors".into(),
            kind: "monitoring".into(),
            scopes: vec![IntegrationScope::Hl7Alarms],
            allowed_kinds: vec![],
        })
    };
    let mon = s.create_integration(new("hl7-monitors")?, "x", Timestamp(1)).await?.id;
    let other = s.create_integration(new("hl7-other")?, "x", Timestamp(1)).await?.id;
    let binding = Hl7Binding {
        sending_application: "MON".into(),
        sending_facility: "ICU".into(),
        allowed_addresses: vec!["10.0.0.0/8".parse().map_err(|_| fail("net"))?],
        test: true,
        default_kind: AlarmKind::Monitor,
        r40_ack: R40Ack::OraR41,
        status_address: None,
        report_status: false,
        client_cert_sha256: Some("ab".repeat(32)),
    };
    check!(s.integration_by_hl7_sender("MON", "ICU").await?.is_none(), "nobody bound yet");
    s.set_integration_hl7(&mon, Some(&binding)).await?;
    check!(s.integration_hl7(&mon).await?.as_ref() == Some(&binding), "read back");
    check!(
        s.integration_by_hl7_sender("MON", "ICU").await?.is_some_and(|(i, b)| i.id == mon && b == binding),
        "found by its sender"
    );
    check!(s.integration_by_hl7_sender("MON", "WARD").await?.is_none(), "both parts must match");
    check!(
        matches!(s.set_integration_hl7(&other, Some(&binding)).await, Err(StoreError::Conflict(_))),
        "a sender is bound to one integration"
    );
    s.revoke_integration(&mon, "x", Timestamp(2)).await?;
    check!(s.integration_by_hl7_sender("MON", "ICU").await?.is_none(), "a revoked integration is not found");
    s.set_integration_hl7(&other, Some(&binding)).await?;
    s.set_integration_hl7(&other, None).await?;
    check!(s.integration_hl7(&other).await?.is_none(), "removed");
    Ok(())
}
