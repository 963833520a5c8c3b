//! Receiving HL7 messages through the service with the manual clock: the sender is identified
//! by its binding and address, a repeated control id is answered from what was stored and acted
//! on once, an ADT bed places an alarm without PV1, and the trail holds no content.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::net::IpAddr;

use wardline_store::NewIntegration;
use wardline_types::alarm::{AlarmKind, AlarmState};
use wardline_types::hl7::Message;
use wardline_types::hl7_binding::{Hl7Binding, R40Ack};
use wardline_types::integration::{IntegrationId, IntegrationScope};

use crate::audit::By;
use crate::integrations::tests::{Fixture, fixture, records};

const LOCAL: &str = "127.0.0.1";

fn r40(control: &str, source: &str, phase: &str, pv1: &str, extra_msh: &str) -> String {
    format!(
        "MSH|^~\\&|MON|ICU|WARDLINE|HOSP|20261201101500||ORU^R40^ORU_R40|{control}|P|2.6{extra_msh}\r\
PID|||H1^^^HOSP^MR||Doe^Jane\r{pv1}\
OBR|1||{source}^MON|196616^MDC_EVT_ALARM^MDC\r\
OBX|1|ST|196670^MDC_EVT_HI^MDC|1.0.0.0.1|SECRET alarm text||||||F\r\
OBX|2|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.0.0.0.3|{phase}||||||F\r"
    )
}

async fn bound(f: &Fixture, scopes: Vec<IntegrationScope>, allowed: &[&str], r40_ack: R40Ack) -> IntegrationId {
    let id = IntegrationId::parse("monitors").unwrap();
    let new = NewIntegration {
        id: id.clone(),
        name: "Monitors".into(),
        kind: "monitoring".into(),
        scopes,
        allowed_kinds: vec![],
    };
    f.s.integrations.create(By::Server, new).await.unwrap();
    let binding = Hl7Binding {
        sending_application: "MON".into(),
        sending_facility: "ICU".into(),
        allowed_addresses: allowed.iter().map(|a| a.parse().unwrap()).collect(),
        test: false,
        default_kind: AlarmKind::Monitor,
        r40_ack,
        status_address: None,
        report_status: false,
        client_cert_sha256: None,
    };
    f.s.integrations.set_hl7(By::Server, &id, Some(binding)).await.unwrap();
    id
}

async fn send(f: &Fixture, from: &str, text: &str) -> Option<(String, String, String)> {
    let ip: IpAddr = from.parse().unwrap();
    send_with(f, ip, None, text).await
}

async fn send_with(f: &Fixture, ip: IpAddr, cert: Option<&[u8; 32]>, text: &str) -> Option<(String, String, String)> {
    let reply = f.s.alarms.receive_hl7(ip, cert, text.as_bytes(), "WARDLINE").await?;
    let reply = String::from_utf8(reply).unwrap();
    let m = Message::parse(&reply).unwrap();
    let msa = m.segment("MSA").unwrap();
    let (code, event, _) = m.message_type();
    Some((m.text(msa, 1, 0), format!("{code}^{event}"), m.segment("ERR").map(|e| m.text(e, 3, 1)).unwrap_or_default()))
}

const PV1: &str = "PV1||I|ICU^Bay 2^4^Main\r";

