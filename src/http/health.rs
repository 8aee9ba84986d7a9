use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use tokio::sync::Mutex;

use super::HttpState;

/// How long a readiness answer or a gauge sample is reused.
const REUSE_FOR: Duration = Duration::from_secs(1);

/// The last readiness answer and the last gauge sample, with when they were made.
/// Callers arriving while one is being made wait for it (the lock is held across the
/// check), so a burst costs one check.
#[derive(Default)]
pub struct Checks {
    readiness: Mutex<Option<(Instant, StatusCode, serde_json::Value)>>,
    sampled: Mutex<Option<Instant>>,
}

/// The process is up.
pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// The process can serve: database and storage both answer.
pub(super) async fn readyz(
    State(state): State<HttpState>,
) -> (StatusCode, Json<serde_json::Value>) {
    let mut last = state.health.readiness.lock().await;
    if let Some((at, code, body)) = &*last
        && at.elapsed() < REUSE_FOR
    {
        return (*code, Json(body.clone()));
    }
    let (code, body) = check_readiness(&state).await;
    *last = Some((Instant::now(), code, body.clone()));
    (code, Json(body))
}

async fn check_readiness(state: &HttpState) -> (StatusCode, serde_json::Value) {
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
    (code, body)
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
        let given = given.and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
        if !same_secret(given, token) {
            return (StatusCode::UNAUTHORIZED, "a bearer token is required").into_response();
        }
    }
    {
        let mut sampled = state.health.sampled.lock().await;
        if sampled.is_none_or(|at| at.elapsed() >= REUSE_FOR) {
            crate::telemetry::sample(&state.app.db).await;
            *sampled = Some(Instant::now());
        }
    }
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

/// Compares two secrets in time that does not depend on where they differ: their
/// digests are compared whole.
fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (Sha256::digest(given), Sha256::digest(expected));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |diff, (x, y)| diff | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_compare_by_content() {
        assert!(same_secret("scrape-secret", "scrape-secret"));
        assert!(!same_secret("scrape-secreT", "scrape-secret"));
        assert!(!same_secret("", "scrape-secret"));
    }
}
