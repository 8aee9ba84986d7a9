use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use super::HttpState;

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The process can serve: database and storage both answer.
pub async fn readyz(State(state): State<HttpState>) -> (StatusCode, Json<serde_json::Value>) {
    let (db, storage) = futures::join!(state.app.db.ping(), state.app.storage.ping());
    let status = |ok: bool| if ok { "ok" } else { "unavailable" };
    if let Err(err) = &db {
        tracing::warn!(error = %err, "readyz: database unavailable");
    }
    if let Err(err) = &storage {
        tracing::warn!(error = %err, "readyz: storage unavailable");
    }
    let ready = db.is_ok() && storage.is_ok();
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(json!({ "database": status(db.is_ok()), "storage": status(storage.is_ok()) })),
    )
}
