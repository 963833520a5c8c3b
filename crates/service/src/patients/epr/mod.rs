//! The electronic patient record, as a FHIR R4 server Wardline calls: reads and searches, and
//! transaction bundles. Every call ends within the configured timeout (connection included),
//! follows no redirect (a token is never carried to another host), and reads at most
//! [`MAX_ANSWER`] bytes of the answer. Failures are sorted so that users are told the truth
//! ([`EprError`]): the EPR is down or slow (try again later), it refused Wardline's credentials
//! (tell IT), or it refused this request (with the reason from its `OperationOutcome`).
//!
//! **What is logged:** the resource type and outcome of each call; never a query (it may hold
//! an NHS number or a name), an answer or a token.

mod signing;
mod smart;

use std::time::Duration;

use serde_json::Value;
use wardline_types::Clock;

pub use signing::SigningKey;

use crate::config::{EprAuthMethod, EprSettings};
use smart::SmartAuth;

/// The most of an answer read (a search bundle of patients, a transaction's response).
pub const MAX_ANSWER: usize = 8 * 1024 * 1024;
/// The FHIR JSON media type.
pub const FHIR_JSON: &str = "application/fhir+json";

/// Why a call to the EPR did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EprError {
    /// No EPR is configured.
    #[error("no electronic patient record is connected to Wardline")]
    NotConfigured,
    /// It did not answer in time, could not be reached, or said it is unavailable (`5xx`,
    /// `429`): worth trying again later.
    #[error("the patient record is not answering ({0}); try again in a few minutes")]
    Unavailable(String),
    /// It refused Wardline's credentials (or its token endpoint did): IT must look.
    #[error("the patient record refused Wardline's credentials ({0}); tell IT")]
    Credentials(String),
    /// It refused the request itself (`4xx`), with its reason.
    #[error("the patient record refused this: {reason}")]
    Refused {
        /// Its HTTP status.
        status: u16,
        /// Its `OperationOutcome`'s words, or the status.
        reason: String,
    },
    /// It answered with something that is not what FHIR says it should be.
    #[error("the patient record's answer could not be read ({0})")]
    BadAnswer(String),
}

impl EprError {
    /// What went wrong without the record's own words (an `OperationOutcome` may quote what
    /// was sent): for logs, the audit trail and retries.
    #[must_use]
    pub fn summary(&self) -> String {
        match self {
            Self::NotConfigured => "no electronic patient record is connected to Wardline".into(),
            Self::Unavailable(why) => format!("the patient record is not answering ({why})"),
            Self::Credentials(_) => "the patient record refused Wardline's credentials; tell IT".into(),
            Self::Refused { status, .. } => format!("the patient record refused it (HTTP {status})"),
            Self::BadAnswer(why) => format!("the patient record's answer could not be read ({why})"),
        }
    }

    /// Whether trying the same call again later may succeed.
    #[must_use]
    pub fn may_succeed_later(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Credentials(_) | Self::BadAnswer(_))
    }
}

/// A connection to the EPR.
#[derive(Debug)]
pub struct EprClient {
    base: String,
    http: reqwest::Client,
    auth: Auth,
}

#[derive(Debug)]
enum Auth {
    None,
    Bearer(String),
    Smart(Box<SmartAuth>),
}

