//! Sessions: access tokens, refresh tokens, session lifetimes, devices, signing out and
//! re-entering the password. Signing in (and its lockouts) is in `signin.rs`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use rand::RngCore;
use ruma::{DeviceId, OwnedDeviceId, OwnedServerName, OwnedUserId, UserId};
use sha2::{Digest, Sha256};
use wardline_store::{NewSession, Store};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::{Clock, Device, Timestamp};

use crate::audit::{Actor, AuditService, AuditSlot, By};
use crate::auth_cache::AuthCache;
use crate::core::Core;
use crate::lockout::Lockouts;
use crate::metrics::Metrics;
use crate::mfa::MfaService;
use crate::names::NameDigester;
use crate::notifier::Notifier;
use crate::password;
use crate::ratelimit::{LimitKind, RateLimiter};
use crate::settings::SettingsHandle;
use crate::signin::PendingLogin;
pub use crate::signin::{LoginRequest, SecondFactor};
use crate::uia::{PASSWORD_STAGE, SessionProblem, UiaAuth, UiaOperation, UiaSessions};
use crate::{ServiceError, ServiceResult};

/// Who is making a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user.
    pub user_id: OwnedUserId,
    /// Their device.
    pub device_id: OwnedDeviceId,
    /// Administrator?
    pub is_admin: bool,
    /// Must change their password before anything else.
    pub must_change_password: bool,
    /// The hash of the access token used (identifies the session).
    pub token_hash: String,
    /// Where the request came from.
    pub ip: Option<IpAddr>,
    /// The organisation requires a second factor and the user has not set one up.
    pub must_enrol_mfa: bool,
    /// When this session signed in with its password (kept across refreshes).
    pub signed_in_at: Timestamp,
}

impl Caller {
    /// The caller as an audit actor.
    #[must_use]
    pub fn actor(&self) -> Actor {
        Actor { user_id: self.user_id.clone(), device_id: Some(self.device_id.clone()), ip: self.ip }
    }
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// Who.
    pub user_id: OwnedUserId,
    /// The device.
    pub device_id: OwnedDeviceId,
    /// The new access token (shown once; only its hash is stored).
    pub access_token: String,
    /// A refresh token, for clients that asked for one.
    pub refresh_token: Option<String>,
    /// When the access token expires, for clients with a refresh token.
    pub expires_in_ms: Option<u64>,
    /// Must change password before anything else.
    pub must_change_password: bool,
}

/// How often a device's last-seen time is written at most.
const TOUCH_EVERY: Duration = Duration::from_secs(300);

/// How long a token ended by its account's deactivation is remembered, to tell its holder why.
const REMEMBER_DEACTIVATED: Duration = Duration::from_secs(30 * 24 * 3600);
/// The reason stored for tokens ended by their account's deactivation.
const ENDED_BY_DEACTIVATION: &str = "deactivated";

/// The session service.
pub struct SessionService {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    server_name: OwnedServerName,
    pub(crate) limiter: RateLimiter,
    notifier: Notifier,
    pub(crate) audit: AuditService,
    pub(crate) mfa: Arc<MfaService>,
    /// Lockouts of accounts.
    pub(crate) lockouts: Lockouts,
    /// Lockouts of names with no account: they lock the same way, so the answers never tell
    /// whether an account exists, but are never listed to administrators.
    pub(crate) phantom_lockouts: Lockouts,
    /// Names with no account are recorded only as keyed digests.
    pub(crate) names: NameDigester,
    settings: SettingsHandle,
    pub(crate) pending: Mutex<HashMap<String, PendingLogin>>,
    /// At most one password check per core at a time: a login storm queues instead of
    /// starting hundreds of 19 MiB hashes at once.
    pub(crate) hashing: tokio::sync::Semaphore,
    uia: UiaSessions,
    /// A hash checked when the user does not exist, so both answers take as long.
    pub(crate) dummy_hash: String,
    last_touch: Mutex<HashMap<String, Timestamp>>,
    auth_cache: AuthCache,
    /// Sign-ins and lockouts are counted for monitoring.
    pub(crate) metrics: Metrics,
}

impl std::fmt::Debug for SessionService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionService").finish_non_exhaustive()
    }
}

