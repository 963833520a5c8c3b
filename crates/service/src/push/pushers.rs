//! [`PushService`] and its pushers: setting, deleting and listing a person's pushers
//! (`/pushers`, `/pushers/set`), each address checked by [`Allowed`], and the server's VAPID
//! public key for browsers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};
use wardline_store::{Pusher, PusherKind, Store};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::{Clock, StreamPos, Timestamp};

use super::address::Allowed;
use super::transport::{HttpTransport, PushTransport};
use super::vapid::Vapid;
use super::webpush;
use crate::audit::AuditService;
use crate::config::PushSettings;
use crate::core::Core;
use crate::escalation::EscalationService;
use crate::rooms::RoomService;
use crate::{Caller, ServiceError, ServiceResult};

/// Most pushers one person may have (each is one more request per message: a bound on what
/// one account can make the server send).
pub const MAX_PUSHERS: usize = 20;
/// Longest push key (the spec's limit).
const MAX_PUSHKEY: usize = 512;
/// Longest app id (the spec's limit).
const MAX_APP_ID: usize = 64;
/// Largest `data` object, as JSON.
const MAX_DATA: usize = 2048;
/// Longest display name, language or profile tag.
const MAX_NAME: usize = 256;

/// A `POST /pushers/set` body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SetPusher {
    /// The device's key: for Web Push the subscription's `p256dh` public key (base64url).
    pub pushkey: String,
    /// The application (reverse DNS).
    pub app_id: String,
    /// `http`, `webpush`, or `null` to delete the pusher.
    #[serde(default)]
    pub kind: Option<String>,
    /// The application's name.
    #[serde(default)]
    pub app_display_name: String,
    /// The device's name.
    #[serde(default)]
    pub device_display_name: String,
    /// Which device-specific rules apply.
    #[serde(default)]
    pub profile_tag: Option<String>,
    /// The language notifications are wanted in.
    #[serde(default)]
    pub lang: String,
    /// `url` (the gateway or the push endpoint), `format`, for Web Push `auth`.
    #[serde(default)]
    pub data: Map<String, Value>,
    /// Keep other accounts' pushers with the same app id and push key.
    #[serde(default)]
    pub append: bool,
}

/// Pushers and the delivery of push notifications.
pub struct PushService {
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) audit: AuditService,
    pub(super) rooms: Arc<RoomService>,
    pub(super) escalation: Arc<EscalationService>,
    /// Whom to push: the push rules' one answer.
    pub(super) rules: Arc<super::PushRuleService>,
    pub(super) settings: PushSettings,
    pub(super) allowed: Allowed,
    subject: String,
    transport: RwLock<Arc<dyn PushTransport>>,
    vapid: tokio::sync::OnceCell<Arc<Vapid>>,
    /// Woken when a message is sent.
    pub(super) wake: tokio::sync::Notify,
    /// The follower's position as last stored (`None`: not read yet).
    pub(super) cursor: Mutex<Option<StreamPos>>,
    /// The longest one attempt may take, in milliseconds ([`super::delivery::ATTEMPT_TIMEOUT`];
    /// tests shorten it).
    attempt_timeout_ms: AtomicU64,
    /// When finished notifications were last forgotten.
    pub(super) forgotten: Mutex<Option<Timestamp>>,
}

impl std::fmt::Debug for PushService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushService").field("allowed", &self.allowed).finish_non_exhaustive()
    }
}

