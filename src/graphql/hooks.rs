//! The one async-graphql extension: every request-level hook in one place, calling
//! the modules that own each concern (limits, spec variable coercion, the executed
//! marker, usage). One extension rather than one per concern because async-graphql
//! runs every field of every response through each extension's `resolve` hook (a
//! boxed future each), used or not: the feed's few hundred fields paid that once per
//! extension.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextRequest, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Variables};

use super::limits::QueryLimits;
use super::outcome::Executed;
use super::spec_variables;
use super::usage::RequestUsage;
use crate::app::App;

pub(super) struct RequestHooks {
    pub(super) limits: QueryLimits,
}

impl ExtensionFactory for RequestHooks {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerRequest {
            limits: self.limits,
            operation_name: Mutex::default(),
            usage: RequestUsage::default(),
        })
    }
}

struct PerRequest {
    limits: QueryLimits,
    /// From `prepare_request`, for the hooks that do not see the request.
    operation_name: Mutex<Option<String>>,
    usage: RequestUsage,
}

#[async_graphql::async_trait::async_trait]
impl Extension for PerRequest {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        if let Some(app) = ctx.data_opt::<Arc<App>>() {
            self.usage.record(app, &response, started.elapsed());
        }
        response
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        self.usage.prepared(&request);
        if let Ok(mut name) = self.operation_name.lock() {
            name.clone_from(&request.operation_name);
        }
        // Parsed here so the limits run before async-graphql's own walks of the
        // document (see `QueryLimits::check_document`); a document that does not
        // parse is left to async-graphql, which reports it.
        self.limits.check_length(&request.query)?;
        self.limits.check_nesting(&request.query)?;
        let mut request = request;
        if let Ok(document) = async_graphql::parser::parse_query(&request.query) {
            self.limits.check_document(&document)?;
            request.set_parsed_query(document);
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let mut document = next.run(ctx, query, variables).await?;
        self.usage.parsed(&document);
        let name = self
            .operation_name
            .lock()
            .map(|name| name.clone())
            .unwrap_or_default();
        // Only requests over HTTP carry the marker: there a subscription is a request
        // the transport cannot serve, refused before it runs.
        if ctx.data_opt::<Executed>().is_some()
            && spec_variables::selected(&document, name.as_deref())
                .is_some_and(|op| op.node.ty == OperationType::Subscription)
        {
            return Err(ServerError::new(
                "subscriptions are served over WebSocket, at /graphql/ws",
                None,
            ));
        }
        spec_variables::apply(
            &ctx.schema_env.registry,
            &mut document,
            name.as_deref(),
            variables,
        )?;
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next
            .run(ctx)
            .await
            .map_err(|errors| self.limits.explain(errors));
        self.usage.validated(result.is_ok());
        result
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(executed) = ctx.data_opt::<Executed>() {
            executed.set();
        }
        next.run(ctx, operation_name).await
    }
}
