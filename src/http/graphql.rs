use async_graphql::ParseRequestError;
use async_graphql::http::MultipartOptions;
use async_graphql::{BatchRequest, BatchResponse};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt as _;
use http_body_util::LengthLimitError;

use super::auth::{ClientAddr, authenticate};
use super::negotiate::ResponseType;
use super::{HttpState, error_response, errors_body, graphql_error_response};
use crate::error::ErrorCode;
use crate::graphql::errors::ensure_codes;
use crate::graphql::{Executed, prepare_request, selects_query};

/// Bodies up to this size are read without asking the body budget: it is for uploads.
const SMALL_BODY_BYTES: usize = 256 * 1024;

/// Files one multipart request may carry.
const MAX_FILES_PER_REQUEST: usize = 4;

/// POST: JSON (single or batched) or the GraphQL multipart request spec.
pub(super) async fn post(
    State(state): State<HttpState>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Every answer below may come before the body has been read.
    let body = super::linger::Lingering::wrap(body);
    let viewer = match authenticate(&state.app, &headers, &client).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let Some(kind) = ResponseType::negotiate(&headers) else {
        return not_acceptable();
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let essence = content_type
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if !matches!(
        essence.as_deref(),
        Some("application/json" | "multipart/form-data")
    ) {
        return graphql_error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send GraphQL requests as `application/json`, or uploads as `multipart/form-data`",
            ErrorCode::UnsupportedMediaType,
        );
    }
    let config = &state.app.config;
    // Room for the largest file as base64 inside JSON, plus the rest of the request.
    let body_limit = config.images.max_upload_bytes / 3 * 4 + (1 << 20);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > body_limit) {
        return too_large(body_limit);
    }
    // A large body is held three times over before any pixel work is admitted (as
    // read, as the parsed base64 string, decoded): its room is taken before reading.
    let expected = declared.unwrap_or(body_limit);
    let _room = if expected > SMALL_BODY_BYTES {
        // Capped at the whole pool: any body within the size limit is served, alone
        // if need be.
        let room = (expected as u64 * 3).min(state.app.bodies.capacity());
        match state.app.bodies.acquire(room).await {
            Ok(room) => Some(room),
            Err(err @ crate::error::Error::PayloadTooLarge(_)) => {
                return error_response(StatusCode::PAYLOAD_TOO_LARGE, &err);
            }
            Err(err) => return error_response(StatusCode::SERVICE_UNAVAILABLE, &err),
        }
    } else {
        None
    };
    let limited = Body::new(http_body_util::Limited::new(body, body_limit));
    let batch = if essence.as_deref() == Some("application/json") {
        let bytes = match http_body_util::BodyExt::collect(limited).await {
            Ok(collected) => collected.to_bytes(),
            Err(err) => {
                let err = err.into_inner();
                if err.is::<LengthLimitError>() {
                    return too_large(body_limit);
                }
                tracing::debug!(error = %err, "reading a GraphQL request body");
                return refuse(kind, "the request body could not be read");
            }
        };
        match super::params::from_json(&bytes) {
            Ok(batch) => batch,
            Err(message) => return refuse(kind, &message),
        }
    } else {
        match read_multipart(limited, content_type, config, body_limit, kind).await {
            Ok(batch) => batch,
            Err(response) => return response,
        }
    };
    // async-graphql turns the file count into a byte budget only; the count is ours.
    let files: usize = batch.iter().map(|request| request.uploads.len()).sum();
    if files > MAX_FILES_PER_REQUEST {
        return refuse(
            kind,
            &format!("the request carries {files} files; the limit is {MAX_FILES_PER_REQUEST}"),
        );
    }
    match batch {
        BatchRequest::Single(request) => {
            let executed = Executed::default();
            let request =
                prepare_request(request, &state.app, viewer, client.0).data(executed.clone());
            let response = state.graphql.execute(request).await;
            respond(kind, BatchResponse::Single(response), executed.get())
        }
        BatchRequest::Batch(requests) if requests.len() > config.graphql.max_batch_operations => {
            refuse(
                kind,
                &format!(
                    "the batch holds {} operations; the limit is {}",
                    requests.len(),
                    config.graphql.max_batch_operations
                ),
            )
        }
        BatchRequest::Batch(requests) => {
            let requests = requests
                .into_iter()
                .map(|r| {
                    prepare_request(r, &state.app, viewer.clone(), client.0)
                        .data(Executed::default())
                })
                .collect();
            // Each answer in a batch carries its own errors; the batch itself ran.
            let responses = state.graphql.execute_batch(requests).await;
            respond(kind, BatchResponse::Batch(responses), true)
        }
    }
}

