use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::{HttpState, error_response, graphql_error_response};
use crate::app::App;
use crate::use_cases::users::{self, Authenticated};

/// The address a request comes from: the peer, or with TRUST_FORWARDED_FOR the last
/// `X-Forwarded-For` entry, the one our own proxy appended (earlier entries are the
/// client's to forge).
#[derive(Clone, Copy)]
pub(super) struct ClientAddr(pub IpAddr);

impl FromRequestParts<HttpState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Infallible> {
        if state.app.config.http.trust_forwarded_for {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse().ok());
            if let Some(addr) = forwarded {
                return Ok(Self(addr));
            }
        }
        // Without connect info (a router served some other way) all callers share one
        // address, and so one anonymous allowance.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |info| info.0.ip());
        Ok(Self(peer))
    }
}

/// The user behind `Authorization: Bearer <token>`. No header means an anonymous
/// request (introspection still works); a header with a bad token is refused whole,
/// so a typo in a token is never mistaken for anonymity. Requests without a valid
/// token draw on their address's allowance, which bounds token guessing too.
pub(super) async fn authenticate(
    app: &App,
    headers: &HeaderMap,
    client: &ClientAddr,
) -> Result<Option<Authenticated>, Response> {
    let outcome = match headers.get(header::AUTHORIZATION) {
        None => Ok(None),
        Some(value) => authenticate_value(app, value.to_str().unwrap_or_default()).await,
    };
    if !matches!(outcome, Ok(Some(_))) {
        charge_anonymous(app, client)
            .map_err(|err| error_response(StatusCode::TOO_MANY_REQUESTS, &err))?;
    }
    outcome
}

/// Takes one token from the address's allowance for requests without a valid token.
pub(super) fn charge_anonymous(app: &App, client: &ClientAddr) -> Result<(), crate::error::Error> {
    app.limits.anonymous.take(client.0)
}

/// The user a `Bearer` value names. A value that names nobody is refused with 401.
pub(super) async fn authenticate_value(
    app: &App,
    value: &str,
) -> Result<Option<Authenticated>, Response> {
    let unauthorized = |msg: &str| {
        graphql_error_response(
            StatusCode::UNAUTHORIZED,
            msg,
            crate::error::ErrorCode::Unauthenticated,
        )
    };
    let Some(token) = value.strip_prefix("Bearer ").map(str::trim) else {
        return Err(unauthorized(
            "the Authorization header must be `Bearer <token>`",
        ));
    };
    match users::authenticate(&app.db, &app.tokens, app.events.epoch(), token).await {
        Ok(Some(auth)) => Ok(Some(auth)),
        Ok(None) => Err(unauthorized("the token is not valid")),
        Err(err) => {
            let status = if err.is_retryable() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            Err(error_response(status, &err))
        }
    }
}
