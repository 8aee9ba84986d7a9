//! The HTTP face: routes, layers, and the mapping of request-level failures to
//! GraphQL-shaped errors. The schema itself lives in `graphql`.

mod auth;
mod graphql;
mod guards;
mod health;
mod linger;
mod media;
mod negotiate;
mod params;
mod request_id;
mod server;
mod socket_limits;
mod web;
mod websocket;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::app::App;
use crate::error::Error;
use crate::graphql::{AppSchema, HttpGraphql, build_websocket_schema};

pub use server::serve;
pub use web::is_built as web_assets_built;

#[derive(Clone)]
pub struct HttpState {
    pub app: Arc<App>,
    pub graphql: HttpGraphql,
    /// The same schema with per-operation request ids, for WebSockets.
    pub websocket_schema: AppSchema,
    /// Cancelled when the server begins to shut down: WebSockets close with 1001.
    pub shutdown: CancellationToken,
    /// `/readyz` and `/metrics` answers, reused for a second: probes and scrapers,
    /// however many, cost the database at most one query a second.
    pub health: Arc<health::Checks>,
    /// Open WebSockets per client address and per user, for their caps.
    sockets: Arc<socket_limits::SocketCounts>,
}

pub fn router(app: Arc<App>, shutdown: CancellationToken) -> Router {
    let graphql = HttpGraphql::new(app.clone());
    let websocket_schema = build_websocket_schema(app.clone());
    let config = &app.config;
    // Everything but the WebSocket, whose connection outlives any timeout.
    let timed = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/media/{*path}", get(media::serve))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::prometheus))
        .merge(web::routes(&config.http.web_dir))
        .layer(middleware::from_fn_with_state(
            std::time::Duration::from_secs(config.http.request_timeout_secs),
            guards::timeout,
        ));
    Router::new()
        .route("/graphql/ws", get(websocket::websocket))
        .merge(timed)
        .layer(CatchPanicLayer::custom(|_| {
            graphql_error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal server error",
                crate::error::ErrorCode::InternalServerError,
            )
        }))
        .layer(middleware::from_fn_with_state(
            Arc::new(guards::security_headers(config)),
            guards::add_headers,
        ))
        .layer(TraceLayer::new_for_http())
        .layer(guards::cors(&config.http.cors_allowed_origins))
        .layer(middleware::from_fn(request_id::assign))
        .with_state(HttpState {
            app,
            graphql,
            websocket_schema,
            shutdown,
            health: Arc::default(),
            sockets: Arc::default(),
        })
}

/// A domain error refusing a whole request, in the GraphQL response shape, with a
/// `Retry-After` header when the error says when to retry.
pub fn error_response(status: StatusCode, err: &Error) -> Response {
    let body = errors_body(&crate::graphql::errors::request_error_from(err));
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Some(secs) = err.retry_after_secs() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// A request-level failure in the GraphQL response shape.
pub fn graphql_error_response(
    status: StatusCode,
    message: &str,
    code: crate::error::ErrorCode,
) -> Response {
    let body = errors_body(&crate::graphql::errors::request_error(message, code));
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The body of a request refused before execution: `errors` only, since GraphQL over
/// HTTP keeps `data` for requests that were executed.
fn errors_body(response: &async_graphql::Response) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Refused<'a> {
        errors: &'a [async_graphql::ServerError],
    }
    serde_json::to_vec(&Refused {
        errors: &response.errors,
    })
    .unwrap_or_default()
}
