//! Signing in: the password step, the second-factor step and the sign-ins waiting for it,
//! lockouts after failed attempts, and removing a second factor.

use std::net::IpAddr;
use std::time::Duration;

use ruma::{OwnedDeviceId, OwnedUserId, UserId};
use wardline_types::Timestamp;
use wardline_types::audit::{AuditAction, Outcome};

use crate::audit::{Actor, AuditSlot};
use crate::lockout::Lockouts;
use crate::metrics::SignInOutcome;
use crate::password;
use crate::ratelimit::{GLOBAL, LimitKind};
use crate::sessions::{Caller, LoginOutcome, SessionService};
use crate::{ServiceError, ServiceResult};

/// A login attempt.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    /// Username or full user id.
    pub user: String,
    /// The password.
    pub password: String,
    /// Device to sign in (re-used if it is theirs).
    pub device_id: Option<OwnedDeviceId>,
    /// Name for a new device.
    pub device_name: Option<String>,
    /// Where the attempt came from.
    pub ip: Option<IpAddr>,
    /// The client can refresh expiring access tokens.
    pub refresh_token: bool,
}

/// A sign-in whose password was right, waiting for its second factor.
#[derive(Debug, Clone)]
pub(crate) struct PendingLogin {
    req: LoginRequest,
    user_id: OwnedUserId,
    started: Timestamp,
    attempts: u32,
}

/// How long a sign-in may wait for its second factor.
const PENDING_FOR: Duration = Duration::from_secs(300);
/// Wrong codes allowed per sign-in.
const PENDING_ATTEMPTS: u32 = 5;

/// Which second factor a client offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    /// A code from the authenticator app.
    Totp,
    /// A single-use recovery code.
    RecoveryCode,
}

impl SessionService {
    /// Checks a user's password, taking as long whether or not the user exists.
    pub(crate) async fn check_password(&self, user_id: Option<&UserId>, password: &str) -> ServiceResult<bool> {
        let stored = match user_id {
            Some(u) => self.store.password_hash(u).await?,
            None => None,
        };
        let (phc, exists) = match stored {
            Some(h) => (h, true),
            None => (self.dummy_hash.clone(), false),
        };
        let password = password.to_owned();
        let _permit = self.hashing.acquire().await.map_err(|e| ServiceError::Internal(e.to_string()))?;
        let ok = tokio::task::spawn_blocking(move || password::verify(&password, &phc))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(ok && exists)
    }

    /// How a name typed at sign-in appears in the audit trail and the log: the user id of an
    /// existing account, otherwise a keyed digest (people type passwords into the username
    /// field).
    async fn subject(&self, attempted: &str) -> String {
        if let Some(u) = self.parse_user(attempted)
            && matches!(self.store.account(&u).await, Ok(Some(_)))
        {
            return u.to_string();
        }
        self.unknown_subject(attempted)
    }

    fn unknown_subject(&self, attempted: &str) -> String {
        let normalised = self.parse_user(attempted).map_or_else(|| attempted.to_owned(), |u| u.to_string());
        self.names.digest(&normalised)
    }

    /// Records a refused sign-in.
    async fn audit_login_failure(&self, slot: AuditSlot, user: &str, ip: Option<IpAddr>, reason: &str) {
        let mut r = self.audit.entry(None, AuditAction::LoginFailed, Outcome::Denied);
        r.target_user = Some(self.subject(user).await);
        r.ip = ip.map(|i| i.to_string());
        r.detail = Some(format!("reason={reason}"));
        slot.record(r);
    }