#[tokio::test]
async fn a_report_is_stored_once_and_a_repeated_control_id_is_answered_from_what_was_stored() {
    let f = fixture();
    let id = bound(&f, vec![IntegrationScope::Hl7Alarms], &["127.0.0.0/8"], R40Ack::Ack).await;
    let first = send(&f, LOCAL, &r40("C1", "A1", "start", PV1, "|||AL|NE")).await.unwrap();
    assert_eq!(first, ("CA".into(), "ACK^R40".into(), String::new()), "enhanced mode: committed");
    let alarm = f.store.alarm_by_source(&id, "A1").await.unwrap().unwrap();
    assert_eq!((alarm.text.as_str(), alarm.kind), ("SECRET alarm text", AlarmKind::Monitor));
    assert_eq!(alarm.location.bed.as_deref(), Some("4"));
    // The same message again: the first answer, nothing done twice.
    let resent = send(&f, LOCAL, &r40("C1", "A1", "start", PV1, "|||AL|NE")).await.unwrap();
    assert_eq!(resent.0, "CA");
    // The same control id for something else: refused (CR 207), not taken for the first.
    let other = send(&f, LOCAL, &r40("C1", "A1", "end", PV1, "|||AL|NE")).await.unwrap();
    assert_eq!((other.0.as_str(), other.2.as_str()), ("CR", "207"));
    let same = f.store.alarm_by_source(&id, "A1").await.unwrap().unwrap();
    assert_eq!((same.state, same.revision), (AlarmState::Active, 1), "not acted on");
    // Original mode (MSH-15/16 empty): AA; NE asks for no answer at all, yet stores.
    assert_eq!(send(&f, LOCAL, &r40("C2", "A2", "start", PV1, "")).await.unwrap().0, "AA");
    assert!(send(&f, LOCAL, &r40("C3", "A3", "start", PV1, "|||NE|NE")).await.is_none());
    assert!(f.store.alarm_by_source(&id, "A3").await.unwrap().is_some(), "stored though not answered");
    // An end report resets the alarm.
    assert_eq!(send(&f, LOCAL, &r40("C4", "A1", "end", PV1, "|||AL|NE")).await.unwrap().0, "CA");
    assert_eq!(f.store.alarm_by_source(&id, "A1").await.unwrap().unwrap().state, AlarmState::Reset);
    // Content errors: CE/AE with the code (no OBR: 101).
    let no_obr = r40("C5", "A5", "start", PV1, "|||AL|NE").replace("OBR|1||A5^MON|", "NTE|1||");
    assert_eq!(send(&f, LOCAL, &no_obr).await.unwrap(), ("CE".into(), "ACK^R40".into(), "101".into()));
    // The trail names the message, never its content.
    let trail = records(&f).await;
    let hl7: Vec<_> =
        trail.iter().filter_map(|r| r.record.detail.as_deref()).filter(|d| d.starts_with("hl7 ")).collect();
    assert!(hl7.iter().any(|d| d.contains("control_id=C1") && d.contains("type=ORU^R40")), "{hl7:?}");
    assert!(trail.iter().all(|r| !format!("{r:?}").contains("SECRET") && !format!("{r:?}").contains("Jane")));
}

#[tokio::test]
async fn an_unknown_sender_another_address_an_unsupported_type_or_a_missing_scope_is_refused() {
    let f = fixture();
    bound(&f, vec![IntegrationScope::Hl7Alarms], &["10.0.0.0/8"], R40Ack::OraR41).await;
    let msg = r40("C1", "A1", "start", PV1, "");
    assert_eq!(send(&f, LOCAL, &msg).await.unwrap().0, "AR", "not from its address");
    assert_eq!(send(&f, "10.1.2.3", &msg.replace("|MON|ICU|", "|OTHER|ICU|")).await.unwrap().0, "AR", "unknown");
    let ok = send(&f, "10.1.2.3", &msg).await.unwrap();
    assert_eq!((ok.0.as_str(), ok.1.as_str()), ("AA", "ORA^R41"), "the binding asks for ORA^R41");
    let orm = msg.replace("ORU^R40^ORU_R40", "ORM^O01^ORM_O01");
    assert_eq!(send(&f, "10.1.2.3", &orm).await.unwrap().2, "200");
    let adt = "MSH|^~\\&|MON|ICU|||20261201||ADT^A01|C9|P|2.5\rEVN|A01|20261201\rPID|||H1^^^HOSP\rPV1||I|W^1^2\r";
    let refused = send(&f, "10.1.2.3", adt).await.unwrap();
    assert_eq!((refused.0.as_str(), refused.2.as_str()), ("AR", "200"), "no hl7.adt scope");
    assert!(f.store.patient("HOSP|H1").await.unwrap().is_none());
    let junk = f.s.alarms.receive_hl7(LOCAL.parse().unwrap(), None, b"\xff\xfe not hl7", "WARDLINE").await.unwrap();
    assert!(String::from_utf8_lossy(&junk).contains("MSA|AE"), "what is not a message is answered too");
}

