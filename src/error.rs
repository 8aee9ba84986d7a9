//! The domain error: what went wrong, in terms a client can act on. Use cases,
//! loaders and resolvers all return it; `graphql::errors` is the one place it becomes
//! a GraphQL error and the only place codes are chosen.
//!
//! It deliberately does not implement `Display`: async-graphql converts any `Display`
//! type into an error carrying its text, which would let a resolver's `?` leak an
//! internal message. Without `Display`, the one conversion is `graphql::errors`, which
//! attaches `extensions.code` and hides internals. It is `Clone` (internal errors are
//! shared) because a DataLoader hands one failure to every waiter.

use std::fmt;
use std::sync::Arc;

use imagegraph_jobs::JobError;

#[derive(Debug, Clone)]
pub enum Error {
    BadInput(String),
    /// Bad input in one named input field (`extensions.field`: its name in the
    /// schema, e.g. `password`): `BAD_USER_INPUT` like `BadInput`.
    BadField {
        field: &'static str,
        message: String,
    },
    NotFound(&'static str),
    Unauthenticated,
    /// `login` refused: the same answer for an unknown name, a wrong password, a
    /// user without a password and a disabled user.
    WrongCredentials,
    Forbidden(String),
    PayloadTooLarge(String),
    UnsupportedMediaType(String),
    /// The AI provider failed or refused, or none is configured; the message is safe
    /// to show (provider messages are quoted, never our internals).
    AiProvider(String),
    /// This deployment has no AI provider able to do `feature` (the offline one
    /// cannot generate or plan): the same code as a provider failure, marked
    /// `extensions.reason = NOT_CONFIGURED` because retrying cannot help.
    AiNotConfigured {
        feature: &'static str,
    },
    /// A dependency (database, object storage) is unreachable for now: retry later.
    Unavailable(&'static str),
    /// The caller has used up its allowance; it may try again after `retry_after`.
    RateLimited {
        retry_after: std::time::Duration,
    },
    /// The owner has used up a quota: what it holds plus what was asked is more
    /// than the limit.
    QuotaExceeded(QuotaExceeded),
    /// Anything the client cannot fix. The message is logged, never sent.
    Internal(Arc<anyhow::Error>),
}

/// Which quota, and the figures a client needs to explain the refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaExceeded {
    /// `images`, `storedBytes` or `activeBenchmarkRuns`.
    pub quota: &'static str,
    pub used: u64,
    pub requested: u64,
    pub limit: u64,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The codes clients see in `extensions.code`: a closed set, so a code is never
/// spelled twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    BadUserInput,
    Unauthenticated,
    Forbidden,
    NotFound,
    RateLimited,
    QuotaExceeded,
    PayloadTooLarge,
    UnsupportedMediaType,
    AiProviderError,
    ServiceUnavailable,
    InternalServerError,
    /// Automatic Persisted Queries: the hash is not (or no longer) registered; send
    /// the query's text with it.
    PersistedQueryNotFound,
}

impl ErrorCode {
    pub const ALL: [Self; 12] = [
        Self::BadUserInput,
        Self::Unauthenticated,
        Self::Forbidden,
        Self::NotFound,
        Self::RateLimited,
        Self::QuotaExceeded,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::AiProviderError,
        Self::ServiceUnavailable,
        Self::InternalServerError,
        Self::PersistedQueryNotFound,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::RateLimited => "RATE_LIMITED",
            Self::QuotaExceeded => "QUOTA_EXCEEDED",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::AiProviderError => "AI_PROVIDER_ERROR",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::InternalServerError => "INTERNAL_SERVER_ERROR",
            Self::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
        }
    }
}

impl std::str::FromStr for ErrorCode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|code| code.as_str() == s)
            .ok_or_else(|| format!("unknown error code `{s}`"))
    }
}

impl Error {
    pub fn bad_input(msg: impl fmt::Display) -> Self {
        Self::BadInput(msg.to_string())
    }

    /// Bad input in the input field `field` (named in `extensions.field`).
    pub fn bad_field(field: &'static str, msg: impl fmt::Display) -> Self {
        Self::BadField {
            field,
            message: msg.to_string(),
        }
    }

