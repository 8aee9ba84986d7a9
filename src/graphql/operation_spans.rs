//! With traces on, a `graphql_operation` span per operation, named after its type and
//! name (`query feed`), never its variables; resolvers' statements and storage calls
//! are its children. Over a WebSocket the operation's span is made in `request_ids`
//! (with the operation's own id); the name and type are recorded on it the same way.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Response, ServerResult, Variables};
use tracing::{Instrument as _, Span};

use crate::traces;

/// Longest operation name put on a span; clients choose names.
const MAX_NAME: usize = 64;

pub(crate) struct OperationSpans;

impl ExtensionFactory for OperationSpans {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationSpan::default())
    }
}

#[derive(Default)]
struct OperationSpan {
    /// The document's operations, by name, for `execute` to pick the one that runs.
    operations: Mutex<Vec<(Option<String>, &'static str)>>,
}

fn kind(ty: OperationType) -> &'static str {
    match ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

fn record(name: Option<&str>, ty: &'static str) {
    let span = Span::current();
    let name: String = name.unwrap_or("anonymous").chars().take(MAX_NAME).collect();
    span.record("graphql.operation.type", ty);
    span.record("otel.name", format!("{ty} {name}").as_str());
    span.record("graphql.operation.name", name.as_str());
}

#[async_graphql::async_trait::async_trait]
impl Extension for OperationSpan {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        if !traces::enabled() {
            return next.run(ctx).await;
        }
        let span = tracing::info_span!(
            "graphql_operation",
            graphql.operation.name = tracing::field::Empty,
            graphql.operation.type = tracing::field::Empty,
            otel.name = tracing::field::Empty,
        );
        next.run(ctx).instrument(span).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if traces::enabled() {
            match &document.operations {
                // Subscriptions never reach `execute`: a lone operation is named here.
                DocumentOperations::Single(op) => record(None, kind(op.node.ty)),
                DocumentOperations::Multiple(ops) => {
                    let mut operations = self
                        .operations
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    operations.extend(
                        ops.iter()
                            .map(|(name, op)| (Some(name.to_string()), kind(op.node.ty))),
                    );
                    if let [(name, ty)] = operations.as_slice() {
                        record(name.as_deref(), ty);
                    }
                }
            }
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if traces::enabled() {
            let known = self
                .operations
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .find(|(name, _)| name.as_deref() == operation_name)
                .map(|(_, ty)| *ty);
            match known {
                Some(ty) => record(operation_name, ty),
                // A single operation: its type is recorded; the name is the request's.
                None => {
                    if let Some(name) = operation_name {
                        let name: String = name.chars().take(MAX_NAME).collect();
                        Span::current().record("graphql.operation.name", name.as_str());
                    }
                }
            }
        }
        next.run(ctx, operation_name).await
    }
}
