//! Usage metrics: how the API and the service's functions are used, per user and in
//! total. Recording is a map update under a mutex, so no request waits on a write;
//! a flusher adds the accumulated counts to PostgreSQL every few seconds and at
//! shutdown. Worst case, a process killed without warning loses the counts of the
//! last flush interval (`USAGE_FLUSH_INTERVAL_MS`, default 5 s).

pub mod report;
mod store;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, DurationRound as _, TimeDelta, Utc};
use imagegraph_db::UserId;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use imagegraph_db::Db;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A GraphQL operation, by name (or `anonymous`), or an HTTP route such as media.
    Api,
    /// A root field of an operation.
    Field,
    /// A domain function: `image.upload`, `ai.describe`, ...
    Function,
    /// An error code returned to a client.
    Error,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "API",
            Self::Field => "FIELD",
            Self::Function => "FUNCTION",
            Self::Error => "ERROR",
        }
    }
}

/// One use of something, as recorded.
#[derive(Debug, Clone)]
pub struct Use {
    pub kind: Kind,
    pub name: String,
    pub user: Option<UserId>,
    pub duration: Duration,
    pub failed: bool,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

impl Use {
    pub fn new(
        kind: Kind,
        name: impl Into<String>,
        user: Option<UserId>,
        duration: Duration,
        failed: bool,
    ) -> Self {
        Self {
            kind,
            name: name.into(),
            user,
            duration,
            failed,
            prompt_tokens: 0,
            completion_tokens: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    kind: Kind,
    name: String,
    user: Uuid,
    minute: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
struct Totals {
    count: i64,
    errors: i64,
    duration_us: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    last_used: Option<DateTime<Utc>>,
}

impl Totals {
    fn merge(&mut self, other: &Totals) {
        self.count += other.count;
        self.errors += other.errors;
        self.duration_us += other.duration_us;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.last_used = self.last_used.max(other.last_used);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub minutes: TimeDelta,
    pub hours: TimeDelta,
}

impl Retention {
    pub fn from_config(config: &crate::config::UsageConfig) -> Self {
        Self {
            minutes: TimeDelta::hours(config.usage_minute_retention_hours),
            hours: TimeDelta::days(config.usage_hour_retention_days),
        }
    }
}

/// The label every name past the cap (or unfit to be one) is counted under.
pub const OTHER: &str = "other";
/// Longest name kept as a label of its own (an operation's type and a 64-character
/// name fit).
pub const MAX_LABEL_CHARS: usize = 80;
/// Most distinct (minute, user, kind, name) counters waiting for a flush; past it,
/// uses are dropped (and counted in the log) until the next flush makes room.
const MAX_PENDING: usize = 100_000;

pub struct UsageRecorder {
    pending: Mutex<HashMap<Key, Totals>>,
    /// Names seen so far, per kind: a client cannot make the process (or the
    /// database, or Prometheus) keep more than `max_labels` of any kind, and names of
    /// one kind cannot crowd out another's.
    labels: Mutex<HashMap<Kind, HashSet<String>>>,
    /// Rows a flush could not write because the database was away, for the next.
    unwritten: Mutex<HashMap<store::RowKey, Totals>>,
    max_labels: usize,
    dropped: std::sync::atomic::AtomicU64,
    clock: Clock,
    enabled: bool,
    pub retention: Retention,
}

impl UsageRecorder {
    pub fn new(enabled: bool, retention: Retention, clock: Clock) -> Self {
        Self {
            pending: Mutex::new(HashMap::new()),
            labels: Mutex::new(HashMap::new()),
            unwritten: Mutex::new(HashMap::new()),
            max_labels: 1_000,
            dropped: std::sync::atomic::AtomicU64::new(0),
            clock,
            enabled,
            retention,
        }
    }

    /// Caps the distinct names kept per process (`USAGE_MAX_LABELS`).
    #[must_use]
    pub fn with_max_labels(mut self, max_labels: usize) -> Self {
        self.max_labels = max_labels;
        self
    }

    /// The label `name` is counted under: itself while it is short, printable and
    /// among the first `max_labels` names seen, `other` otherwise.
    pub fn label(&self, kind: Kind, name: &str) -> String {
        let fit = !name.is_empty()
            && name.chars().count() <= MAX_LABEL_CHARS
            && !name.chars().any(char::is_control);
        if !fit {
            return OTHER.to_owned();
        }
        let mut labels = self
            .labels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let names = labels.entry(kind).or_default();
        if names.contains(name) || names.len() < self.max_labels {
            names.insert(name.to_owned());
            name.to_owned()
        } else {
            OTHER.to_owned()
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    pub fn record(&self, usage: Use) {
        if !self.enabled {
            return;
        }
        let now = self.now();
        let key = Key {
            kind: usage.kind,
            name: self.label(usage.kind, &usage.name),
            // The global series is kept under the nil id.
            user: usage.user.map_or(Uuid::nil(), UserId::uuid),
            minute: now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now),
        };
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pending.len() >= MAX_PENDING && !pending.contains_key(&key) {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        let totals = pending.entry(key).or_default();
        totals.count += 1;
        totals.errors += i64::from(usage.failed);
        totals.duration_us += i64::try_from(usage.duration.as_micros()).unwrap_or(i64::MAX);
        totals.prompt_tokens += usage.prompt_tokens;
        totals.completion_tokens += usage.completion_tokens;
        totals.last_used = totals.last_used.max(Some(now));
    }

    /// Times `work` and records it as a use of function `name`.
    pub async fn function<T, E>(
        &self,
        name: &str,
        user: Option<UserId>,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let started = std::time::Instant::now();
        let result = work.await;
        self.record(Use::new(
            Kind::Function,
            name,
            user,
            started.elapsed(),
            result.is_err(),
        ));
        result
    }

    /// Adds what was recorded since the last flush to the database. Rows the
    /// database refuses are dropped (and logged) and the rest written; rows not
    /// written because the database is away wait for the next flush, in a backlog
    /// as bounded as the pending counts.
    pub async fn flush(&self, db: &Db) -> anyhow::Result<usize> {
        let dropped = self.dropped.swap(0, std::sync::atomic::Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(dropped, "usage backlog full: uses were not counted");
        }
        let batch = std::mem::take(&mut *lock(&self.pending));
        let mut rows = std::mem::take(&mut *lock(&self.unwritten));
        for (key, totals) in store::rows_for(&batch) {
            rows.entry(key).or_default().merge(&totals);
        }
        if rows.is_empty() {
            return Ok(0);
        }
        let rows: Vec<_> = rows.into_iter().collect();
        let mut conn = match db.conn().await {
            Ok(conn) => conn,
            Err(err) => {
                self.keep_unwritten(rows);
                return Err(err.into());
            }
        };
        let outcome = store::add_isolating(&mut conn, rows).await;
        self.keep_unwritten(outcome.unwritten);
        match outcome.error {
            Some(err) => Err(err.into()),
            None => Ok(outcome.written),
        }
    }

    fn keep_unwritten(&self, rows: Vec<(store::RowKey, Totals)>) {
        let mut unwritten = lock(&self.unwritten);
        for (key, totals) in rows {
            if unwritten.len() >= MAX_PENDING && !unwritten.contains_key(&key) {
                self.dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                continue;
            }
            unwritten.entry(key).or_default().merge(&totals);
        }
    }

    /// Flushes every `interval` until `shutdown`, then once more; prunes buckets past
    /// their retention now and then.
    pub async fn run_flusher(
        self: Arc<Self>,
        db: Db,
        interval: Duration,
        shutdown: CancellationToken,
    ) {
        let mut ticks = tokio::time::interval(interval);
        let mut since_prune = 0u32;
        loop {
            let stopping = tokio::select! {
                _ = ticks.tick() => false,
                () = shutdown.cancelled() => true,
            };
            if let Err(err) = self.flush(&db).await {
                tracing::warn!(error = %err, "usage flush failed; counts kept for the next one");
            }
            if stopping {
                return;
            }
            since_prune += 1;
            if since_prune >= 120 {
                since_prune = 0;
                if let Ok(mut conn) = db.conn().await
                    && let Err(err) = store::prune(&mut conn, self.now(), self.retention).await
                {
                    tracing::warn!(error = %err, "pruning usage counters failed");
                }
            }
        }
    }
}

/// Accounts for one call to an AI provider: a row in `ai_calls` (its cost), a function
/// use named `<operation>/<model>` with its tokens, and the Prometheus figures.
pub async fn account_ai_call(
    db: &Db,
    recorder: &UsageRecorder,
    call: imagegraph_db::models::ai_call::AiCall<'_>,
) -> crate::error::Result<()> {
    let mut conn = db.conn().await?;
    imagegraph_db::models::ai_call::record(&mut conn, call).await?;
    recorder.record(Use {
        kind: Kind::Function,
        name: format!("{}/{}", call.operation, call.model),
        user: call.user_id,
        duration: call.duration,
        failed: !call.succeeded,
        prompt_tokens: i64::from(call.prompt_tokens),
        completion_tokens: i64::from(call.completion_tokens),
    });
    let outcome = if call.succeeded { "ok" } else { "error" };
    crate::telemetry::ai_call(call.operation, outcome, call.duration);
    Ok(())
}
