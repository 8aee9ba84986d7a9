//! Where a job came from: the request that enqueued it. It is kept with the job, so
//! the job's log lines carry the request's id and its trace continues the request's.
//!
//! The origin travels as a task-local rather than as an argument: whoever serves a
//! request scopes it once (the HTTP layer, a runner for the jobs it runs), and every
//! [`crate::enqueue`] inside picks it up, however deep the use case that enqueues.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;

tokio::task_local! {
    static CURRENT: Origin;
}

/// The request a piece of work belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The request id (`X-Request-Id`), as logged.
    pub request_id: Option<String>,
    /// The W3C `traceparent` of the span that enqueued the job, when tracing is on.
    pub traceparent: Option<String>,
}

impl Origin {
    /// An origin with a request id and no trace.
    pub fn request(request_id: impl Into<String>) -> Self {
        Self {
            request_id: Some(request_id.into()),
            traceparent: None,
        }
    }

    /// The origin of the work in hand; empty outside any request.
    pub fn current() -> Self {
        CURRENT.try_with(Clone::clone).unwrap_or_default()
    }

    /// The current request id, without cloning the rest.
    pub fn current_request_id() -> Option<String> {
        CURRENT
            .try_with(|origin| origin.request_id.clone())
            .ok()
            .flatten()
    }

    /// Runs `future` as work of this origin.
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        CURRENT.scope(self, future).await
    }

    /// Polls `stream` as work of this origin (a subscription: one origin, many polls).
    pub fn scope_stream<S: Stream + Unpin>(self, stream: S) -> Scoped<S> {
        Scoped {
            origin: self,
            stream,
        }
    }
}

/// A stream polled within an [`Origin`]; see [`Origin::scope_stream`].
pub struct Scoped<S> {
    origin: Origin,
    stream: S,
}

impl<S: Stream + Unpin> Stream for Scoped<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        // Subscriptions are polled seldom: a clone per poll costs nothing worth saving.
        let this = &mut *self;
        let stream = &mut this.stream;
        CURRENT.sync_scope(this.origin.clone(), || Pin::new(stream).poll_next(cx))
    }
}
