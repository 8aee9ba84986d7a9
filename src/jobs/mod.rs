//! Durable background jobs on PostgreSQL. A job is enqueued in the transaction that
//! creates the work (so accepted work is never lost), claimed with `FOR UPDATE SKIP
//! LOCKED` under a lease, retried with backoff, and given up after a limit with the
//! error recorded. Handlers are idempotent: a job may run again after a crash.

mod backoff;
mod handlers;
pub mod queue;
mod worker;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use backoff::backoff;
pub use worker::{WorkerConfig, spawn_workers};

/// What a job does; stored as JSON in `jobs.payload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum Task {
    AnalyzeImage { image_id: Uuid },
    GenerateImage { generation_id: Uuid },
    RunBenchmark { run_id: Uuid },
}

impl Task {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::AnalyzeImage { .. } => "analyze_image",
            Self::GenerateImage { .. } => "generate_image",
            Self::RunBenchmark { .. } => "run_benchmark",
        }
    }
}

/// How a job attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub enum JobError {
    /// Worth another attempt (rate limits, timeouts, 5xx), no sooner than `after`.
    Retry {
        message: String,
        after: Option<Duration>,
    },
    /// Will fail the same way every time (bad request, content policy, missing data).
    Permanent(String),
}

impl JobError {
    pub fn message(&self) -> &str {
        match self {
            Self::Retry { message, .. } | Self::Permanent(message) => message,
        }
    }
}

impl From<crate::error::Error> for JobError {
    fn from(err: crate::error::Error) -> Self {
        // Our own failures (database, storage) are transient as far as a job can tell.
        Self::Retry {
            message: err.public_message(),
            after: None,
        }
    }
}

impl From<diesel::result::Error> for JobError {
    fn from(err: diesel::result::Error) -> Self {
        crate::error::Error::from(err).into()
    }
}
