use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use super::HttpState;

/// The process is up.
pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// The process can serve: database and storage both answer.
pub(super) async fn readyz(
    State(state): State<HttpState>,
) -> (StatusCode, Json<serde_json::Value>) {
    let (db, storage) = futures::join!(state.app.db.ping(), state.app.storage.ping());
    let status = |ok: bool| if ok { "ok" } else { "unavailable" };
    if let Err(err) = &db {
        tracing::warn!(error = %err, "readyz: database unavailable");
    }
    if let Err(err) = &storage {
        tracing::warn!(error = %err, "readyz: storage unavailable");
    }
    // Without its LISTEN connection a process would miss events for subscribers.
    let events = state.app.events.is_connected();
    let ready = db.is_ok() && storage.is_ok() && events;
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({ "database": status(db.is_ok()), "storage": status(storage.is_ok()), "events": status(events) });
    (code, Json(body))
}

/// Prometheus exposition; behind `METRICS_TOKEN` when one is configured.
pub(super) async fn prometheus(
    State(state): State<HttpState>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    if let Some(token) = &state.app.config.usage.metrics_token {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if given.and_then(|v| v.strip_prefix("Bearer ")) != Some(token.as_str()) {
            return (StatusCode::UNAUTHORIZED, "a bearer token is required").into_response();
        }
    }
    crate::telemetry::sample(&state.app.db).await;
    let body = crate::telemetry::handle().render();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
        .into_response()
}
