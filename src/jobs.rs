//! The service's background jobs: each use case that runs in the background is a
//! [`Job`] here, registered on the one runner the service starts. The queue itself
//! (claiming, leases, retries) is `imagegraph-jobs`.

use std::sync::Arc;

use imagegraph_db::{BenchmarkRunId, GenerationId, ImageId};
use imagegraph_jobs::{Job, JobError, Runner};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::error::{Error, Result};
use crate::use_cases::{analysis, benchmark, generation};

/// Describe an image with the vision model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeImage {
    pub image_id: ImageId,
}

impl Job for AnalyzeImage {
    const KIND: &'static str = "analyze_image";
    type Context = Arc<App>;

    async fn run(&self, app: &Arc<App>) -> Result<(), JobError> {
        analysis::run(app, self.image_id).await
    }

    async fn retrying(&self, app: &Arc<App>) {
        report_retrying(analysis::retrying(app, self.image_id).await);
    }

    async fn give_up(&self, app: &Arc<App>, message: &str) {
        report_give_up(analysis::give_up(app, self.image_id, message).await);
    }
}

/// Generate an image from a prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateImage {
    pub generation_id: GenerationId,
}

impl Job for GenerateImage {
    const KIND: &'static str = "generate_image";
    type Context = Arc<App>;

    async fn run(&self, app: &Arc<App>) -> Result<(), JobError> {
        generation::run(app, self.generation_id).await
    }

    async fn retrying(&self, app: &Arc<App>) {
        report_retrying(generation::retrying(app, self.generation_id).await);
    }

    async fn give_up(&self, app: &Arc<App>, message: &str) {
        report_give_up(generation::give_up(app, self.generation_id, message).await);
    }
}

/// Run an HPL benchmark on this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunBenchmark {
    pub run_id: BenchmarkRunId,
}

impl Job for RunBenchmark {
    const KIND: &'static str = "run_benchmark";
    type Context = Arc<App>;

    async fn run(&self, app: &Arc<App>) -> Result<(), JobError> {
        benchmark::run(app, self.run_id).await
    }

    async fn retrying(&self, app: &Arc<App>) {
        report_retrying(benchmark::retrying(app, self.run_id).await);
    }

    async fn give_up(&self, app: &Arc<App>, message: &str) {
        report_give_up(benchmark::give_up(app, self.run_id, message).await);
    }
}

/// The runner with every job type of the service, configured from `app`.
pub fn runner(app: &Arc<App>) -> Runner<Arc<App>> {
    Runner::new(
        app.db.clone(),
        app.clone(),
        app.config.jobs.worker_config(),
        app.events.jobs_ready(),
    )
    .register::<AnalyzeImage>()
    .register::<GenerateImage>()
    .register::<RunBenchmark>()
}

fn report_retrying(result: Result<()>) {
    if let Err(err) = result {
        tracing::warn!(error = ?err, "could not mark a job's work as pending");
    }
}

fn report_give_up(result: Result<()>) {
    if let Err(err) = result {
        tracing::error!(error = ?err, "could not record a job's failure");
    }
}

/// Whether a failed use case is worth another attempt: only when the failure is
/// ours and passing (a dependency away, a rate limit, an internal error); what the
/// data itself refuses (not found, forbidden, bad input) fails the same way again.
impl From<Error> for JobError {
    fn from(err: Error) -> Self {
        let message = err.public_message();
        match err {
            Error::Unavailable(_) | Error::Internal(_) => JobError::retry(message),
            Error::RateLimited { retry_after } => JobError::Retry {
                message,
                after: Some(retry_after),
            },
            Error::BadInput(_)
            | Error::NotFound(_)
            | Error::Unauthenticated
            | Error::Forbidden(_)
            | Error::PayloadTooLarge(_)
            | Error::UnsupportedMediaType(_)
            | Error::AiProvider(_) => JobError::Permanent(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_keep_their_stored_form() {
        let id = ImageId::from_uuid(uuid::Uuid::nil());
        let json = serde_json::to_value(AnalyzeImage { image_id: id }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "imageId": "00000000-0000-0000-0000-000000000000" })
        );
        // Rows written before job types were structs carry their kind as a tag too.
        let old = serde_json::json!({ "kind": "analyze_image", "imageId": id.to_string() });
        assert_eq!(
            serde_json::from_value::<AnalyzeImage>(old).unwrap(),
            AnalyzeImage { image_id: id }
        );
    }

    #[test]
    fn only_passing_failures_are_retried() {
        assert!(matches!(
            JobError::from(Error::Unavailable("the database")),
            JobError::Retry { .. }
        ));
        assert!(matches!(
            JobError::from(Error::NotFound("image")),
            JobError::Permanent(_)
        ));
        assert!(matches!(
            JobError::from(Error::forbidden("no")),
            JobError::Permanent(_)
        ));
    }
}
