#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;

/// The shape of IHE PCD TF-2 E.3.1 (a physiological alarm with its measurement): SpO2 above its
/// high limit, on a monitor in bed 1 of the North operating theatre.
pub(crate) const NUMERIC: &str = "MSH|^~\\&|MONITOR^ACDE48234567ABCD^EUI-64|ICU|||20261201095715+0000||ORU^R40^ORU_R40|MSG-N1|P|2.6|||AL|NE||UNICODE UTF-8|||IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.4.1^ISO\r\
PID|||HO2009001^^^HOSP^MR||Hon^Albert^\"\"^^^^L||19610101|M\r\
PV1||I|ICU^Bay 2^1^Main\r\
OBR|1|AB12345^MONITOR|CD12345^MONITOR|196616^MDC_EVT_ALARM^MDC|||20261201095715+0000\r\
OBX|1|ST|196670^MDC_EVT_HI^MDC|1.3.1.150456.1|SpO2 above high limit||||||R|||20261201095714+0000\r\
OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.3.1.150456.2|99|262688^MDC_DIM_PERCENT^MDC|50-95|H|||R\r\
OBX|3|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.3.1.150456.3|start||||||R\r\
OBX|4|ST|68482^MDC_ATTR_ALARM_STATE^MDC|1.3.1.150456.4|active||||||R\r\
OBX|5|ST|68484^MDC_ATTR_ALARM_PRIORITY^MDC|1.3.1.150456.5|PM||||||R\r\
OBX|6|ST|68485^MDC_ATTR_ALERT_TYPE^MDC|1.3.1.150456.6|SP||||||R\r";

/// The shape of E.3.2 (a technical alarm), its priority and type given both the deprecated way
/// (`OBX-8` of the event) and as facets of their own; its end, a later report with `OBR-29`.
const TECHNICAL_END: &str = "MSH|^~\\&|MONITOR|ICU|||20261201100000||ORU^R40^ORU_R40|MSG-T2|P|2.6|||AL|NE\r\
PID|||HO2009001^^^HOSP^MR\r\
OBR|1||CD12399^MONITOR|196616^MDC_EVT_ALARM^MDC|||20261201100000||||||||||||||||||||||CD12345&MONITOR^CD12345&MONITOR\r\
OBX|1|CWE|196614^MDC_EVT_LEAD_DISCONN^MDC|1.1.1.1.1|196614^ECG lead off^MDC|||PL~ST||F\r\
OBX|2|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.1.1.1.3|end||||||F\r\
OBX|3|ST|68484^MDC_ATTR_ALARM_PRIORITY^MDC|1.1.1.1.6|PH||||||F\r\
NTE|1||Check electrodes\r";

#[test]
fn a_physiological_alarm_is_read_with_its_measurement_place_and_patient() {
    let m = Message::parse(NUMERIC).unwrap();
    let r = read(&m).unwrap();
    assert_eq!(r.source_id, "CD12345", "the first report: OBR-3");
    assert_eq!(r.phase, Phase::Present);
    assert_eq!(r.text, "SpO2 above high limit (PULS OXIM SAT O2 99 %)");
    assert_eq!(r.priority, SourcePriority::Medium);
    assert_eq!(r.alert_type.as_deref(), Some("SP"));
    assert_eq!(r.event_code, "196670");
    let l = r.location.unwrap();
    assert_eq!(
        (l.site.as_deref(), l.ward.as_deref(), l.room.as_deref(), l.bed.as_deref()),
        (Some("Main"), Some("ICU"), Some("Bay 2"), Some("1"))
    );
    let p = r.patient.unwrap();
    assert_eq!((p.key.as_str(), p.patient.name.as_deref()), ("HOSP|HO2009001", Some("Albert Hon")), "\"\" is empty");
    assert_eq!(p.patient.birth_date.as_deref(), Some("1961-01-01"));
    assert_eq!(r.occurred, dtm::parse("20261201095714+0000"), "the event's OBX-14");
}

#[test]
fn a_technical_alarm_ends_its_alert_by_its_parent_id_and_a_facet_wins_over_obx_8() {
    let m = Message::parse(TECHNICAL_END).unwrap();
    let r = read(&m).unwrap();
    assert_eq!(r.source_id, "CD12345", "OBR-29's filler id names the alert the first report raised");
    assert_eq!(r.phase, Phase::Over("end".into()));
    assert_eq!(r.text, "ECG lead off\nCheck electrodes", "a CWE's text, then the note");
    assert_eq!(r.priority, SourcePriority::High, "the priority facet wins over OBX-8's PL");
    assert_eq!(r.alert_type.as_deref(), Some("ST"), "OBX-8's type when there is no facet");
    assert!(r.location.is_none(), "no PV1");
    // Without the facet, OBX-8 gives the priority; an inactive state ends the alert too.
    let deprecated =
        TECHNICAL_END.replace("OBX|3|ST|68484^MDC_ATTR_ALARM_PRIORITY^MDC|1.1.1.1.6|PH||||||F\r", "").replace(
            "OBX|2|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.1.1.1.3|end",
            "OBX|2|ST|68482^MDC_ATTR_ALARM_STATE^MDC|1.1.1.1.4|inactive",
        );
    let r = read(&Message::parse(&deprecated).unwrap()).unwrap();
    assert_eq!((r.priority, r.phase), (SourcePriority::Low, Phase::Over("state inactive".into())));
}

#[test]
fn what_a_report_lacks_is_refused_with_its_place() {
    let no_obr = NUMERIC.replace("OBR|1|AB12345^MONITOR|CD12345^MONITOR|", "NTE|1|");
    let e = read(&Message::parse(&no_obr).unwrap()).unwrap_err();
    assert_eq!((e.code, e.place.unwrap().segment.as_str()), (ErrorCode::RequiredFieldMissing, "OBR"));
    let no_id = NUMERIC.replace("OBR|1|AB12345^MONITOR|CD12345^MONITOR|", "OBR|1|||");
    let e = read(&Message::parse(&no_id).unwrap()).unwrap_err();
    assert_eq!((e.code, e.place.as_ref().map(|p| p.field)), (ErrorCode::RequiredFieldMissing, Some(3)));
    let head: String = NUMERIC.split('\r').take(4).collect::<Vec<_>>().join("\r");
    let e = read(&Message::parse(&head).unwrap()).unwrap_err();
    assert_eq!(e.place.unwrap().segment, "OBX", "no event OBX");
    let long_bed = NUMERIC.replace("ICU^Bay 2^1^Main", &format!("ICU^Bay 2^{}", "9".repeat(65)));
    assert_eq!(read(&Message::parse(&long_bed).unwrap()).unwrap_err().code, ErrorCode::DataType);
    // Priorities: PN/PL/PM/PH.
    for (flag, p) in [
        ("PN", SourcePriority::None),
        ("PL", SourcePriority::Low),
        ("PM", SourcePriority::Medium),
        ("PH", SourcePriority::High),
    ] {
        let m = NUMERIC.replace("|PM||", &format!("|{flag}||"));
        assert_eq!(read(&Message::parse(&m).unwrap()).unwrap().priority, p);
    }
}
