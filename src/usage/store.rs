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

/// Statements one flush may spend isolating refused rows; rows left when they run
/// out wait for the next flush.
const MAX_STATEMENTS: usize = 64;

/// What `add_isolating` did.
pub(super) struct Isolated {
    pub(super) written: usize,
    /// Not written, and worth another try: the database was away, or the statement
    /// budget ran out.
    pub(super) unwritten: Vec<(RowKey, Totals)>,
    /// Why the database was away, if it was.
    pub(super) error: Option<diesel::result::Error>,
}

/// `add`, but a row the database refuses does not cost the others: a refused batch
/// is split in halves until the bad rows stand alone, and those are dropped with a
/// log line. A failure that says the database is away stops the work, and what was
/// not written is handed back.
pub(super) async fn add_isolating(
    conn: &mut AsyncPgConnection,
    rows: Vec<(RowKey, Totals)>,
) -> Isolated {
    let mut outcome = Isolated {
        written: 0,
        unwritten: Vec::new(),
        error: None,
    };
    let mut budget = MAX_STATEMENTS;
    let mut chunks = vec![rows];
    while let Some(mut chunk) = chunks.pop() {
        if budget == 0 || outcome.error.is_some() {
            outcome.unwritten.append(&mut chunk);
            continue;
        }
        budget -= 1;
        match add(conn, &chunk).await {
            Ok(_) => outcome.written += chunk.len(),
            Err(err) if is_passing(&err) => {
                outcome.error = Some(err);
                outcome.unwritten.append(&mut chunk);
            }
            Err(err) if chunk.len() == 1 => {
                let (key, _) = &chunk[0];
                tracing::error!(error = %err, kind = key.kind.as_str(), name = %key.name.escape_debug(), "a usage counter was refused; dropped");
            }
            Err(_) => {
                let right = chunk.split_off(chunk.len() / 2);
                chunks.push(right);
                chunks.push(chunk);
            }
        }
    }
    outcome
}

/// Failures that say nothing about the rows: trying the same rows later may work.
fn is_passing(err: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind as K, Error};
    matches!(
        err,
        Error::BrokenTransactionManager
            | Error::DatabaseError(
                K::ClosedConnection
                    | K::UnableToSendCommand
                    | K::SerializationFailure
                    | K::ReadOnlyTransaction,
                _
            )
    )
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
