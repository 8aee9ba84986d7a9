//! Records every GraphQL operation: its name (or `anonymous`) and type, the root fields
//! it called, who called it, how long it took, and the codes of any errors.

use std::sync::Mutex;
use std::time::Duration;

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection};
use async_graphql::{Request, Response};

use super::{Viewer, persisted};
use crate::app::App;
use crate::usage::{Kind, Use};

/// The longest operation name recorded as a label of its own.
const MAX_OPERATION_NAME: usize = 64;

/// One request's usage, filled in by the request hooks (`hooks.rs`) as the request
/// goes through its stages and recorded when it ends.
#[derive(Default)]
pub(super) struct RequestUsage {
    operation_name: Mutex<Option<String>>,
    /// Taken from the request's data in `prepare_request`: the context of the
    /// `request` hook does not carry request data.
    user: Mutex<Option<imagegraph_db::UserId>>,
    /// Only a document that passed validation gives its names: before that its
    /// operation and field names are anything a client typed.
    operation: Mutex<Option<Operation>>,
    validated: std::sync::atomic::AtomicBool,
}

struct Operation {
    kind: &'static str,
    /// The operation's own name when the request did not pick one by name.
    name: Option<String>,
    fields: Vec<String>,
}

impl RequestUsage {
    pub(super) fn prepared(&self, request: &Request) {
        let viewer = request
            .data
            .get(&std::any::TypeId::of::<Viewer>())
            .and_then(|v| v.downcast_ref::<Viewer>());
        *lock(&self.user) = viewer.and_then(|v| v.0.as_ref()).map(|u| u.id);
        *lock(&self.operation_name) = request.operation_name.clone();
    }

    pub(super) fn parsed(&self, document: &ExecutableDocument) {
        let requested = lock(&self.operation_name).clone();
        *lock(&self.operation) = describe(document, requested.as_deref());
    }

    pub(super) fn validated(&self, ok: bool) {
        self.validated
            .store(ok, std::sync::atomic::Ordering::Relaxed);
    }

    /// Records the finished request.
    pub(super) fn record(&self, app: &App, response: &Response, elapsed: Duration) {
        let user = *lock(&self.user);
        let operation = lock(&self.operation)
            .take()
            .filter(|_| self.validated.load(std::sync::atomic::Ordering::Relaxed));
        let (kind, own_name, fields) = operation.map_or(("query", None, Vec::new()), |op| {
            (op.kind, op.name, op.fields)
        });
        let label = app.usage.label(
            Kind::Api,
            &format!("{kind} {}", own_name.as_deref().unwrap_or("anonymous")),
        );
        let failed = !response.errors.is_empty();
        crate::telemetry::graphql_request(&label, failed, elapsed);
        // A persisted-query miss is the protocol's handshake: the client sends the text
        // at once, and that request is the one the user made.
        if persisted::is_miss(response) {
            return;
        }

        app.usage
            .record(Use::new(Kind::Api, label.clone(), user, elapsed, failed));
        for field in fields {
            app.usage
                .record(Use::new(Kind::Field, field, user, elapsed, failed));
        }
        for error in &response.errors {
            let code = error
                .extensions
                .as_ref()
                .and_then(|ext| ext.get("code"))
                .and_then(|code| match code {
                    async_graphql::Value::String(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| crate::error::ErrorCode::BadUserInput.as_str().to_owned());
            app.usage
                .record(Use::new(Kind::Error, code, user, elapsed, true));
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The selected operation's type, name and root field names (aliases resolved to
/// fields). The name is the document's own, never the request's `operationName`
/// (which is any string a client likes), and one longer than `MAX_OPERATION_NAME` is
/// left out. A request that selects no operation (async-graphql refuses it) describes
/// none: nothing ran.
fn describe(document: &ExecutableDocument, name: Option<&str>) -> Option<Operation> {
    let (own_name, operation) = super::operation::selected(document, name)?;
    let own_name = own_name
        .filter(|name| name.len() <= MAX_OPERATION_NAME)
        .map(ToString::to_string);
    let kind = match operation.node.ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    let mut fields: Vec<String> = operation
        .node
        .selection_set
        .node
        .items
        .iter()
        .filter_map(|item| match &item.node {
            Selection::Field(field) => Some(field.node.name.node.to_string()),
            _ => None,
        })
        .collect();
    fields.sort();
    fields.dedup();
    Some(Operation {
        kind,
        name: own_name,
        fields,
    })
}
