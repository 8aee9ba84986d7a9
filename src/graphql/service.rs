//! GraphQL over HTTP: two schemas over the same roots. async-graphql sends every field
//! of a response (and every list item) through the extensions' `resolve` hooks when a
//! schema has any extension, looking the field up in the registry and boxing a future
//! for it, used or not; with none it resolves the field directly. The request hooks
//! (`hooks.rs`) are needed only until a request is known good, so a request whose
//! document, operation name and variables already passed every check (a verdict in
//! `documents.rs`) runs on a schema without extensions, its hooks' work done here;
//! every other request runs on the schema with them, which records that verdict.

use std::sync::Arc;
use std::time::Instant;

use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{Request, Response};

use super::documents::Documents;
use super::outcome::Executed;
use super::usage::RequestUsage;
use super::{AppSchema, operation, persisted};
use crate::app::App;

#[derive(Clone)]
pub struct HttpGraphql {
    app: Arc<App>,
    /// With the request hooks (and operation spans when traces are on).
    hooked: AppSchema,
    /// No extension at all, and validation only of what variables can change
    /// (complexity, depth): what it runs passed the hooked schema's whole validation.
    bare: AppSchema,
    documents: Arc<Documents>,
}

impl HttpGraphql {
    pub fn new(app: Arc<App>) -> Self {
        let documents = Arc::new(Documents::from_config(&app.config));
        Self {
            hooked: super::schema(app.clone(), documents.clone(), super::Flavour::Http),
            bare: super::schema(app.clone(), documents.clone(), super::Flavour::Bare),
            documents,
            app,
        }
    }

    pub fn documents(&self) -> &Documents {
        &self.documents
    }

    /// Runs one request (prepared with `prepare_request` and an `Executed` marker).
    pub async fn execute(&self, mut request: Request) -> Response {
        // Spans are made by an extension: with traces on, everything takes the hooks.
        if crate::traces::enabled() {
            return self.hooked.execute(request).await;
        }
        // An over-long text is refused by the hooks before anything hashes it.
        if request.query.len() > self.app.config.graphql.max_query_bytes {
            return self.hooked.execute(request).await;
        }
        let started = Instant::now();
        if let Err(error) = persisted::resolve(&self.documents, &mut request) {
            let usage = RequestUsage::default();
            usage.prepared(&request);
            let response = Response::from_errors(vec![error]);
            usage.record(&self.app, &response, started.elapsed());
            return response;
        }
        let persisted::Persisted { key, register } = persisted::note(&mut request);
        let Some(entry) = self.documents.get(&key) else {
            return self.hooked.execute(request).await;
        };
        let name = request.operation_name.as_deref();
        if entry.verdict(name, &request.variables).is_none()
            || !runs_as_is(entry.document(), name, &request)
        {
            return self.hooked.execute(request).await;
        }
        // Its text came with its hash, and it passed before: registered.
        if register {
            entry.persist();
        }
        let usage = RequestUsage::default();
        usage.prepared(&request);
        usage.parsed(entry.document());
        usage.validated(true);
        if let Some(executed) = request
            .data
            .get(&std::any::TypeId::of::<Executed>())
            .and_then(|marker| marker.downcast_ref::<Executed>())
        {
            executed.set();
        }
        request.set_parsed_query(entry.document().clone());
        let response = self.bare.execute(request).await;
        usage.record(&self.app, &response, started.elapsed());
        response
    }

    /// Runs a batch, each request on its own as `execute` does, answers in order.
    pub async fn execute_batch(&self, requests: Vec<Request>) -> Vec<Response> {
        futures::future::join_all(requests.into_iter().map(|request| self.execute(request))).await
    }
}

/// Whether async-graphql will run the document for this request as the hooks would
/// have left it: the name selects a query or mutation, and no variable is left for
/// the hooks to fill with a default (`spec_variables`).
fn runs_as_is(document: &ExecutableDocument, name: Option<&str>, request: &Request) -> bool {
    operation::selected(document, name).is_some_and(|(_, operation)| {
        operation.node.ty != OperationType::Subscription
            && operation
                .node
                .variable_definitions
                .iter()
                .all(|definition| {
                    definition.node.default_value.is_some()
                        || request.variables.contains_key(&definition.node.name.node)
                })
    })
}
