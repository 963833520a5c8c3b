//! The second factor: TOTP enrolment with an `otpauth://` URI and QR code, verification with a
//! step of clock skew either way and each code usable once, and single-use recovery codes.

use std::sync::Arc;

use rand::RngCore;
use ruma::{OwnedServerName, UserId};
use wardline_store::Store;
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::{Clock, Timestamp};

use crate::audit::{Actor, AuditService};
use crate::config::MfaPolicy;
use crate::core::Core;
use crate::sessions::hash_token;
use crate::settings::SettingsHandle;
use crate::{ServiceError, ServiceResult, totp};

/// What an authenticator app needs to enrol.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// The secret, base32.
    pub secret: String,
    /// `otpauth://totp/...`
    pub uri: String,
    /// The URI as a QR code (SVG).
    pub qr_svg: String,
}

/// The second-factor service.
pub struct MfaService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    audit: AuditService,
    server_name: OwnedServerName,
    settings: SettingsHandle,
}

impl std::fmt::Debug for MfaService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaService").finish_non_exhaustive()
    }
}

/// Recovery codes given at enrolment.
const RECOVERY_CODES: usize = 10;

/// How soon after signing in with the password a session may set up a second factor.
pub const RECENT_SIGN_IN: std::time::Duration = std::time::Duration::from_secs(10 * 60);

fn recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut bytes);
    let chars: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET.get(usize::from(*b) % ALPHABET.len()).copied().unwrap_or(b'a')))
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// Is this a recovery code (`abcde-fghjk`) rather than a code from the app (six digits)?
#[must_use]
pub fn looks_like_recovery_code(code: &str) -> bool {
    let code = normalise(code);
    code.contains('-') || code.chars().count() > 8
}

fn normalise(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase()
}

impl MfaService {
    /// A second-factor service.
    pub fn new(core: &Core) -> Self {
        Self {
            store: Arc::clone(&core.store),
            clock: Arc::clone(&core.clock),
            audit: core.audit.clone(),
            server_name: core.server_name.clone(),
            settings: core.settings.clone(),
        }
    }

    /// Must this account have a second factor?
    #[must_use]
    pub fn required(&self, is_admin: bool) -> bool {
        match self.settings.get().security.mfa_required {
            MfaPolicy::Off => false,
            MfaPolicy::Admins => is_admin,
            MfaPolicy::Everyone => true,
        }
    }

    /// Has the user a confirmed second factor?
    pub async fn enrolled(&self, user: &UserId) -> ServiceResult<bool> {
        Ok(self.store.totp(user).await?.is_some_and(|t| t.confirmed))
    }

    /// A second factor is set up only by a session that signed in with its password within
    /// [`RECENT_SIGN_IN`]: a session stolen later cannot put the thief's authenticator app on
    /// an account that has none yet (and replacing one needs removing it, with the current one).
    fn require_recent_sign_in(&self, signed_in_at: Timestamp) -> ServiceResult<()> {
        if self.clock.now().millis_since(signed_in_at) > RECENT_SIGN_IN.as_millis() as u64 {
            return Err(ServiceError::forbidden(format!(
                "sign in again to set up an authenticator app: it must be done within {} minutes of signing in",
                RECENT_SIGN_IN.as_secs() / 60
            )));
        }
        Ok(())
    }

    /// Starts enrolment with a fresh secret, for a session that signed in at `signed_in_at`.
    /// An existing confirmed factor must be removed first.
    pub async fn begin(&self, by: &Actor, signed_in_at: Timestamp) -> ServiceResult<Enrolment> {
        self.require_recent_sign_in(signed_in_at)?;
        if self.enrolled(&by.user_id).await? {
            return Err(ServiceError::forbidden("a second factor is already set up; remove it first"));
        }
        let mut raw = [0u8; 20];
        rand::thread_rng().fill_bytes(&mut raw);
        let secret = totp::base32_encode(&raw);
        self.store.put_totp(&by.user_id, &secret, self.clock.now()).await?;
        let issuer = format!("Wardline {}", self.server_name);
        let label = format!("{issuer}:{}", by.user_id);
        let enc = |s: &str| -> String {
            s.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect()
        };
        let uri = format!(
            "otpauth://totp/{}?secret={secret}&issuer={}&algorithm=SHA1&digits=6&period={}",
            enc(&label),
            enc(&issuer),
            totp::STEP_SECONDS
        );
        let qr_svg = qrcode::QrCode::new(uri.as_bytes())
            .map_err(|e| ServiceError::Internal(e.to_string()))?
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build();
        Ok(Enrolment { secret, uri, qr_svg })
    }

