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
    /// The observation (none: the alert says a result wanted more alerts than one result
    /// raises).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation: Option<Observation>,
    /// The patient's specialty (`PV1-10`'s code, else as the ADT feed knows it), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specialty: Option<String>,
    /// The specialty's name (`PV1-10.2`), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specialty_name: Option<String>,
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

    /// The specialty's code and name, as subscriptions by specialty compare them.
    #[must_use]
    pub fn specialties(&self) -> Vec<&str> {
        self.specialty.iter().chain(self.specialty_name.iter()).map(String::as_str).collect()
    }
}
