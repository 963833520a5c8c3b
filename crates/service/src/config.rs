//! The server's settings, as one typed struct. Loading it in layers (defaults, TOML file,
//! `WARDLINE_*` environment, flags) is the binary's job; every field has a default, so an
//! empty configuration is a working one.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Everything that can be configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The Matrix server name: the part after `:` in user ids (`@nurse.jones:SERVER_NAME`).
    pub server_name: String,
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Directory holding the database (and, later, media).
    pub data_dir: PathBuf,
    /// The URL clients should use to reach this server, advertised in
    /// `/.well-known/matrix/client`. Defaults to `http://{listen}`.
    pub public_base_url: Option<String>,
    /// Largest accepted request body, in bytes.
    pub max_request_bytes: usize,
    /// Wait for the disk on every commit (`true`, the default) or only for the process
    /// (`false`: a machine crash may lose the last second of messages). Only for test servers.
    pub fsync: bool,
    /// Request rate limits.
    pub rate_limits: RateLimits,
    /// Sync behaviour.
    pub sync: SyncSettings,
    /// When presence expires.
    pub presence: PresenceSettings,
    /// Sign-in protection and session lifetimes.
    pub security: Security,
    /// Serve HTTPS directly (otherwise plain HTTP, for use behind a reverse proxy).
    pub tls: Tls,
    /// Uploaded files: limits and what is kept of them.
    pub media: MediaSettings,
    /// Where the audit trail's signed checkpoints are copied outside the data directory.
    pub audit: AuditSettings,
    /// Reverse proxies (CIDR ranges, `"10.0.0.0/8"`, `"192.0.2.7/32"`) whose
    /// `X-Forwarded-For` or `Forwarded` header names the client. From any other peer the header
    /// is ignored and the connection's address is the client's.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The header the trusted proxies set: `x-forwarded-for` or `forwarded` (RFC 7239). Only
    /// that one is read, so a client cannot slip in the other past a proxy that passes it on.
    pub forwarded_header: ForwardedHeader,
    /// HTTP connections.
    pub http: HttpSettings,
    /// The operational log (standard error).
    pub log: LogSettings,
    /// Prometheus metrics.
    pub metrics: MetricsSettings,
    /// Push notifications to phones (push gateways) and browsers (Web Push).
    pub push: PushSettings,
    /// Hospital systems: where their reports (webhooks) may go, and how they are retried.
    pub integrations: IntegrationSettings,
    /// HL7 v2 over MLLP: alarm reports and ADT from hospital systems.
    pub hl7: Hl7Settings,
    /// The electronic patient record (FHIR R4): finding patients, and filing conversations.
    pub epr: EprSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server_name: "localhost".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8008)),
            data_dir: PathBuf::from("wardline-data"),
            public_base_url: None,
            max_request_bytes: 1024 * 1024,
            fsync: true,
            rate_limits: RateLimits::default(),
            sync: SyncSettings::default(),
            presence: PresenceSettings::default(),
            security: Security::default(),
            tls: Tls::default(),
            media: MediaSettings::default(),
            audit: AuditSettings::default(),
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::default(),
            http: HttpSettings::default(),
            log: LogSettings::default(),
            metrics: MetricsSettings::default(),
            push: PushSettings::default(),
            integrations: IntegrationSettings::default(),
            hl7: Hl7Settings::default(),
            epr: EprSettings::default(),
        }
    }
}

/// A token bucket: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests allowed in a burst.
    pub burst: u32,
}

