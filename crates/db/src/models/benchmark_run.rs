use crate::ids::{BenchmarkRunId, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::page::{Direction, Page, PageRequest};
use crate::schema::benchmark_runs;
use crate::text_enum::text_enum;

text_enum! {
    pub enum RunStatus { Pending => "PENDING", Running => "RUNNING", Succeeded => "SUCCEEDED", Failed => "FAILED" }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = benchmark_runs)]
pub struct BenchmarkRun {
    pub id: BenchmarkRunId,
    pub owner_id: UserId,
    pub status: RunStatus,
    pub n: i32,
    pub block_size: i32,
    pub threads: i32,
    pub seed: i64,
    pub seconds: Option<f64>,
    pub gflops: Option<f64>,
    pub residual: Option<f64>,
    pub passed: Option<bool>,
    pub error: Option<String>,
    pub host_name: Option<String>,
    pub cpu_model: Option<String>,
    pub cores: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// What a finished run measured.
pub struct Outcome<'a> {
    pub seconds: f64,
    pub gflops: f64,
    pub residual: f64,
    pub passed: bool,
    pub error: Option<&'a str>,
}

/// The machine a run ran on.
pub struct Host<'a> {
    pub name: &'a str,
    pub cpu_model: &'a str,
    pub cores: i32,
}

impl BenchmarkRun {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        run: &BenchmarkRun,
    ) -> QueryResult<BenchmarkRun> {
        diesel::insert_into(benchmark_runs::table)
            .values(run)
            .returning(BenchmarkRun::as_returning())
            .get_result(conn)
            .await
    }

    /// Runs newest first: everyone's (`owner: None`) or one user's.
    pub async fn page(
        conn: &mut AsyncPgConnection,
        owner: Option<UserId>,
        req: &PageRequest,
    ) -> QueryResult<Page<BenchmarkRun>> {
        let mut query = benchmark_runs::table.into_boxed();
        if let Some(owner) = owner {
            query = query.filter(benchmark_runs::owner_id.eq(owner));
        }
        if let Some(keyset) = req.cursor_filter("benchmark_runs") {
            query = query.filter(keyset);
        }
        query = match req.direction {
            Direction::Forward => {
                query.order((benchmark_runs::created_at.desc(), benchmark_runs::id.desc()))
            }
            Direction::Backward => {
                query.order((benchmark_runs::created_at.asc(), benchmark_runs::id.asc()))
            }
        };
        let rows = query
            .limit(req.limit + 1)
            .select(BenchmarkRun::as_select())
            .load(conn)
            .await?;
        Ok(Page::from_rows(rows, req))
    }

    pub async fn count(conn: &mut AsyncPgConnection, owner: Option<UserId>) -> QueryResult<i64> {
        let mut query = benchmark_runs::table.into_boxed();
        if let Some(owner) = owner {
            query = query.filter(benchmark_runs::owner_id.eq(owner));
        }
        query.count().get_result(conn).await
    }

    /// PENDING -> RUNNING on this host; false if the run is no longer waiting to run.
    pub async fn start(
        conn: &mut AsyncPgConnection,
        id: BenchmarkRunId,
        host: &Host<'_>,
    ) -> QueryResult<bool> {
        let n = diesel::update(
            benchmark_runs::table
                .find(id)
                .filter(benchmark_runs::status.eq_any([RunStatus::Pending, RunStatus::Running])),
        )
        .set((
            benchmark_runs::status.eq(RunStatus::Running),
            benchmark_runs::host_name.eq(host.name),
            benchmark_runs::cpu_model.eq(host.cpu_model),
            benchmark_runs::cores.eq(host.cores),
            benchmark_runs::started_at.eq(Some(Utc::now())),
        ))
        .execute(conn)
        .await?;
        Ok(n == 1)
    }

    /// Back to PENDING between attempts.
    pub async fn requeue(conn: &mut AsyncPgConnection, id: BenchmarkRunId) -> QueryResult<()> {
        diesel::update(
            benchmark_runs::table
                .find(id)
                .filter(benchmark_runs::status.eq(RunStatus::Running)),
        )
        .set(benchmark_runs::status.eq(RunStatus::Pending))
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Records the outcome of an unfinished run; false if it had already finished.
    pub async fn finish(
        conn: &mut AsyncPgConnection,
        id: BenchmarkRunId,
        status: RunStatus,
        outcome: &Outcome<'_>,
    ) -> QueryResult<bool> {
        let measured = outcome.error.is_none();
        let n = diesel::update(
            benchmark_runs::table
                .find(id)
                .filter(benchmark_runs::status.eq_any([RunStatus::Pending, RunStatus::Running])),
        )
        .set((
            benchmark_runs::status.eq(status),
            benchmark_runs::seconds.eq(measured.then_some(outcome.seconds)),
            benchmark_runs::gflops.eq(measured.then_some(outcome.gflops)),
            benchmark_runs::residual.eq(measured.then_some(outcome.residual)),
            benchmark_runs::passed.eq(Some(outcome.passed)),
            benchmark_runs::error.eq(outcome.error),
            benchmark_runs::finished_at.eq(Some(Utc::now())),
        ))
        .execute(conn)
        .await?;
        Ok(n == 1)
    }
}

super::by_id!(BenchmarkRun, benchmark_runs, BenchmarkRunId);