    /// Signs in with a password. The place for its audit record is taken first, so no session
    /// opens (and no attempt is made) that the trail could not record.
    pub async fn login(&self, req: LoginRequest) -> ServiceResult<LoginOutcome> {
        let slot = self.audit.reserve()?;
        let attempted = req.user.clone();
        let ip = req.ip;
        let result = self.login_inner(req).await;
        self.count_sign_in(&result);
        match &result {
            Ok(o) => {
                let actor = Actor { user_id: o.user_id.clone(), device_id: Some(o.device_id.clone()), ip };
                slot.record(self.audit.entry(Some(&actor), AuditAction::Login, Outcome::Success));
            }
            Err(ServiceError::RateLimited { .. }) => {
                self.audit_login_failure(slot, &attempted, ip, "rate limited").await
            }
            Err(ServiceError::Deactivated) => self.audit_login_failure(slot, &attempted, ip, "deactivated").await,
            Err(ServiceError::InvalidCredentials) => {
                self.audit_login_failure(slot, &attempted, ip, "invalid credentials").await;
            }
            Err(_) => {}
        }
        result
    }

    /// Counts how a sign-in step ended, for monitoring. A password step that asks for the
    /// second factor is counted when that step ends.
    fn count_sign_in(&self, result: &ServiceResult<LoginOutcome>) {
        let outcome = match result {
            Ok(_) => SignInOutcome::Success,
            Err(ServiceError::InvalidCredentials) => SignInOutcome::BadPassword,
            Err(ServiceError::WrongSecondFactor) => SignInOutcome::BadSecondFactor,
            Err(ServiceError::RateLimited { .. }) => SignInOutcome::Throttled,
            Err(ServiceError::Deactivated) => SignInOutcome::Deactivated,
            Err(_) => return,
        };
        self.metrics.sign_in(outcome);
    }

    async fn login_inner(&self, req: LoginRequest) -> ServiceResult<LoginOutcome> {
        if let Some(ip) = req.ip {
            self.limiter.check(LimitKind::Login, &ip.to_string())?;
        }
        // The server's own member's name (reserved; an account of that name can only date from
        // before it was) signs nobody in: it is answered as an unknown user is.
        let user_id = self.parse_user(&req.user).filter(|u| !wardline_types::account::is_service_user(u));
        let account = match &user_id {
            Some(u) => self.store.account(u).await?,
            None => None,
        };
        // Password spraying from many addresses: failed sign-ins across every account.
        if let Err(refused) = self.limiter.ensure(LimitKind::FailedLogin, GLOBAL) {
            // While the budget is spent, staff still sign in from where their account was
            // seen before, so one attacker cannot stop the whole organisation signing in.
            let seen_here = match (&user_id, &account, req.ip) {
                (Some(u), Some(_), Some(ip)) => self.seen_from(u, ip).await?,
                _ => false,
            };
            if !seen_here {
                return Err(refused);
            }
        }
        // Held from the lock check to the failure count: concurrent guesses go one at a time.
        let _gate = match &user_id {
            Some(u) => {
                self.limiter.check(LimitKind::Login, u.as_str())?;
                let gate = self.lockouts_of(account.is_some()).gate(u).await;
                self.check_not_locked(self.lockouts_of(account.is_some()), u)?;
                Some(gate)
            }
            None => None,
        };
        if !self.check_password(user_id.as_deref(), &req.password).await? {
            self.limiter.drain(LimitKind::FailedLogin, GLOBAL);
            if let Some(u) = &user_id {
                self.count_failure(u, account.is_some(), req.ip)?;
            }
            return Err(ServiceError::InvalidCredentials);
        }
        let (Some(user_id), Some(account)) = (user_id, account) else {
            return Err(ServiceError::InvalidCredentials);
        };
        // Only now, with the password right, may the answer say the account is deactivated.
        if account.deactivated {
            return Err(ServiceError::Deactivated);
        }
        // The failure count is not reset here: only a completed sign-in resets it, so a known
        // password does not buy fresh guesses at the second factor.
        if self.mfa.enrolled(&user_id).await? {
            let session = crate::rooms::random_id();
            let now = self.clock.now();
            let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            pending.retain(|_, p| now.millis_since(p.started) < PENDING_FOR.as_millis() as u64);
            pending.insert(session.clone(), PendingLogin { req, user_id, started: now, attempts: 0 });
            return Err(ServiceError::MfaRequired { session });
        }
        let outcome = self.open_session(req, user_id, account.must_change_password).await?;
        self.lockouts.success(&outcome.user_id);
        Ok(outcome)
    }