/// Rate limits per kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// `false` turns every limit off (for load tests).
    pub enabled: bool,
    /// Login attempts, per source address and per account.
    pub login: Bucket,
    /// Messages and other events sent, per user.
    pub messages: Bucket,
    /// Invitations, per user.
    pub invites: Bucket,
    /// Failed sign-ins across all accounts and addresses together (password spraying from
    /// many addresses): when it runs dry, a password sign-in waits unless it comes from an
    /// address one of the account's devices was last seen from.
    pub failed_logins: Bucket,
    /// Audit records of requests refused for an access token that names no session (unknown,
    /// expired, or ended), per source address: such requests cost nothing to send, so beyond
    /// this they are refused without a record.
    pub unknown_tokens: Bucket,
    /// Asks for a message's delivery and read status, per user: each loads the deliveries and
    /// receipts of every recipient.
    pub statuses: Bucket,
    /// Message searches, per user: a search over a busy hospital's history costs far more than
    /// a message.
    pub searches: Bucket,
    /// Asks for a message's relations (`/relations`), per user: a recursive one walks a whole
    /// thread's tree.
    pub relations: Bucket,
    /// Pages of `/notifications`, per user: each reads up to a few thousand messages and
    /// evaluates the user's push rules over them.
    pub notifications: Bucket,
    /// Calls of the integration API (alarms from hospital systems), per integration: generous,
    /// since an alarm storm must get through, but bounded, so a faulty system cannot swamp the
    /// server.
    pub integrations: Bucket,
    /// Requests to file messages to the patient's record, per user: each is written to the
    /// record by the server (up to 200 messages, files inline), so far fewer than messages.
    pub filings: Bucket,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            login: Bucket { per_second: 0.2, burst: 10 },
            messages: Bucket { per_second: 20.0, burst: 100 },
            invites: Bucket { per_second: 1.0, burst: 50 },
            failed_logins: Bucket { per_second: 0.5, burst: 300 },
            unknown_tokens: Bucket { per_second: 0.1, burst: 20 },
            statuses: Bucket { per_second: 2.0, burst: 30 },
            searches: Bucket { per_second: 1.0, burst: 30 },
            relations: Bucket { per_second: 5.0, burst: 60 },
            notifications: Bucket { per_second: 1.0, burst: 20 },
            integrations: Bucket { per_second: 50.0, burst: 500 },
            filings: Bucket { per_second: 0.2, burst: 20 },
        }
    }
}

/// Sync behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncSettings {
    /// Longest long-poll a client may ask for, in milliseconds.
    pub max_timeout_ms: u64,
    /// Timeline events per room when the filter sets no limit.
    pub default_timeline_limit: usize,
    /// How long a typing notification lasts when the client gives no timeout, in ms.
    pub max_typing_ms: u64,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self { max_timeout_ms: 60_000, default_timeline_limit: 10, max_typing_ms: 30_000 }
    }
}

/// When presence expires: online while a client syncs and its user is active, `unavailable`
/// after `idle_after_secs` without activity, `offline` after `offline_after_secs` without a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PresenceSettings {
    /// Seconds without activity (a message, a receipt, typing) after which an online user shows
    /// as away (`unavailable`).
    pub idle_after_secs: u64,
    /// Seconds without a sync from any of the user's clients after which they show as
    /// `offline`. Must be longer than the longest long-poll (`sync.max_timeout_ms`), which a
    /// connected client may spend waiting.
    pub offline_after_secs: u64,
}

impl Default for PresenceSettings {
    fn default() -> Self {
        Self { idle_after_secs: 300, offline_after_secs: 120 }
    }
}

/// Sign-in protection and session lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Security {
    /// Failed sign-ins in a row that lock an account.
    pub lockout_threshold: u32,
    /// How long a locked account stays locked, in minutes. With the threshold this bounds the
    /// guesses per hour against one account (10 every 15 minutes: at most 40 an hour).
    pub lockout_minutes: u64,
    /// Lifetime of an access token for clients that use refresh tokens, in minutes.
    pub access_token_minutes: u64,
    /// A session unused this long ends, in minutes.
    pub idle_timeout_minutes: u64,
    /// A session ends this long after sign-in whatever its use, in hours.
    pub session_lifetime_hours: u64,
    /// Who must sign in with a second factor (TOTP).
    pub mfa_required: MfaPolicy,
    /// The zxcvbn strength score (0 to 4) a new password needs.
    pub password_min_score: u8,
}

/// Who must use a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MfaPolicy {
    /// Nobody has to (anyone may).
    Off,
    /// Administrators.
    #[default]
    Admins,
    /// Everyone.
    Everyone,
}

impl Default for Security {
    fn default() -> Self {
        Self {
            lockout_threshold: 10,
            lockout_minutes: 15,
            access_token_minutes: 15,
            idle_timeout_minutes: 12 * 60,
            session_lifetime_hours: 30 * 24,
            mfa_required: MfaPolicy::Admins,
            password_min_score: crate::password::DEFAULT_MIN_SCORE,
        }
    }
}

/// HTTPS served by Wardline itself: TLS 1.2 and 1.3 only.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tls {
    /// PEM file with the certificate chain, leaf first.
    pub cert_file: Option<PathBuf>,
    /// PEM file with the private key.
    pub key_file: Option<PathBuf>,
}

impl Tls {
    /// Is HTTPS configured?
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some() && self.key_file.is_some()
    }
}

