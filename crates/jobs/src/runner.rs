//! The runner: job types registered by kind, worker loops that claim, run with a
//! heartbeat on the lease and settle the outcome, and `run_pending` for tests.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;
use imagegraph_db::{Db, JobId};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::queue::{self, ClaimedJob};
use crate::{Job, JobError, backoff};

/// How workers claim, retry and give up.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// A job whose worker has not renewed its lease for this long is taken over.
    pub lease: Duration,
    /// Attempts a job gets, the first included.
    pub max_attempts: i32,
    /// Fallback wake-up when no notification arrives.
    pub poll_interval: Duration,
    /// First retry delay; doubles per attempt, with jitter.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_cap: Duration,
    /// On shutdown, in-flight jobs get this long to finish before they are released.
    pub shutdown_grace: Duration,
}

/// Runs the registered kinds of job against one context.
pub struct Runner<C> {
    db: Db,
    context: C,
    config: WorkerConfig,
    handlers: HashMap<&'static str, Box<dyn Handler<C>>>,
    /// Notified when jobs are inserted (the application forwards the database's
    /// NOTIFY); idle workers wake on it.
    wake: Arc<Notify>,
    trace: Option<TraceHook>,
}

/// Links a job's span to the trace of the request that enqueued it (given its stored
/// `traceparent`), and returns the `traceparent` the job's own work continues.
pub type TraceHook = fn(&tracing::Span, Option<&str>) -> Option<String>;