    /// Finishes a sign-in with its second factor. A wrong code counts toward the account's
    /// lockout like a wrong password; a locked account finishes no sign-in. The global budget
    /// of failed sign-ins does not hold this step up (its password step passed it); the
    /// per-address and per-account limits, the five codes per sign-in and the lockout do, and
    /// the lock check, the code check and the count are one step per account.
    pub async fn login_second_factor(
        &self,
        session: &str,
        kind: SecondFactor,
        code: &str,
        ip: Option<IpAddr>,
    ) -> ServiceResult<LoginOutcome> {
        let result = self.second_factor_step(session, kind, code, ip).await;
        self.count_sign_in(&result);
        result
    }

    async fn second_factor_step(
        &self,
        session: &str,
        kind: SecondFactor,
        code: &str,
        ip: Option<IpAddr>,
    ) -> ServiceResult<LoginOutcome> {
        if let Some(ip) = ip {
            self.limiter.check(LimitKind::Login, &ip.to_string())?;
        }
        let expired = || ServiceError::forbidden("this sign-in has expired: start again with your password");
        let Some(p) = self.pending_login(session) else { return Err(expired()) };
        self.limiter.check(LimitKind::Login, p.user_id.as_str())?;
        let gate = self.lockouts.gate(&p.user_id).await;
        // Looked up again under the gate: codes checked before this one may have used up the
        // sign-in's attempts or locked the account, which ends it.
        let Some(p) = self.pending_login(session) else { return Err(expired()) };
        if let Err(e) = self.check_not_locked(&self.lockouts, &p.user_id) {
            self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(session);
            return Err(e);
        }
        // The places for this step's records are taken before the code is checked (which uses it
        // up): a code is never tried, nor a session opened, unrecorded.
        let (slot, login_slot) = (self.audit.reserve()?, self.audit.reserve()?);
        let ok = self.check_factor(&p.user_id, kind, code).await?;
        let actor = Actor { user_id: p.user_id.clone(), device_id: None, ip };
        let mut r =
            self.audit.entry(Some(&actor), AuditAction::LoginMfa, if ok { Outcome::Success } else { Outcome::Denied });
        r.detail = Some(format!("{kind:?}"));
        slot.record(r);
        if !ok {
            let mut map = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(entry) = map.get_mut(session) {
                entry.attempts += 1;
                if entry.attempts >= PENDING_ATTEMPTS {
                    map.remove(session);
                }
            }
            drop(map);
            self.limiter.drain(LimitKind::FailedLogin, GLOBAL);
            self.count_failure(&p.user_id, true, ip)?;
            return Err(ServiceError::WrongSecondFactor);
        }
        // Taken out under the lock: a session completes once.
        if self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(session).is_none() {
            return Err(expired());
        }
        drop(gate);
        let account = self.store.account(&p.user_id).await?.ok_or(ServiceError::InvalidCredentials)?;
        if account.deactivated {
            return Err(ServiceError::Deactivated);
        }
        let outcome = self.open_session(p.req, p.user_id, account.must_change_password).await?;
        self.lockouts.success(&outcome.user_id);
        let actor = Actor { user_id: outcome.user_id.clone(), device_id: Some(outcome.device_id.clone()), ip };
        login_slot.record(self.audit.entry(Some(&actor), AuditAction::Login, Outcome::Success));
        Ok(outcome)
    }

    /// A sign-in waiting for its second factor, unless it expired.
    fn pending_login(&self, session: &str) -> Option<PendingLogin> {
        let now = self.clock.now();
        let map = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(session).filter(|p| now.millis_since(p.started) < PENDING_FOR.as_millis() as u64).cloned()
    }

    /// Was one of the user's devices last seen from `ip`?
    async fn seen_from(&self, user: &UserId, ip: IpAddr) -> ServiceResult<bool> {
        let ip = ip.to_canonical();
        Ok(self
            .store
            .devices(user)
            .await?
            .iter()
            .filter_map(|d| d.last_seen_ip.as_deref()?.parse::<IpAddr>().ok())
            .any(|seen| seen.to_canonical() == ip))
    }

