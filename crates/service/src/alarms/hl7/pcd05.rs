//! IHE PCD-05 Report Alert Status (`ORA^R41^ORA_R41`): what Wardline tells a reporter that
//! sent its alarm over HL7 (PCD-04) about that alarm's dissemination, one message per status
//! fact, initiated by Wardline to the reporter's MLLP listener (its binding's
//! `status_address`; sent by the integration outbox).
//!
//! `MSH PID PV1 OBR PRT` (IHE PCD TF-2 §3.5): `MSH-15` `AL`, `MSH-16` `NE`, `MSH-21` the
//! PCD-05 profile OID; `PID-3` the patient's identifier only (the reporter knows the patient:
//! no name or birth date is sent back); `PV1-3` the place the alarm is at; `OBR-3` Wardline's id
//! of the alarm, `OBR-4` `MDC_EVT_ALARM`, `OBR-29` the reporter's own id of it (as its PCD-04
//! gave it); `PRT-1` the dissemination (one per alarm: every status of it shares the id),
//! `PRT-2` `AD` for the first status the reporter gets and `UP` for the rest (decided when it is
//! sent: `AD` until one of the alarm's reports to the reporter has been sent), `PRT-3` `^<status>^IHE_PCD_ACM`,
//! `PRT-4` responsible observer, `PRT-5` the person it is about, `PRT-11` when.
//!
//! The outbox stores the status (a small JSON payload, [`Pcd05Status`], never the patient)
//! and this message is built from the alarm as stored when it is sent, under the report's
//! own control id (`MSH-11` `T` when the binding is a test one, else `P`), so a retry is the
//! same message to the reporter (but for `MSH-7`).

use serde::{Deserialize, Serialize};
use wardline_store::Alarm;
use wardline_types::Timestamp;
use wardline_types::hl7::dtm;
use wardline_types::hl7::write::{Field, MessageBuilder};

/// `MSH-21`: the PCD-05 message profile.
pub const PROFILE: [&str; 4] = ["IHE_PCD_ACM_005", "IHE PCD", "1.3.6.1.4.1.19376.1.6.1.5.1", "ISO"];
/// The code system of `PRT-3`'s status.
pub const STATUS_SYSTEM: &str = "IHE_PCD_ACM";

/// The PCD-05 status (`PRT-3`) of a status fact of Wardline's (`StatusFact::kind`, the
/// escalation step stripped), or `None` for a fact PCD-05 has no word for (`escalated`: the
/// reporter hears who it reaches through `Delivered`/`Read`/`Accepted` instead).
#[must_use]
pub fn status_of(kind: &str) -> Option<&'static str> {
    Some(match kind {
        // Taken and kept, but sent to nobody (a record-only rule).
        "recorded" => "Received",
        "delivered" => "Delivered",
        "read" => "Read",
        "accepted" => "Accepted",
        "declined" => "Rejected",
        // Nobody its rule names could take it: it went to the failsafe (or no rule took it).
        "failsafe" | "undeliverable" => "Undeliverable",
        // The reporter itself ended it (its reset or cancel).
        "reset" | "cancelled" => "CancelledOther",
        // Staff closed it in Wardline.
        "closed" => "Cancelled",
        _ => return None,
    })
}

/// `PRT-2`: the first status of a dissemination, or an update of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// `AD`: the first.
    #[serde(rename = "AD")]
    Add,
    /// `UP`: a later one.
    #[serde(rename = "UP")]
    Update,
}

impl Action {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Add => "AD",
            Self::Update => "UP",
        }
    }
}

/// The person a status is about (`PRT-5`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Their Matrix user id.
    pub user_id: String,
    /// Their display name, if they have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// What the outbox keeps of one PCD-05 report (its payload): no patient, no text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pcd05Status {
    /// Always `alarm.pcd05`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The alarm.
    pub alarm_id: String,
    /// The PCD-05 status (`Delivered`, `Accepted`...).
    pub status: String,
    /// Wardline's status fact it reports (`delivered`, `accepted`...).
    pub fact: String,
    /// Whom it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<Person>,
    /// When (milliseconds since the epoch).
    pub at: u64,
}

