//! What a source is told: each new status fact about its alarm becomes a report, queued in the
//! same write as the fact (`AlarmStore::record_status`), and sent by the integration outbox
//! (`integrations/outbox.rs`) to the system's webhook, signed, in order, retried until taken; a
//! page that came over WCTP is also reported in WCTP (`wctp/reports.rs`).
//!
//! A report: `{"type": "alarm.status", "alarm_id", "source_id", "status", "at", "user":
//! {"user_id", "display_name"}?, "escalation_step"?, "reason"?}`, where `status` is
//! `delivered`, `read`, `accepted`, `declined`, `escalated`, `failsafe`, `undeliverable`,
//! `recorded`, `reset`, `cancelled` or `closed`. Never the alarm's text or the patient, nor what
//! staff wrote (a reason goes back only for `undeliverable`, `reset` and `cancelled`).
//!
//! An alarm that came in over HL7 is also reported over HL7, as IHE PCD-05 Report Alert Status
//! (`hl7/pcd05.rs`), for each fact PCD-05 has a word for; the store queues it only if the
//! integration's binding asks for status (`report_status` with a `status_address`). The
//! outbox keeps the status ([`Pcd05Status`]); the message is built when it is sent, and whether
//! it adds the dissemination (`AD`) or updates it (`UP`) is decided then too, from what the
//! reporter has been sent (`integrations/outbox.rs`).

use serde_json::{Value, json};
use wardline_store::{Alarm, FactToRecord, NewReport, ReportChannel, StatusFact};
use wardline_types::alarm::{AlarmOutcome, IntakeProtocol};

use super::AlarmService;
use super::hl7::pcd05::{self, Pcd05Status};
use crate::ServiceResult;

/// The report of one fact.
fn payload(alarm: &Alarm, fact: &StatusFact, display_name: Option<String>) -> String {
    let (status, step) = match fact.kind.split_once('.') {
        Some((s, n)) => (s, n.parse::<u64>().ok()),
        None => (fact.kind.as_str(), None),
    };
    let mut p = json!({
        "type": "alarm.status",
        "alarm_id": alarm.id,
        "source_id": alarm.source_id,
        "status": status,
        "at": fact.at.0,
    });
    if let Some(u) = &fact.user {
        p["user"] = json!({ "user_id": u, "display_name": display_name });
    }
    if let Some(n) = step {
        p["escalation_step"] = json!(n);
    }
    // A reason goes back only when it is the server's own code (`failsafe`, `no_rule`...) or
    // the source's own words (its reset or cancel): never what staff wrote (a decline's or an
    // incident's close reason), which may name a patient.
    let detail: Value = serde_json::from_str(&fact.detail).unwrap_or(Value::Null);
    let reason = detail.get("reason").and_then(Value::as_str);
    let ours = matches!(status, "undeliverable" | "reset" | "cancelled");
    if let Some(r) = reason.filter(|_| ours) {
        p["reason"] = json!(r);
    }
    p.to_string()
}

/// A fact's status without its step (`escalated.2` → `escalated`).
fn fact_status(kind: &str) -> &str {
    kind.split_once('.').map_or(kind, |(s, _)| s)
}

/// The PCD-05 report of one fact, if PCD-05 has a word for it.
fn pcd05_status(alarm: &Alarm, fact: &StatusFact, display_name: Option<String>) -> Option<Pcd05Status> {
    let kind = fact_status(&fact.kind);
    let status = pcd05::status_of(kind)?;
    Some(Pcd05Status {
        kind: "alarm.pcd05".into(),
        alarm_id: alarm.id.as_str().to_owned(),
        status: status.to_owned(),
        fact: kind.to_owned(),
        person: fact.user.as_ref().map(|u| pcd05::Person { user_id: u.to_string(), display_name }),
        at: fact.at.0,
    })
}