    /// The step whose code matches, within one step either way of now.
    fn matching_step(secret: &str, code: &str, now_step: u64) -> Option<u64> {
        let key = totp::base32_decode(secret)?;
        let code = normalise(code);
        [now_step.saturating_sub(1), now_step, now_step + 1].into_iter().find(|s| totp::code(&key, *s) == code)
    }

    /// Confirms enrolment with a first code; returns the recovery codes (shown once).
    pub async fn confirm(&self, by: &Actor, signed_in_at: Timestamp, code: &str) -> ServiceResult<Vec<String>> {
        self.require_recent_sign_in(signed_in_at)?;
        let pending =
            self.store.totp(&by.user_id).await?.ok_or_else(|| ServiceError::forbidden("start enrolment first"))?;
        if pending.confirmed {
            return Err(ServiceError::forbidden("a second factor is already set up"));
        }
        let step = Self::matching_step(&pending.secret, code, totp::step_at(self.clock.now()))
            .ok_or_else(|| ServiceError::forbidden("that code is not right: check the time on your phone"))?;
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
        let slot = self.audit.reserve()?;
        self.store.confirm_totp(&by.user_id, step, codes.iter().map(|c| hash_token(&normalise(c))).collect()).await?;
        let mut r = self.audit.entry(Some(by), AuditAction::LoginMfa, Outcome::Success);
        r.detail = Some("totp enrolled".into());
        slot.record(r);
        Ok(codes)
    }

    /// Checks a code at sign-in: within a step of now, and never a step used before.
    pub async fn verify(&self, user: &UserId, code: &str) -> ServiceResult<bool> {
        let Some(t) = self.store.totp(user).await?.filter(|t| t.confirmed) else { return Ok(false) };
        match Self::matching_step(&t.secret, code, totp::step_at(self.clock.now())) {
            Some(step) => Ok(self.store.use_totp_step(user, step).await?),
            None => Ok(false),
        }
    }

    /// Uses a recovery code at sign-in.
    pub async fn use_recovery_code(&self, user: &UserId, code: &str) -> ServiceResult<bool> {
        Ok(self.store.use_recovery_code(user, &hash_token(&normalise(code)), self.clock.now()).await?)
    }

    /// Removes a user's second factor. The user goes through
    /// [`crate::sessions::SessionService::remove_second_factor`] (password and current factor);
    /// an administrator removes another user's lost factor.
    pub async fn remove(&self, by: &Actor, user: &UserId) -> ServiceResult<()> {
        let slot = self.audit.reserve()?;
        self.store.delete_totp(user).await?;
        let mut r = self.audit.entry(Some(by), AuditAction::LoginMfa, Outcome::Success);
        r.target_user = Some(user.to_string());
        r.detail = Some("totp removed".into());
        slot.record(r);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_step_of_skew_either_way_and_no_more() {
        let secret = totp::base32_encode(b"12345678901234567890");
        let key = totp::base32_decode(&secret).unwrap_or_default();
        for (offset, ok) in [(0i64, true), (-1, true), (1, true), (-2, false), (2, false)] {
            let step = (1000 + offset) as u64;
            let code = totp::code(&key, step);
            assert_eq!(MfaService::matching_step(&secret, &code, 1000).is_some(), ok, "offset {offset}");
        }
        assert_eq!(MfaService::matching_step(&secret, " 287 082 ", 1), Some(1), "spaces are ignored");
    }
}