/// Uploaded files (photos, documents, voice notes, video).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaSettings {
    /// Largest file accepted, in bytes (larger uploads get `413 M_TOO_LARGE`).
    pub max_upload_bytes: u64,
    /// Bytes each user may keep uploaded in all.
    pub quota_bytes_per_user: u64,
    /// Largest image accepted, in pixels (width × height): decoding a small file that claims
    /// to be a huge image would otherwise exhaust memory.
    pub max_image_pixels: u64,
    /// Keep images' metadata (EXIF: camera, time, GPS position) instead of removing it.
    pub keep_image_metadata: bool,
    /// How long an id from `POST /_matrix/media/v1/create` waits for its upload, in minutes.
    pub unused_id_minutes: u64,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self {
            max_upload_bytes: 50 * 1024 * 1024,
            quota_bytes_per_user: 2 * 1024 * 1024 * 1024,
            max_image_pixels: 40_000_000,
            keep_image_metadata: false,
            unused_id_minutes: 24 * 60,
        }
    }
}

/// Copies of the audit trail's signed checkpoints kept outside the data directory (besides the
/// log, which carries each one as a `wardline-audit-checkpoint` line with the checkpoint in its
/// `checkpoint` field). Whoever can write the data directory can rewrite the trail and its
/// checkpoints there; these copies, with the public key kept elsewhere, let
/// `wardline audit verify` see it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    /// Also append every checkpoint, one JSON object a line, to this file (on another mount or
    /// a remote file system, where the server can append but whoever holds the data directory
    /// cannot rewrite). The server refuses to start if it cannot open it.
    pub checkpoint_file: Option<PathBuf>,
    /// Also `POST` every checkpoint as JSON to this `http://` or `https://` URL. Deliveries are
    /// retried until accepted (a 2xx answer), in order, without ever holding up the server;
    /// failures are logged.
    pub checkpoint_url: Option<String>,
}

/// The header trusted reverse proxies name the client in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

/// HTTP connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// How long a connection may take to send a request's headers, in seconds, counted from when
    /// it starts waiting for the request: a kept-alive connection idle this long is closed too.
    pub header_read_timeout_secs: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self { header_read_timeout_secs: 30 }
    }
}

/// The operational log, written to standard error. (Its filter is `WARDLINE_LOG`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// How each line is written.
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people: one line of text per event, coloured only when standard error is a terminal.
    #[default]
    Text,
    /// For log shippers: one JSON object per line, never coloured.
    Json,
}

/// Prometheus metrics, served on their own listener so they never share the address clients
/// reach: the figures (sign-in failures, queue depths) are for the hospital's monitoring, not
/// for the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Address to serve `GET /metrics` on (`"127.0.0.1:9464"`); unset (the default), no
    /// metrics are served. It asks for no token: bind it to loopback or to a management
    /// network that only the monitoring system reaches.
    pub listen: Option<SocketAddr>,
}

/// Push notifications. The server posts only to addresses listed here, so a member of staff
/// cannot make it send requests into the hospital's network (a pusher's URL is theirs to
/// choose). What is pushed carries ids and counts, never a message's text or a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushSettings {
    /// The Matrix push gateways pushers may use, as full URLs ending in
    /// `/_matrix/push/v1/notify` (`["https://push.example.nhs.uk/_matrix/push/v1/notify"]`); a
    /// pusher of kind `http` must name one of them exactly. Empty (the default): `http` pushers
    /// are refused. In the environment, a TOML array or one URL.
    #[serde(deserialize_with = "one_or_many")]
    pub gateway_urls: Vec<String>,
    /// The hosts Web Push subscriptions may point at (`https://` on port 443 only): the
    /// browsers' push services. `*.example.com` stands for any host under `example.com`. In the environment, a
    /// TOML array or one host.
    #[serde(deserialize_with = "one_or_many")]
    pub webpush_hosts: Vec<String>,
    /// For tests only: also allow `http://` Web Push endpoints, on any port, and gateways on a
    /// loopback address (`127.0.0.1`, `::1`), still only if listed above.
    pub allow_loopback_http: bool,
    /// The contact put in the VAPID claims (`sub`): a `mailto:` or `https:` URL push services can
    /// reach the operator at. Unset: `mailto:postmaster@` the server name.
    pub vapid_subject: Option<String>,
    /// Attempts to deliver one notification before it has failed for good (a failed push to
    /// someone an urgent message is escalating to moves its escalation on at once).
    pub max_attempts: u32,
    /// Seconds before the first retry; each later retry waits twice as long as the one before.
    pub first_retry_secs: u64,
}

