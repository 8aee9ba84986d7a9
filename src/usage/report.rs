//! Reading the counters back: totals by name, a summary, and time series. A bucket
//! counts when it starts within `[from, to)`; the finest granularity still kept for
//! `from` is used, so recent figures are exact to the minute.

use chrono::{DateTime, DurationRound as _, TimeDelta, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl as _};
use imagegraph_db::UserId;

use super::{Kind, Retention};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Minute,
    Hour,
    Day,
}

impl Bucket {
    fn as_str(self) -> &'static str {
        match self {
            Self::Minute => "MINUTE",
            Self::Hour => "HOUR",
            Self::Day => "DAY",
        }
    }

    pub fn width(self) -> TimeDelta {
        match self {
            Self::Minute => TimeDelta::minutes(1),
            Self::Hour => TimeDelta::hours(1),
            Self::Day => TimeDelta::days(1),
        }
    }

    /// The finest bucket still kept for data starting at `from`.
    pub fn finest_kept(from: DateTime<Utc>, now: DateTime<Utc>, retention: Retention) -> Self {
        if from >= now - retention.minutes {
            Self::Minute
        } else if from >= now - retention.hours {
            Self::Hour
        } else {
            Self::Day
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Range {
    fn start(&self, bucket: Bucket) -> DateTime<Utc> {
        self.from
            .duration_trunc(bucket.width())
            .unwrap_or(self.from)
    }
}

#[derive(Debug, Clone, QueryableByName)]
pub struct Totals {
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub user_id: Option<UserId>,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
    #[diesel(sql_type = BigInt)]
    pub error_count: i64,
    #[diesel(sql_type = BigInt)]
    pub duration_us: i64,
    #[diesel(sql_type = BigInt)]
    pub prompt_tokens: i64,
    #[diesel(sql_type = BigInt)]
    pub completion_tokens: i64,
    #[diesel(sql_type = Timestamptz)]
    pub last_used_at: DateTime<Utc>,
}

const SUMS: &str = "sum(count)::int8 AS count, sum(error_count)::int8 AS error_count, sum(duration_us)::int8 AS duration_us, \
    sum(prompt_tokens)::int8 AS prompt_tokens, sum(completion_tokens)::int8 AS completion_tokens, max(last_used_at) AS last_used_at";

/// Totals per name (for one user, or everyone when `user` is `None`), most used first.
pub async fn totals(
    conn: &mut AsyncPgConnection,
    user: Option<UserId>,
    kind: Kind,
    range: Range,
    bucket: Bucket,
    limit: i64,
    offset: i64,
) -> diesel::QueryResult<Vec<Totals>> {
    diesel::sql_query(format!(
        "SELECT name, $5::uuid AS user_id, {SUMS} FROM usage_counters \
         WHERE bucket_size = $1 AND bucket_start >= $2 AND bucket_start < $3 AND kind = $4 \
           AND ($5::uuid IS NULL OR user_id = $5) \
         GROUP BY name ORDER BY sum(count) DESC, name LIMIT $6 OFFSET $7"
    ))
    .bind::<Text, _>(bucket.as_str())
    .bind::<Timestamptz, _>(range.start(bucket))
    .bind::<Timestamptz, _>(range.to)
    .bind::<Text, _>(kind.as_str())
    .bind::<Nullable<SqlUuid>, _>(user)
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(offset)
    .load(conn)
    .await
}

#[derive(Debug, Clone, QueryableByName)]
pub struct Summary {
    #[diesel(sql_type = BigInt)]
    pub total_api_calls: i64,
    #[diesel(sql_type = BigInt)]
    pub total_function_calls: i64,
    #[diesel(sql_type = BigInt)]
    pub unique_users: i64,
    #[diesel(sql_type = BigInt)]
    pub prompt_tokens: i64,
    #[diesel(sql_type = BigInt)]
    pub completion_tokens: i64,
}

pub async fn summary(
    conn: &mut AsyncPgConnection,
    user: Option<UserId>,
    range: Range,
    bucket: Bucket,
) -> diesel::QueryResult<Summary> {
    diesel::sql_query(
        "SELECT coalesce(sum(count) FILTER (WHERE kind = 'API'), 0)::int8 AS total_api_calls, \
           coalesce(sum(count) FILTER (WHERE kind = 'FUNCTION'), 0)::int8 AS total_function_calls, \
           count(DISTINCT user_id) FILTER (WHERE kind = 'API' AND user_id <> '00000000-0000-0000-0000-000000000000')::int8 AS unique_users, \
           coalesce(sum(prompt_tokens) FILTER (WHERE kind = 'FUNCTION'), 0)::int8 AS prompt_tokens, \
           coalesce(sum(completion_tokens) FILTER (WHERE kind = 'FUNCTION'), 0)::int8 AS completion_tokens \
         FROM usage_counters \
         WHERE bucket_size = $1 AND bucket_start >= $2 AND bucket_start < $3 AND ($4::uuid IS NULL OR user_id = $4)",
    )
    .bind::<Text, _>(bucket.as_str())
    .bind::<Timestamptz, _>(range.start(bucket))
    .bind::<Timestamptz, _>(range.to)
    .bind::<Nullable<SqlUuid>, _>(user)
    .get_result(conn)
    .await
}

#[derive(Debug, Clone, QueryableByName)]
pub struct Point {
    #[diesel(sql_type = Timestamptz)]
    pub bucket_start: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
    #[diesel(sql_type = BigInt)]
    pub error_count: i64,
    #[diesel(sql_type = BigInt)]
    pub duration_us: i64,
}

/// One point per bucket that saw use, oldest first.
pub async fn series(
    conn: &mut AsyncPgConnection,
    user: Option<UserId>,
    kind: Kind,
    name: &str,
    range: Range,
    bucket: Bucket,
) -> diesel::QueryResult<Vec<Point>> {
    diesel::sql_query(
        "SELECT bucket_start, sum(count)::int8 AS count, sum(error_count)::int8 AS error_count, sum(duration_us)::int8 AS duration_us \
         FROM usage_counters \
         WHERE bucket_size = $1 AND bucket_start >= $2 AND bucket_start < $3 AND kind = $4 AND name = $5 \
           AND ($6::uuid IS NULL OR user_id = $6) \
         GROUP BY bucket_start ORDER BY bucket_start",
    )
    .bind::<Text, _>(bucket.as_str())
    .bind::<Timestamptz, _>(range.start(bucket))
    .bind::<Timestamptz, _>(range.to)
    .bind::<Text, _>(kind.as_str())
    .bind::<Text, _>(name)
    .bind::<Nullable<SqlUuid>, _>(user)
    .load(conn)
    .await
}
