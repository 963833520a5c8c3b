//! Paging over WCTP 1.3: receiving a paging or nurse-call system's `wctp-SubmitRequest` and
//! answering it, the whole path from the posted bytes to the XML answer; total (every failure
//! becomes a `wctp-Failure`, never an HTTP error or a panic).
//!
//! parse (`wardline_types::wctp`) → the sender (a bearer key, or `wctp-Originator@senderID` =
//! the integration's WCTP sender id with `@securityCode` = one of its API keys, checked by the
//! one check of keys) → the page (text, at most six choices, one of which accepts) → its
//! recipient (the integration's mapping, else a role whose bleep is the id, else a username) →
//! **one intake write**, keyed by the `messageID`, holding the page as the alarm's details and
//! the answer's code with a fingerprint of what was sent → `wctp-Success 200` only after it has
//! committed. A `messageID` already stored is answered as the first was, and never stored again;
//! the same `messageID` with other content is refused. Nothing is stored for a refused page.
//!
//! Dispatch delivers a page by a rule made from it (`page.rs`): into the standing conversation
//! of the integration and the recipient, at its priority, asking its choices. What becomes of it
//! goes back as WCTP reports (`reports.rs`).

pub mod page;
mod reports;

use std::net::IpAddr;

use sha2::{Digest, Sha256};
use wardline_store::{AlarmChange, Intake, IntakeOutcome, Integration, NewAlarm};
use wardline_types::alarm::{IntakeProtocol, Location, SourcePriority, check_source_id, check_text};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::escalation::Target;
use wardline_types::integration::IntegrationScope;
use wardline_types::priority::{MAX_LABEL_CHARS, Means};
use wardline_types::wctp::{
    self, DeliveryPriority, FUNCTION_NOT_SUPPORTED, INVALID_RECIPIENT, INVALID_SECURITY_CODE, INVALID_SENDER,
    MAX_CHOICES, Operation, PROCESSING_ERROR, Payload, SubmitRequest, UNSUPPORTED_OPERATION, WctpError, write,
};
use wardline_types::wctp_binding::WctpBinding;

use self::page::{Page, PageChoice};
use super::AlarmService;
use crate::audit::Actor;
use crate::integrations::{IntegrationCaller, IntegrationService};

pub use reports::wctp_reports;

/// What a WCTP post was answered with, and who sent it (for the edge's record), once known.
#[derive(Debug)]
pub struct WctpAnswer {
    /// The XML answer (always sent with HTTP 200).
    pub xml: String,
    /// The integration whose key was accepted, if one was.
    pub actor: Option<Actor>,
}

impl WctpAnswer {
    fn refused(e: &WctpError, actor: Option<Actor>) -> Self {
        Self { xml: write::failure(e.code, &e.text), actor }
    }
}

fn err(code: u16, text: impl Into<String>) -> WctpError {
    WctpError::new(code, text)
}

/// A short fingerprint of what a page says (not when it was stamped, nor its security code):
/// a repeat of its `messageID` saying anything else is another page.
fn fingerprint(r: &SubmitRequest) -> String {
    let mut hash = Sha256::new();
    let mut put = |s: &str| {
        hash.update(s.len().to_be_bytes());
        hash.update(s.as_bytes());
    };
    put(&r.sender_id);
    put(&r.recipient_id);
    put(r.priority.as_str());
    put(&format!("{}{}{}{}", r.allow_response, r.notify_queued, r.notify_delivered, r.notify_read));
    match &r.payload {
        Payload::Alphanumeric(t) => put(t),
        Payload::Mcr { text, choices } => {
            put(text);
            for c in choices {
                put(&c.send);
                put(c.reply.as_deref().unwrap_or("\u{0}"));
            }
        }
        Payload::TransparentData => put("\u{1}"),
    }
    hex::encode(hash.finalize().get(..8).unwrap_or_default())
}

/// The source priority a `deliveryPriority` is recorded as.
fn source_priority(p: DeliveryPriority) -> SourcePriority {
    match p {
        DeliveryPriority::High => SourcePriority::High,
        DeliveryPriority::Normal => SourcePriority::Medium,
        DeliveryPriority::Low => SourcePriority::Low,
    }
}

