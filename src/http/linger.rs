//! Lingering reads of refused request bodies. A request refused before its body has
//! been read (declared too large, a file over the limit, JSON over the limit) is
//! answered at once; if the connection were then closed with the body still arriving,
//! the client, still writing, would see the connection reset instead of our answer.
//! So a body dropped before its end is read on in the background and thrown away, as
//! web servers' "lingering close" does, within bounds of bytes and time that cost us
//! a socket read loop, never memory.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use futures::StreamExt as _;
use hyper::body::{Frame, SizeHint};

/// Read and discarded at most, per refused body.
const LINGER_BYTES: usize = 64 << 20;
/// For at most this long.
const LINGER_TIME: Duration = Duration::from_secs(10);

/// A request body read on to its end in the background if dropped before it.
pub(super) struct Lingering(Option<Body>);

impl Lingering {
    pub(super) fn wrap(body: Body) -> Body {
        Body::new(Self(Some(body)))
    }
}

impl hyper::body::Body for Lingering {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.0.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.as_ref().is_none_or(hyper::body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.0
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), hyper::body::Body::size_hint)
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        let Some(body) = self.0.take() else { return };
        if hyper::body::Body::is_end_stream(&body) {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let mut chunks = body.into_data_stream();
                let drained = async {
                    let mut read = 0usize;
                    while let Some(Ok(chunk)) = chunks.next().await {
                        read += chunk.len();
                        if read > LINGER_BYTES {
                            break;
                        }
                    }
                };
                let _ = tokio::time::timeout(LINGER_TIME, drained).await;
            });
        }
    }
}