impl PushService {
    /// The push service, sending through the real HTTP client.
    ///
    /// # Errors
    /// A listed gateway that is not a push gateway URL; no TLS client.
    pub fn new(
        core: &Core,
        settings: &PushSettings,
        rooms: Arc<RoomService>,
        escalation: Arc<EscalationService>,
        rules: Arc<super::PushRuleService>,
    ) -> ServiceResult<Self> {
        let subject =
            settings.vapid_subject.clone().unwrap_or_else(|| format!("mailto:postmaster@{}", core.server_name));
        Ok(Self {
            store: Arc::clone(&core.store),
            clock: Arc::clone(&core.clock),
            audit: core.audit.clone(),
            rooms,
            escalation,
            rules,
            settings: settings.clone(),
            allowed: Allowed::new(settings)?,
            subject,
            transport: RwLock::new(Arc::new(HttpTransport::new()?)),
            vapid: tokio::sync::OnceCell::new(),
            wake: tokio::sync::Notify::new(),
            cursor: Mutex::new(None),
            attempt_timeout_ms: AtomicU64::new(
                u64::try_from(super::delivery::ATTEMPT_TIMEOUT.as_millis()).unwrap_or(u64::MAX),
            ),
            forgotten: Mutex::new(None),
        })
    }

    /// The longest one attempt may take.
    pub(super) fn attempt_timeout(&self) -> Duration {
        Duration::from_millis(self.attempt_timeout_ms.load(Ordering::Relaxed))
    }

