//! The layer that gives every request its id (see `crate::request_id`): a span with
//! the id around everything the request does, the id current for errors and
//! enqueued jobs, and `X-Request-Id` on the response.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use imagegraph_jobs::Origin;
use tracing::Instrument as _;

use crate::request_id;

/// The id of the HTTP request that opened a WebSocket, for the socket's span.
#[derive(Clone)]
pub(super) struct RequestId(pub String);

pub(super) async fn assign(mut request: Request, next: Next) -> Response {
    let id = request_id::from_headers(request.headers());
    let span = tracing::info_span!(
        "http_request",
        request_id = %id,
        method = %request.method(),
        // The path only: a query string may hold variables or a media signature.
        path = request.uri().path(),
    );
    request.extensions_mut().insert(RequestId(id.clone()));
    let header = HeaderValue::from_str(&id).expect("request ids are header-safe");
    let mut response = Origin::request(id)
        .scope(next.run(request))
        .instrument(span)
        .await;
    response.headers_mut().insert(request_id::HEADER, header);
    response
}