/// The page's text and choices, checked: text Wardline can show, at most [`MAX_CHOICES`]
/// choices of at most a label's length, one of which accepts (by the binding's lists); a choice
/// neither accepting nor declining is an answer that changes nothing.
fn page_content(binding: &WctpBinding, payload: &Payload) -> Result<(String, Vec<PageChoice>), WctpError> {
    let (text, choices) = match payload {
        Payload::Alphanumeric(t) => (t.trim().to_owned(), Vec::new()),
        Payload::Mcr { text, choices } => (text.trim().to_owned(), choices.clone()),
        Payload::TransparentData => {
            return Err(err(
                FUNCTION_NOT_SUPPORTED,
                "wctp-TransparentData is not taken: send wctp-Alphanumeric or wctp-MCR",
            ));
        }
    };
    check_text(&text).map_err(|_| {
        err(FUNCTION_NOT_SUPPORTED, "the message text is 1 to 1000 characters, without control characters")
    })?;
    if choices.len() > MAX_CHOICES {
        return Err(err(FUNCTION_NOT_SUPPORTED, format!("a page offers at most {MAX_CHOICES} choices")));
    }
    let mut out = Vec::with_capacity(choices.len());
    for c in &choices {
        let label = c.send.trim();
        let n = label.chars().count();
        if n == 0 || n > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
            return Err(err(
                FUNCTION_NOT_SUPPORTED,
                format!("each choice is 1 to {MAX_LABEL_CHARS} characters on one line"),
            ));
        }
        let means = if binding.accepts(label) {
            Means::Accept
        } else if binding.declines(label) {
            Means::Decline
        } else {
            Means::Info
        };
        out.push(PageChoice { label: label.to_owned(), reply: c.reply_text().to_owned(), means });
    }
    if !out.is_empty() && !out.iter().any(|c| c.means == Means::Accept) {
        return Err(err(
            FUNCTION_NOT_SUPPORTED,
            "none of the choices accepts the page: offer one of the integration's accept_choices (such as Accept)",
        ));
    }
    Ok((text, out))
}

impl AlarmService {
    /// Receives one WCTP post (`body`, from `ip`, with `bearer`, the `Authorization: Bearer`
    /// key if any) and answers it. `endpoint` names the endpoint for the audit trail.
    pub async fn receive_wctp(
        &self,
        integrations: &IntegrationService,
        bearer: Option<&str>,
        ip: Option<IpAddr>,
        body: &[u8],
        endpoint: &str,
    ) -> WctpAnswer {
        let op = match parse_off_worker(body.to_vec()).await {
            Ok(op) => op,
            Err(e) => return WctpAnswer::refused(&e, None),
        };
        match op {
            Operation::Submit(request) => self.submit(integrations, bearer, ip, body, &request, endpoint).await,
            Operation::VersionQuery { inquirer } => WctpAnswer {
                xml: write::version_response(self.server_name.as_str(), &inquirer, &wctp::timestamp(self.clock.now())),
                actor: None,
            },
            Operation::Confirmation(_) => WctpAnswer::refused(
                &err(UNSUPPORTED_OPERATION, "wctp-Confirmation is an answer, not an operation to send here"),
                None,
            ),
            Operation::Other(name) => WctpAnswer::refused(
                &err(
                    UNSUPPORTED_OPERATION,
                    format!("{} is not supported here: send wctp-SubmitRequest or wctp-VersionQuery", quoted(&name)),
                ),
                None,
            ),
        }
    }

    /// Who sent a page: the bearer key's integration, or the sender id's with its security code.
    /// Either way the key must be one of the sender id's integration, with the `wctp` scope.
    async fn wctp_sender(
        &self,
        integrations: &IntegrationService,
        bearer: Option<&str>,
        ip: Option<IpAddr>,
        r: &SubmitRequest,
        endpoint: &str,
    ) -> Result<(IntegrationCaller, WctpBinding), WctpAnswer> {
        let scope = Some(IntegrationScope::Wctp);
        let bound = self.store.integration_by_wctp_sender(&r.sender_id).await.map_err(|e| {
            tracing::warn!(error = %e, "a wctp page could not be checked: the store failed");
            WctpAnswer::refused(&err(PROCESSING_ERROR, "could not check the sender: send it again"), None)
        })?;
        let key = match bearer.or(r.security_code.as_deref()) {
            Some(k) => k,
            None => {
                let e = integrations.refuse_unidentified(ip, endpoint, "wctp page without a key or securityCode");
                tracing::debug!(error = %e, "a wctp page without a key");
                return Err(WctpAnswer::refused(
                    &err(INVALID_SECURITY_CODE, "give the integration's API key as the securityCode"),
                    None,
                ));
            }
        };
        let Some((integration, binding)) = bound else {
            // The key is checked all the same (and its use audited), so an unknown sender with a
            // good key is told what to fix.
            let _ = integrations.refuse_unidentified(ip, endpoint, "wctp page from an unknown senderID");
            return Err(WctpAnswer::refused(
                &err(INVALID_SENDER, "the senderID is not bound to any integration here"),
                None,
            ));
        };
        let caller = integrations
            .authenticate(key, scope, ip, endpoint)
            .await
            .map_err(|e| WctpAnswer::refused(&auth_refusal(&e), None))?;
        if caller.integration.id != integration.id {
            // Another integration's good key: refused, and recorded against the key's owner.
            let mut rec = self.audit.entry(Some(&caller.actor()), AuditAction::IntegrationUse, Outcome::Denied);
            rec.detail =
                Some(format!("endpoint={endpoint} reason=wctp page as the sender of integration={}", integration.id));
            if let Err(e) = self.audit.record(rec) {
                tracing::warn!(target: "audit", error = %e, "a refused wctp page could not be recorded");
            }
            return Err(WctpAnswer::refused(
                &err(INVALID_SECURITY_CODE, "the key is not this sender's"),
                Some(caller.actor()),
            ));
        }
        Ok((caller, binding))
    }

