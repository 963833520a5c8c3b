//! The service layer's errors. The HTTP edge maps each to a status code and Matrix `errcode`.

use thiserror::Error;
use wardline_store::StoreError;

/// Why a request could not be served.
#[derive(Debug, Error)]
pub enum ServiceError {
    /// No access token where one is needed.
    #[error("missing access token")]
    MissingToken,
    /// The access token is unknown or its session was ended.
    #[error("unknown access token")]
    UnknownToken,
    /// The access token expired; the client may refresh it (soft logout).
    #[error("the access token has expired")]
    TokenExpired,
    /// Wrong user name or password (never says which).
    #[error("invalid username or password")]
    InvalidCredentials,
    /// The account is deactivated.
    #[error("this account has been deactivated")]
    Deactivated,
    /// Not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// The password was right; now the second factor (`session` continues the sign-in).
    #[error("a second factor is required")]
    MfaRequired {
        /// Quote this back with the code.
        session: String,
    },
    /// The organisation requires a second factor and the user has none yet.
    #[error("set up a second factor (an authenticator app) before doing anything else")]
    MfaEnrolmentRequired,
    /// The user must set a new password first.
    #[error("you must change your one-time password before doing anything else")]
    PasswordChangeRequired,
    /// No such thing, or not visible to the caller.
    #[error("{0}")]
    NotFound(String),
    /// A parameter is malformed or out of range.
    #[error("{0}")]
    InvalidParam(String),
    /// The request body is not valid for this endpoint.
    #[error("{0}")]
    BadJson(String),
    /// The same reaction (sender, event type, key) to the same event twice.
    #[error("{0}")]
    DuplicateAnnotation(String),
    /// A thread rooted at an event that itself relates to another (the spec: `400 M_UNKNOWN`).
    #[error("{0}")]
    InvalidThreadRoot(String),
    /// Too many requests.
    #[error("too many requests")]
    RateLimited {
        /// When the client may try again.
        retry_after_ms: u64,
    },
    /// Username taken.
    #[error("user id already taken")]
    UserInUse,
    /// Username not allowed.
    #[error("{0}")]
    InvalidUsername(String),
    /// Password refused by the policy.
    #[error("{0}")]
    WeakPassword(String),
    /// Only this organisation's users can take part.
    #[error("{0}")]
    OutsideOrganisation(String),
    /// The room version is not offered.
    #[error("unsupported room version")]
    UnsupportedRoomVersion,
    /// User-interactive authentication is needed (or the last stage failed).
    #[error("additional authentication required")]
    AuthRequired(crate::uia::UiaChallenge),
    /// Too big (an upload over the size limit, an image over the pixel limit).
    #[error("{0}")]
    TooLarge(String),
    /// A media id was created but its content has not been uploaded yet.
    #[error("the content has not been uploaded yet")]
    NotYetUploaded,
    /// A media id already has its content.
    #[error("this media id already has content")]
    CannotOverwriteMedia,
    /// The code from the authenticator app (or the recovery code) is wrong or was used.
    #[error("that code is not right, or was already used: check the time on your phone and try the next code")]
    WrongSecondFactor,
    /// The token's session ended because its account was deactivated.
    #[error("your account has been deactivated, so this session has ended: ask your administrator")]
    SessionEndedDeactivated,
    /// The user may not hold this role (not named, and neither their job title nor their
    /// department is among those the role admits).
    #[error("{0}")]
    NotEligible(String),
    /// The role must not be left empty: leaving it needs a named eligible successor.
    #[error("{0}")]
    SuccessorRequired(String),
    /// The role is not in the state the request assumes (already held by them, not held by
    /// them, retired, its id taken).
    #[error("{0}")]
    RoleConflict(String),
    /// The colleague named as cover is on do-not-disturb themself.
    #[error("{0}")]
    CoverOnDnd(String),
    /// A push rule edit the spec refuses (placed relative to a server default, deleting one).
    #[error("{0}")]
    PushRule(String),
    /// An attempt to change one of Wardline's protected push rules (urgent, emergency,
    /// escalation), which nobody may mute.
    #[error("{0}")]
    ProtectedPushRule(String),
    /// One more of something the server caps per person (their own push rules): waiting does
    /// not help, removing one does. Not a rate limit: it carries no time to wait.
    #[error("{0}")]
    LimitExceeded(String),
    /// An integration account is not in the state the request assumes (its id taken, revoked).
    #[error("{0}")]
    IntegrationConflict(String),
    /// A source raised an alarm under an id it already used for a different alarm.
    #[error("{0}")]
    SourceIdReused(String),
    /// A source changed an alarm that had already ended otherwise (cancelling a reset one).
    #[error("{0}")]
    AlarmEnded(String),
    /// An alarm rule is not in the state the request assumes (it exists, or changed since it
    /// was read).
    #[error("{0}")]
    RuleConflict(String),
    /// An address the server may not send to (a webhook on a host the configuration does not
    /// list).
    #[error("{0}")]
    HostNotAllowed(String),
    /// The electronic patient record did not give what was asked (not configured, down,
    /// refused the credentials or the request).
    #[error("{0}")]
    Epr(#[from] crate::patients::EprError),
    /// The conversation is not about a patient, so it cannot be filed to a record.
    #[error("{0}")]
    NoPatient(String),
    /// The storage layer failed.
    #[error("storage failure")]
    Store(#[from] StoreError),
    /// Something that should not happen did.
    #[error("internal error: {0}")]
    Internal(String),
    /// The audit trail cannot be written (its queue is full or the store refuses it), so the
    /// action it would record is refused rather than done unaudited.
    #[error("the audit trail cannot be written at the moment, so this was not done; try again shortly")]
    AuditUnavailable {
        /// Why (for the log; never shown to clients).
        reason: String,
    },
}

impl ServiceError {
    /// Shorthand for [`ServiceError::Forbidden`].
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::Forbidden(msg.into())
    }

    /// Shorthand for [`ServiceError::NotFound`].
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::NotFound(msg.into())
    }

    /// Shorthand for [`ServiceError::InvalidParam`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidParam(msg.into())
    }
}

/// Result of a service call.
pub type ServiceResult<T> = Result<T, ServiceError>;
