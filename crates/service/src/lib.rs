//! Wardline's services: the rules of the hospital's messaging, above storage and below HTTP.
//!
//! **Invariant:** this crate knows nothing of HTTP. Handlers in `wardline-api` call these
//! services, which enforce the rules (authorization, closed user group, rate limits) and wake
//! waiting clients.

pub mod accounts;
pub mod alarms;
pub mod audit;
pub mod audit_report;
mod auth_cache;
pub mod breached;
pub mod broadcast;
pub mod config;
pub mod core;
pub mod cover;
mod csv_table;
pub mod device_lists;
mod error;
pub mod escalation;
pub mod filter;
pub mod health;
pub mod import;
pub mod integrations;
pub mod lockout;
pub mod media;
pub mod messaging;
pub mod metrics;
pub mod mfa;
pub mod names;
pub mod notifier;
pub mod password;
pub mod patients;
pub mod presence;
pub mod push;
pub mod ratelimit;
pub mod roles;
pub mod rooms;
pub mod search;
pub mod sessions;
pub mod settings;
mod signin;
pub mod sync;
pub mod timeline;
pub mod totp;
pub mod typing;
pub mod uia;
mod user_rooms;
pub mod userdata;
pub mod visibility;

use std::sync::Arc;
use std::time::Duration;

use ruma::OwnedServerName;
use wardline_store::Store;
use wardline_types::Clock;

pub use config::Config;
pub use error::{ServiceError, ServiceResult};
pub use sessions::Caller;

/// Every service, built once at start-up and handed to the HTTP layer.
#[derive(Debug, Clone)]
pub struct Services {
    /// Settings.
    pub config: Arc<Config>,
    /// The server name.
    pub server_name: OwnedServerName,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Sign-in, tokens, devices.
    pub sessions: Arc<sessions::SessionService>,
    /// Second factors.
    pub mfa: Arc<mfa::MfaService>,
    /// Organisation settings changed at run time.
    pub settings: Arc<settings::SettingsService>,
    /// Accounts and directory.
    pub accounts: Arc<accounts::AccountService>,
    /// Roles, their holders and handovers.
    pub roles: Arc<roles::RoleService>,
    /// Rooms and sending.
    pub rooms: Arc<rooms::RoomService>,
    /// Reading history.
    pub timeline: timeline::TimelineService,
    /// Message search.
    pub search: Arc<search::SearchService>,
    /// Typing.
    pub typing: typing::TypingService,
    /// Receipts, account data, filters.
    pub userdata: Arc<userdata::UserDataService>,
    /// Presence.
    pub presence: Arc<presence::PresenceService>,
    /// Push rules, their verdict on events, notification counts and `/notifications`.
    pub push: Arc<push::PushRuleService>,
    /// Do not disturb, and copies of messages to the cover.
    pub cover: Arc<cover::CoverService>,
    /// Sync.
    pub sync: Arc<sync::SyncService>,
    /// Who got a message, who read it.
    pub status: Arc<messaging::StatusService>,
    /// Escalation of urgent and emergency messages.
    pub escalation: Arc<escalation::EscalationService>,
    /// Broadcasts, their reports and reminders.
    pub broadcasts: Arc<broadcast::BroadcastService>,
    /// Pushers and push notifications.
    pub pushers: Arc<push::PushService>,
    /// Integration accounts (hospital systems) and their keys.
    pub integrations: Arc<integrations::IntegrationService>,
    /// Alarms from hospital systems.
    pub alarms: Arc<alarms::AlarmService>,
    /// Reports to hospital systems (their webhooks, the durable outbox and its sender).
    pub outbox: Arc<integrations::IntegrationOutbox>,
    /// Patients in the electronic patient record, and conversations about them.
    pub patients: Arc<patients::PatientService>,
    /// Files.
    pub media: Arc<media::MediaService>,
    /// The audit recorder.
    pub audit: audit::AuditService,
    /// What monitoring scrapes.
    pub metrics: metrics::Metrics,
    /// Liveness and readiness.
    pub health: Arc<health::HealthService>,
    notifier: notifier::Notifier,
    store: Arc<dyn Store>,
    deliveries: messaging::Deliveries,
}