impl Default for PushSettings {
    fn default() -> Self {
        Self {
            gateway_urls: Vec::new(),
            webpush_hosts: [
                "fcm.googleapis.com",
                "updates.push.services.mozilla.com",
                "*.notify.windows.com",
                "web.push.apple.com",
            ]
            .map(String::from)
            .to_vec(),
            allow_loopback_http: false,
            vapid_subject: None,
            max_attempts: 5,
            first_retry_secs: 10,
        }
    }
}

/// Hospital systems (integrations). Wardline reports alarms' statuses back to a system's webhook
/// only on a host listed here, so a system's key cannot aim the server into the hospital's
/// network. Reports are retried, doubling the wait, until acknowledged or too old.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntegrationSettings {
    /// The hosts webhooks may point at (`https://`, any port): exact names
    /// (`"nursecall.stmarys.nhs.example"`) or `*.domain` for any host under a domain
    /// (`"*.trust.nhs.example"`). Empty (the default): no webhook can be set. In the
    /// environment, a TOML array or one host.
    #[serde(deserialize_with = "one_or_many")]
    pub webhook_hosts: Vec<String>,
    /// For tests only: also allow `http://` webhooks on a loopback address (`127.0.0.1`,
    /// `::1`), still only if listed above.
    pub allow_loopback_http: bool,
    /// Seconds before a report that failed is tried again; each later retry waits twice as long
    /// as the one before, up to `max_retry_secs`.
    pub first_retry_secs: u64,
    /// The longest wait between two attempts, in seconds.
    pub max_retry_secs: u64,
    /// A report still not acknowledged this many hours after it was queued has failed for good
    /// (recorded in the audit trail and shown to administrators).
    pub give_up_hours: u64,
}

impl Default for IntegrationSettings {
    fn default() -> Self {
        Self {
            webhook_hosts: Vec::new(),
            allow_loopback_http: false,
            first_retry_secs: 5,
            max_retry_secs: 300,
            give_up_hours: 24,
        }
    }
}

/// HL7 v2 over MLLP (a TCP listener of its own): IHE PCD-04 alarm reports and ADT from the
/// systems bound to an integration (`PUT /_wardline/admin/v1/integrations/{id}/hl7`). A
/// message is stored before it is acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Hl7Settings {
    /// Address and port of the plain-TCP MLLP listener (`"0.0.0.0:2575"`); unset (the
    /// default), none. Keep it on the hospital's network, or use [`Self::tls_listen`].
    pub listen: Option<SocketAddr>,
    /// Address and port of the MLLP listener over TLS (`"0.0.0.0:2576"`; needs
    /// [`Self::tls_cert`] and [`Self::tls_key`]); unset (the default), none.
    pub tls_listen: Option<SocketAddr>,
    /// The TLS listener's certificate chain (PEM).
    pub tls_cert: Option<PathBuf>,
    /// The TLS listener's private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Set: clients of the TLS listener must present a certificate issued by one of these CAs
    /// (PEM), or the handshake fails (mutual TLS); an integration's binding may also pin its
    /// certificate (`client_cert_sha256`).
    pub tls_client_ca: Option<PathBuf>,
    /// Where PCD-05 alarm status (`ORA^R41`) may be sent: `host:port` entries (`*.domain:port`
    /// for the hosts under a domain). An integration's `status_address` must be one of them;
    /// checked when it is set and again before each send. Empty (the default): none.
    #[serde(deserialize_with = "one_or_many")]
    pub status_addresses: Vec<String>,
    /// The largest message taken, in bytes: a larger one is answered `AR` (`CR`), 207 "message
    /// too large", and its connection closed.
    pub max_message_bytes: usize,
    /// Connections open at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Connections open at once from one address: one host cannot take every slot.
    pub max_connections_per_address: usize,
    /// A connection that completes no message for this many seconds is closed (however many
    /// bytes it trickles meanwhile).
    pub idle_timeout_secs: u64,
    /// What Wardline calls itself in its acknowledgements (their `MSH-3`; `MSH-4` is the
    /// server name).
    pub application: String,
}

