//! The one conversion from domain errors to GraphQL errors, and the code given to
//! errors async-graphql raises itself (parse, validation, input coercion).

use async_graphql::{ErrorExtensions as _, ServerError};

use crate::error::{Error, ErrorCode};

impl From<Error> for async_graphql::Error {
    fn from(err: Error) -> Self {
        to_graphql(&err)
    }
}

/// The message and code, `field` when bad input is about one input field, and
/// `retryable: true` when trying again later may work.
fn to_graphql(err: &Error) -> async_graphql::Error {
    let (code, retryable, retry_after) = (err.code(), err.is_retryable(), err.retry_after_secs());
    let field = err.field();
    let not_configured = match err {
        Error::AiNotConfigured { feature } => Some(*feature),
        _ => None,
    };
    let quota = match err {
        Error::QuotaExceeded(quota) => Some(*quota),
        _ => None,
    };
    async_graphql::Error::new(err.public_message()).extend_with(|_, ext| {
        ext.set("code", code.as_str());
        if let Some(field) = field {
            ext.set("field", field);
        }
        if let Some(feature) = not_configured {
            ext.set("reason", "NOT_CONFIGURED");
            ext.set("feature", feature);
        }
        if let Some(q) = quota {
            ext.set("quota", q.quota);
            ext.set("used", q.used);
            ext.set("requested", q.requested);
            ext.set("limit", q.limit);
        }
        if retryable {
            ext.set("retryable", true);
        }
        if let Some(secs) = retry_after {
            ext.set("retryAfter", secs);
        }
    })
}

/// Every error reaching a client carries a code. Errors without one come from
/// async-graphql's own checks of the request (syntax, unknown fields, wrong variable
/// types), which are all the client's to fix. Each also carries the request's id.
pub fn ensure_codes(errors: &mut [ServerError]) {
    tag_request_id(errors);
    for error in errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|ext| ext.get("code").is_some());
        if !has_code {
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", ErrorCode::BadUserInput.as_str());
        }
    }
}

/// Sets `extensions.requestId` on `errors` to the id of the request in hand, so a
/// client's report of a failure can be found in the log.
pub fn tag_request_id(errors: &mut [ServerError]) {
    if errors.is_empty() {
        return;
    }
    if let Some(id) = crate::request_id::current() {
        tag_with(errors, &id);
    }
}

/// Sets `extensions.requestId` on `errors` to `id`.
pub fn tag_with(errors: &mut [ServerError], id: &str) {
    for error in errors {
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("requestId", id);
    }
}

/// A whole-request error in the GraphQL response shape, for failures before execution.
pub fn request_error(message: &str, code: ErrorCode) -> async_graphql::Response {
    let mut err = ServerError::new(message, None);
    err.extensions
        .get_or_insert_with(Default::default)
        .set("code", code.as_str());
    let mut errors = vec![err];
    tag_request_id(&mut errors);
    async_graphql::Response::from_errors(errors)
}

/// The same for a domain error, through the one conversion (code, `retryAfter`).
pub fn request_error_from(err: &Error) -> async_graphql::Response {
    let converted = to_graphql(err);
    let mut server_error = ServerError::new(converted.message, None);
    server_error.extensions = converted.extensions;
    let mut errors = vec![server_error];
    tag_request_id(&mut errors);
    async_graphql::Response::from_errors(errors)
}
