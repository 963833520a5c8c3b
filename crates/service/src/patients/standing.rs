//! What a patient's record says of itself — restricted, deceased, inactive, merged — as a
//! conversation's banner shows it. The tie keeps what the record said when it was made; the
//! banner asks the EPR again in the background at most every [`STANDING_TTL_MS`] per patient, so
//! a death, a merge or a restriction recorded later reaches it within minutes, and the banner
//! never waits for the EPR (a slow or absent EPR leaves what was known).
//!
//! Memory only, on each node: a cache of what the EPR said, never a truth of its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use wardline_types::Timestamp;
use wardline_types::patient::PatientSummary;

use super::EprClient;
use super::record;

/// How long what the record said of a patient is shown before it is asked again.
pub const STANDING_TTL_MS: u64 = 2 * 60 * 1000;
/// Patients remembered at most (then the cache starts again: it only saves calls).
const MAX_ENTRIES: usize = 10_000;

/// What a record says of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    restricted: bool,
    deceased: bool,
    inactive: bool,
    merged: bool,
    merged_into: Option<String>,
}

impl Standing {
    fn of(p: &PatientSummary) -> Self {
        Self {
            restricted: p.restricted,
            deceased: p.deceased,
            inactive: p.inactive,
            merged: p.merged,
            merged_into: p.merged_into.clone(),
        }
    }

    /// Shows this standing on `p` (a restricted record's place is never shown).
    pub fn apply(&self, p: &mut PatientSummary) {
        p.restricted = self.restricted;
        p.deceased = self.deceased;
        p.inactive = self.inactive;
        p.merged = self.merged;
        p.merged_into.clone_from(&self.merged_into);
        if p.restricted {
            p.place = None;
        }
    }
}

#[derive(Debug)]
struct Entry {
    /// When the EPR was last asked (or is being asked).
    asked: Timestamp,
    /// What it last said, if it answered.
    standing: Option<Standing>,
}

/// The standing of patients' records as the EPR last said.
#[derive(Debug, Default)]
pub struct StandingCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl StandingCache {
    /// What is known of `patient_id`'s record, and whether the EPR is to be asked again now (if
    /// so, it is marked asked: one call at a time per patient).
    pub fn lookup(&self, patient_id: &str, now: Timestamp) -> (Option<Standing>, bool) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(patient_id) {
            entries.clear();
        }
        let entry = entries.entry(patient_id.to_owned()).or_insert(Entry { asked: Timestamp(0), standing: None });
        let due = now.0.saturating_sub(entry.asked.0) >= STANDING_TTL_MS;
        if due {
            entry.asked = now;
        }
        (entry.standing.clone(), due)
    }

    /// Keeps what the EPR said of `patient_id`'s record.
    pub fn put(&self, patient_id: &str, standing: Standing) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = entries.get_mut(patient_id) {
            e.standing = Some(standing);
        }
    }

    /// Asks the EPR for `patient_id`'s record in the background and keeps what it says of
    /// itself; a failure leaves what was known (asked again after the TTL).
    pub fn refresh(self: &Arc<Self>, epr: Arc<EprClient>, patient_id: String) {
        let cache = Arc::clone(self);
        tokio::spawn(async move {
            match epr.read("Patient", &patient_id).await {
                Ok(p) => match record::patient_summary(&p, None).filter(|s| s.id == patient_id) {
                    Some(s) => cache.put(&patient_id, Standing::of(&s)),
                    None => tracing::warn!("the EPR answered a patient's read with another record; banner flags kept"),
                },
                Err(e) => {
                    tracing::info!(error = %e.summary(), "a patient's record could not be read again for the banner")
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> PatientSummary {
        PatientSummary {
            id: "p1".into(),
            name: "SMITH, John".into(),
            place: Some(wardline_types::patient::PatientPlace {
                ward: Some("Ward 7".into()),
                bed: None,
                source: wardline_types::patient::PlaceSource::Adt,
            }),
            ..PatientSummary::default()
        }
    }

    #[test]
    fn asked_once_per_ttl_and_what_it_said_is_shown() {
        let cache = StandingCache::default();
        assert_eq!(cache.lookup("p1", Timestamp(1_000_000)), (None, true), "never asked: ask");
        assert_eq!(cache.lookup("p1", Timestamp(1_000_001)), (None, false), "being asked: not twice");
        let mut now = summary();
        now.deceased = true;
        now.restricted = true;
        cache.put("p1", Standing::of(&now));
        let (known, due) = cache.lookup("p1", Timestamp(1_000_000 + STANDING_TTL_MS - 1));
        assert!(!due);
        let mut shown = summary();
        known.unwrap_or_else(|| panic!("known")).apply(&mut shown);
        assert!(shown.deceased && shown.restricted);
        assert!(shown.place.is_none(), "a restricted record's place is never shown");
        assert!(cache.lookup("p1", Timestamp(1_000_000 + STANDING_TTL_MS)).1, "asked again after the TTL");
        cache.put("p9", Standing::of(&now));
        assert_eq!(cache.lookup("p9", Timestamp(1)).0, None, "only what was asked for is kept");
    }
}