impl<C: Clone + Send + Sync + 'static> Runner<C> {
    /// A runner with no job types yet.
    pub fn new(db: Db, context: C, config: WorkerConfig, wake: Arc<Notify>) -> Self {
        Self {
            db,
            context,
            config,
            handlers: HashMap::new(),
            wake,
            trace: None,
        }
    }

    /// Continues traces through jobs (the application knows how traces are kept).
    #[must_use]
    pub fn with_trace_hook(mut self, hook: TraceHook) -> Self {
        self.trace = Some(hook);
        self
    }

    /// Runs jobs of type `J`; a runner claims only the kinds registered on it.
    #[must_use]
    pub fn register<J: Job<Context = C>>(mut self) -> Self {
        self.handlers
            .insert(J::KIND, Box::new(Registered::<J>(PhantomData)));
        self
    }

    fn kinds(&self) -> Vec<&'static str> {
        self.handlers.keys().copied().collect()
    }

    /// Starts `count` workers named `name:<n>`; they stop when `shutdown` is
    /// cancelled, after finishing or releasing the job in hand.
    pub fn spawn(
        self,
        count: usize,
        name: &str,
        shutdown: &CancellationToken,
    ) -> Vec<JoinHandle<()>> {
        let runner = Arc::new(self);
        (0..count)
            .map(|n| {
                let (runner, shutdown) = (runner.clone(), shutdown.clone());
                let worker = format!("{name}:{n}");
                tokio::spawn(async move { runner.work(worker, shutdown).await })
            })
            .collect()
    }

    /// Runs every job that is due now, one after another in the calling task, until
    /// none is left; returns how many attempts ran. For tests: no worker, no polling.
    pub async fn run_pending(&self) -> usize {
        let never = CancellationToken::new();
        let kinds = self.kinds();
        let mut ran = 0;
        loop {
            let claimed = async {
                let mut conn = self.db.conn().await.map_err(|e| e.to_string())?;
                queue::claim(&mut conn, &kinds, "run-pending", self.config.lease)
                    .await
                    .map_err(|e| e.to_string())
            }
            .await;
            match claimed {
                Ok(Some(job)) => {
                    self.run_job("run-pending", job, &never).await;
                    ran += 1;
                }
                Ok(None) => return ran,
                Err(err) => panic!("run_pending could not claim a job: {err}"),
            }
        }
    }

    async fn work(&self, name: String, shutdown: CancellationToken) {
        let kinds = self.kinds();
        let mut error_backoff = Duration::from_millis(100);
        while !shutdown.is_cancelled() {
            // Registered before claiming, so a job inserted meanwhile still wakes us.
            let mut notified = pin!(self.wake.notified());
            notified.as_mut().enable();
            let claimed = async {
                let mut conn = self.db.conn().await.map_err(|e| e.to_string())?;
                let job = queue::claim(&mut conn, &kinds, &name, self.config.lease)
                    .await
                    .map_err(|e| e.to_string())?;
                let due = if job.is_none() {
                    queue::next_due(&mut conn, &kinds)
                        .await
                        .map_err(|e| e.to_string())?
                } else {
                    None
                };
                Ok::<_, String>((job, due))
            }
            .await;
            match claimed {
                Ok((Some(job), _)) => {
                    error_backoff = Duration::from_millis(100);
                    self.run_job(&name, job, &shutdown).await;
                }
                Ok((None, due)) => {
                    let poll = self.config.poll_interval;
                    let until_due = due
                        .map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                        .unwrap_or(poll)
                        .min(poll);
                    tokio::select! {
                        () = notified => {}
                        () = tokio::time::sleep(until_due) => {}
                        () = shutdown.cancelled() => {}
                    }
                }
                Err(err) => {
                    tracing::warn!(worker = %name, error = %err, retry_in = ?error_backoff, "claiming a job failed");
                    tokio::select! {
                        () = tokio::time::sleep(error_backoff) => {}
                        () = shutdown.cancelled() => {}
                    }
                    error_backoff = (error_backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Runs a job as work of the request that enqueued it: in a span carrying its
    /// request id, with its origin current (so jobs it enqueues keep it too).
    async fn run_job(&self, worker: &str, job: ClaimedJob, shutdown: &CancellationToken) {
        let span = tracing::info_span!(
            "job",
            job = %job.id,
            kind = job.kind,
            request_id = tracing::field::Empty,
        );
        if let Some(request_id) = &job.request_id {
            span.record("request_id", request_id.as_str());
        }
        let traceparent = match self.trace {
            Some(hook) => hook(&span, job.traceparent.as_deref()),
            None => job.traceparent.clone(),
        };
        let origin = crate::Origin {
            request_id: job.request_id.clone(),
            traceparent,
        };
        origin
            .scope(self.run_claimed(worker, job, shutdown))
            .instrument(span)
            .await;
    }

    async fn run_claimed(&self, worker: &str, job: ClaimedJob, shutdown: &CancellationToken) {
        let Some(handler) = self.handlers.get(job.kind.as_str()) else {
            // Unreachable: only registered kinds are claimed.
            self.settle(job.id, worker, Outcome::Release).await;
            return;
        };
        let ctx = &self.context;
        if job.attempts > job.max_attempts {
            // Only reachable by leases running out: the job keeps killing its workers.
            let message = "the job was interrupted too many times";
            handler.give_up(ctx, &job.payload, message).await;
            self.settle(job.id, worker, Outcome::Fail(message.into()))
                .await;
            return;
        }
        tracing::info!(job = %job.id, kind = job.kind, attempt = job.attempts, worker, "job started");

        let config = &self.config;
        let mut running = pin!(handler.run(ctx, &job.payload));
        let mut heartbeat = tokio::time::interval(config.lease / 3);
        heartbeat.tick().await;
        let mut grace = pin!(tokio::time::sleep(Duration::MAX));
        let mut draining = false;
        let outcome = loop {
            tokio::select! {
                result = &mut running => break Some(result),
                _ = heartbeat.tick() => {
                    if let Ok(mut conn) = self.db.conn().await
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

        let outcome = match outcome {
            None => {
                tracing::info!(job = %job.id, "shutting down: job released for another worker");
                Outcome::Release
            }
            Some(Ok(())) => {
                tracing::info!(job = %job.id, kind = job.kind, "job done");
                Outcome::Complete
            }
            Some(Err(JobError::Retry { message, after })) if job.attempts < job.max_attempts => {
                let delay = backoff(job.attempts, config.backoff_base, config.backoff_cap)
                    .max(after.unwrap_or_default());
                tracing::warn!(job = %job.id, attempt = job.attempts, retry_in = ?delay, error = %message, "job failed; will retry");
                handler.retrying(ctx, &job.payload).await;
                let run_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
                Outcome::RetryAt(run_at, message)
            }
            Some(Err(err)) => {
                tracing::warn!(job = %job.id, attempt = job.attempts, error = %err.message(), "job failed; giving up");
                handler.give_up(ctx, &job.payload, err.message()).await;
                Outcome::Fail(err.message().to_owned())
            }
        };
        self.settle(job.id, worker, outcome).await;
    }

    /// Records a job's outcome. If the database is unreachable the lease runs out and
    /// the job runs again, which its idempotent handler tolerates.
    async fn settle(&self, job: JobId, worker: &str, outcome: Outcome) {
        let result = async {
            let mut conn = self.db.conn().await.map_err(|e| e.to_string())?;
            match outcome {
                Outcome::Complete => queue::complete(&mut conn, job).await,
                Outcome::Release => queue::release(&mut conn, job, worker).await,
                Outcome::RetryAt(at, message) => {
                    queue::retry_at(&mut conn, job, at, &message).await
                }
                Outcome::Fail(message) => queue::fail(&mut conn, job, &message).await,
            }
            .map_err(|e| e.to_string())
        }
        .await;
        if let Err(err) = result {
            tracing::error!(job = %job, error = %err, "could not record a job's outcome; it will run again after its lease");
        }
    }
}

enum Outcome {
    Complete,
    Release,
    RetryAt(chrono::DateTime<Utc>, String),
    Fail(String),
}

/// A registered job type with its payload type erased, so one runner holds many.
trait Handler<C>: Send + Sync {
    fn run<'a>(
        &'a self,
        ctx: &'a C,
        payload: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<(), JobError>>;
    fn retrying<'a>(&'a self, ctx: &'a C, payload: &'a serde_json::Value) -> BoxFuture<'a, ()>;
    fn give_up<'a>(
        &'a self,
        ctx: &'a C,
        payload: &'a serde_json::Value,
        message: &'a str,
    ) -> BoxFuture<'a, ()>;
}

struct Registered<J>(PhantomData<fn() -> J>);

impl<J: Job> Registered<J> {
    fn decode(payload: &serde_json::Value) -> Result<J, JobError> {
        J::deserialize(payload).map_err(|err| {
            tracing::error!(kind = J::KIND, error = %err, "unreadable job payload");
            JobError::Permanent("unreadable job payload".to_owned())
        })
    }
}

impl<J: Job> Handler<J::Context> for Registered<J> {
    fn run<'a>(
        &'a self,
        ctx: &'a J::Context,
        payload: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move { Self::decode(payload)?.run(ctx).await })
    }

    fn retrying<'a>(
        &'a self,
        ctx: &'a J::Context,
        payload: &'a serde_json::Value,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Ok(job) = Self::decode(payload)
                && let Err(err) = job.retrying(ctx).await
            {
                tracing::warn!(kind = J::KIND, error = %err.message(), "could not mark a job's work as pending");
            }
        })
    }

    fn give_up<'a>(
        &'a self,
        ctx: &'a J::Context,
        payload: &'a serde_json::Value,
        message: &'a str,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Ok(job) = Self::decode(payload)
                && let Err(err) = job.give_up(ctx, message).await
            {
                tracing::error!(kind = J::KIND, error = %err.message(), "could not record a job's failure");
            }
        })
    }
}