impl Default for Hl7Settings {
    fn default() -> Self {
        Self {
            listen: None,
            tls_listen: None,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            status_addresses: Vec::new(),
            max_message_bytes: 1024 * 1024,
            max_connections: 64,
            max_connections_per_address: 8,
            idle_timeout_secs: 300,
            application: "WARDLINE".into(),
        }
    }
}

/// The electronic patient record: any EPR that speaks FHIR R4. Unset `base_url` (the default):
/// no EPR, and patient search answers that none is configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EprSettings {
    /// The FHIR R4 base URL (`https://epr.trust.nhs.example/fhir/R4`).
    pub base_url: Option<String>,
    /// How Wardline authenticates to it.
    pub auth: EprAuth,
    /// Seconds one call to the EPR may take, connection included, before it counts as failed.
    pub timeout_secs: u64,
    /// A CA certificate (PEM) to trust for the EPR beside the public roots (a hospital's own CA).
    pub ca_file: Option<PathBuf>,
    /// The FHIR identifier system of the hospital number (MRN):
    /// `https://fhir.trust.nhs.example/Id/mrn`. Unset: search by hospital number is off.
    pub mrn_system: Option<String>,
    /// The assigning authority (`PID-3.4`) under which the ADT feed names patients by the same
    /// hospital number, so a patient found in the EPR is placed in the bed ADT last put them in.
    /// Unset: ward and bed come from the EPR's current encounter only.
    pub adt_authority: Option<String>,
    /// "Open in the EPR": the URL a patient's record opens at, with `{patient}` (the EPR's
    /// Patient id), `{nhs_number}`, `{mrn}` and `{encounter}` filled in (percent-encoded; an
    /// unknown one empty). A SMART launch URL or the EPR's own deep link. Unset: no link.
    pub launch_url: Option<String>,
    /// Filing: the largest file (image, document) sent inside a `Communication`, in bytes; a
    /// larger one is named (type, title, size) with a note that it stays in Wardline.
    pub max_attachment_bytes: u64,
    /// Filing: the most entries in one transaction Bundle (Medplum refuses conditional
    /// transactions of more than 8).
    pub max_bundle_entries: usize,
    /// Filing: hours a filing is retried while the record does not answer before it is
    /// refused (and audited) as never answered.
    pub give_up_hours: u64,
}

impl Default for EprSettings {
    fn default() -> Self {
        Self {
            base_url: None,
            auth: EprAuth::default(),
            timeout_secs: 10,
            ca_file: None,
            mrn_system: None,
            adt_authority: None,
            launch_url: None,
            max_attachment_bytes: 10 * 1024 * 1024,
            max_bundle_entries: 8,
            give_up_hours: 24,
        }
    }
}

/// How Wardline proves itself to the EPR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EprAuthMethod {
    /// No credentials (a test server).
    #[default]
    None,
    /// A fixed bearer token (`bearer_token`): for test systems.
    Bearer,
    /// SMART Backend Services: client credentials, proved by a JWT signed with
    /// `private_key_file`; the token is kept until it expires.
    Smart,
}

/// The EPR's credentials.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EprAuth {
    /// `none`, `bearer` or `smart`.
    pub method: EprAuthMethod,
    /// `bearer`: the token (better in `WARDLINE_EPR__AUTH__BEARER_TOKEN` than in the file).
    pub bearer_token: Option<String>,
    /// `smart`: the client id the EPR registered Wardline under.
    pub client_id: Option<String>,
    /// `smart`: the private key (PEM, PKCS#8): RSA (signs `RS384`) or EC P-384 (`ES384`). Its
    /// public half is what the EPR is given (`wardline epr jwks` prints it).
    pub private_key_file: Option<PathBuf>,
    /// `smart`: the key's id (`kid`), as in the JWK set the EPR holds.
    pub key_id: Option<String>,
    /// `smart`: the token endpoint; unset, read from the EPR's
    /// `.well-known/smart-configuration`.
    pub token_url: Option<String>,
    /// `smart`: the scopes asked for.
    pub scope: Option<String>,
}

impl std::fmt::Debug for EprAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EprAuth")
            .field("method", &self.method)
            .field("bearer_token", &self.bearer_token.as_ref().map(|_| "<hidden>"))
            .field("client_id", &self.client_id)
            .field("private_key_file", &self.private_key_file)
            .field("key_id", &self.key_id)
            .field("token_url", &self.token_url)
            .field("scope", &self.scope)
            .finish()
    }
}

/// A list given as a list, or as one string (an environment variable holding one URL).
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) if s.trim().is_empty() => Vec::new(),
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}