impl AlarmService {
    /// Records `facts` about `alarm` (each once) with their reports in one write, and the
    /// outcome if given; wakes the outbox if any was new. Returns the new facts.
    pub(super) async fn record(
        &self,
        alarm: &Alarm,
        facts: Vec<StatusFact>,
        outcome: Option<AlarmOutcome>,
    ) -> ServiceResult<Vec<StatusFact>> {
        let mut to_record = Vec::with_capacity(facts.len());
        // A page that came over WCTP is also reported in WCTP, to the paging system.
        let mut wctp = match super::wctp::page::Page::of(alarm) {
            Some(page) => {
                let known = self.store.alarm_status(&alarm.id).await?;
                let sender = self.server_name.to_string();
                super::wctp::wctp_reports(alarm, &page, &facts, &known, &sender, self.clock.now())
            }
            None => Vec::new(),
        }
        .into_iter();
        for fact in facts {
            let name = match &fact.user {
                Some(u) => self.store.account(u).await?.and_then(|a| a.display_name),
                None => None,
            };
            let mut reports = Vec::with_capacity(2);
            if alarm.protocol == IntakeProtocol::Hl7
                && let Some(status) = pcd05_status(alarm, &fact, name.clone())
            {
                reports.push(NewReport {
                    integration: alarm.integration.clone(),
                    alarm: Some(alarm.id.clone()),
                    channel: ReportChannel::Hl7,
                    payload: serde_json::to_string(&status).unwrap_or_default(),
                    created: self.clock.now(),
                });
            }
            reports.push(NewReport {
                integration: alarm.integration.clone(),
                alarm: Some(alarm.id.clone()),
                channel: ReportChannel::Webhook,
                payload: payload(alarm, &fact, name),
                created: self.clock.now(),
            });
            reports.extend(wctp.next().flatten());
            to_record.push(FactToRecord { fact, reports });
        }
        let new = self.store.record_status(&alarm.id, to_record, outcome).await?;
        if !new.is_empty() {
            self.outbox.poke();
        }
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_names_the_status_step_and_person_never_the_text() {
        let alarm = crate::alarms::tests::sample_alarm();
        let fact = StatusFact {
            kind: "escalated.2".into(),
            user: None,
            answer: None,
            detail: "{\"step\":2}".into(),
            at: wardline_types::Timestamp(5),
        };
        let p: Value = serde_json::from_str(&payload(&alarm, &fact, None)).unwrap();
        assert_eq!((p["status"].as_str(), p["escalation_step"].as_u64()), (Some("escalated"), Some(2)));
        assert_eq!(p["source_id"], alarm.source_id.as_str());
        let accepted = StatusFact {
            kind: "accepted".into(),
            user: Some(ruma::owned_user_id!("@nia:h")),
            answer: None,
            detail: "{\"option\":\"accept\",\"reason\":null}".into(),
            at: wardline_types::Timestamp(6),
        };
        let p: Value = serde_json::from_str(&payload(&alarm, &accepted, Some("Nia".into()))).unwrap();
        assert_eq!(p["user"], json!({ "user_id": "@nia:h", "display_name": "Nia" }));
        assert!(p.get("reason").is_none(), "{p}");
        // What staff wrote stays in Wardline: a decline's or a close's reason is not sent.
        for kind in ["declined", "closed"] {
            let staff = StatusFact {
                kind: kind.into(),
                user: Some(ruma::owned_user_id!("@nia:h")),
                answer: None,
                detail: "{\"reason\":\"with Mr X in bay 4\"}".into(),
                at: wardline_types::Timestamp(7),
            };
            let p: Value = serde_json::from_str(&payload(&alarm, &staff, None)).unwrap();
            assert!(p.get("reason").is_none(), "{kind}: {p}");
        }
        let failsafe = StatusFact {
            kind: "undeliverable".into(),
            user: None,
            answer: None,
            detail: "{\"reason\":\"no_rule\"}".into(),
            at: wardline_types::Timestamp(8),
        };
        let p: Value = serde_json::from_str(&payload(&alarm, &failsafe, None)).unwrap();
        assert_eq!(p["reason"], "no_rule");
        assert!(!p.to_string().contains(&alarm.text), "never the text");
        assert!(!p.to_string().contains("H123"), "never the patient");
    }

    #[test]
    fn a_pcd05_report_keeps_the_status_and_person() {
        let alarm = crate::alarms::tests::sample_alarm();
        let fact = |kind: &str| StatusFact {
            kind: kind.into(),
            user: Some(ruma::owned_user_id!("@nia:h")),
            answer: None,
            detail: "{\"reason\":\"with Mr X in bay 4\"}".into(),
            at: wardline_types::Timestamp(9),
        };
        let first = pcd05_status(&alarm, &fact("delivered"), Some("Nia".into())).unwrap();
        assert_eq!(first.status, "Delivered");
        assert_eq!(first.person.as_ref().map(|p| p.user_id.as_str()), Some("@nia:h"));
        let later = pcd05_status(&alarm, &fact("declined"), None).unwrap();
        assert_eq!(later.status, "Rejected");
        assert!(pcd05_status(&alarm, &fact("escalated.2"), None).is_none(), "PCD-05 has no word for it");
        let json = serde_json::to_string(&later).unwrap();
        assert!(!json.contains("Mr X") && !json.contains("H123") && !json.contains(&alarm.text), "{json}");
    }
}
