//! The one async-graphql extension: every request-level hook in one place, calling
//! the modules that own each concern (limits, spec variable coercion, the executed
//! marker, usage). One extension rather than one per concern because async-graphql
//! runs every field of every response through each extension's `resolve` hook (a
//! boxed future each), used or not: the feed's few hundred fields paid that once per
//! extension.
//!
//! A document seen before comes from the schema's cache (`documents.rs`): no parse,
//! no limits walk, and no validation when the operation name and variables match a
//! time it passed.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextRequest, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Variables};

use super::documents::{Cached, Documents};
use super::limits::QueryLimits;
use super::outcome::Executed;
use super::usage::RequestUsage;
use super::{operation, persisted, spec_variables};
use crate::app::App;

pub(super) struct RequestHooks {
    pub(super) limits: QueryLimits,
    pub(super) documents: Arc<Documents>,
}

impl ExtensionFactory for RequestHooks {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerRequest {
            limits: self.limits,
            documents: self.documents.clone(),
            operation_name: Mutex::default(),
            usage: RequestUsage::default(),
            document: Mutex::default(),
        })
    }
}

struct PerRequest {
    limits: QueryLimits,
    documents: Arc<Documents>,
    /// From `prepare_request`, for the hooks that do not see the request.
    operation_name: Mutex<Option<String>>,
    usage: RequestUsage,
    document: Mutex<DocumentState>,
}

/// Where this request's document comes from, between the hooks.
#[derive(Default)]
enum DocumentState {
    #[default]
    Parsed,
    /// From the cache, with validation's verdict when it is already known.
    Cached {
        entry: Arc<Cached>,
        verdict: Option<ValidationResult>,
        /// To remember with the verdict, when validation has to run.
        variables: Option<Variables>,
    },
    /// Parsed now; kept in the cache if validation passes.
    Pending {
        entry: Arc<Cached>,
        variables: Option<Variables>,
    },
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        let mut request = request;
        if let Ok(mut name) = self.operation_name.lock() {
            name.clone_from(&request.operation_name);
        }
        // Before the hash: an over-long text costs no SHA-256 of up to a whole body. A
        // text found by its hash passed this when it was registered.
        self.limits.check_length(&request.query)?;
        persisted::resolve(&self.documents, &mut request)?;
        let persisted::Persisted { key, register } = persisted::note(&mut request);
        // The same text passed the limits (and the parser's own checks) before.
        if let Some(entry) = self.documents.get(&key) {
            if register {
                entry.persist();
            }
            *lock(&self.document) = DocumentState::Cached {
                entry,
                verdict: None,
                variables: None,
            };
            return next.run(ctx, request).await;
        }
        // Parsed here so the limits run before async-graphql's own walks of the
        // document (see `QueryLimits::check_document`); a document that does not
        // parse is left to async-graphql, which reports it.
        self.limits.check_nesting(&request.query)?;
        if let Ok(document) = async_graphql::parser::parse_query(&request.query) {
            self.limits.check_document(&document)?;
            let entry = Cached::new(key, &request.query, document.clone());
            if register {
                entry.persist();
            }
            *lock(&self.document) = DocumentState::Pending {
                entry: Arc::new(entry),
                variables: None,
            };
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
        let name = self
            .operation_name
            .lock()
            .map(|name| name.clone())
            .unwrap_or_default();
        let cached = {
            let mut state = lock(&self.document);
            match &mut *state {
                DocumentState::Cached {
                    entry,
                    verdict,
                    variables: remembered,
                } => {
                    *verdict = entry.verdict(name.as_deref(), variables);
                    if verdict.is_none() && Cached::rememberable(name.as_deref(), variables) {
                        *remembered = Some(variables.clone());
                    }
                    Some(entry.document().clone())
                }
                DocumentState::Pending {
                    variables: remembered,
                    ..
                } => {
                    if Cached::rememberable(name.as_deref(), variables) {
                        *remembered = Some(variables.clone());
                    }
                    None
                }
                DocumentState::Parsed => None,
            }
        };
        let mut document = match cached {
            Some(document) => document,
            None => next.run(ctx, query, variables).await?,
        };
        self.usage.parsed(&document);
        // Only requests over HTTP carry the marker: there a subscription is a request
        // the transport cannot serve, refused before it runs.
        if ctx.data_opt::<Executed>().is_some()
            && operation::selected(&document, name.as_deref())
                .is_some_and(|(_, op)| op.node.ty == OperationType::Subscription)
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
        let state = std::mem::take(&mut *lock(&self.document));
        if let DocumentState::Cached {
            verdict: Some(verdict),
            ..
        } = state
        {
            self.usage.validated(true);
            return Ok(verdict);
        }
        let result = next
            .run(ctx)
            .await
            .map_err(|errors| self.limits.explain(errors));
        self.usage.validated(result.is_ok());
        if let Ok(verdict) = &result {
            let name = lock(&self.operation_name).clone();
            match state {
                DocumentState::Cached {
                    entry, variables, ..
                } => {
                    if let Some(variables) = variables {
                        entry.remember(name, variables, *verdict);
                    }
                }
                DocumentState::Pending { entry, variables } => {
                    if let Some(variables) = variables {
                        entry.remember(name, variables, *verdict);
                    }
                    self.documents.insert(entry);
                }
                DocumentState::Parsed => {}
            }
        }
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
