//! The service's background jobs, registered on the one runner the service starts.
//! Each job is defined beside its use case (`use_cases::analysis::AnalyzeImage`, ...);
//! the queue itself (claiming, leases, retries) is `imagegraph-jobs`.

use std::sync::Arc;

use imagegraph_jobs::Runner;

use crate::app::App;
use crate::use_cases::analysis::AnalyzeImage;
use crate::use_cases::benchmark::RunBenchmark;
use crate::use_cases::generation::GenerateImage;

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
