//! The service's background jobs, in two lanes with workers of their own: analyses
//! and generations in one, benchmark runs in the other, so that a run holding the
//! node's cores for minutes never leaves an upload waiting for its description.
//! Each job is defined beside its use case (`use_cases::analysis::AnalyzeImage`, ...);
//! the queue itself (claiming, leases, retries) is `imagegraph-jobs`.

use std::sync::Arc;

use imagegraph_jobs::Runner;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::use_cases::analysis::AnalyzeImage;
use crate::use_cases::benchmark::RunBenchmark;
use crate::use_cases::generation::GenerateImage;

/// Benchmark runs go one at a time per node anyway (see `use_cases::benchmark`).
const BENCHMARK_WORKERS: usize = 1;

fn runner(app: &Arc<App>) -> Runner<Arc<App>> {
    Runner::new(
        app.db.clone(),
        app.clone(),
        app.config.jobs.worker_config(),
        app.events.jobs_ready(),
    )
    .with_trace_hook(crate::traces::continue_job)
}

fn media_lane(app: &Arc<App>) -> Runner<Arc<App>> {
    runner(app)
        .register::<AnalyzeImage>()
        .register::<GenerateImage>()
}

fn benchmark_lane(app: &Arc<App>) -> Runner<Arc<App>> {
    runner(app).register::<RunBenchmark>()
}

/// Starts `workers` workers for analyses and generations and, when there are any,
/// the benchmark lane's own worker, named `name:<lane>:<n>`.
pub fn spawn(
    app: &Arc<App>,
    workers: usize,
    name: &str,
    shutdown: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    if workers == 0 {
        return Vec::new();
    }
    let mut handles = media_lane(app).spawn(workers, &format!("{name}:media"), shutdown);
    handles.extend(benchmark_lane(app).spawn(
        BENCHMARK_WORKERS,
        &format!("{name}:benchmark"),
        shutdown,
    ));
    handles
}

/// Runs every due job of both lanes in the calling task, until none is left; returns
/// how many attempts ran. For tests: no worker, no polling.
pub async fn run_pending(app: &Arc<App>) -> usize {
    let (media, benchmark) = (media_lane(app), benchmark_lane(app));
    let mut ran = 0;
    loop {
        let now = media.run_pending().await + benchmark.run_pending().await;
        if now == 0 {
            return ran;
        }
        ran += now;
    }
}
