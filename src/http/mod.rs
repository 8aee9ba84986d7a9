//! The HTTP face: routes, layers, and the mapping of request-level failures to
//! GraphQL-shaped errors. The schema itself lives in `graphql`.

mod auth;
mod graphql;
mod health;
mod media;

use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::CorsLayer;
use tower_http::trace::TraceLayer;

use crate::app::App;
use crate::graphql::{AppSchema, build_schema};

#[derive(Clone)]
pub struct HttpState {
    pub app: Arc<App>,
    pub schema: AppSchema,
    /// Cancelled when the server begins to shut down: WebSockets close with 1001.
    pub shutdown: CancellationToken,
}

pub fn router(app: Arc<App>, shutdown: CancellationToken) -> Router {
    let schema = build_schema(app.clone());
    Router::new()
        .route("/", get(graphql::graphiql))
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(graphql::websocket))
        .route("/media/{*path}", get(media::serve))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::prometheus))
        .layer(CatchPanicLayer::custom(|_| {
            graphql_error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal server error",
                "INTERNAL_SERVER_ERROR",
            )
        }))
        .layer(TraceLayer::new_for_http())
        // Bearer tokens, not cookies, authenticate: any origin may call the API.
        .layer(CorsLayer::permissive())
        .with_state(HttpState {
            app,
            schema,
            shutdown,
        })
}

/// A request-level failure in the GraphQL response shape.
pub fn graphql_error_response(status: StatusCode, message: &str, code: &str) -> Response {
    let body = serde_json::to_vec(&crate::graphql::errors::request_error(message, code))
        .unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