impl Services {
    /// Builds the services over a store, counting into metrics nobody reads.
    pub fn new(config: Config, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> ServiceResult<Self> {
        Self::with_metrics(config, store, clock, metrics::Metrics::default())
    }

    /// Builds the services over a store, counting into `metrics` (which the store may also
    /// have been given as its [`wardline_store::WriteObserver`]).
    pub fn with_metrics(
        config: Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        metrics: metrics::Metrics,
    ) -> ServiceResult<Self> {
        let server_name = OwnedServerName::try_from(config.server_name.as_str())
            .map_err(|e| ServiceError::invalid(format!("server_name {:?}: {e}", config.server_name)))?;
        let notifier = notifier::Notifier::default();
        let live = settings::SettingsHandle::new(settings::OrgSettings {
            security: config.security,
            rate_limits: config.rate_limits,
            media: config.media,
        });
        let limiter = ratelimit::RateLimiter::new(live.clone(), Arc::clone(&clock));
        let audit = audit::AuditService::new(Arc::clone(&store), Arc::clone(&clock));
        let core = core::Core {
            store: Arc::clone(&store),
            clock: Arc::clone(&clock),
            server_name: server_name.clone(),
            notifier: notifier.clone(),
            audit: audit.clone(),
            limiter,
            settings: live.clone(),
            metrics: metrics.clone(),
        };
        let mfa = Arc::new(mfa::MfaService::new(&core));
        let sessions = Arc::new(sessions::SessionService::new(&core, Arc::clone(&mfa), &config.data_dir)?);
        let settings = Arc::new(settings::SettingsService::new(Arc::clone(&store), audit.clone(), live));
        let deliveries = messaging::Deliveries::new(Arc::clone(&store), Arc::clone(&clock), notifier.clone());
        let timeline = timeline::TimelineService::new(Arc::clone(&store), audit.clone(), deliveries.clone())
            .with_limiter(core.limiter.clone());
        let media = Arc::new(media::MediaService::new(&core, timeline.clone(), &config.data_dir));
        let rooms = Arc::new(rooms::RoomService::new(&core, Arc::clone(&media)));
        let search = Arc::new(search::SearchService::new(&core, timeline.clone()));
        let accounts = Arc::new(accounts::AccountService::new(&core, Arc::clone(&sessions), Arc::clone(&rooms)));
        let roles = Arc::new(roles::RoleService::new(&core, Arc::clone(&accounts), rooms.role_seats_waker()));
        let typing = typing::TypingService::new(Arc::clone(&clock), notifier.clone());
        let thresholds = presence::PresenceService::thresholds(&config.presence, &config.sync)?;
        let presence = Arc::new(presence::PresenceService::new(&core, Arc::clone(&rooms), thresholds));
        let cover = Arc::new(cover::CoverService::new(&core, Arc::clone(&rooms), Arc::clone(&presence)));
        let userdata =
            Arc::new(userdata::UserDataService::new(&core, Arc::clone(&rooms), timeline.clone(), deliveries.clone()));
        let status = Arc::new(messaging::StatusService::new(
            Arc::clone(&store),
            Arc::clone(&rooms),
            timeline.clone(),
            core.limiter.clone(),
        ));
        let escalation = Arc::new(escalation::EscalationService::new(&core, Arc::clone(&rooms), Arc::clone(&status)));
        let broadcasts = Arc::new(broadcast::BroadcastService::new(&core, Arc::clone(&rooms), Arc::clone(&status)));
        let push = Arc::new(push::PushRuleService::new(&core, Arc::clone(&rooms), timeline.clone()));
        let pushers = Arc::new(push::PushService::new(
            &core,
            &config.push,
            Arc::clone(&rooms),
            Arc::clone(&escalation),
            Arc::clone(&push),
        )?);
        let sync = Arc::new(sync::SyncService::new(
            &core,
            (Arc::clone(&rooms), Arc::clone(&push)),
            timeline.clone(),
            typing.clone(),
            Arc::clone(&sessions),
            Arc::clone(&presence),
            (deliveries.clone(), Arc::clone(&status)),
            config.sync,
        ));
        let integrations = Arc::new(integrations::IntegrationService::new(&core, &config.hl7));
        let outbox = Arc::new(integrations::IntegrationOutbox::new(&core, &config.integrations, &config.hl7)?);
        let alarms = Arc::new(alarms::AlarmService::new(
            &core,
            Arc::clone(&rooms),
            Arc::clone(&escalation),
            Arc::clone(&status),
            Arc::clone(&outbox),
        ));
        let patients = Arc::new(patients::PatientService::new(
            &core,
            Arc::clone(&rooms),
            (timeline.clone(), Arc::clone(&media)),
            &config.epr,
        )?);
        let health = Arc::new(health::HealthService::new(Arc::clone(&store), audit.clone()));
        Ok(Self {
            config: Arc::new(config),
            server_name,
            clock,
            sessions,
            mfa,
            settings,
            accounts,
            roles,
            rooms,
            timeline,
            search,
            typing,
            userdata,
            presence,
            push,
            cover,
            sync,
            status,
            escalation,
            broadcasts,
            pushers,
            integrations,
            alarms,
            outbox,
            patients,
            media,
            audit,
            metrics,
            health,
            notifier,
            store,
            deliveries,
        })
    }

    /// A request arrives now: taken first, for what must be ordered by arrival (a read
    /// receipt counts only what its device had been sent before it arrived).
    #[must_use]
    pub fn arrival(&self) -> messaging::Arrival {
        self.deliveries.arrival()
    }

    /// The store (for offline tools: audit verification, exports, transcripts).
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Brings up to date the gauges read when metrics are scraped (the audit backlog).
    pub fn refresh_gauges(&self) {
        self.metrics.set_audit_backlog(self.audit.backlog());
    }

    /// Deactivates an account: it can no longer sign in, every session ends at once, it leaves
    /// every room and stops holding every role (the one place deactivation is written, for the
    /// admin API and the command line). Returns the roles that must not be empty and are now
    /// held by nobody.
    pub async fn deactivate_account(
        &self,
        by: audit::By<'_>,
        user: &ruma::UserId,
    ) -> ServiceResult<Vec<wardline_types::Role>> {
        self.accounts.deactivate(by, user).await?;
        self.roles.release_deactivated(by, user).await
    }

    /// Starts shutting down: every open long-poll answers at once, and readiness answers `503`.
    pub fn begin_shutdown(&self) {
        self.health.begin_shutdown();
        self.notifier.close();
    }

    /// Background work: expiring typing notifications and presence, applying the rota, ending
    /// do-not-disturb and copying messages to covers, escalating, pushing, reporting to hospital
    /// systems, filing to the patient record. Runs until the task is dropped.
    pub async fn run_background(self) {
        tokio::join!(
            Arc::clone(&self.presence).run_sweeper(),
            self.expire_typing(),
            Arc::clone(&self.roles).run_rota(),
            Arc::clone(&self.rooms).run_role_seats(),
            Arc::clone(&self.cover).run_cover(),
            Arc::clone(&self.escalation).run_escalations(),
            Arc::clone(&self.alarms).run_alarms(),
            Arc::clone(&self.pushers).run_push(),
            Arc::clone(&self.outbox).run_integration_outbox(),
            Arc::clone(&self.patients).run_filings()
        );
    }

    async fn expire_typing(&self) {
        loop {
            let (changed, next) = self.typing.sweep();
            for room in changed {
                if let Ok(audience) = self
                    .rooms
                    .with_state(&room, |s| {
                        s.members_with(wardline_types::Membership::Join).cloned().collect::<Vec<_>>()
                    })
                    .await
                {
                    self.typing.set_audience_changed(&audience);
                }
            }
            let wait = next.unwrap_or(Duration::from_secs(3600)).max(Duration::from_millis(50));
            self.typing.wait_for_change(wait).await;
        }
    }
}
