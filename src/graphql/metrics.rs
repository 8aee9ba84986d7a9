//! `metrics`, `metricsSummary` and `metricsSeries`. Members see their own figures;
//! global figures and other users' need ADMIN.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use imagegraph_db::UserId;

use super::pagination::PageInfo;
use super::types::User;
use super::{ContextExt as _, parse_id};
use crate::error::{Error, Result};
use crate::usage::Kind;
use crate::usage::report::{self, Bucket, Range};

const DEFAULT_PAGE: i32 = 20;
const MAX_PAGE: i32 = 100;
const METRICS_PAGE: super::pagination::Limits = super::pagination::Limits {
    default: DEFAULT_PAGE,
    max: MAX_PAGE,
};
const MAX_POINTS: i64 = 2000;

#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricScope {
    /// The viewer's own figures.
    #[default]
    Viewer,
    /// Everyone's, added up (ADMIN).
    Global,
    /// One user's, by `userId` (ADMIN, unless it is the viewer).
    User,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricKind {
    /// GraphQL operations by name (`query feed`, `mutation anonymous`) and HTTP routes (`media.download`).
    #[default]
    Api,
    /// Domain functions: `image.upload`, `comment.add`, `ai.describe`, ...
    Function,
    /// Root fields called.
    Field,
    /// Error codes returned.
    Error,
}

impl From<MetricKind> for Kind {
    fn from(kind: MetricKind) -> Self {
        match kind {
            MetricKind::Api => Kind::Api,
            MetricKind::Function => Kind::Function,
            MetricKind::Field => Kind::Field,
            MetricKind::Error => Kind::Error,
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricBucket {
    Minute,
    #[default]
    Hour,
    Day,
}

impl From<MetricBucket> for Bucket {
    fn from(bucket: MetricBucket) -> Self {
        match bucket {
            MetricBucket::Minute => Bucket::Minute,
            MetricBucket::Hour => Bucket::Hour,
            MetricBucket::Day => Bucket::Day,
        }
    }
}

pub(super) struct Metric {
    totals: report::Totals,
    kind: MetricKind,
}

#[Object]
impl Metric {
    async fn name(&self) -> &str {
        &self.totals.name
    }

    async fn kind(&self) -> MetricKind {
        self.kind
    }

    async fn count(&self) -> i64 {
        self.totals.count
    }

    async fn error_count(&self) -> i64 {
        self.totals.error_count
    }

    async fn total_duration_ms(&self) -> f64 {
        self.totals.duration_us as f64 / 1000.0
    }

    async fn avg_duration_ms(&self) -> f64 {
        average_ms(self.totals.duration_us, self.totals.count)
    }

    async fn last_used_at(&self) -> DateTime<Utc> {
        self.totals.last_used_at
    }

    async fn prompt_tokens(&self) -> i64 {
        self.totals.prompt_tokens
    }

    async fn completion_tokens(&self) -> i64 {
        self.totals.completion_tokens
    }

    /// Whose figures these are; null for global figures.
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(id) = self.totals.user_id else {
            return Ok(None);
        };
        ctx.loaders().users.load_one(id).await
    }
}

fn average_ms(duration_us: i64, count: i64) -> f64 {
    if count == 0 {
        0.0
    } else {
        duration_us as f64 / count as f64 / 1000.0
    }
}

#[derive(SimpleObject)]
pub(super) struct MetricEdge {
    cursor: String,
    node: Metric,
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub(super) struct MetricConnection {
    edges: Vec<MetricEdge>,
    page_info: PageInfo,
}

#[async_graphql::ComplexObject]
impl MetricConnection {
    async fn nodes(&self) -> Vec<&Metric> {
        self.edges.iter().map(|edge| &edge.node).collect()
    }
}

#[derive(SimpleObject)]
pub(super) struct MetricsSummary {
    total_api_calls: i64,
    total_function_calls: i64,
    /// Distinct users who called the API (anonymous calls are not a user).
    unique_users: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
}

#[derive(SimpleObject)]
pub(super) struct MetricPoint {
    bucket_start: DateTime<Utc>,
    count: i64,
    error_count: i64,
    avg_duration_ms: f64,
}

#[derive(Default)]
pub(super) struct MetricsQuery;

#[Object]
impl MetricsQuery {
    /// Usage by name, most used first. `from` defaults to 30 days ago, `to` to now.
    #[expect(
        clippy::too_many_arguments,
        reason = "GraphQL arguments map one to one"
    )]
    #[graphql(
        complexity = "super::limits::connection_complexity(first, None, &METRICS_PAGE, child_complexity)"
    )]
    async fn metrics(
        &self,
        ctx: &Context<'_>,
        scope: Option<MetricScope>,
        user_id: Option<ID>,
        kind: Option<MetricKind>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        #[graphql(desc = "At most 100; default 20.")] first: Option<i32>,
        after: Option<String>,
    ) -> Result<MetricConnection> {
        let user = scope_user(ctx, scope.unwrap_or_default(), user_id.as_ref())?;
        let kind = kind.unwrap_or_default();
        let app = ctx.app();
        let range = range(from, to, app.usage.now())?;
        let bucket = Bucket::finest_kept(range.from, app.usage.now(), app.usage.retention);
        let first = first.unwrap_or(DEFAULT_PAGE);
        if !(0..=MAX_PAGE).contains(&first) {
            return Err(Error::bad_input(format!(
                "`first` must be between 0 and {MAX_PAGE}; got {first}"
            )));
        }
        let offset = after
            .as_deref()
            .map(decode_offset)
            .transpose()?
            .unwrap_or(0);
        let mut conn = app.db.conn().await?;
        let mut rows = report::totals(
            &mut conn,
            user,
            kind.into(),
            range,
            bucket,
            i64::from(first) + 1,
            offset,
        )
        .await?;
        let has_next_page = rows.len() > first as usize;
        rows.truncate(first as usize);
        let edges: Vec<MetricEdge> = rows
            .into_iter()
            .enumerate()
            .map(|(i, totals)| MetricEdge {
                cursor: encode_offset(offset + i as i64 + 1),
                node: Metric { totals, kind },
            })
            .collect();
        let page_info = PageInfo {
            has_next_page,
            has_previous_page: offset > 0,
            start_cursor: edges.first().map(|e| e.cursor.clone()),
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        };
        Ok(MetricConnection { edges, page_info })
    }

    async fn metrics_summary(
        &self,
        ctx: &Context<'_>,
        scope: Option<MetricScope>,
        user_id: Option<ID>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<MetricsSummary> {
        let user = scope_user(ctx, scope.unwrap_or_default(), user_id.as_ref())?;
        let app = ctx.app();
        let range = range(from, to, app.usage.now())?;
        let bucket = Bucket::finest_kept(range.from, app.usage.now(), app.usage.retention);
        let mut conn = app.db.conn().await?;
        let s = report::summary(&mut conn, user, range, bucket).await?;
        Ok(MetricsSummary {
            total_api_calls: s.total_api_calls,
            total_function_calls: s.total_function_calls,
            unique_users: s.unique_users,
            prompt_tokens: s.prompt_tokens,
            completion_tokens: s.completion_tokens,
        })
    }

    /// One point per bucket that saw use, for charts.
    #[expect(
        clippy::too_many_arguments,
        reason = "GraphQL arguments map one to one"
    )]
    async fn metrics_series(
        &self,
        ctx: &Context<'_>,
        name: String,
        kind: Option<MetricKind>,
        bucket: Option<MetricBucket>,
        scope: Option<MetricScope>,
        user_id: Option<ID>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<MetricPoint>> {
        let user = scope_user(ctx, scope.unwrap_or_default(), user_id.as_ref())?;
        let app = ctx.app();
        let now = app.usage.now();
        let bucket: Bucket = bucket.unwrap_or_default().into();
        // Without `from`, the last 120 buckets: two hours of minutes, five days of hours.
        let from = from.or(Some(now - bucket.width() * 120));
        let range = range(from, to, now)?;
        if (range.to - range.from).num_seconds() / bucket.width().num_seconds() > MAX_POINTS {
            return Err(Error::bad_input(format!(
                "at most {MAX_POINTS} buckets per series: use a coarser bucket"
            )));
        }
        let kept = Bucket::finest_kept(range.from, now, app.usage.retention);
        if bucket.width() < kept.width() {
            return Err(Error::bad_input(
                "that bucket size is no longer kept for this range: use a coarser bucket",
            ));
        }
        let mut conn = app.db.conn().await?;
        let points = report::series(
            &mut conn,
            user,
            kind.unwrap_or_default().into(),
            &name,
            range,
            bucket,
        )
        .await?;
        Ok(points
            .into_iter()
            .map(|p| MetricPoint {
                bucket_start: p.bucket_start,
                count: p.count,
                error_count: p.error_count,
                avg_duration_ms: average_ms(p.duration_us, p.count),
            })
            .collect())
    }
}