#[tokio::test]
async fn an_alarm_without_a_bed_takes_its_patients_bed_from_adt_which_applies_in_time_order() {
    let f = fixture();
    let id =
        bound(&f, vec![IntegrationScope::Hl7Alarms, IntegrationScope::Hl7Adt], &["127.0.0.0/8"], R40Ack::Ack).await;
    let adt = |control: &str, event: &str, time: &str, bed: &str| {
        format!(
            "MSH|^~\\&|MON|ICU|||{time}||ADT^{event}|{control}|P|2.5\rEVN|{event}|{time}\r\
PID|||H1^^^HOSP^MR||Doe^Jane\rPV1||I|Ward 7^3^{bed}^Main\r"
        )
    };
    assert_eq!(send(&f, LOCAL, &adt("D1", "A01", "20261201080000", "12")).await.unwrap().0, "AA");
    assert_eq!(send(&f, LOCAL, &adt("D2", "A02", "20261201090000", "14")).await.unwrap().0, "AA");
    // A delayed admission: acknowledged, changes nothing.
    assert_eq!(send(&f, LOCAL, &adt("D3", "A08", "20261201083000", "12")).await.unwrap().0, "AA");
    let p = f.store.patient("HOSP|H1").await.unwrap().unwrap();
    assert_eq!(p.location.bed.as_deref(), Some("14"));
    let no_pv1 = r40("C1", "A1", "start", "", "").replace("||Doe^Jane", "");
    assert_eq!(send(&f, LOCAL, &no_pv1).await.unwrap().0, "AA");
    let a = f.store.alarm_by_source(&id, "A1").await.unwrap().unwrap();
    assert_eq!((a.location.ward.as_deref(), a.location.bed.as_deref()), (Some("Ward 7"), Some("14")));
    assert_eq!(a.patient.unwrap().name.as_deref(), Some("Jane Doe"), "the name from ADT");
    // Discharged: an alarm naming the patient and no bed is still raised, at an unknown place
    // (no rule names it: the failsafe gets it), never refused and lost.
    assert_eq!(send(&f, LOCAL, &adt("D4", "A03", "20261201100000", "14")).await.unwrap().0, "AA");
    assert_eq!(send(&f, LOCAL, &r40("C2", "A2", "start", "", "")).await.unwrap().0, "AA");
    let a = f.store.alarm_by_source(&id, "A2").await.unwrap().unwrap();
    assert_eq!((a.location.ward.as_deref(), a.location.bed.as_deref()), (Some(super::receive::UNKNOWN_PLACE), None));
    // The same control id for another message: refused (AR 207), not answered as the first.
    let reused = send(&f, LOCAL, &r40("C2", "A3", "start", "", "")).await.unwrap();
    assert_eq!((reused.0.as_str(), reused.2.as_str()), ("AR", "207"));
    assert!(f.store.alarm_by_source(&id, "A3").await.unwrap().is_none(), "nothing of it stored");
}

#[tokio::test]
async fn a_binding_that_pins_a_certificate_takes_messages_only_over_a_connection_that_presented_it() {
    let f = fixture();
    let id = bound(&f, vec![IntegrationScope::Hl7Alarms], &["127.0.0.0/8"], R40Ack::Ack).await;
    let mut binding = f.s.integrations.hl7(&id).await.unwrap().unwrap();
    let pinned = [0x5au8; 32];
    binding.client_cert_sha256 = Some("5A".repeat(32));
    f.s.integrations.set_hl7(By::Server, &id, Some(binding)).await.unwrap();
    let stored = f.s.integrations.hl7(&id).await.unwrap().unwrap();
    assert_eq!(stored.client_cert_sha256, Some("5a".repeat(32)), "kept in lower case");
    let ip: IpAddr = LOCAL.parse().unwrap();
    let msg = r40("C1", "A1", "start", PV1, "|||AL|NE");
    for (cert, what) in [(None, "no certificate (plain TCP)"), (Some(&[0x5bu8; 32]), "another certificate")] {
        let refused = send_with(&f, ip, cert, &msg).await.unwrap();
        assert_eq!((refused.0.as_str(), refused.2.as_str()), ("CR", "207"), "{what}");
    }
    assert!(f.store.alarm_by_source(&id, "A1").await.unwrap().is_none(), "nothing stored");
    let trail = records(&f).await;
    assert!(
        trail
            .iter()
            .filter_map(|r| r.record.detail.as_deref())
            .any(|d| d.contains("client certificate not the one pinned")),
        "the refusal is audited"
    );
    assert_eq!(send_with(&f, ip, Some(&pinned), &msg).await.unwrap().0, "CA");
    assert!(f.store.alarm_by_source(&id, "A1").await.unwrap().is_some());
}
