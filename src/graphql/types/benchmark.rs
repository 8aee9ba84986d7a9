use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use imagegraph_db::GlobalId as _;

use super::{BenchmarkRun, User};
use crate::error::{Error, Result};
use crate::graphql::ContextExt as _;
use imagegraph_db::models::benchmark_run::RunStatus;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum BenchmarkStatus {
    Pending,
    Running,
    /// Ran, and the scaled residual passed (below 16).
    Succeeded,
    /// Ran with a failing residual, or could not run (see `error`).
    Failed,
}

#[derive(SimpleObject)]
pub(super) struct BenchmarkHost {
    name: String,
    cpu_model: String,
    cores: i32,
}

/// An HPL (Linpack) run: a dense N x N system solved by blocked LU.
#[Object]
impl BenchmarkRun {
    pub async fn id(&self) -> ID {
        ID(self.id.global_id())
    }

    async fn owner(&self, ctx: &Context<'_>) -> Result<User> {
        ctx.loaders()
            .users
            .load_one(self.owner_id)
            .await?
            .ok_or(Error::NotFound("user"))
    }

    async fn status(&self) -> BenchmarkStatus {
        match self.status {
            RunStatus::Pending => BenchmarkStatus::Pending,
            RunStatus::Running => BenchmarkStatus::Running,
            RunStatus::Succeeded => BenchmarkStatus::Succeeded,
            RunStatus::Failed => BenchmarkStatus::Failed,
        }
    }

    /// Order of the matrix.
    async fn n(&self) -> i32 {
        self.n
    }

    async fn block_size(&self) -> i32 {
        self.block_size
    }

    async fn threads(&self) -> i32 {
        self.threads
    }

    async fn seed(&self) -> i64 {
        self.seed
    }

    /// Wall time of factorisation and solve.
    async fn seconds(&self) -> Option<f64> {
        self.seconds
    }

    /// `(2/3 N^3 + 2 N^2) / seconds`, in billions.
    async fn gflops(&self) -> Option<f64> {
        self.gflops
    }

    /// HPL's scaled residual `||Ax-b||_inf / (eps (||A||_inf ||x||_inf + ||b||_inf) N)`.
    async fn residual(&self) -> Option<f64> {
        self.residual
    }

    /// Whether the residual is below 16.
    async fn passed(&self) -> Option<bool> {
        self.passed
    }

    async fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.started_at
    }

    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.finished_at
    }

    /// The node it ran on, once started.
    async fn host(&self) -> Option<BenchmarkHost> {
        Some(BenchmarkHost {
            name: self.host_name.clone()?,
            cpu_model: self.cpu_model.clone()?,
            cores: self.cores?,
        })
    }
}

#[derive(InputObject, Default)]
pub(crate) struct RunBenchmarkInput {
    /// Order of the matrix; default 2000 (members may be held to a smaller maximum).
    pub n: Option<i32>,
    /// Panel width; default chosen from `n`.
    pub block_size: Option<i32>,
    /// Default: all of the node's cores.
    pub threads: Option<i32>,
    /// Seed of the random matrix; default 1.
    pub seed: Option<i64>,
}

#[derive(SimpleObject)]
pub(crate) struct RunBenchmarkPayload {
    /// Queued; follow it with `benchmarkRun(id:)` or `benchmarkProgress(runId:)`.
    pub run: BenchmarkRun,
}

/// How far a run has got; the last event (`done`) carries the finished run.
#[derive(SimpleObject)]
pub(crate) struct BenchmarkProgress {
    /// From 0 to 1.
    pub fraction: f64,
    pub done: bool,
    pub run: BenchmarkRun,
}