impl EprClient {
    /// The client the settings describe, or `None` if no EPR is configured.
    ///
    /// # Errors
    /// Settings that cannot work (a base URL that is not `http(s)://`, SMART without a client
    /// id or key, an unreadable key or CA file), naming the setting.
    pub fn from_settings(settings: &EprSettings, clock: std::sync::Arc<dyn Clock>) -> Result<Option<Self>, String> {
        let Some(base) = settings.base_url.as_deref().map(str::trim).filter(|b| !b.is_empty()) else {
            return Ok(None);
        };
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(format!("epr.base_url {base:?}: must start with https:// (or http:// for a test server)"));
        }
        let timeout = Duration::from_secs(settings.timeout_secs.max(1));
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .user_agent(concat!("Wardline/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &settings.ca_file {
            let pem = std::fs::read(ca).map_err(|e| format!("epr.ca_file {}: {e}", ca.display()))?;
            let cert =
                reqwest::Certificate::from_pem(&pem).map_err(|e| format!("epr.ca_file {}: {e}", ca.display()))?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder.build().map_err(|e| format!("epr: the HTTP client could not be built: {e}"))?;
        let a = &settings.auth;
        let auth = match a.method {
            EprAuthMethod::None => Auth::None,
            EprAuthMethod::Bearer => {
                let token = a.bearer_token.as_deref().map(str::trim).filter(|t| !t.is_empty());
                Auth::Bearer(token.ok_or("epr.auth.bearer_token: needed when epr.auth.method is bearer")?.to_owned())
            }
            EprAuthMethod::Smart => {
                let client_id = a.client_id.as_deref().map(str::trim).filter(|t| !t.is_empty());
                let client_id = client_id.ok_or("epr.auth.client_id: needed when epr.auth.method is smart")?;
                let path = a.private_key_file.as_deref().ok_or("epr.auth.private_key_file: needed for smart")?;
                let kid = a.key_id.as_deref().ok_or("epr.auth.key_id: needed when epr.auth.method is smart")?;
                let key = SigningKey::from_pem_file(path, kid).map_err(|e| format!("epr.auth.private_key_file {e}"))?;
                let scope = a.scope.clone().unwrap_or_else(|| smart::DEFAULT_SCOPE.to_owned());
                Auth::Smart(Box::new(SmartAuth::new(client_id.to_owned(), key, a.token_url.clone(), scope, clock)))
            }
        };
        Ok(Some(Self { base, http, auth }))
    }

    /// The base URL.
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The JWK set of the SMART key, if SMART is configured.
    #[must_use]
    pub fn jwks(&self) -> Option<Value> {
        match &self.auth {
            Auth::Smart(s) => Some(s.jwks()),
            _ => None,
        }
    }

    /// `GET {base}/{path}` with query parameters.
    ///
    /// # Errors
    /// See [`EprError`].
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, EprError> {
        self.call(reqwest::Method::GET, path, query, None).await
    }

    /// `GET {base}/{kind}/{id}`: one resource, which must be of that kind.
    ///
    /// # Errors
    /// See [`EprError`]; an id that is not a FHIR id is refused before any call
    /// ([`EprError::Refused`] with status `400`).
    pub async fn read(&self, kind: &str, id: &str) -> Result<Value, EprError> {
        if !super::record::is_fhir_id(id) {
            return Err(EprError::Refused { status: 400, reason: "not a FHIR resource id".into() });
        }
        let v = self.get(&format!("{kind}/{id}"), &[]).await?;
        if v.get("resourceType").and_then(Value::as_str) != Some(kind) {
            return Err(EprError::BadAnswer(format!("the answer to a read of a {kind} is not one")));
        }
        Ok(v)
    }

    /// `POST {base}` of a transaction (or batch) bundle, asking for a minimal answer (no
    /// resources back: only each entry's status and location); the response bundle, or `None`
    /// when the record took it (`2xx`) but its answer is not JSON.
    ///
    /// # Errors
    /// See [`EprError`].
    pub async fn transaction(&self, bundle: &Value) -> Result<Option<Value>, EprError> {
        let (status, body, truncated) =
            self.exchange(reqwest::Method::POST, "", &[], Some(bundle), Some("return=minimal")).await?;
        transaction_answer(status, &body, truncated)
    }

    /// `GET {base}/metadata`: the server's CapabilityStatement (a connection test).
    ///
    /// # Errors
    /// See [`EprError`].
    pub async fn capabilities(&self) -> Result<Value, EprError> {
        let v = self.get("metadata", &[]).await?;
        if v.get("resourceType").and_then(Value::as_str) != Some("CapabilityStatement") {
            return Err(EprError::BadAnswer("metadata is not a CapabilityStatement".into()));
        }
        Ok(v)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, EprError> {
        match self.exchange(method, path, query, body, None).await? {
            (_, _, true) => Err(too_big()),
            (status, answer, false) => answer_of(status, &answer),
        }
    }

    /// One call (with a new token and once more if a SMART token is refused): the status and
    /// the answer's bytes.
    async fn exchange(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        prefer: Option<&str>,
    ) -> Result<(u16, Vec<u8>, bool), EprError> {
        let mut retried_token = false;
        loop {
            let token = match &self.auth {
                Auth::None => None,
                Auth::Bearer(t) => Some(t.clone()),
                Auth::Smart(s) => Some(s.token(&self.http, &self.base).await?),
            };
            let url = if path.is_empty() { self.base.clone() } else { format!("{}/{path}", self.base) };
            let mut req = self.http.request(method.clone(), url).header("accept", FHIR_JSON);
            if !query.is_empty() {
                // A parameter the EPR does not understand is an error, never silently ignored
                // (which would answer other patients); Wardline also checks what comes back.
                req = req.query(query).header("prefer", "handling=strict");
            }
            if let Some(t) = &token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req.header("content-type", FHIR_JSON).body(b.to_string());
            }
            if let Some(p) = prefer {
                req = req.header("prefer", p);
            }
            let (status, answer, truncated) = send_capped(req).await?;
            if status == 401
                && !retried_token
                && let Auth::Smart(s) = &self.auth
            {
                // The token may have been revoked or expired early: one more try with a new one.
                s.forget(token.as_deref()).await;
                retried_token = true;
                continue;
            }
            tracing::debug!(path = path.split(['/', '?']).next().unwrap_or(""), status, "epr call");
            return Ok((status, answer, truncated));
        }
    }
}

/// Sends a request and reads up to [`MAX_ANSWER`] bytes of its answer.
async fn send(req: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), EprError> {
    match send_capped(req).await? {
        (_, _, true) => Err(too_big()),
        (status, body, false) => Ok((status, body)),
    }
}

fn too_big() -> EprError {
    EprError::BadAnswer(format!("an answer over {MAX_ANSWER} bytes"))
}

/// Sends a request and reads up to [`MAX_ANSWER`] bytes of its answer: its status, what was
/// read, and whether there was more (the rest is never read).
async fn send_capped(req: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>, bool), EprError> {
    let mut resp = req.send().await.map_err(|e| EprError::Unavailable(describe(e)))?;
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| EprError::Unavailable(describe(e)))? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_ANSWER {
            return Ok((status, body, true));
        }
    }
    Ok((status, body, false))
}

