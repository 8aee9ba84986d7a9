//! Whether a request reached execution. async-graphql answers a request it refused
//! (syntax, validation, variable values, operation selection) in the same shape as
//! one whose fields failed while running, but GraphQL over HTTP tells them apart:
//! under `application/graphql-response+json` a refused request is a 400 without
//! `data`. The request hooks set it when execution starts.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Put in the data of each request over HTTP; set once execution starts.
#[derive(Clone, Default)]
pub struct Executed(Arc<AtomicBool>);

impl Executed {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub(super) fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
