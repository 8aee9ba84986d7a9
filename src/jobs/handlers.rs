//! Which use case runs each kind of job.

use super::{JobError, Task};
use crate::app::App;
use crate::{analysis, benchmark, generation};

pub(super) async fn run(app: &std::sync::Arc<App>, task: &Task) -> Result<(), JobError> {
    match task {
        Task::AnalyzeImage { image_id } => analysis::run(app, *image_id).await,
        Task::GenerateImage { generation_id } => generation::run(app, *generation_id).await,
        Task::RunBenchmark { run_id } => benchmark::run(app, *run_id).await,
    }
}

/// Before a retry: show the work as pending again.
pub(super) async fn retrying(app: &App, task: &Task) {
    let result = match task {
        Task::AnalyzeImage { image_id } => analysis::retrying(app, *image_id).await,
        Task::GenerateImage { generation_id } => generation::retrying(app, *generation_id).await,
        Task::RunBenchmark { run_id } => benchmark::retrying(app, *run_id).await,
    };
    if let Err(err) = result {
        tracing::warn!(error = ?err, "could not mark a job's work as pending");
    }
}

/// After the last attempt: record the failure where users see it.
pub(super) async fn give_up(app: &App, task: &Task, message: &str) {
    let result = match task {
        Task::AnalyzeImage { image_id } => analysis::give_up(app, *image_id, message).await,
        Task::GenerateImage { generation_id } => {
            generation::give_up(app, *generation_id, message).await
        }
        Task::RunBenchmark { run_id } => benchmark::give_up(app, *run_id, message).await,
    };
    if let Err(err) = result {
        tracing::error!(error = ?err, "could not record a job's failure");
    }
}