/// The GraphQL multipart request spec, read by async-graphql within our limits.
async fn read_multipart(
    body: Body,
    content_type: Option<&str>,
    config: &crate::config::Config,
    body_limit: usize,
    kind: ResponseType,
) -> Result<BatchRequest, Response> {
    let reader = body
        .into_data_stream()
        .map_err(|err| {
            let inner = err.into_inner();
            if inner.is::<LengthLimitError>() {
                std::io::Error::new(std::io::ErrorKind::FileTooLarge, "body too large")
            } else {
                std::io::Error::other(inner)
            }
        })
        .into_async_read();
    let options = MultipartOptions::default()
        .max_file_size(config.images.max_upload_bytes)
        .max_num_files(MAX_FILES_PER_REQUEST);
    async_graphql::http::receive_batch_body(content_type, reader, options)
        .await
        .map_err(|err| parse_error_response(kind, err, body_limit))
}

/// GET: queries only, from the query string, so they can be cached and bookmarked.
pub(super) async fn get(
    State(state): State<HttpState>,
    client: ClientAddr,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let viewer = match authenticate(&state.app, &headers, &client).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let Some(kind) = ResponseType::negotiate(&headers) else {
        return not_acceptable();
    };
    let mut request = match super::params::from_query_string(query.as_deref().unwrap_or_default()) {
        Ok(request) => request,
        Err(message) => return refuse(kind, &message),
    };
    let is_query = match selects_query(state.graphql.documents(), &mut request) {
        Ok(is_query) => is_query,
        Err(error) => {
            let response = async_graphql::Response::from_errors(vec![error]);
            return respond(kind, BatchResponse::Single(response), false);
        }
    };
    if !is_query {
        let mut response = graphql_error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "only queries can be sent with GET; send mutations with POST",
            ErrorCode::BadUserInput,
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let executed = Executed::default();
    let request = prepare_request(request, &state.app, viewer, client.0).data(executed.clone());
    let response = state.graphql.execute(request).await;
    respond(kind, BatchResponse::Single(response), executed.get())
}

/// The answer in the negotiated media type. A single request that never reached
/// execution is a request error: `errors` only, with the status the media type
/// gives it.
fn respond(kind: ResponseType, mut response: BatchResponse, executed: bool) -> Response {
    match &mut response {
        BatchResponse::Single(r) => ensure_codes(&mut r.errors),
        BatchResponse::Batch(rs) => rs.iter_mut().for_each(|r| ensure_codes(&mut r.errors)),
    }
    let (status, body) = match &response {
        BatchResponse::Single(r) if !executed => (kind.request_error_status(), errors_body(r)),
        _ => (
            StatusCode::OK,
            serde_json::to_vec(&response).unwrap_or_default(),
        ),
    };
    let mut http = (status, body).into_response();
    let headers = http.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(kind.content_type()),
    );
    if response.is_ok()
        && let Some(value) = response.cache_control().value()
        && let Ok(value) = HeaderValue::from_str(&value)
    {
        headers.insert(header::CACHE_CONTROL, value);
    }
    headers.extend(response.http_headers());
    http
}

/// A request that is not a GraphQL request at all (its JSON, its parameters): 400 in
/// either media type, unlike a document that fails to parse or validate.
fn refuse(kind: ResponseType, message: &str) -> Response {
    let mut response =
        graphql_error_response(StatusCode::BAD_REQUEST, message, ErrorCode::BadUserInput);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(kind.content_type()),
    );
    response
}

fn not_acceptable() -> Response {
    graphql_error_response(
        StatusCode::NOT_ACCEPTABLE,
        "GraphQL answers are `application/graphql-response+json` or `application/json`; \
         the Accept header allows neither",
        ErrorCode::BadUserInput,
    )
}

fn too_large(limit: usize) -> Response {
    graphql_error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the request body is larger than {limit} bytes"),
        ErrorCode::PayloadTooLarge,
    )
}

fn parse_error_response(kind: ResponseType, err: ParseRequestError, body_limit: usize) -> Response {
    match err {
        ParseRequestError::PayloadTooLarge => graphql_error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "an uploaded file is larger than the limit",
            ErrorCode::PayloadTooLarge,
        ),
        ParseRequestError::Io(io) if io.kind() == std::io::ErrorKind::FileTooLarge => {
            too_large(body_limit)
        }
        ParseRequestError::Io(io) => {
            tracing::debug!(error = %io, "reading a GraphQL request body");
            graphql_error_response(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
                ErrorCode::BadUserInput,
            )
        }
        ParseRequestError::UnsupportedBatch => refuse(kind, "batched requests are not supported"),
        other => refuse(kind, &format!("invalid GraphQL request: {other}")),
    }
}
