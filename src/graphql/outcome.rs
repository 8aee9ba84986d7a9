//! Whether a request reached execution. async-graphql answers a request it refused
//! (syntax, validation, variable values, operation selection) in the same shape as
//! one whose fields failed while running, but GraphQL over HTTP tells them apart:
//! under `application/graphql-response+json` a refused request is a 400 without
//! `data`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::Response;
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};

/// Put in a request's data; set once execution starts.
#[derive(Clone, Default)]
pub struct Executed(Arc<AtomicBool>);

impl Executed {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

pub(super) struct MarkExecuted;

impl ExtensionFactory for MarkExecuted {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(MarkExecuted)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for MarkExecuted {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(executed) = ctx.data_opt::<Executed>() {
            executed.0.store(true, Ordering::Relaxed);
        }
        next.run(ctx, operation_name).await
    }
}
