//! The jobs table. Every function takes a connection, so callers can enqueue inside
//! their own transaction.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Jsonb, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use imagegraph_db::JobId;
use imagegraph_db::models::job::JobStatus;
use imagegraph_db::schema::jobs;

/// A job a worker has taken, under a lease.
#[derive(Debug, Clone, QueryableByName)]
pub struct ClaimedJob {
    /// The job's row.
    #[diesel(sql_type = SqlUuid)]
    pub id: JobId,
    /// Which [`crate::Job`] it is.
    #[diesel(sql_type = Text)]
    pub kind: String,
    /// The job, serialised.
    #[diesel(sql_type = Jsonb)]
    pub payload: serde_json::Value,
    /// Attempts so far, this one included.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    /// Attempts it gets before it is given up.
    #[diesel(sql_type = Integer)]
    pub max_attempts: i32,
    /// The request that enqueued it.
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub request_id: Option<String>,
    /// The trace it continues.
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub traceparent: Option<String>,
}

/// Inserts a job of `kind`; [`crate::enqueue`] is the typed way in.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    kind: &str,
    payload: serde_json::Value,
    max_attempts: i32,
    origin: &crate::Origin,
) -> QueryResult<JobId> {
    let id = JobId::new();
    diesel::insert_into(jobs::table)
        .values((
            jobs::id.eq(id),
            jobs::kind.eq(kind),
            jobs::payload.eq(payload),
            jobs::max_attempts.eq(max_attempts),
            jobs::request_id.eq(origin.request_id.as_deref()),
            jobs::traceparent.eq(origin.traceparent.as_deref()),
        ))
        .execute(conn)
        .await?;
    Ok(id)
}

/// Takes the next runnable job of one of `kinds`: queued and due, or running under a
/// lease that ran out (its worker died). One statement, so two workers never take the
/// same job.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    kinds: &[&str],
    worker: &str,
    lease: Duration,
) -> QueryResult<Option<ClaimedJob>> {
    diesel::sql_query(
        "UPDATE jobs SET status = 'RUNNING', attempts = attempts + 1, locked_by = $1, \
           locked_until = now() + $2 * interval '1 millisecond', updated_at = now() \
         WHERE id = ( \
           SELECT id FROM jobs \
           WHERE ((status = 'QUEUED' AND run_at <= now()) OR (status = 'RUNNING' AND locked_until < now())) \
             AND kind = ANY($3) \
           ORDER BY run_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING id, kind, payload, attempts, max_attempts, request_id, traceparent",
    )
    .bind::<Text, _>(worker)
    .bind::<BigInt, _>(lease.as_millis() as i64)
    .bind::<Array<Text>, _>(kinds)
    .get_result(conn)
    .await
    .optional()
}

/// Extends the lease while the job runs; false if another worker has taken it over.
pub async fn extend_lease(
    conn: &mut AsyncPgConnection,
    id: JobId,
    worker: &str,
    lease: Duration,
) -> QueryResult<bool> {
    let n = diesel::sql_query(
        "UPDATE jobs SET locked_until = now() + $3 * interval '1 millisecond' \
         WHERE id = $1 AND locked_by = $2 AND status = 'RUNNING'",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<Text, _>(worker)
    .bind::<BigInt, _>(lease.as_millis() as i64)
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// Done: the job's effects are committed, so the row goes.
pub async fn complete(conn: &mut AsyncPgConnection, id: JobId) -> QueryResult<()> {
    diesel::delete(jobs::table.find(id)).execute(conn).await?;
    Ok(())
}

/// Puts a failed job back in the queue, due at `run_at`.
pub async fn retry_at(
    conn: &mut AsyncPgConnection,
    id: JobId,
    run_at: DateTime<Utc>,
    error: &str,
) -> QueryResult<()> {
    diesel::update(jobs::table.find(id))
        .set((
            jobs::status.eq(JobStatus::Queued),
            jobs::run_at.eq(run_at),
            jobs::locked_by.eq(None::<String>),
            jobs::locked_until.eq(None::<DateTime<Utc>>),
            jobs::last_error.eq(error),
            jobs::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Gives up; the row stays, with its error, for operators to inspect.
pub async fn fail(conn: &mut AsyncPgConnection, id: JobId, error: &str) -> QueryResult<()> {
    diesel::update(jobs::table.find(id))
        .set((
            jobs::status.eq(JobStatus::Failed),
            jobs::locked_by.eq(None::<String>),
            jobs::locked_until.eq(None::<DateTime<Utc>>),
            jobs::last_error.eq(error),
            jobs::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Hands a job back untouched (graceful shutdown): the attempt does not count.
pub async fn release(conn: &mut AsyncPgConnection, id: JobId, worker: &str) -> QueryResult<()> {
    diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::locked_by.eq(worker))
            .filter(jobs::status.eq(JobStatus::Running)),
    )
    .set((
        jobs::status.eq(JobStatus::Queued),
        jobs::attempts.eq(jobs::attempts - 1),
        jobs::locked_by.eq(None::<String>),
        jobs::locked_until.eq(None::<DateTime<Utc>>),
        jobs::run_at.eq(Utc::now()),
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// When the next queued job of one of `kinds` falls due, or a running one's lease
/// runs out.
pub async fn next_due(
    conn: &mut AsyncPgConnection,
    kinds: &[&str],
) -> QueryResult<Option<DateTime<Utc>>> {
    let queued: Option<DateTime<Utc>> = jobs::table
        .filter(jobs::status.eq(JobStatus::Queued))
        .filter(jobs::kind.eq_any(kinds))
        .select(diesel::dsl::min(jobs::run_at))
        .get_result(conn)
        .await?;
    let leased: Option<DateTime<Utc>> = jobs::table
        .filter(jobs::status.eq(JobStatus::Running))
        .filter(jobs::kind.eq_any(kinds))
        .select(diesel::dsl::min(jobs::locked_until))
        .get_result(conn)
        .await?;
    Ok([queued, leased].into_iter().flatten().min())
}

/// Jobs not yet finished, and the age in seconds of the oldest.
pub async fn depth(conn: &mut AsyncPgConnection) -> QueryResult<(i64, Option<f64>)> {
    #[derive(QueryableByName)]
    struct Depth {
        #[diesel(sql_type = BigInt)]
        pending: i64,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Double>)]
        oldest: Option<f64>,
    }
    let row: Depth = diesel::sql_query(
        "SELECT count(*) AS pending, extract(epoch FROM now() - min(created_at))::float8 AS oldest \
         FROM jobs WHERE status <> 'FAILED'",
    )
    .get_result(conn)
    .await?;
    Ok((row.pending, row.oldest))
}
