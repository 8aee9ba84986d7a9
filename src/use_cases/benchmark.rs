//! HPL benchmark runs as durable jobs. A run executes on a blocking thread, one at a
//! time per node: a process-wide mutex, plus a PostgreSQL advisory lock keyed by the
//! host name so that several processes on one node (serve and worker) take turns.
//! Progress is published as events, at most a few times a second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection as _, RunQueryDsl as _};
use imagegraph_db::BenchmarkRunId;
use tokio::sync::watch;

use crate::app::App;
use crate::error::{Error, QuotaExceeded, Result};
use crate::events::{self, Event};
use crate::host::{cores, cpu_model, hostname};
use imagegraph_db::models::ById as _;
use imagegraph_db::models::benchmark_run::{Host, Outcome, RunStatus};
use imagegraph_db::models::{BenchmarkRun, User};
use imagegraph_hpl::{self as hpl, HplParams};
use imagegraph_jobs::JobError;

const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// What `runBenchmark` asks for; unset values get defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunRequest {
    pub n: Option<i32>,
    pub block_size: Option<i32>,
    pub threads: Option<i32>,
    pub seed: Option<i64>,
}

pub async fn request(app: &App, viewer: &User, request: RunRequest) -> Result<BenchmarkRun> {
    let max_n = if viewer.is_admin() {
        app.config.hpl.hpl_max_n
    } else {
        app.config.hpl.hpl_member_max_n
    };
    let n = request.n.unwrap_or(2000.min(max_n));
    if n < 1 || n > max_n {
        let who = if viewer.is_admin() {
            ""
        } else {
            " for members"
        };
        return Err(Error::bad_input(format!(
            "`n` must be between 1 and {max_n}{who}; got {n}"
        )));
    }
    let block_size = request
        .block_size
        .unwrap_or(hpl::default_block_size(n as usize) as i32);
    // Tiny blocks turn the factorisation into per-element bookkeeping: a run that
    // should take seconds would hold the node for an hour.
    let min_block = n.min(MIN_BLOCK_SIZE);
    if block_size < min_block || block_size > n.min(1024) {
        return Err(Error::bad_input(format!(
            "`blockSize` must be between {min_block} and {}; got {block_size}",
            n.min(1024)
        )));
    }
    let threads = request.threads.unwrap_or(cores());
    if threads < 1 || threads > cores() {
        return Err(Error::bad_input(format!(
            "`threads` must be between 1 and {} (this node's cores); got {threads}",
            cores()
        )));
    }
    let run = BenchmarkRun {
        id: BenchmarkRunId::new(),
        owner_id: viewer.id,
        status: RunStatus::Pending,
        n,
        block_size,
        threads,
        seed: request.seed.unwrap_or(1),
        seconds: None,
        gflops: None,
        residual: None,
        passed: None,
        error: None,
        host_name: None,
        cpu_model: None,
        cores: None,
        created_at: Utc::now(),
        started_at: None,
        finished_at: None,
    };
    let max_attempts = app.config.jobs.job_max_attempts;
    let mut conn = app.db.conn().await?;
    let run = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            let run = BenchmarkRun::insert(conn, &run).await?;
            imagegraph_jobs::enqueue(conn, &RunBenchmark { run_id: run.id }, max_attempts).await?;
            Ok(run)
        })
        .await
        .map_err(|err| match err {
            // The partial unique index `benchmark_runs_one_active` is the rule.
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => Error::QuotaExceeded(QuotaExceeded {
                quota: "activeBenchmarkRuns",
                used: 1,
                requested: 1,
                limit: 1,
            }),
            other => other.into(),
        })?;
    Ok(run)
}

/// Smallest block size a run may ask for (or `n`, when smaller).
pub const MIN_BLOCK_SIZE: i32 = 16;

/// Serialises runs within this process.
static NODE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

super::job!(
    /// The job: run an HPL benchmark on this node.
    RunBenchmark,
    "run_benchmark",
    run_id: BenchmarkRunId
);

