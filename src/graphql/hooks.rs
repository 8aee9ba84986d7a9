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
use async_graphql::parser::types::ExecutableDocument;
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
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        self.limits.check_length(query)?;
        let mut document = next.run(ctx, query, variables).await?;
        self.limits.check_document(&document)?;
        self.usage.parsed(&document);
        let name = self
            .operation_name
            .lock()
            .map(|name| name.clone())
            .unwrap_or_default();
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
