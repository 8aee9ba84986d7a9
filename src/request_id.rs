//! Request ids: every HTTP request and every WebSocket operation has one. It is the
//! caller's `X-Request-Id` when that is short and plain, else the trace id of a
//! valid W3C `traceparent`, else a fresh one. It is sent back in `X-Request-Id` and
//! in `extensions.requestId` of every GraphQL error, carried by a span on every log
//! line of the request, and kept with the jobs the request enqueues.
//!
//! The id travels as the current [`imagegraph_jobs::Origin`], so that enqueueing a job
//! records it without use cases passing it along.

use axum::http::HeaderMap;
use imagegraph_jobs::Origin;

/// The header a request id comes in and goes out with.
pub const HEADER: &str = "x-request-id";

/// The longest request id taken from a caller; a longer one is replaced.
pub const MAX_LEN: usize = 128;

/// The id for a request with these headers.
pub fn from_headers(headers: &HeaderMap) -> String {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(id) = value(HEADER).filter(|id| is_valid(id)) {
        return id.to_owned();
    }
    if let Some(trace_id) = value("traceparent").and_then(trace_id) {
        return trace_id.to_owned();
    }
    generate()
}

/// Short and made of characters that are safe in a header, a log line and JSON;
/// anything else a caller sends is replaced, never echoed.
pub fn is_valid(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:+/=@".contains(&b))
}

/// The trace id of a valid W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`; later
/// versions may append fields), unless it is all zeros.
pub fn trace_id(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let valid = hex(version, 2)
        && version != "ff"
        && (version != "00" || parts.next().is_none())
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && trace.bytes().any(|b| b != b'0')
        && parent.bytes().any(|b| b != b'0');
    valid.then_some(trace)
}

/// A fresh id, shaped like a trace id (128 random bits in hex).
pub fn generate() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The id of the request in hand, if any.
pub fn current() -> Option<String> {
    Origin::current_request_id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_plain_ids_and_replaces_others() {
        for id in ["abc", "4bf92f3577b34da6a3ce929d0e0e4736", "req-1.2:3_x"] {
            assert!(is_valid(id), "{id}");
        }
        let long = "a".repeat(MAX_LEN + 1);
        for id in ["", "a b", "a\nb", "<script>", "é", long.as_str()] {
            assert!(!is_valid(id), "{id:?}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, "bad id".parse().unwrap());
        let id = from_headers(&headers);
        assert_eq!(id.len(), 32);
        assert_ne!(id, "bad id");
    }

    #[test]
    fn reads_the_trace_id_of_a_valid_traceparent() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(
            trace_id(&format!("00-{trace}-00f067aa0ba902b7-01")),
            Some(trace)
        );
        assert_eq!(
            trace_id(&format!("01-{trace}-00f067aa0ba902b7-01-x")),
            Some(trace)
        );
        for bad in [
            format!("00-{trace}-00f067aa0ba902b7-01-x"),
            format!("ff-{trace}-00f067aa0ba902b7-01"),
            format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32)),
            format!("00-{trace}-0000000000000000-01"),
            format!("00-{}-00f067aa0ba902b7-01", trace.to_uppercase()),
            "00-abc-def-01".to_owned(),
        ] {
            assert_eq!(trace_id(&bad), None, "{bad}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            format!("00-{trace}-00f067aa0ba902b7-01").parse().unwrap(),
        );
        assert_eq!(from_headers(&headers), trace);
        headers.insert(HEADER, "mine".parse().unwrap());
        assert_eq!(from_headers(&headers), "mine", "X-Request-Id comes first");
    }
}
