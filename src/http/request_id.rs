//! The outermost layer: gives every request its id (see `crate::request_id`) and its
//! span, `http_request`, around everything the request does (continuing the caller's
//! trace from a W3C `traceparent` when traces are on); makes the id, and the span's
//! `traceparent`, current for errors and enqueued jobs; and answers `X-Request-Id`.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use imagegraph_jobs::Origin;
use tracing::Instrument as _;

use crate::{request_id, traces};

pub(super) async fn assign(request: Request, next: Next) -> Response {
    let id = request_id::from_headers(request.headers());
    let span = tracing::info_span!(
        "http_request",
        request_id = %id,
        method = %request.method(),
        // The path only: a query string may hold variables or a media signature.
        path = request.uri().path(),
        http.response.status_code = tracing::field::Empty,
    );
    if let Some(parent) = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
    {
        traces::continue_trace(&span, parent);
    }
    let origin = Origin {
        traceparent: traces::traceparent(&span),
        request_id: Some(id),
    };
    let header = HeaderValue::from_str(origin.request_id.as_deref().unwrap_or_default())
        .expect("request ids are header-safe");
    let mut response = origin
        .scope(next.run(request))
        .instrument(span.clone())
        .await;
    span.record(
        "http.response.status_code",
        u64::from(response.status().as_u16()),
    );
    response.headers_mut().insert(request_id::HEADER, header);
    response
}