/// SHA-256 of a token, hex: what is stored instead of the token.
#[must_use]
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("wl_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn new_device_id() -> OwnedDeviceId {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut bytes = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut bytes);
    let id: String =
        bytes.iter().map(|b| char::from(ALPHABET.get(usize::from(*b) % 26).copied().unwrap_or(b'A'))).collect();
    OwnedDeviceId::from(id)
}

impl SessionService {
    /// A session service; `data_dir` keeps the key for digests of unknown sign-in names.
    pub fn new(core: &Core, mfa: Arc<MfaService>, data_dir: &std::path::Path) -> ServiceResult<Self> {
        let dummy_hash = password::hash("wardline-timing-equaliser")?;
        Ok(Self {
            lockouts: Lockouts::new(core.settings.clone(), Arc::clone(&core.clock)),
            phantom_lockouts: Lockouts::new(core.settings.clone(), Arc::clone(&core.clock)),
            names: NameDigester::open(data_dir),
            settings: core.settings.clone(),
            mfa,
            pending: Mutex::default(),
            hashing: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            ),
            store: Arc::clone(&core.store),
            clock: Arc::clone(&core.clock),
            server_name: core.server_name.clone(),
            limiter: core.limiter.clone(),
            notifier: core.notifier.clone(),
            audit: core.audit.clone(),
            uia: UiaSessions::default(),
            dummy_hash,
            last_touch: Mutex::default(),
            auth_cache: AuthCache::default(),
            metrics: core.metrics.clone(),
        })
    }

    /// Turns a username or user id into a user id on this server, if it is one.
    #[must_use]
    pub fn parse_user(&self, user: &str) -> Option<OwnedUserId> {
        let id = if user.starts_with('@') {
            OwnedUserId::try_from(user).ok()?
        } else {
            OwnedUserId::try_from(format!("@{}:{}", user.to_lowercase(), self.server_name)).ok()?
        };
        (id.server_name() == self.server_name).then_some(id)
    }

    /// Creates the session of a sign-in that passed every check.
    pub(crate) async fn open_session(
        &self,
        req: LoginRequest,
        user_id: OwnedUserId,
        must_change_password: bool,
    ) -> ServiceResult<LoginOutcome> {
        let device_id = req.device_id.unwrap_or_else(new_device_id);
        let access_token = new_token();
        let now = self.clock.now();
        let refresh_token = req.refresh_token.then(new_token);
        let expires_at = refresh_token.as_ref().map(|_| now.plus(self.access_token_lifetime()));
        self.store
            .create_session(NewSession {
                user_id: user_id.clone(),
                device_id: device_id.clone(),
                device_name: req.device_name,
                token_hash: hash_token(&access_token),
                refresh_hash: refresh_token.as_deref().map(hash_token),
                expires_at,
                created_at: now,
                ip: req.ip.map(|i| i.to_string()),
            })
            .await?;
        // A re-used device id ends that device's previous session, long-polls included; a new
        // device is news to colleagues (`device_lists`).
        self.device_list_changed(&user_id).await;
        Ok(LoginOutcome {
            user_id,
            device_id,
            access_token,
            expires_in_ms: expires_at.map(|e| e.millis_since(now)),
            refresh_token,
            must_change_password,
        })
    }

    fn access_token_lifetime(&self) -> Duration {
        Duration::from_secs(self.settings.get().security.access_token_minutes.max(1) * 60)
    }

    /// Is a session past its absolute lifetime or idle timeout?
    fn session_over(&self, session: &wardline_store::Session) -> bool {
        let now = self.clock.now();
        let security = self.settings.get().security;
        let lifetime = Duration::from_secs(security.session_lifetime_hours * 3600);
        let idle = Duration::from_secs(security.idle_timeout_minutes * 60);
        let last = session.last_seen.unwrap_or(session.created_at).max(session.created_at);
        now >= session.created_at.plus(lifetime) || now >= last.plus(idle)
    }

    /// Ends a session that ran out, and says so in the audit trail.
    async fn expire(&self, session: &wardline_store::Session) -> ServiceResult<()> {
        self.store.delete_devices(&session.user_id, std::slice::from_ref(&session.device_id)).await?;
        self.device_list_changed(&session.user_id).await;
        let mut r = self.audit.entry(None, AuditAction::SessionEnd, Outcome::Success);
        r.target_user = Some(session.user_id.to_string());
        r.device = Some(session.device_id.to_string());
        r.detail = Some("session timed out".into());
        self.audit.record(r)?;
        Ok(())
    }

    /// Swaps a refresh token for a new access token and refresh token.
    pub async fn refresh(&self, refresh_token: &str) -> ServiceResult<LoginOutcome> {
        let old = hash_token(refresh_token);
        let (access_token, new_refresh) = (new_token(), new_token());
        let now = self.clock.now();
        let expires_at = now.plus(self.access_token_lifetime());
        let session = self
            .store
            .refresh_session(&old, &hash_token(&access_token), &hash_token(&new_refresh), Some(expires_at))
            .await?
            .ok_or(ServiceError::UnknownToken)?;
        if self.session_over(&session) {
            self.expire(&session).await?;
            return Err(ServiceError::UnknownToken);
        }
        let account = self.store.account(&session.user_id).await?.ok_or(ServiceError::UnknownToken)?;
        if account.deactivated || wardline_types::account::is_service_user(&session.user_id) {
            return Err(ServiceError::UnknownToken);
        }
        Ok(LoginOutcome {
            user_id: session.user_id,
            device_id: session.device_id,
            access_token,
            refresh_token: Some(new_refresh),
            expires_in_ms: Some(expires_at.millis_since(now)),
            must_change_password: account.must_change_password,
        })
    }

    /// Finds who owns an access token.
    pub async fn authenticate(&self, token: &str, ip: Option<IpAddr>) -> ServiceResult<Caller> {
        let token_hash = hash_token(token);
        let Some((session, account)) = self.session_and_account(&token_hash).await? else {
            return Err(self.why_unknown(&token_hash).await?);
        };
        if self.session_over(&session) {
            self.expire(&session).await?;
            return Err(ServiceError::UnknownToken);
        }
        if session.expires_at.is_some_and(|e| e <= self.clock.now()) {
            return Err(ServiceError::TokenExpired);
        }
        if account.deactivated {
            return Err(ServiceError::SessionEndedDeactivated);
        }
        // Nobody acts as the server's own member (whose rule lets it into any conversation), even
        // with a session of an account of that name from before the name was reserved.
        if wardline_types::account::is_service_user(&session.user_id) {
            return Err(ServiceError::UnknownToken);
        }
        self.touch(&session.user_id, &session.device_id, ip).await;
        let must_enrol_mfa = self.mfa.required(account.is_admin) && !self.mfa.enrolled(&session.user_id).await?;
        Ok(Caller {
            user_id: session.user_id,
            device_id: session.device_id,
            is_admin: account.is_admin,
            must_change_password: account.must_change_password,
            token_hash,
            ip,
            must_enrol_mfa,
            signed_in_at: session.created_at,
        })
    }

    /// Why a token has no session: its account was deactivated, or just unknown. Read from the
    /// store, so every node, and the server after a restart, gives the same answer.
    async fn why_unknown(&self, token_hash: &str) -> ServiceResult<ServiceError> {
        let now = self.clock.now();
        Ok(match self.store.ended_token(token_hash).await? {
            Some((reason, at))
                if reason == ENDED_BY_DEACTIVATION
                    && now.millis_since(at) < REMEMBER_DEACTIVATED.as_millis() as u64 =>
            {
                ServiceError::SessionEndedDeactivated
            }
            _ => ServiceError::UnknownToken,
        })
    }

    /// Whether a request refused for an access token that names no session (unknown, expired,
    /// ended) still gets an audit record: at most `rate_limits.unknown_tokens` per source
    /// address. Such a request costs its sender nothing, so without a bound anyone could fill
    /// the trail and the disk under it.
    #[must_use]
    pub fn audit_unknown_token(&self, ip: Option<IpAddr>) -> bool {
        let key = ip.map_or_else(|| "unknown".to_owned(), |i| i.to_string());
        self.limiter.check(LimitKind::UnknownToken, &key).is_ok()
    }

    /// Ends every session of a deactivated account, remembering in the store (for 30 days) why
    /// its tokens ended, so that their holders are told.
    pub async fn end_sessions_of_deactivated(&self, by: By<'_>, user: &UserId) -> ServiceResult<()> {
        let now = self.clock.now();
        let forget_before = Timestamp(now.0.saturating_sub(REMEMBER_DEACTIVATED.as_millis() as u64));
        self.store.remember_ending_tokens(user, ENDED_BY_DEACTIVATION, now, forget_before).await?;
        self.logout_all(by, user, None).await
    }

    /// Is the caller's session still open? A session that ended because its account was
    /// deactivated is an error that says so.
    pub async fn still_valid(&self, caller: &Caller) -> ServiceResult<bool> {
        match self.session_and_account(&caller.token_hash).await? {
            Some((_, account)) if account.deactivated => Err(ServiceError::SessionEndedDeactivated),
            Some(_) => Ok(true),
            None => match self.why_unknown(&caller.token_hash).await? {
                ServiceError::SessionEndedDeactivated => Err(ServiceError::SessionEndedDeactivated),
                _ => Ok(false),
            },
        }
    }

    /// The session of a token and its user's account, from the cache while nothing changed.
    async fn session_and_account(
        &self,
        token_hash: &str,
    ) -> ServiceResult<Option<(wardline_store::Session, wardline_types::Account)>> {
        let now = self.clock.now();
        if let Some(hit) = self.auth_cache.get(self.store.as_ref(), token_hash, now) {
            return Ok(Some(hit));
        }
        let serial = self.store.commit_serial();
        let Some(session) = self.store.session_by_token_hash(token_hash).await? else { return Ok(None) };
        let Some(account) = self.store.account(&session.user_id).await? else { return Ok(None) };
        self.auth_cache.put(token_hash, &session, &account, serial, now);
        Ok(Some((session, account)))
    }

    async fn touch(&self, user: &UserId, device: &DeviceId, ip: Option<IpAddr>) {
        let now = self.clock.now();
        let key = format!("{user}|{device}");
        {
            let mut seen = self.last_touch.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if seen.get(&key).is_some_and(|t| now.millis_since(*t) < TOUCH_EVERY.as_millis() as u64) {
                return;
            }
            if seen.len() > 100_000 {
                seen.clear();
            }
            seen.insert(key, now);
        }
        if let Err(e) = self.store.touch_device(user, device, now, ip.map(|i| i.to_string())).await {
            tracing::warn!(error = %e, "could not record device activity");
        }
    }

    /// Ends the caller's session.
    pub async fn logout(&self, caller: &Caller) -> ServiceResult<()> {
        let slot = self.audit.reserve()?;
        self.store.delete_devices(&caller.user_id, std::slice::from_ref(&caller.device_id)).await?;
        self.device_list_changed(&caller.user_id).await;
        slot.record(self.audit.entry(Some(&caller.actor()), AuditAction::Logout, Outcome::Success));
        Ok(())
    }

    /// Ends every session of a user, except on `keep`. `by` is who asked.
    pub async fn logout_all(&self, by: By<'_>, user: &UserId, keep: Option<&DeviceId>) -> ServiceResult<()> {
        let slot = self.audit.reserve()?;
        self.end_all(slot, by, user, keep).await
    }

    /// [`SessionService::logout_all`] with the place for its record already taken.
    async fn end_all(&self, slot: AuditSlot, by: By<'_>, user: &UserId, keep: Option<&DeviceId>) -> ServiceResult<()> {
        let ended = self.store.delete_all_devices(user, keep).await?;
        self.end_pending(user);
        self.device_list_changed(user).await;
        let mut r = self.audit.entry_by(by, AuditAction::SessionEnd, Outcome::Success);
        r.target_user = Some(user.to_string());
        r.detail = Some(by.detail(&format!("devices={}", ended.len())));
        slot.record(r);
        Ok(())
    }

    /// Ends chosen devices.
    pub async fn end_devices(&self, by: &Actor, user: &UserId, devices: &[OwnedDeviceId]) -> ServiceResult<()> {
        let slot = self.audit.reserve()?;
        let ended = self.store.delete_devices(user, devices).await?;
        self.device_list_changed(user).await;
        let mut r = self.audit.entry(Some(by), AuditAction::SessionEnd, Outcome::Success);
        r.target_user = Some(user.to_string());
        r.detail = Some(format!("devices={}", ended.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")));
        slot.record(r);
        Ok(())
    }

    /// A user's devices.
    pub async fn devices(&self, user: &UserId) -> ServiceResult<Vec<Device>> {
        Ok(self.store.devices(user).await?)
    }

    /// Renames a device.
    pub async fn rename_device(&self, user: &UserId, device: &DeviceId, name: Option<String>) -> ServiceResult<()> {
        self.store.set_device_name(user, device, name).await.map_err(|e| match e {
            wardline_store::StoreError::NotFound => ServiceError::not_found("no such device"),
            other => other.into(),
        })?;
        self.device_list_changed(user).await;
        Ok(())
    }

    /// Wakes the long-polls of `user` and of everyone who shares a joined room with them, after
    /// their devices changed: their `/sync` lists `user` in `device_lists.changed`. A failure
    /// to find them is logged; their next sync still finds the change in the stream.
    async fn device_list_changed(&self, user: &UserId) {
        self.notifier.wake([user]);
        match crate::device_lists::colleagues(self.store.as_ref(), user).await {
            Ok(colleagues) => self.notifier.wake(colleagues.iter().map(AsRef::as_ref)),
            Err(e) => tracing::warn!(error = %e, "could not wake colleagues after a device change"),
        }
    }

    /// User-interactive authentication by password, for sensitive actions. A user who must
    /// change a one-time password may use it here. A session quoted in `auth` must be one
    /// this server started for the same `operation` (method, path and body).
    pub async fn require_password(
        &self,
        caller: &Caller,
        auth: Option<UiaAuth>,
        operation: &UiaOperation,
    ) -> ServiceResult<()> {
        let now = self.clock.now();
        let Some(auth) = auth else {
            return Err(ServiceError::AuthRequired(self.uia.challenge(operation, now, None)));
        };
        if let Some(session) = auth.session.as_deref() {
            match self.uia.check(session, operation, now) {
                Ok(()) => {}
                Err(SessionProblem::Unknown) => {
                    return Err(ServiceError::AuthRequired(self.uia.challenge(
                        operation,
                        now,
                        Some("unknown or expired authentication session: start again".into()),
                    )));
                }
                Err(SessionProblem::OtherRequest) => {
                    self.uia.finish(Some(session));
                    return Err(ServiceError::forbidden(
                        "this authentication session was started for a different request: start again",
                    ));
                }
            }
        }
        let challenge = |error: &str| {
            let mut c = self.uia.challenge(operation, now, Some(error.to_owned()));
            if let Some(s) = &auth.session {
                self.uia.finish(Some(&c.session));
                c.session.clone_from(s);
            }
            c
        };
        if auth.kind != PASSWORD_STAGE {
            return Err(ServiceError::AuthRequired(challenge("unsupported authentication type")));
        }
        let named = auth.user.as_deref().and_then(|u| self.parse_user(u));
        if named.as_ref().is_some_and(|u| *u != caller.user_id) {
            return Err(ServiceError::forbidden("you can only authenticate as yourself"));
        }
        self.limiter.check(LimitKind::Login, caller.user_id.as_str())?;
        let password = auth.password.clone().unwrap_or_default();
        let _gate = self.lockouts.gate(&caller.user_id).await;
        self.check_not_locked(&self.lockouts, &caller.user_id)?;
        if !self.check_password(Some(&caller.user_id), &password).await? {
            self.count_failure(&caller.user_id, true, caller.ip)?;
            return Err(ServiceError::AuthRequired(challenge("invalid password")));
        }
        self.uia.finish(auth.session.as_deref());
        Ok(())
    }

    /// Checks a new password against the policy, with the organisation's minimum strength.
    pub fn check_password_policy(&self, password: &str, username: &str) -> ServiceResult<()> {
        password::check_policy(password, username, self.settings.get().security.password_min_score)
    }

    /// Sets a new password for the caller (after UIA), optionally ending their other sessions.
    pub async fn change_password(
        &self,
        caller: &Caller,
        new_password: &str,
        logout_devices: bool,
    ) -> ServiceResult<()> {
        self.check_password_policy(new_password, caller.user_id.localpart())?;
        let pw = new_password.to_owned();
        let hash = tokio::task::spawn_blocking(move || password::hash(&pw))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))??;
        // Both records' places are taken before the password changes: the change never happens
        // unrecorded, nor without ending the other sessions it was asked to end.
        let slot = self.audit.reserve()?;
        let end_slot = if logout_devices { Some(self.audit.reserve()?) } else { None };
        self.store.set_password(&caller.user_id, &hash, false).await?;
        // Sign-ins started with the old password and waiting for their second factor end too.
        self.end_pending(&caller.user_id);
        slot.record(self.audit.entry(Some(&caller.actor()), AuditAction::PasswordChange, Outcome::Success));
        if let Some(end_slot) = end_slot {
            self.end_all(end_slot, By::Staff(&caller.actor()), &caller.user_id, Some(&caller.device_id)).await?;
        }
        Ok(())
    }
}
