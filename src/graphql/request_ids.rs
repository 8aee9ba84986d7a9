//! An id of its own for each WebSocket operation (over HTTP the id is the request's,
//! set by the HTTP layer and put on errors by `errors::ensure_codes`): a fresh one,
//! on the operation's errors, with a span and origin of its own for as long as its
//! stream lives, so its log lines and the jobs it enqueues carry it.

use std::sync::Arc;

use async_graphql::Response;
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextSubscribe};
use futures::StreamExt as _;
use futures::stream::BoxStream;
use imagegraph_jobs::Origin;

use super::errors::tag_with;

pub(crate) struct RequestIds;

impl ExtensionFactory for RequestIds {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestIds)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for RequestIds {
    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let id = crate::request_id::generate();
        // The fields `operation_spans` records when traces are on.
        let span = tracing::info_span!(
            "graphql_operation",
            request_id = %id,
            graphql.operation.name = tracing::field::Empty,
            graphql.operation.type = tracing::field::Empty,
            otel.name = tracing::field::Empty,
        );
        let tagged = {
            let id = id.clone();
            next.run(ctx, stream).map(move |mut response| {
                tag_with(&mut response.errors, &id);
                response
            })
        };
        let mut scoped = Origin::request(id).scope_stream(tagged);
        futures::stream::poll_fn(move |cx| span.in_scope(|| scoped.poll_next_unpin(cx))).boxed()
    }
}