    /// Checks a code from the authenticator app or a recovery code (which it uses up).
    async fn check_factor(&self, user: &UserId, kind: SecondFactor, code: &str) -> ServiceResult<bool> {
        match kind {
            SecondFactor::Totp => self.mfa.verify(user, code).await,
            SecondFactor::RecoveryCode => self.mfa.use_recovery_code(user, code).await,
        }
    }

    /// Removes the caller's second factor. Needs the password and the current factor: a code
    /// from the app, or a recovery code. A wrong password or code counts toward the lockout.
    pub async fn remove_second_factor(&self, caller: &Caller, password: &str, code: &str) -> ServiceResult<()> {
        self.limiter.check(LimitKind::Login, caller.user_id.as_str())?;
        let _gate = self.lockouts.gate(&caller.user_id).await;
        self.check_not_locked(&self.lockouts, &caller.user_id)?;
        if !self.check_password(Some(&caller.user_id), password).await? {
            self.count_failure(&caller.user_id, true, caller.ip)?;
            return Err(ServiceError::forbidden("wrong password"));
        }
        if self.mfa.enrolled(&caller.user_id).await? {
            let kind = if crate::mfa::looks_like_recovery_code(code) {
                SecondFactor::RecoveryCode
            } else {
                SecondFactor::Totp
            };
            if !self.check_factor(&caller.user_id, kind, code).await? {
                self.count_failure(&caller.user_id, true, caller.ip)?;
                let mut r = self.audit.entry(Some(&caller.actor()), AuditAction::LoginMfa, Outcome::Denied);
                r.detail = Some("totp removal refused: wrong code".into());
                self.audit.record(r)?;
                return Err(ServiceError::WrongSecondFactor);
            }
        }
        self.mfa.remove(&caller.actor(), &caller.user_id).await
    }

    /// Ends the sign-ins of `user` still waiting for their second factor.
    pub(crate) fn end_pending(&self, user: &UserId) {
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|_, p| p.user_id != user);
    }

    /// The lockout table for an account, or for a name with no account.
    fn lockouts_of(&self, account_exists: bool) -> &Lockouts {
        if account_exists { &self.lockouts } else { &self.phantom_lockouts }
    }

    /// Refuses sign-in to a locked account, with how long to wait.
    pub(crate) fn check_not_locked(&self, lockouts: &Lockouts, user: &UserId) -> ServiceResult<()> {
        match lockouts.locked_until(user) {
            Some(until) => {
                Err(ServiceError::RateLimited { retry_after_ms: until.millis_since(self.clock.now()).max(1) })
            }
            None => Ok(()),
        }
    }

    /// Counts a failed password or second factor; locks the account at the threshold. A lock
    /// ends the account's sign-ins still waiting for their second factor.
    pub(crate) fn count_failure(&self, user: &UserId, account_exists: bool, ip: Option<IpAddr>) -> ServiceResult<()> {
        let Some(until) = self.lockouts_of(account_exists).failure(user) else { return Ok(()) };
        let subject = if account_exists {
            self.end_pending(user);
            user.to_string()
        } else {
            self.unknown_subject(user.as_str())
        };
        let mut r = self.audit.entry(None, AuditAction::AccountLocked, Outcome::Success);
        r.target_user = Some(subject.clone());
        r.ip = ip.map(|i| i.to_string());
        r.detail = Some(format!("locked until {}", until.to_rfc3339()));
        self.audit.record(r)?;
        self.metrics.lockout();
        tracing::warn!(target: "security", user = %subject, "account locked after repeated failed sign-ins");
        Ok(())
    }

    /// Accounts locked now (for administrators).
    #[must_use]
    pub fn locked_accounts(&self) -> Vec<crate::lockout::Lock> {
        self.lockouts.locked()
    }

    /// Lifts a lock.
    pub fn unlock(&self, user: &UserId) -> bool {
        self.lockouts.unlock(user)
    }
}
