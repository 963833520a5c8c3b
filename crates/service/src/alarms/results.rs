//! A clinical alert's result as its alarm keeps it ([`wardline_store::Alarm::details`],
//! `{"result": {...}}`): the observation that raised it and the patient's specialty, read by
//! routing (a rule's observation match, a subscription's specialty) and shown with the alert.

use serde::{Deserialize, Serialize};
use serde_json::json;
use wardline_store::Alarm;
use wardline_types::alarm::AlarmKind;
use wardline_types::alert_topic::Observation;

/// What a result carried beyond an alarm's common fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultDetails {
    /// The observation.
    pub observation: Observation,
    /// The patient's specialty (`PV1-10`), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specialty: Option<String>,
}

impl ResultDetails {
    /// The result a clinical alert was raised from, if it was.
    #[must_use]
    pub fn of(alarm: &Alarm) -> Option<Self> {
        if alarm.kind != AlarmKind::ClinicalAlert {
            return None;
        }
        let details: serde_json::Value = serde_json::from_str(alarm.details.as_deref()?).ok()?;
        serde_json::from_value(details.get("result")?.clone()).ok()
    }

    /// What the alarm keeps.
    #[must_use]
    pub fn to_json(&self) -> String {
        json!({ "result": self }).to_string()
    }
}