    /// Whom a recipient id reaches: the integration's mapping, else the one role whose bleep is
    /// the id, else the active user with that username.
    async fn wctp_target(&self, integration: &Integration, recipient_id: &str) -> Result<Option<Target>, WctpError> {
        let store_failed = |_| err(PROCESSING_ERROR, "could not look the recipient up: send it again");
        if let Some(m) = self.store.wctp_recipient(&integration.id, recipient_id).await.map_err(store_failed)? {
            return Ok(Some(m.target));
        }
        let roles = self.store.roles().await.map_err(store_failed)?;
        let bleeps: Vec<_> = roles
            .iter()
            .filter(|r| !r.retired && r.definition.bleep.as_deref().map(str::trim) == Some(recipient_id.trim()))
            .collect();
        match bleeps[..] {
            [one] => return Ok(Some(Target::Role { role: one.definition.id.clone() })),
            [_, _, ..] => {
                return Err(err(
                    INVALID_RECIPIENT,
                    "the recipientID is the bleep of several roles: map it to one (wardline integration wctp recipient set)",
                ));
            }
            [] => {}
        }
        let Ok(username) = wardline_types::Username::parse(&recipient_id.to_lowercase()) else { return Ok(None) };
        let Ok(user) = ruma::UserId::parse(format!("@{}:{}", username.as_str(), self.server_name)) else {
            return Ok(None);
        };
        match self.store.account(&user).await.map_err(store_failed)? {
            Some(a) if !a.deactivated && !wardline_types::account::is_service_user(&user) => {
                Ok(Some(Target::User { user_id: user }))
            }
            _ => Ok(None),
        }
    }