/// Whose figures a request may see: `Some(user)` for one user, `None` for everyone.
fn scope_user(
    ctx: &Context<'_>,
    scope: MetricScope,
    user_id: Option<&ID>,
) -> Result<Option<UserId>, Error> {
    let viewer = ctx.viewer()?;
    match (scope, user_id) {
        (MetricScope::Viewer, None) => Ok(Some(viewer.id)),
        (MetricScope::Global, None) if viewer.is_admin() => Ok(None),
        (MetricScope::Global, None) => Err(Error::forbidden("global metrics need the ADMIN role")),
        (MetricScope::User, Some(id)) => {
            let id = parse_id(id)?;
            if viewer.may_manage(id) {
                Ok(Some(id))
            } else {
                Err(Error::forbidden(
                    "another user's metrics need the ADMIN role",
                ))
            }
        }
        (MetricScope::User, None) => Err(Error::bad_input("scope USER needs `userId`")),
        (_, Some(_)) => Err(Error::bad_input("`userId` goes with scope USER")),
    }
}

fn range(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Range, Error> {
    // The current minute's bucket starts before now; include it.
    let to = to.unwrap_or(now + TimeDelta::minutes(1));
    let from = from.unwrap_or(now - TimeDelta::days(30));
    if from >= to {
        return Err(Error::bad_input("`from` must be before `to`"));
    }
    Ok(Range { from, to })
}

fn encode_offset(offset: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

fn decode_offset(cursor: &str) -> Result<i64, Error> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|text| {
            text.strip_prefix("offset:")
                .and_then(|n| n.parse::<i64>().ok())
        })
        .filter(|n| *n >= 0)
        .ok_or_else(|| {
            Error::bad_input(format!(
                "`{}` is not a valid cursor",
                cursor.chars().take(64).collect::<String>()
            ))
        })
}
