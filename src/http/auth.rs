use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::graphql_error_response;
use crate::app::App;
use crate::db::models::User;
use crate::users;

/// The user behind `Authorization: Bearer <token>`. No header means an anonymous
/// request (introspection still works); a header with a bad token is refused whole,
/// so a typo in a token is never mistaken for anonymity.
pub async fn authenticate(app: &App, headers: &HeaderMap) -> Result<Option<User>, Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or_default();
    authenticate_value(app, value).await
}

pub async fn authenticate_value(app: &App, value: &str) -> Result<Option<User>, Response> {
    let unauthorized =
        |msg: &str| graphql_error_response(StatusCode::UNAUTHORIZED, msg, "UNAUTHENTICATED");
    let Some(token) = value.strip_prefix("Bearer ").map(str::trim) else {
        return Err(unauthorized(
            "the Authorization header must be `Bearer <token>`",
        ));
    };
    match users::authenticate(&app.db, token).await {
        Ok(Some(user)) => Ok(Some(user)),
        Ok(None) => Err(unauthorized("the token is not valid")),
        Err(err) => {
            let status = if err.is_retryable() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            Err(graphql_error_response(
                status,
                &err.public_message(),
                err.code(),
            ))
        }
    }
}