    async fn submit(
        &self,
        integrations: &IntegrationService,
        bearer: Option<&str>,
        ip: Option<IpAddr>,
        body: &[u8],
        r: &SubmitRequest,
        endpoint: &str,
    ) -> WctpAnswer {
        let (caller, binding) = match self.wctp_sender(integrations, bearer, ip, r, endpoint).await {
            Ok(found) => found,
            Err(answer) => return answer,
        };
        let actor = caller.actor();
        let refuse = |e: WctpError| WctpAnswer::refused(&e, Some(caller.actor()));
        if check_source_id(&r.message_id).is_err() {
            return refuse(err(wctp::NOT_VALID, "messageID is 1 to 200 characters without spaces around it"));
        }
        let kinds = &caller.integration.allowed_kinds;
        if !kinds.is_empty() && !kinds.contains(&binding.default_kind) {
            return refuse(err(
                FUNCTION_NOT_SUPPORTED,
                format!("this system may not raise {} alarms", binding.default_kind),
            ));
        }
        let (text, choices) = match page_content(&binding, &r.payload) {
            Ok(c) => c,
            Err(e) => return refuse(e),
        };
        let target = match self.wctp_target(&caller.integration, &r.recipient_id).await {
            Ok(Some(t)) => t,
            Ok(None) => {
                return refuse(err(
                    INVALID_RECIPIENT,
                    "the recipientID names nobody here: no recipient mapping, role bleep or username",
                ));
            }
            Err(e) => return refuse(e),
        };
        let page = Page {
            sender_id: r.sender_id.clone(),
            message_id: r.message_id.clone(),
            transaction_id: r.transaction_id.clone(),
            submit_timestamp: r.submit_timestamp.clone(),
            recipient_id: r.recipient_id.clone(),
            target,
            level: binding.level(r.priority),
            choices,
            allow_response: r.allow_response,
            notify_delivered: r.notify_delivered,
            notify_read: r.notify_read,
        };
        let print = fingerprint(r);
        let intake = Intake {
            integration: caller.integration.id.clone(),
            protocol: IntakeProtocol::Wctp,
            intake_key: r.message_id.clone(),
            // The security code is an API key: never kept.
            raw: Some(r.redacted(body)),
            received: self.clock.now(),
            change: AlarmChange::Open(Box::new(NewAlarm {
                id: super::intake::new_alarm_id(),
                source_id: r.message_id.clone(),
                kind: binding.default_kind,
                priority: source_priority(r.priority),
                text,
                location: Location::default(),
                patient: None,
                occurred: None,
                details: Some(page.details()),
            })),
            answer: format!("{} {print}", wctp::SUCCESS),
        };
        // The record's place is taken first: nothing is stored that the trail could not record.
        let Ok(slot) = self.audit.reserve() else {
            return refuse(err(PROCESSING_ERROR, "the audit trail cannot record the page: send it again"));
        };
        let stored = match self.store.record_intake(intake).await {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(error = %e, "a wctp page could not be stored: refused, for its sender to send again");
                return refuse(err(PROCESSING_ERROR, "could not store the page: send it again"));
            }
        };
        let (alarm, duplicate) = match stored {
            IntakeOutcome::New { alarm } => (alarm, false),
            IntakeOutcome::Duplicate { alarm, answer: Some(a) } if a.split(' ').nth(1) == Some(print.as_str()) => {
                (alarm, true)
            }
            IntakeOutcome::Duplicate { alarm, .. } => {
                tracing::error!(
                    integration = %caller.integration.id,
                    "a wctp messageID was sent again with other content: refused, for the sender to number it anew"
                );
                let mut rec = self.audit.entry(Some(&actor), AuditAction::Alarm, Outcome::Denied);
                rec.detail = Some(format!("refused: wctp messageID already names alarm={}", alarm.id));
                slot.record(rec);
                return refuse(err(
                    FUNCTION_NOT_SUPPORTED,
                    "this messageID was already used for a different page: give each page its own messageID",
                ));
            }
            IntakeOutcome::Changed { .. }
            | IntakeOutcome::Ended { .. }
            | IntakeOutcome::UnknownAlarm
            | IntakeOutcome::Patient(_)
            | IntakeOutcome::Repeated { .. }
            | IntakeOutcome::Results { .. } => {
                return refuse(err(PROCESSING_ERROR, "the page could not be stored as a new alarm"));
            }
        };
        self.poke();
        let mut rec = self.audit.entry(Some(&actor), AuditAction::Alarm, Outcome::Success);
        rec.detail = Some(format!(
            "received alarm={} kind={} priority={} protocol={} duplicate={duplicate}",
            alarm.id,
            alarm.kind,
            alarm.priority,
            IntakeProtocol::Wctp
        ));
        slot.record(rec);
        WctpAnswer { xml: write::success("Accepted"), actor: Some(actor) }
    }
}

/// What a failed check of a key is answered with: a bad key `402`, a key without the scope or
/// of a revoked integration `401`; anything else (the rate limit, the store, the audit trail)
/// is this server's trouble, `500`, for the sender to send the page again.
fn auth_refusal(e: &crate::ServiceError) -> WctpError {
    match e {
        crate::ServiceError::Forbidden(_) => err(
            INVALID_SENDER,
            "the key is not valid for this sender: its integration is revoked or lacks the scope wctp",
        ),
        crate::ServiceError::UnknownToken => {
            err(INVALID_SECURITY_CODE, "the key is not valid for this sender: it is unknown, revoked or expired")
        }
        _ => err(PROCESSING_ERROR, "the page could not be taken now: send it again"),
    }
}

/// Parses a WCTP document off the async workers (a document is small and bounded, but its
/// parse is CPU work a hostile sender chooses).
///
/// # Errors
/// As [`wctp::parse`]; `500` if the blocking task could not run.
pub(crate) async fn parse_off_worker(bytes: Vec<u8>) -> Result<Operation, WctpError> {
    tokio::task::spawn_blocking(move || wctp::parse(&bytes))
        .await
        .unwrap_or_else(|_| Err(err(PROCESSING_ERROR, "the document could not be read now: send it again")))
}

/// An element name a sender chose, fit for an answer and the log.
fn quoted(s: &str) -> String {
    s.chars().take(40).map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '?' }).collect()
}

#[cfg(test)]
mod tests;