/// What the answer to a transaction says: taken (`2xx`) with its response Bundle, or taken
/// with an answer that says nothing more (empty, or too big to read: a record that ignored
/// `return=minimal`); anything else a `2xx` carries (a login page, a proxy's or another
/// service's JSON) is not a record's answer and means nothing was taken.
///
/// # Errors
/// The error the status means; a `2xx` that is not a transaction response.
pub fn transaction_answer(status: u16, body: &[u8], truncated: bool) -> Result<Option<Value>, EprError> {
    if !(200..300).contains(&status) {
        return if truncated { Err(too_big()) } else { answer_of(status, body).map(Some) };
    }
    // (A byte-order mark before the JSON is allowed.)
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if truncated || body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let json = serde_json::from_slice::<Value>(body).ok();
    let is_response = json.as_ref().is_some_and(|v| {
        v.get("resourceType").and_then(Value::as_str) == Some("Bundle")
            && v.get("type").and_then(Value::as_str).is_none_or(|t| t == "transaction-response")
    });
    if is_response {
        Ok(json)
    } else {
        Err(EprError::BadAnswer(format!("HTTP {status} with something other than a transaction response")))
    }
}

/// What went wrong, without the URL (its query may name a patient).
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer in time".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        e.without_url().to_string()
    }
}

/// The answer's JSON, or the error its status means.
fn answer_of(status: u16, body: &[u8]) -> Result<Value, EprError> {
    let json = serde_json::from_slice::<Value>(body).ok();
    match status {
        200..=299 => json.ok_or_else(|| EprError::BadAnswer("not JSON".into())),
        401 | 403 => Err(EprError::Credentials(format!("HTTP {status}{}", outcome_suffix(json.as_ref())))),
        // 409: a version conflict on the EPR's side, which passes.
        408 | 409 | 429 | 500..=599 => Err(EprError::Unavailable(format!("HTTP {status}"))),
        300..=399 => Err(EprError::BadAnswer(format!("a redirect (HTTP {status}), which Wardline does not follow"))),
        _ => Err(EprError::Refused {
            status,
            reason: json.as_ref().and_then(outcome_text).unwrap_or_else(|| format!("HTTP {status}")),
        }),
    }
}

