use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::HttpState;
use crate::media::MediaUrlError;
use crate::storage::StorageKey;
use crate::usage::{Kind, Use};

/// Serves an object named by a signed URL. The signature is checked before the key
/// is even parsed, so unsigned requests learn nothing about what exists.
pub(super) async fn serve(
    State(state): State<HttpState>,
    Path(path): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let started = std::time::Instant::now();
    let response = respond(&state, &path, &query, &headers).await;
    let status = response.status();
    // Downloads carry no token: they are counted as anonymous API use.
    let failed = status.is_client_error() || status.is_server_error();
    state.app.usage.record(Use::new(
        Kind::Api,
        "media.download",
        None,
        started.elapsed(),
        failed,
    ));
    crate::telemetry::media_request(status.as_u16());
    response
}

async fn respond(
    state: &HttpState,
    path: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    let exp = query.get("exp").and_then(|e| e.parse::<u64>().ok());
    let (Some(exp), Some(sig)) = (exp, query.get("sig")) else {
        return (
            StatusCode::FORBIDDEN,
            "media URLs must be signed (exp, sig)",
        )
            .into_response();
    };
    match state.app.media.verify(path, exp, sig) {
        Ok(()) => {}
        Err(MediaUrlError::BadSignature) => {
            return (StatusCode::FORBIDDEN, "invalid signature").into_response();
        }
        Err(MediaUrlError::Expired) => {
            return (StatusCode::GONE, "this media URL has expired").into_response();
        }
    }
    let Some(key) = StorageKey::parse(path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let object = match state.app.storage.get(&key).await {
        Ok(object) => object,
        Err(object_store::Error::NotFound { .. }) => {
            return (StatusCode::NOT_FOUND, "not found").into_response();
        }
        Err(err) => {
            tracing::error!(error = %err, key = %path, "reading media object");
            return (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable").into_response();
        }
    };

    let etag = object
        .meta
        .e_tag
        .as_ref()
        .map(|tag| format!("\"{}\"", tag.trim_matches('"')));
    let mut response_headers = HeaderMap::new();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(key.format().content_type()),
    );
    response_headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(key.cache_control()),
    );
    response_headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(value) = etag.as_deref().and_then(|e| HeaderValue::from_str(e).ok()) {
        response_headers.insert(header::ETAG, value);
    }
    let not_modified = match (
        &etag,
        headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok()),
    ) {
        (Some(etag), Some(wanted)) => wanted
            .split(',')
            .any(|w| w.trim() == etag || w.trim() == "*"),
        _ => false,
    };
    if not_modified {
        return (StatusCode::NOT_MODIFIED, response_headers).into_response();
    }
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(object.meta.size));
    (
        StatusCode::OK,
        response_headers,
        Body::from_stream(object.into_stream()),
    )
        .into_response()
}
