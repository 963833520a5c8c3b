//! Patients in the electronic patient record (FHIR R4), and conversations about them.
//!
//! - `epr/`: the EPR as a FHIR server Wardline calls ([`EprClient`], [`EprError`]);
//! - `record.rs`: what the EPR answers, read into what Wardline shows;
//! - `search.rs`: looking a patient up (by NHS number, hospital number, or name and date of
//!   birth), for a conversation or for a reason given, with where they are now;
//! - `context.rs`: tying a conversation to a patient, untying it, its banner, and the
//!   conversations about a patient;
//! - `access.rs`: the one check of who may see a conversation's patient;
//! - `launch.rs`: "Open in the EPR", the configured link with the patient's ids filled in;
//! - `standing.rs`: what the record says of itself (deceased, merged, restricted), asked again
//!   for the banner in the background;
//! - `filing/`: writing a conversation's messages (and its transcript) back to the patient's
//!   record, stored first and sent by a background task.
//!
//! **Invariant:** every read of a patient, from the EPR or from a conversation's tie, is in the
//! audit trail (`patient.lookup`, `patient.context`), and so is every refusal of one. A record
//! that cannot be written stops the read: the place in the trail is taken before the EPR is
//! asked or the tie is read.
//!
//! **Invariant:** a conversation's patient is shown only to those joined to it now
//! ([`access::may_see_patient`]). Nothing about the patient goes into the conversation's events
//! or state: the server's notice of a tie says who tied it, never whom.

mod access;
mod context;
pub mod epr;
pub mod filing;
mod launch;
pub mod record;
mod search;
mod standing;

use std::sync::Arc;

use wardline_store::Store;
use wardline_types::Clock;
use wardline_types::audit::{AuditAction, NewAuditRecord, Outcome};

pub use access::may_see_patient;
pub use context::{RoomAbout, RoomPatient};
pub use epr::{EprClient, EprError};
pub use launch::fill_launch_url;
pub use search::{PatientSearch, SearchPurpose};

use crate::audit::{Actor, AuditService};
use crate::config::EprSettings;
use crate::core::Core;
use crate::media::MediaService;
use crate::ratelimit::RateLimiter;
use crate::rooms::RoomService;
use crate::timeline::TimelineService;
use crate::{ServiceError, ServiceResult};

/// Patients: finding them in the EPR, and the conversations about them.
pub struct PatientService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    audit: AuditService,
    limiter: RateLimiter,
    rooms: Arc<RoomService>,
    epr: Option<Arc<EprClient>>,
    /// The FHIR identifier system of hospital numbers, if search by them is set up.
    mrn_system: Option<String>,
    /// The ADT feed's assigning authority for the same hospital numbers, if any.
    adt_authority: Option<String>,
    /// The "Open in the EPR" template, if any.
    launch_url: Option<String>,
    /// Reading what is filed as its requester may see it.
    timeline: TimelineService,
    /// Reading the files of what is filed.
    media: Arc<MediaService>,
    /// Names the identifier systems of what is filed.
    server_name: ruma::OwnedServerName,
    /// Filing's limits.
    filing: FilingLimits,
    /// Woken when a filing is asked for.
    filing_wake: tokio::sync::Notify,
    /// What records said of themselves, for banners.
    standing: Arc<standing::StandingCache>,
}

/// Filing's settings, from `[epr]`.
#[derive(Debug, Clone, Copy)]
struct FilingLimits {
    max_attachment_bytes: u64,
    /// How long a claim on a filing lasts without renewal ([`filing::lease_ms`]).
    lease_ms: u64,
    max_bundle_entries: usize,
    give_up_hours: u64,
}

impl std::fmt::Debug for PatientService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatientService").field("epr", &self.epr.as_deref().map(EprClient::base)).finish_non_exhaustive()
    }
}

impl PatientService {
    /// The patient service for the `[epr]` settings.
    ///
    /// # Errors
    /// Settings that cannot work (see [`EprClient::from_settings`]), as an invalid parameter
    /// naming the setting, so the server refuses to start with them.
    pub fn new(
        core: &Core,
        rooms: Arc<RoomService>,
        (timeline, media): (TimelineService, Arc<MediaService>),
        settings: &EprSettings,
    ) -> ServiceResult<Self> {
        let epr = EprClient::from_settings(settings, Arc::clone(&core.clock)).map_err(ServiceError::invalid)?;
        let set = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        if let Some(t) = set(&settings.launch_url) {
            launch::check_launch_template(&t).map_err(ServiceError::invalid)?;
        }
        Ok(Self {
            store: Arc::clone(&core.store),
            clock: Arc::clone(&core.clock),
            audit: core.audit.clone(),
            limiter: core.limiter.clone(),
            rooms,
            epr: epr.map(Arc::new),
            mrn_system: set(&settings.mrn_system),
            adt_authority: set(&settings.adt_authority),
            launch_url: set(&settings.launch_url),
            timeline,
            media,
            server_name: core.server_name.clone(),
            filing: FilingLimits {
                max_attachment_bytes: settings.max_attachment_bytes,
                lease_ms: filing::lease_ms(settings.timeout_secs),
                max_bundle_entries: settings.max_bundle_entries.max(1),
                give_up_hours: settings.give_up_hours.max(1),
            },
            filing_wake: tokio::sync::Notify::new(),
            standing: Arc::default(),
        })
    }

    /// Whether an EPR is configured.
    #[must_use]
    pub fn configured(&self) -> bool {
        self.epr.is_some()
    }

    /// The EPR, or [`EprError::NotConfigured`].
    fn epr(&self) -> Result<&EprClient, EprError> {
        self.epr.as_deref().ok_or(EprError::NotConfigured)
    }

    /// "Open in the EPR" for this patient: the configured template with their ids filled in,
    /// or `None` when no template is configured.
    #[must_use]
    pub fn launch_url(&self, patient: &wardline_types::patient::PatientSummary) -> Option<String> {
        self.launch_url.as_deref().map(|t| fill_launch_url(t, patient))
    }

    /// A record of `action` by `actor` now, about `room` if given.
    fn entry(
        &self,
        actor: &Actor,
        action: AuditAction,
        outcome: Outcome,
        room: Option<&ruma::RoomId>,
    ) -> NewAuditRecord {
        let mut r = self.audit.entry(Some(actor), action, outcome);
        r.room_id = room.map(ToString::to_string);
        r
    }
}