fn outcome_suffix(json: Option<&Value>) -> String {
    json.and_then(outcome_text).map(|t| format!(": {t}")).unwrap_or_default()
}

/// The words of an `OperationOutcome` (each issue's `diagnostics`, else `details.text`, else
/// its code), joined, at most 500 characters.
#[must_use]
pub fn outcome_text(v: &Value) -> Option<String> {
    if v.get("resourceType").and_then(Value::as_str) != Some("OperationOutcome") {
        return None;
    }
    let issues = v.get("issue").and_then(Value::as_array)?;
    let words: Vec<String> = issues
        .iter()
        .filter_map(|i| {
            let text = i.get("diagnostics").and_then(Value::as_str);
            let text = text.or_else(|| i.pointer("/details/text").and_then(Value::as_str));
            let text = text.or_else(|| i.get("code").and_then(Value::as_str));
            text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
        })
        .collect();
    if words.is_empty() {
        return None;
    }
    let mut text = words.join("; ");
    if text.chars().count() > 500 {
        text = text.chars().take(499).collect::<String>() + "…";
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_transaction_is_taken_only_on_a_record_s_own_answer() {
        let response = json!({"resourceType": "Bundle", "type": "transaction-response", "entry": []});
        let bytes = response.to_string();
        assert_eq!(transaction_answer(200, bytes.as_bytes(), false).ok(), Some(Some(response)));
        assert!(matches!(transaction_answer(200, b"", false), Ok(None)), "empty: taken, nothing said");
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), bytes.as_bytes()].concat();
        assert!(matches!(transaction_answer(200, &with_bom, false), Ok(Some(_))), "a byte-order mark first");
        assert!(matches!(transaction_answer(200, b" \n", false), Ok(None)));
        assert!(matches!(transaction_answer(200, b"{\"resourceType\": \"Bun", true), Ok(None)), "too big to read");
        for not_a_record in [
            &b"<html><body>Sign in to continue</body></html>"[..],
            br#"{"status": "ok"}"#,
            br#"{"resourceType": "OperationOutcome", "issue": []}"#,
            br#"{"resourceType": "Bundle", "type": "searchset"}"#,
        ] {
            assert!(
                matches!(transaction_answer(200, not_a_record, false), Err(EprError::BadAnswer(_))),
                "{}",
                String::from_utf8_lossy(not_a_record)
            );
        }
        assert!(matches!(transaction_answer(503, b"", false), Err(EprError::Unavailable(_))));
        assert!(matches!(transaction_answer(422, b"", false), Err(EprError::Refused { status: 422, .. })));
        assert!(matches!(transaction_answer(422, b"x", true), Err(EprError::BadAnswer(_))));
    }

    #[test]
    fn statuses_are_sorted_into_what_the_user_is_told() {
        assert!(matches!(answer_of(503, b""), Err(EprError::Unavailable(_))));
        assert!(matches!(answer_of(429, b""), Err(EprError::Unavailable(_))));
        assert!(matches!(answer_of(401, b""), Err(EprError::Credentials(_))));
        assert!(matches!(answer_of(302, b""), Err(EprError::BadAnswer(_))));
        assert!(matches!(answer_of(200, b"<html>"), Err(EprError::BadAnswer(_))));
        let oo = json!({"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "invalid", "diagnostics": "Communication.subject: required"},
            {"severity": "error", "code": "business-rule", "details": {"text": "Patient is deceased"}},
            {"severity": "error", "code": "processing"}
        ]});
        assert_eq!(
            answer_of(422, oo.to_string().as_bytes()),
            Err(EprError::Refused {
                status: 422,
                reason: "Communication.subject: required; Patient is deceased; processing".into()
            })
        );
        assert_eq!(answer_of(400, b"{}"), Err(EprError::Refused { status: 400, reason: "HTTP 400".into() }));
        assert!(EprError::Unavailable(String::new()).may_succeed_later());
        assert!(!EprError::Refused { status: 422, reason: String::new() }.may_succeed_later());
    }

    #[test]
    fn a_long_outcome_is_cut() {
        let oo = json!({"resourceType": "OperationOutcome", "issue": [{"diagnostics": "é".repeat(2000)}]});
        let text = outcome_text(&oo).unwrap_or_default();
        assert_eq!(text.chars().count(), 500);
        assert!(text.ends_with('…'));
    }
}