    /// The input field a `BAD_USER_INPUT` is about, when it is about one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::BadField { field, .. } => Some(field),
            _ => None,
        }
    }

    pub fn forbidden(msg: impl fmt::Display) -> Self {
        Self::Forbidden(msg.to_string())
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadInput(_) | Self::BadField { .. } => ErrorCode::BadUserInput,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Unauthenticated | Self::WrongCredentials => ErrorCode::Unauthenticated,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            Self::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            Self::AiProvider(_) | Self::AiNotConfigured { .. } => ErrorCode::AiProviderError,
            Self::Unavailable(_) => ErrorCode::ServiceUnavailable,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::QuotaExceeded(_) => ErrorCode::QuotaExceeded,
            Self::Internal(_) => ErrorCode::InternalServerError,
        }
    }

    /// The message safe to show a client; internal errors are logged here, once.
    pub fn public_message(&self) -> String {
        match self {
            Self::BadInput(msg)
            | Self::BadField { message: msg, .. }
            | Self::Forbidden(msg)
            | Self::PayloadTooLarge(msg)
            | Self::UnsupportedMediaType(msg)
            | Self::AiProvider(msg) => msg.clone(),
            Self::AiNotConfigured { feature } => format!(
                "{feature} needs an AI provider: set OPENAI_API_KEY (or OPENAI_BASE_URL for an OpenAI-compatible server)"
            ),
            Self::NotFound(what) => format!("{what} not found"),
            Self::Unavailable(what) => format!("{what} is unavailable right now; retry shortly"),
            Self::RateLimited { .. } => format!(
                "too many requests; retry in {} s",
                self.retry_after_secs().unwrap_or(1)
            ),
            Self::Unauthenticated => {
                "authentication required: send `Authorization: Bearer <token>`".to_owned()
            }
            Self::WrongCredentials => "wrong name or password".to_owned(),
            Self::QuotaExceeded(q) => format!(
                "quota exceeded: {} would be {} of at most {}",
                q.quota,
                q.used.saturating_add(q.requested),
                q.limit
            ),
            Self::Internal(err) => {
                tracing::error!(error = ?err, "internal error");
                "internal server error".to_owned()
            }
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(Arc::new(err.into()))
    }
}

impl From<anyhow::Error> for Error {
    fn from(err: anyhow::Error) -> Self {
        Self::internal(err)
    }
}

impl Error {
    /// Whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::RateLimited { .. })
    }

    /// Whole seconds to wait before retrying, rounded up, when the error says.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after } => {
                Some(retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0))
            }
            _ => None,
        }
    }
}

impl From<diesel::result::Error> for Error {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as E};
        match err {
            E::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            )
            | E::BrokenTransactionManager => {
                tracing::warn!(error = %err, "database connection lost");
                Self::Unavailable("the database")
            }
            other => Self::internal(other),
        }
    }
}

impl From<imagegraph_db::PoolError> for Error {
    fn from(err: imagegraph_db::PoolError) -> Self {
        // The pool only fails when no connection can be had: the database is away.
        tracing::warn!(error = %err, "no database connection");
        Self::Unavailable("the database")
    }
}

impl From<object_store::Error> for Error {
    fn from(err: object_store::Error) -> Self {
        use object_store::Error as E;
        match err {
            E::NotFound { .. }
            | E::AlreadyExists { .. }
            | E::Precondition { .. }
            | E::NotModified { .. } => Self::internal(err),
            other => {
                tracing::warn!(error = %other, "object storage failed");
                Self::Unavailable("the object storage")
            }
        }
    }
}

impl From<imagegraph_imaging::ImageError> for Error {
    fn from(err: imagegraph_imaging::ImageError) -> Self {
        use imagegraph_imaging::ImageError as E;
        match err {
            E::TooLarge(msg) => Self::PayloadTooLarge(msg),
            E::Unsupported(msg) => Self::UnsupportedMediaType(msg),
            E::Invalid(msg) => Self::BadInput(msg),
            E::Encode(msg) => Self::internal(anyhow::anyhow!(msg)),
        }
    }
}

/// Whether a failed use case is worth another attempt: only when the failure is
/// ours and passing (a dependency away, a rate limit, an internal error); what the
/// data itself refuses (not found, forbidden, bad input) fails the same way again.
impl From<Error> for JobError {
    fn from(err: Error) -> Self {
        let message = err.public_message();
        match err {
            Error::Unavailable(_) | Error::Internal(_) => JobError::retry(message),
            Error::RateLimited { retry_after } => JobError::Retry {
                message,
                after: Some(retry_after),
            },
            Error::BadInput(_)
            | Error::BadField { .. }
            | Error::NotFound(_)
            | Error::Unauthenticated
            | Error::WrongCredentials
            | Error::Forbidden(_)
            | Error::PayloadTooLarge(_)
            | Error::UnsupportedMediaType(_)
            | Error::AiProvider(_)
            | Error::AiNotConfigured { .. }
            | Error::QuotaExceeded(_) => JobError::Permanent(message),
        }
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(err: tokio::task::JoinError) -> Self {
        Self::internal(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_and_unknown_ones_fail() {
        for code in ErrorCode::ALL {
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(code));
        }
        assert!("NOT_A_CODE".parse::<ErrorCode>().is_err());
    }

    #[test]
    fn jobs_retry_only_passing_failures() {
        assert!(matches!(
            JobError::from(Error::Unavailable("the database")),
            JobError::Retry { .. }
        ));
        assert!(matches!(
            JobError::from(Error::RateLimited {
                retry_after: std::time::Duration::from_secs(3)
            }),
            JobError::Retry { after: Some(_), .. }
        ));
        assert!(matches!(
            JobError::from(Error::NotFound("image")),
            JobError::Permanent(_)
        ));
        assert!(matches!(
            JobError::from(Error::forbidden("no")),
            JobError::Permanent(_)
        ));
    }
}
