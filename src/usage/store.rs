use std::collections::HashMap;

use chrono::{DateTime, DurationRound as _, TimeDelta, Utc};
use diesel::sql_types::{Array, BigInt, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl as _};
use uuid::Uuid;

use super::{Key, Kind, Retention, Totals};

pub(super) const BUCKETS: [(&str, TimeDelta); 3] = [
    ("MINUTE", TimeDelta::minutes(1)),
    ("HOUR", TimeDelta::hours(1)),
    ("DAY", TimeDelta::days(1)),
];

#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct RowKey {
    bucket_size: &'static str,
    bucket_start: DateTime<Utc>,
    kind: Kind,
    name: String,
    user: Uuid,
}

/// Each minute's totals, added into its minute, hour and day buckets. Keys are unique
/// so one INSERT ... ON CONFLICT never touches a row twice.
pub(super) fn rows_for(batch: &HashMap<Key, Totals>) -> Vec<(RowKey, Totals)> {
    let mut rows: HashMap<RowKey, Totals> = HashMap::new();
    for (key, totals) in batch {
        for (bucket_size, width) in BUCKETS {
            let bucket_start = key.minute.duration_trunc(width).unwrap_or(key.minute);
            let row = RowKey {
                bucket_size,
                bucket_start,
                kind: key.kind,
                name: key.name.clone(),
                user: key.user,
            };
            rows.entry(row).or_default().merge(totals);
        }
    }
    rows.into_iter().collect()
}

/// Adds the rows to the counters in one statement.
pub(super) async fn add(
    conn: &mut AsyncPgConnection,
    rows: &[(RowKey, Totals)],
) -> diesel::QueryResult<usize> {
    let column = |f: &dyn Fn(&(RowKey, Totals)) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
    diesel::sql_query(
        "INSERT INTO usage_counters (bucket_size, bucket_start, kind, name, user_id, count, error_count, duration_us, \
           prompt_tokens, completion_tokens, last_used_at) \
         SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::uuid[], $6::int8[], $7::int8[], \
           $8::int8[], $9::int8[], $10::int8[], $11::timestamptz[]) \
         ON CONFLICT (bucket_size, bucket_start, kind, name, user_id) DO UPDATE SET \
           count = usage_counters.count + excluded.count, \
           error_count = usage_counters.error_count + excluded.error_count, \
           duration_us = usage_counters.duration_us + excluded.duration_us, \
           prompt_tokens = usage_counters.prompt_tokens + excluded.prompt_tokens, \
           completion_tokens = usage_counters.completion_tokens + excluded.completion_tokens, \
           last_used_at = greatest(usage_counters.last_used_at, excluded.last_used_at)",
    )
    .bind::<Array<Text>, _>(rows.iter().map(|(k, _)| k.bucket_size).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(rows.iter().map(|(k, _)| k.bucket_start).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(rows.iter().map(|(k, _)| k.kind.as_str()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(rows.iter().map(|(k, _)| k.name.as_str()).collect::<Vec<_>>())
    .bind::<Array<SqlUuid>, _>(rows.iter().map(|(k, _)| k.user).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(column(&|(_, t)| t.count))
    .bind::<Array<BigInt>, _>(column(&|(_, t)| t.errors))
    .bind::<Array<BigInt>, _>(column(&|(_, t)| t.duration_us))
    .bind::<Array<BigInt>, _>(column(&|(_, t)| t.prompt_tokens))
    .bind::<Array<BigInt>, _>(column(&|(_, t)| t.completion_tokens))
    .bind::<Array<Timestamptz>, _>(rows.iter().map(|(k, t)| t.last_used.unwrap_or(k.bucket_start)).collect::<Vec<_>>())
    .execute(conn)
    .await
}

/// `add`, but a row the database refuses does not cost the others: the batch is
/// split in halves until the bad rows stand alone, and those are dropped with a
/// log line. Connection failures are returned, so nothing is lost to an outage.
pub(super) async fn add_isolating(
    conn: &mut AsyncPgConnection,
    rows: &[(RowKey, Totals)],
) -> diesel::QueryResult<usize> {
    use diesel::result::{DatabaseErrorKind, Error};
    match add(conn, rows).await {
        Ok(_) => Ok(rows.len()),
        Err(
            err @ (Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            )
            | Error::BrokenTransactionManager),
        ) => Err(err),
        Err(err) if rows.len() == 1 => {
            let (key, _) = &rows[0];
            tracing::error!(error = %err, kind = key.kind.as_str(), name = %key.name.escape_debug(), "a usage counter was refused; dropped");
            Ok(0)
        }
        Err(_) => {
            let (left, right) = rows.split_at(rows.len() / 2);
            let written = Box::pin(add_isolating(conn, left)).await?;
            Ok(written + Box::pin(add_isolating(conn, right)).await?)
        }
    }
}

/// Deletes minute and hour buckets older than their retention (days are kept).
pub(super) async fn prune(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    retention: Retention,
) -> diesel::QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM usage_counters WHERE (bucket_size = 'MINUTE' AND bucket_start < $1) \
           OR (bucket_size = 'HOUR' AND bucket_start < $2)",
    )
    .bind::<Timestamptz, _>(now - retention.minutes)
    .bind::<Timestamptz, _>(now - retention.hours)
    .execute(conn)
    .await
}