pub(crate) async fn run(app: &Arc<App>, run_id: BenchmarkRunId) -> Result<(), JobError> {
    let mut conn = app.db.conn().await.map_err(Error::from)?;
    let Some(run) = BenchmarkRun::find(&mut conn, run_id).await? else {
        return Ok(());
    };
    if !matches!(run.status, RunStatus::Pending | RunStatus::Running) {
        return Ok(());
    }
    drop(conn);

    let _process = NODE.lock().await;
    // A dedicated pooled connection holds the node's advisory lock for the run; the
    // lock goes with the session if this process dies.
    let mut lock_conn = app.db.conn().await.map_err(Error::from)?;
    let key = node_lock_key();
    loop {
        #[derive(diesel::QueryableByName)]
        struct Locked {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            locked: bool,
        }
        let got: Locked = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
            .bind::<BigInt, _>(key)
            .get_result(&mut lock_conn)
            .await?;
        if got.locked {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let result = execute(app, &run).await;
    let _ = diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(key)
        .execute(&mut lock_conn)
        .await;
    result
}

async fn execute(app: &Arc<App>, run: &BenchmarkRun) -> Result<(), JobError> {
    let host_name = hostname();
    let cpu_model = cpu_model();
    let host = Host {
        name: &host_name,
        cpu_model: &cpu_model,
        cores: cores(),
    };
    let mut conn = app.db.conn().await.map_err(Error::from)?;
    if !BenchmarkRun::start(&mut conn, run.id, &host).await? {
        return Ok(());
    }
    drop(conn);

    let params = HplParams {
        n: run.n as usize,
        nb: run.block_size as usize,
        threads: run.threads as usize,
        seed: run.seed as u64,
    };
    let (progress_tx, progress_rx) = watch::channel(0.0f64);
    let publisher = tokio::spawn(publish_progress(app.clone(), run.id, progress_rx));
    let started = Instant::now();
    let outcome = tokio::task::spawn_blocking(move || {
        hpl::run(&params, &mut |fraction| {
            progress_tx.send_replace(fraction);
        })
    })
    .await
    .map_err(Error::from)?;
    let _ = publisher.await;
    app.usage.record(crate::usage::Use::new(
        crate::usage::Kind::Function,
        "benchmark.hpl",
        Some(run.owner_id),
        started.elapsed(),
        !matches!(&outcome, Ok(report) if report.passed),
    ));

    let (status, seconds, gflops, residual, passed, error) = match &outcome {
        Ok(r) => (
            if r.passed {
                RunStatus::Succeeded
            } else {
                RunStatus::Failed
            },
            r.seconds,
            r.gflops,
            r.residual,
            r.passed,
            (!r.passed).then(|| {
                format!(
                    "the scaled residual {:.3e} is not below {}",
                    r.residual,
                    hpl::RESIDUAL_THRESHOLD
                )
            }),
        ),
        Err(err) => (
            RunStatus::Failed,
            0.0,
            0.0,
            0.0,
            false,
            Some(err.to_string()),
        ),
    };
    let run_id = run.id;
    let mut conn = app.db.conn().await.map_err(Error::from)?;
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        let outcome = Outcome {
            seconds,
            gflops,
            residual,
            passed,
            error: error.as_deref(),
        };
        if BenchmarkRun::finish(conn, run_id, status, &outcome).await? {
            events::publish(
                conn,
                &Event::BenchmarkProgress {
                    run_id,
                    fraction: 1.0,
                    done: true,
                },
            )
            .await?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// Publishes the latest fraction every `PROGRESS_EVERY` until the run's sender goes.
async fn publish_progress(
    app: Arc<App>,
    run_id: BenchmarkRunId,
    mut progress: watch::Receiver<f64>,
) {
    let mut last_sent = Instant::now() - PROGRESS_EVERY;
    while progress.changed().await.is_ok() {
        let wait = PROGRESS_EVERY.saturating_sub(last_sent.elapsed());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let fraction = *progress.borrow_and_update();
        if fraction >= 1.0 {
            continue; // the final event goes out with the recorded outcome
        }
        if let Ok(mut conn) = app.db.conn().await {
            let _ = events::publish(
                &mut conn,
                &Event::BenchmarkProgress {
                    run_id,
                    fraction,
                    done: false,
                },
            )
            .await;
        }
        last_sent = Instant::now();
    }
}

pub(crate) async fn retrying(app: &App, run_id: BenchmarkRunId) -> Result<()> {
    let mut conn = app.db.conn().await?;
    BenchmarkRun::requeue(&mut conn, run_id).await?;
    Ok(())
}

pub(crate) async fn give_up(app: &App, run_id: BenchmarkRunId, message: &str) -> Result<()> {
    let mut conn = app.db.conn().await?;
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        let outcome = Outcome {
            seconds: 0.0,
            gflops: 0.0,
            residual: 0.0,
            passed: false,
            error: Some(message),
        };
        if BenchmarkRun::finish(conn, run_id, RunStatus::Failed, &outcome).await? {
            events::publish(
                conn,
                &Event::BenchmarkProgress {
                    run_id,
                    fraction: 1.0,
                    done: true,
                },
            )
            .await?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

fn node_lock_key() -> i64 {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("imagegraph-hpl:{}", hostname()));
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}