/// Who sends and who receives: the `MSH` of a PCD-05 message.
#[derive(Debug, Clone)]
pub struct Header<'a> {
    /// `MSH-3`: Wardline's application name (`hl7.application`).
    pub application: &'a str,
    /// `MSH-4`: the server's name.
    pub facility: &'a str,
    /// `MSH-5`/`MSH-6`: the reporter, as its binding names it.
    pub receiving_application: &'a str,
    /// `MSH-6`.
    pub receiving_facility: &'a str,
    /// `MSH-7`: now.
    pub now: Timestamp,
    /// `MSH-10`: the report's control id (the same for every attempt).
    pub control_id: &'a str,
    /// `MSH-11`: `P`, or `T` for a test system.
    pub processing_id: &'a str,
}

/// The `ORA^R41^ORA_R41` reporting `status` of `alarm`.
#[must_use]
pub fn ora_r41(alarm: &Alarm, status: &Pcd05Status, action: Action, h: &Header<'_>) -> String {
    let msh = vec![
        h.application.into(),
        h.facility.into(),
        h.receiving_application.into(),
        h.receiving_facility.into(),
        dtm::format(h.now).into(),
        Field::default(),
        Field::components(["ORA", "R41", "ORA_R41"]),
        h.control_id.into(),
        h.processing_id.into(),
        "2.6".into(),
        Field::default(),
        Field::default(),
        "AL".into(),
        "NE".into(),
        Field::default(),
        "UNICODE UTF-8".into(),
        Field::default(),
        Field::default(),
        Field::components(PROFILE),
    ];
    let pid_3 = match &alarm.patient {
        Some(p) => Field::components([p.id.as_str(), "", "", p.system.as_deref().unwrap_or_default()]),
        None => Field::default(),
    };
    let l = &alarm.location;
    let part = |p: &Option<String>| p.clone().unwrap_or_default();
    let pv1_3 = Field::components([part(&l.ward), part(&l.room), part(&l.bed), part(&l.site)]);
    let person = match &status.person {
        Some(p) => Field::components([p.user_id.clone(), p.display_name.clone().unwrap_or_default()]),
        None => Field::default(),
    };
    let mut prt: Vec<Field> = vec![
        Field::components([alarm.id.as_str(), "WARDLINE"]),
        action.as_str().into(),
        Field::components(["", status.status.as_str(), STATUS_SYSTEM]),
        Field::components(["RO", "Responsible Observer", "HL70912"]),
        person,
    ];
    prt.extend(std::iter::repeat_n(Field::default(), 5));
    prt.push(dtm::format(Timestamp(status.at)).into());
    MessageBuilder::new(msh)
        .segment("PID", vec![Field::text("1"), Field::default(), pid_3])
        .segment("PV1", vec![Field::text("1"), Field::text("I"), pv1_3])
        .segment(
            "OBR",
            vec![
                Field::text("1"),
                Field::default(),
                Field::components([alarm.id.as_str(), "WARDLINE"]),
                Field::components(["196616", "MDC_EVT_ALARM", "MDC"]),
            ]
            .into_iter()
            .chain(std::iter::repeat_n(Field::default(), 24))
            .chain([Field::components(["", alarm.source_id.as_str()])])
            .collect(),
        )
        .segment("PRT", prt)
        .build()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use wardline_types::hl7::Message;

    use super::*;

    fn header() -> Header<'static> {
        Header {
            application: "WARDLINE",
            facility: "hosp.example",
            receiving_application: "MON",
            receiving_facility: "ICU",
            now: Timestamp(1_796_119_200_000),
            control_id: "WL0123456789abcdef01",
            processing_id: "P",
        }
    }

    fn accepted() -> Pcd05Status {
        Pcd05Status {
            kind: "alarm.pcd05".into(),
            alarm_id: "al_x".into(),
            status: "Accepted".into(),
            fact: "accepted".into(),
            person: Some(Person { user_id: "@nia:hosp.example".into(), display_name: Some("Nia O'Neil^RN".into()) }),
            at: 1_796_119_260_000,
        }
    }

    #[test]
    fn the_message_is_an_ora_r41_with_the_alarm_its_source_id_and_the_status() {
        let alarm = crate::alarms::tests::sample_alarm();
        let text = ora_r41(&alarm, &accepted(), Action::Update, &header());
        let m = Message::parse(&text).unwrap();
        let msh = m.msh().unwrap();
        assert_eq!(m.message_type(), ("ORA".into(), "R41".into(), "ORA_R41".into()));
        assert_eq!(
            (m.text(msh, 3, 0), m.text(msh, 5, 0), m.text(msh, 6, 0)),
            ("WARDLINE".into(), "MON".into(), "ICU".into())
        );
        assert_eq!(m.text(msh, 10, 0), "WL0123456789abcdef01");
        assert_eq!((m.text(msh, 11, 0), m.text(msh, 12, 0)), ("P".into(), "2.6".into()));
        assert_eq!((m.text(msh, 15, 0), m.text(msh, 16, 0)), ("AL".into(), "NE".into()));
        assert_eq!(m.text(msh, 21, 3), "1.3.6.1.4.1.19376.1.6.1.5.1");
        let pid = m.segment("PID").unwrap();
        assert_eq!(m.text(pid, 3, 1), alarm.patient.as_ref().unwrap().id);
        assert_eq!(m.text(pid, 5, 0), "", "no name goes back");
        let pv1 = m.segment("PV1").unwrap();
        assert_eq!(Some(m.text(pv1, 3, 1)), alarm.location.ward.clone());
        let obr = m.segment("OBR").unwrap();
        assert_eq!(m.text(obr, 3, 1), alarm.id.as_str());
        assert_eq!(m.text(obr, 4, 2), "MDC_EVT_ALARM");
        assert_eq!(m.text(obr, 29, 2), alarm.source_id, "OBR-29: the reporter's own id");
        let prt = m.segment("PRT").unwrap();
        assert_eq!(m.text(prt, 1, 1), alarm.id.as_str());
        assert_eq!(m.text(prt, 2, 0), "UP");
        assert_eq!((m.text(prt, 3, 2), m.text(prt, 3, 3)), ("Accepted".into(), "IHE_PCD_ACM".into()));
        assert_eq!(m.text(prt, 5, 1), "@nia:hosp.example");
        assert_eq!(m.text(prt, 5, 2), "Nia O'Neil^RN", "escaped when written, read back whole");
        assert_eq!(m.text(prt, 11, 0), dtm::format(Timestamp(1_796_119_260_000)));
        assert!(!text.contains(&alarm.text), "never the alarm's text");
        assert!(text.split('\r').filter(|s| !s.is_empty()).count() == 5, "{text:?}");
    }

    #[test]
    fn the_first_status_is_added_and_one_without_a_person_leaves_prt_5_empty() {
        let alarm = crate::alarms::tests::sample_alarm();
        let status = Pcd05Status { person: None, status: "Undeliverable".into(), ..accepted() };
        let text = ora_r41(&alarm, &status, Action::Add, &header());
        let m = Message::parse(&text).unwrap();
        let prt = m.segment("PRT").unwrap();
        assert_eq!(
            (m.text(prt, 2, 0), m.text(prt, 3, 2), m.text(prt, 5, 0)),
            ("AD".into(), "Undeliverable".into(), String::new())
        );
        let json = serde_json::to_value(&status).unwrap();
        assert!(json.get("action").is_none(), "AD/UP is decided when it is sent: {json}");
        assert_eq!(serde_json::from_value::<Pcd05Status>(json).unwrap(), status);
    }

    #[test]
    fn every_fact_maps_to_a_pcd05_status_or_is_not_sent() {
        for (fact, status) in [
            ("recorded", Some("Received")),
            ("delivered", Some("Delivered")),
            ("read", Some("Read")),
            ("accepted", Some("Accepted")),
            ("declined", Some("Rejected")),
            ("failsafe", Some("Undeliverable")),
            ("undeliverable", Some("Undeliverable")),
            ("reset", Some("CancelledOther")),
            ("cancelled", Some("CancelledOther")),
            ("closed", Some("Cancelled")),
            ("escalated", None),
            ("anything", None),
        ] {
            assert_eq!(status_of(fact), status, "{fact}");
        }
    }
}
