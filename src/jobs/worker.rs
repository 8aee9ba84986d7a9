//! Worker loops: claim, run with a heartbeat on the lease, settle the outcome.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::queue::{self, ClaimedJob};
use super::{JobError, Task, backoff};
use crate::app::App;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub count: usize,
    /// A job whose worker has not renewed its lease for this long is taken over.
    pub lease: Duration,
    pub max_attempts: i32,
    /// Fallback wake-up when no notification arrives.
    pub poll_interval: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// On shutdown, in-flight jobs get this long to finish before they are released.
    pub shutdown_grace: Duration,
}

/// Starts `config.count` workers; they stop when `shutdown` is cancelled, after
/// finishing or releasing the job in hand.
pub fn spawn_workers(app: Arc<App>, shutdown: CancellationToken) -> Vec<JoinHandle<()>> {
    let host = crate::host::hostname();
    (0..app.config.worker_config().count)
        .map(|n| {
            let (app, shutdown) = (app.clone(), shutdown.clone());
            let name = format!("{host}:{}:{n}", std::process::id());
            tokio::spawn(async move { work(app, name, shutdown).await })
        })
        .collect()
}

async fn work(app: Arc<App>, name: String, shutdown: CancellationToken) {
    let config = app.config.worker_config();
    let mut error_backoff = Duration::from_millis(100);
    while !shutdown.is_cancelled() {
        // Registered before claiming, so a job inserted meanwhile still wakes us.
        let mut notified = pin!(app.events.jobs_ready().notified());
        notified.as_mut().enable();
        let claimed = async {
            let mut conn = app.db.conn().await.map_err(crate::error::Error::from)?;
            let job = queue::claim(&mut conn, &name, config.lease).await?;
            let due = if job.is_none() {
                queue::next_due(&mut conn).await?
            } else {
                None
            };
            Ok::<_, crate::error::Error>((job, due))
        }
        .await;
        match claimed {
            Ok((Some(job), _)) => {
                error_backoff = Duration::from_millis(100);
                run_job(&app, &name, job, &config, &shutdown).await;
            }
            Ok((None, due)) => {
                let until_due = due
                    .map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                    .unwrap_or(config.poll_interval)
                    .min(config.poll_interval);
                tokio::select! {
                    () = notified => {}
                    () = tokio::time::sleep(until_due) => {}
                    () = shutdown.cancelled() => {}
                }
            }
            Err(err) => {
                tracing::warn!(worker = %name, error = ?err, retry_in = ?error_backoff, "claiming a job failed");
                tokio::select! {
                    () = tokio::time::sleep(error_backoff) => {}
                    () = shutdown.cancelled() => {}
                }
                error_backoff = (error_backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn run_job(
    app: &Arc<App>,
    worker: &str,
    job: ClaimedJob,
    config: &WorkerConfig,
    shutdown: &CancellationToken,
) {
    let task: Task = match serde_json::from_value(job.payload.clone()) {
        Ok(task) => task,
        Err(err) => {
            tracing::error!(job = %job.id, error = %err, "unreadable job payload");
            settle(
                app,
                job.id,
                worker,
                Outcome::Fail("unreadable payload".into()),
            )
            .await;
            return;
        }
    };
    if job.attempts > job.max_attempts {
        // Only reachable by leases running out: the job keeps killing its workers.
        let message = "the job was interrupted too many times";
        super::handlers::give_up(app, &task, message).await;
        settle(app, job.id, worker, Outcome::Fail(message.into())).await;
        return;
    }
    tracing::info!(job = %job.id, kind = task.kind(), attempt = job.attempts, worker, "job started");

    let mut running = pin!(super::handlers::run(app, &task));
    let mut heartbeat = tokio::time::interval(config.lease / 3);
    heartbeat.tick().await;
    let grace = tokio::time::sleep(Duration::MAX);
    let mut grace = pin!(grace);
    let mut draining = false;
    let outcome = loop {
        tokio::select! {
            result = &mut running => break Some(result),
            _ = heartbeat.tick() => {
                if let Ok(mut conn) = app.db.conn().await
                    && let Ok(false) = queue::extend_lease(&mut conn, job.id, worker, config.lease).await
                {
                    tracing::warn!(job = %job.id, "lease lost to another worker");
                }
            }
            () = shutdown.cancelled(), if !draining => {
                draining = true;
                grace.as_mut().reset(tokio::time::Instant::now() + config.shutdown_grace);
            }
            () = &mut grace => break None,
        }
    };

    match outcome {
        None => {
            tracing::info!(job = %job.id, "shutting down: job released for another worker");
            settle(app, job.id, worker, Outcome::Release).await;
        }
        Some(Ok(())) => {
            tracing::info!(job = %job.id, kind = task.kind(), "job done");
            settle(app, job.id, worker, Outcome::Complete).await;
        }
        Some(Err(JobError::Retry { message, after })) if job.attempts < job.max_attempts => {
            let delay = backoff(job.attempts, config.backoff_base, config.backoff_cap)
                .max(after.unwrap_or_default());
            tracing::warn!(job = %job.id, attempt = job.attempts, retry_in = ?delay, error = %message, "job failed; will retry");
            super::handlers::retrying(app, &task).await;
            let run_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
            settle(app, job.id, worker, Outcome::RetryAt(run_at, message)).await;
        }
        Some(Err(err)) => {
            tracing::warn!(job = %job.id, attempt = job.attempts, error = %err.message(), "job failed; giving up");
            super::handlers::give_up(app, &task, err.message()).await;
            settle(app, job.id, worker, Outcome::Fail(err.message().to_owned())).await;
        }
    }
}

enum Outcome {
    Complete,
    Release,
    RetryAt(chrono::DateTime<Utc>, String),
    Fail(String),
}

/// Records a job's outcome. If the database is unreachable the lease runs out and the
/// job runs again, which its idempotent handler tolerates.
async fn settle(app: &App, job: uuid::Uuid, worker: &str, outcome: Outcome) {
    let result = async {
        let mut conn = app
            .db
            .conn()
            .await
            .map_err(|e| anyhow::anyhow!("database pool: {e}"))?;
        match outcome {
            Outcome::Complete => queue::complete(&mut conn, job).await,
            Outcome::Release => queue::release(&mut conn, job, worker).await,
            Outcome::RetryAt(at, message) => queue::retry_at(&mut conn, job, at, &message).await,
            Outcome::Fail(message) => queue::fail(&mut conn, job, &message).await,
        }
        .map_err(anyhow::Error::from)
    }
    .await;
    if let Err(err) = result {
        tracing::error!(job = %job, error = %err, "could not record a job's outcome; it will run again after its lease");
    }
}
