//! SMART Backend Services (HL7 SMART App Launch 2, "Backend Services"): Wardline asks the EPR's
//! token endpoint for an access token with the client-credentials grant, proving itself with a
//! JWT signed by its private key ([`super::SigningKey`]), and keeps the token until shortly
//! before it expires. The token endpoint is configured, or read once from the EPR's
//! `.well-known/smart-configuration`. The token is a cache of the EPR's answer, held in memory
//! only: a restarted node asks again.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Mutex;
use wardline_types::{Clock, Timestamp};

use super::{EprError, SigningKey};

/// The scopes asked for when none are configured: what Wardline reads and writes.
pub const DEFAULT_SCOPE: &str = "system/Patient.read system/Encounter.read system/Location.read \
                                 system/Communication.write system/DocumentReference.write";
/// A token is renewed this long before the EPR says it expires.
const RENEW_BEFORE_MS: u64 = 30_000;
/// How long a token is kept when the EPR does not say (`expires_in` absent).
const DEFAULT_LIFETIME_SECS: u64 = 300;
/// The longest a token is kept, whatever the EPR says.
const MAX_LIFETIME_SECS: u64 = 24 * 3600;

/// SMART Backend Services credentials and the token they last obtained.
#[derive(Debug)]
pub struct SmartAuth {
    client_id: String,
    key: SigningKey,
    configured_token_url: Option<String>,
    scope: String,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    token_url: Option<String>,
    token: Option<(String, Timestamp)>,
}

impl SmartAuth {
    /// Credentials for `client_id`, signed with `key`.
    pub fn new(
        client_id: String,
        key: SigningKey,
        token_url: Option<String>,
        scope: String,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { client_id, key, configured_token_url: token_url, scope, clock, state: Mutex::default() }
    }

    /// The public key as a JWK set.
    pub fn jwks(&self) -> Value {
        self.key.jwks()
    }

    /// A token good for now: the one held, or a new one. Token requests are made one at a
    /// time (callers wait for the one in flight rather than each asking).
    pub async fn token(&self, http: &reqwest::Client, base: &str) -> Result<String, EprError> {
        let mut state = self.state.lock().await;
        let now = self.clock.now();
        if let Some((token, until)) = &state.token
            && now < *until
        {
            return Ok(token.clone());
        }
        let token_url = match (&self.configured_token_url, &state.token_url) {
            (Some(u), _) | (None, Some(u)) => u.clone(),
            (None, None) => {
                let url = discover(http, base).await?;
                state.token_url = Some(url.clone());
                url
            }
        };
        let assertion = self.key.assertion(&self.client_id, &token_url, now).map_err(EprError::Credentials)?;
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", self.scope.as_str()),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion.as_str()),
        ];
        let req = http.post(&token_url).header("accept", "application/json").form(&form);
        let (status, body) = super::send(req).await?;
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        match status {
            200..=299 => {}
            408 | 429 | 500..=599 => return Err(EprError::Unavailable(format!("token endpoint: HTTP {status}"))),
            _ => {
                let why = json.as_ref().and_then(|j| {
                    let err = j.get("error").and_then(Value::as_str)?;
                    let desc = j.get("error_description").and_then(Value::as_str).unwrap_or("");
                    Some(format!("{err} {desc}").trim().chars().take(300).collect::<String>())
                });
                return Err(EprError::Credentials(format!(
                    "token endpoint: HTTP {status}{}",
                    why.map(|w| format!(": {w}")).unwrap_or_default()
                )));
            }
        }
        let json = json.ok_or_else(|| EprError::BadAnswer("the token endpoint's answer is not JSON".into()))?;
        let token = json
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| EprError::BadAnswer("the token endpoint gave no access_token".into()))?
            .to_owned();
        // However long the EPR says (an absurd `expires_in` is held to a day).
        let secs =
            json.get("expires_in").and_then(Value::as_u64).unwrap_or(DEFAULT_LIFETIME_SECS).min(MAX_LIFETIME_SECS);
        let lifetime_ms = secs * 1000;
        let until = Timestamp(now.0.saturating_add(lifetime_ms.saturating_sub(RENEW_BEFORE_MS).max(lifetime_ms / 2)));
        state.token = Some((token.clone(), until));
        Ok(token)
    }

    /// Forgets `token` if it is still the one held (the EPR refused it).
    pub async fn forget(&self, token: Option<&str>) {
        let mut state = self.state.lock().await;
        if state.token.as_ref().map(|(t, _)| t.as_str()) == token {
            state.token = None;
        }
    }
}

/// The token endpoint from `{base}/.well-known/smart-configuration`.
async fn discover(http: &reqwest::Client, base: &str) -> Result<String, EprError> {
    let req = http.get(format!("{base}/.well-known/smart-configuration")).header("accept", "application/json");
    let (status, body) = super::send(req).await?;
    let json = super::answer_of(status, &body)?;
    let url = json
        .get("token_endpoint")
        .and_then(Value::as_str)
        .ok_or_else(|| EprError::BadAnswer("smart-configuration names no token_endpoint".into()))?;
    // The signed assertion goes there: over TLS whenever the EPR itself is reached over TLS.
    let tls = base.starts_with("https://");
    if !(url.starts_with("https://") || (!tls && url.starts_with("http://"))) {
        return Err(EprError::BadAnswer(
            "smart-configuration's token_endpoint is not https: set epr.auth.token_url if it is right".into(),
        ));
    }
    Ok(url.to_owned())
}