    /// Tests: attempts end after `limit`.
    #[cfg(test)]
    pub(super) fn set_attempt_timeout(&self, limit: Duration) {
        self.attempt_timeout_ms.store(u64::try_from(limit.as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Sends through `transport` from now on (tests).
    pub fn use_transport(&self, transport: Arc<dyn PushTransport>) {
        *self.transport.write().unwrap_or_else(PoisonError::into_inner) = transport;
    }

    pub(super) fn transport(&self) -> Arc<dyn PushTransport> {
        Arc::clone(&self.transport.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The server's VAPID key pair: the stored one, else a new one, stored.
    pub(super) async fn vapid(&self) -> ServiceResult<Arc<Vapid>> {
        self.vapid
            .get_or_try_init(|| async {
                let pkcs8 = self.store.vapid_key(Vapid::generate()?, self.clock.now()).await?;
                Ok::<_, ServiceError>(Arc::new(Vapid::from_pkcs8(&pkcs8, self.subject.clone())?))
            })
            .await
            .map(Arc::clone)
    }

    /// The VAPID public key browsers subscribe with (`applicationServerKey`), base64url; `None`
    /// when Web Push is not offered (no push service allowed).
    ///
    /// # Errors
    /// The store failed.
    pub async fn vapid_public_key(&self) -> ServiceResult<Option<String>> {
        if !self.allowed.webpush_enabled() {
            return Ok(None);
        }
        Ok(Some(self.vapid().await?.public_key()))
    }

    /// The caller's pushers.
    ///
    /// # Errors
    /// The store failed.
    pub async fn pushers(&self, caller: &Caller) -> ServiceResult<Vec<Pusher>> {
        Ok(self.store.pushers(&caller.user_id).await?)
    }

    /// Sets (or, with `kind: null`, deletes) one of the caller's pushers.
    ///
    /// # Errors
    /// [`ServiceError::InvalidParam`] for what is malformed, [`ServiceError::Forbidden`] for an
    /// address the configuration does not allow or one pusher too many.
    pub async fn set_pusher(&self, caller: &Caller, req: SetPusher) -> ServiceResult<()> {
        if req.pushkey.is_empty() || req.pushkey.len() > MAX_PUSHKEY {
            return Err(ServiceError::invalid(format!("pushkey must be 1 to {MAX_PUSHKEY} bytes")));
        }
        if req.app_id.is_empty() || req.app_id.len() > MAX_APP_ID {
            return Err(ServiceError::invalid(format!("app_id must be 1 to {MAX_APP_ID} bytes")));
        }
        let Some(kind) = req.kind.as_deref() else {
            let existed = self.store.delete_pusher(&caller.user_id, &req.app_id, &req.pushkey).await?;
            if existed {
                self.record(caller, format!("deleted app_id={}", req.app_id))?;
            }
            return Ok(());
        };
        let kind = PusherKind::parse(kind)
            .ok_or_else(|| ServiceError::invalid("kind must be \"http\", \"webpush\" or null (to delete)"))?;
        for (field, v) in [
            ("app_display_name", &req.app_display_name),
            ("device_display_name", &req.device_display_name),
            ("lang", &req.lang),
        ] {
            if v.is_empty() || v.len() > MAX_NAME {
                return Err(ServiceError::invalid(format!("{field} must be 1 to {MAX_NAME} bytes")));
            }
        }
        if req.profile_tag.as_ref().is_some_and(|t| t.len() > MAX_NAME) {
            return Err(ServiceError::invalid(format!("profile_tag must be at most {MAX_NAME} bytes")));
        }
        if Value::Object(req.data.clone()).to_string().len() > MAX_DATA {
            return Err(ServiceError::invalid(format!("data must be at most {MAX_DATA} bytes of JSON")));
        }
        self.check_address(kind, &req.pushkey, &req.data)?;
        let mine = self.store.pushers(&caller.user_id).await?;
        let replaces = mine.iter().any(|p| p.app_id == req.app_id && p.pushkey == req.pushkey);
        if !replaces && mine.len() >= MAX_PUSHERS {
            return Err(ServiceError::forbidden(format!(
                "you have {MAX_PUSHERS} pushers already: delete one (a device you no longer use) first"
            )));
        }
        let pusher = Pusher {
            user_id: caller.user_id.clone(),
            app_id: req.app_id,
            pushkey: req.pushkey,
            kind,
            app_display_name: req.app_display_name,
            device_display_name: req.device_display_name,
            profile_tag: req.profile_tag,
            lang: req.lang,
            data: req.data,
            device_id: Some(caller.device_id.clone()),
            created: self.clock.now(),
        };
        let detail = format!("set kind={} app_id={}", kind.as_str(), pusher.app_id);
        let app_id = pusher.app_id.clone();
        let removed = self.store.set_pusher(pusher, req.append).await?;
        self.record(caller, detail)?;
        // The spec's rule (a shared ward phone signs in as the next person): the same push key
        // set without `append` takes the device from whoever had it. Audited, naming them, so
        // nobody loses their pushes unseen.
        for owner in removed {
            let mut r = self.audit.entry(Some(&caller.actor()), AuditAction::Pusher, Outcome::Success);
            r.target_user = Some(owner.to_string());
            r.detail = Some(format!("removed app_id={app_id}: its push key was set by {}", caller.user_id));
            self.audit.record(r)?;
        }
        Ok(())
    }

    /// Is this pusher's address one the server may send to? Checked when it is set and again
    /// before every send.
    pub(super) fn check_address(
        &self,
        kind: PusherKind,
        pushkey: &str,
        data: &Map<String, Value>,
    ) -> ServiceResult<()> {
        let url = data
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| ServiceError::invalid("data.url is required (a string)"))?;
        match kind {
            PusherKind::Http => {
                match data.get("format") {
                    None | Some(Value::Null) => {}
                    Some(f) if f.as_str() == Some("event_id_only") => {}
                    Some(_) => return Err(ServiceError::invalid("data.format may only be \"event_id_only\"")),
                }
                self.allowed.gateway(url)
            }
            PusherKind::WebPush => {
                self.allowed.webpush_endpoint(url)?;
                let auth = data
                    .get("auth")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ServiceError::invalid("data.auth is required for a webpush pusher"))?;
                // A trial encryption checks that the key is a point on the curve.
                webpush::encrypt(pushkey, auth, b"{}").map(|_| ()).map_err(|e| ServiceError::invalid(e.to_string()))
            }
        }
    }

    fn record(&self, caller: &Caller, detail: String) -> ServiceResult<()> {
        let mut r = self.audit.entry(Some(&caller.actor()), AuditAction::Pusher, Outcome::Success);
        r.target_user = Some(caller.user_id.to_string());
        r.detail = Some(detail);
        self.audit.record(r)
    }
}
