//! Durable background jobs on PostgreSQL.
//!
//! A job is a [`Job`]: a serialisable payload with a `KIND`, run against a context
//! the application chooses. It is [`enqueue`]d in the transaction that creates the
//! work, so accepted work is never lost; a [`Runner`] with the job types registered
//! claims due jobs with `FOR UPDATE SKIP LOCKED` under a lease it renews while the
//! job runs, retries what failed transiently with backoff, and gives up after a limit
//! with the error recorded. Jobs must be idempotent: one may run again after a crash.
//!
//! Nothing here knows what the jobs do or which application runs them.

#![warn(missing_docs)]

mod backoff;
mod origin;
pub mod queue;
mod runner;

use std::time::Duration;

use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use backoff::backoff;
use imagegraph_db::JobId;
pub use origin::{Origin, Scoped};
pub use runner::{Runner, TraceHook, WorkerConfig};

/// One kind of background work.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Stored in `jobs.kind`; a runner claims only the kinds registered on it.
    const KIND: &'static str;

    /// What the job runs against (the application's state, or the narrow part of it
    /// the job needs).
    type Context: Clone + Send + Sync + 'static;

    /// Does the work. Must be idempotent.
    fn run(&self, ctx: &Self::Context) -> impl Future<Output = Result<(), JobError>> + Send;

    /// Called before a failed attempt is retried, to show the work as waiting again.
    /// A failure here is logged; the retry happens anyway.
    fn retrying(&self, ctx: &Self::Context) -> impl Future<Output = Result<(), JobError>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// Called once when the job is given up, to record the failure where users see
    /// it. A failure here is logged.
    fn give_up(
        &self,
        ctx: &Self::Context,
        message: &str,
    ) -> impl Future<Output = Result<(), JobError>> + Send {
        let _ = (ctx, message);
        async { Ok(()) }
    }
}

/// How a job attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub enum JobError {
    /// Worth another attempt (rate limits, timeouts, an unreachable dependency), no
    /// sooner than `after`.
    Retry {
        /// Why, in words safe to show a user.
        message: String,
        /// The earliest the next attempt makes sense, when the failure says.
        after: Option<Duration>,
    },
    /// Will fail the same way every time (bad input, missing data, a refusal).
    Permanent(String),
}

impl JobError {
    /// A transient failure without a hint of when to try again.
    pub fn retry(message: impl Into<String>) -> Self {
        Self::Retry {
            message: message.into(),
            after: None,
        }
    }

    /// Why the attempt failed.
    pub fn message(&self) -> &str {
        match self {
            Self::Retry { message, .. } | Self::Permanent(message) => message,
        }
    }
}

/// A failed statement is worth another attempt: the database may be back by then.
impl From<diesel::result::Error> for JobError {
    fn from(err: diesel::result::Error) -> Self {
        tracing::warn!(error = %err, "a job's statement failed");
        JobError::retry("the database is unavailable right now")
    }
}

/// Queues `job` to run as soon as a worker is free; call it inside the transaction
/// that creates the work. The job keeps the current [`Origin`].
pub async fn enqueue<J: Job>(
    conn: &mut AsyncPgConnection,
    job: &J,
    max_attempts: i32,
) -> QueryResult<JobId> {
    let payload = serde_json::to_value(job).expect("job payloads serialise");
    queue::insert(conn, J::KIND, payload, max_attempts, &Origin::current()).await
}
