//! Operational metrics for Prometheus at `/metrics`: request rates and latencies by
//! operation, the job queue, AI calls and the database pool.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use imagegraph_db::Db;

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The process-wide recorder; installed once, whatever number of apps a process runs.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .expect("static buckets are valid")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (embedding, tests): then this
        // handle renders an empty page rather than failing the service.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

pub fn graphql_request(operation: &str, failed: bool, elapsed: Duration) {
    let status = if failed { "error" } else { "ok" };
    counter!("imagegraph_graphql_requests_total", "operation" => operation.to_owned(), "status" => status).increment(1);
    histogram!("imagegraph_graphql_request_duration_seconds", "operation" => operation.to_owned())
        .record(elapsed.as_secs_f64());
}

pub fn ai_call(operation: &str, outcome: &'static str, elapsed: Duration) {
    let operation = operation.to_owned();
    counter!("imagegraph_ai_calls_total", "operation" => operation.clone(), "outcome" => outcome)
        .increment(1);
    histogram!("imagegraph_ai_call_duration_seconds", "operation" => operation)
        .record(elapsed.as_secs_f64());
}

pub fn media_request(status: u16) {
    counter!("imagegraph_media_requests_total", "status" => status.to_string()).increment(1);
}

/// Samples the job queue and the database pool; called at scrape time, so nothing
/// polls the database between scrapes.
pub async fn sample(db: &Db) {
    let state = db.pool_state();
    gauge!("imagegraph_db_pool_connections", "state" => "idle")
        .set(f64::from(state.idle_connections));
    gauge!("imagegraph_db_pool_connections", "state" => "in_use")
        .set(f64::from(state.connections - state.idle_connections));
    if let Ok(mut conn) = db.conn().await
        && let Ok((depth, oldest)) = imagegraph_jobs::queue::depth(&mut conn).await
    {
        gauge!("imagegraph_jobs_pending").set(depth as f64);
        gauge!("imagegraph_jobs_oldest_age_seconds").set(oldest.unwrap_or(0.0));
    }
}
