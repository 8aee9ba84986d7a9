//! Subscriptions over `/graphql/ws`. Each one follows the process's event bus (fed by
//! PostgreSQL LISTEN/NOTIFY, so events from any replica arrive) and gets the row as
//! it is when its event fires, loaded once for all the subscribers of that event.
//! A socket runs at most `WS_MAX_SUBSCRIPTIONS_PER_SOCKET` at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::{Context, ID, Subscription as SubscriptionDerive};
use futures::{Stream, StreamExt as _};
use imagegraph_db::models::{self, ById as _};
use imagegraph_db::{BenchmarkRunId, GenerationId, ImageId};
use tokio::sync::broadcast::error::RecvError;

use super::types::{BenchmarkProgress, Comment, Generation, Image, RowObject};
use super::{ContextExt as _, parse_id};
use crate::app::App;
use crate::error::{Error, QuotaExceeded, Result};
use crate::events::{Delivery, Event};

#[derive(Default)]
pub struct Subscription;

#[SubscriptionDerive]
impl Subscription {
    /// Fires once when an image's analysis finishes, whether it succeeded or failed.
    /// Without `imageId`, for every image.
    async fn analysis_completed(
        &self,
        ctx: &Context<'_>,
        image_id: Option<ID>,
    ) -> Result<impl Stream<Item = Image> + use<>> {
        ctx.viewer()?;
        let wanted: Option<ImageId> = image_id.as_ref().map(parse_id).transpose()?;
        let events = events(ctx)?;
        let app = ctx.app().clone();
        Ok(events.filter_map(move |delivery| {
            let app = app.clone();
            async move {
                let Event::AnalysisCompleted { image_id } = delivery.event else {
                    return None;
                };
                if wanted.is_some_and(|id| id != image_id) {
                    return None;
                }
                fetch(&app, &delivery, image_id).await
            }
        }))
    }

    /// Fires for each comment added to the image.
    async fn comment_added(
        &self,
        ctx: &Context<'_>,
        image_id: ID,
    ) -> Result<impl Stream<Item = Comment> + use<>> {
        ctx.viewer()?;
        let wanted: ImageId = parse_id(&image_id)?;
        let events = events(ctx)?;
        let app = ctx.app().clone();
        let mut conn = app.db.conn().await?;
        if models::Image::find(&mut conn, wanted).await?.is_none() {
            return Err(Error::NotFound("image"));
        }
        drop(conn);
        Ok(events.filter_map(move |delivery| {
            let app = app.clone();
            async move {
                let Event::CommentAdded {
                    image_id,
                    comment_id,
                } = delivery.event
                else {
                    return None;
                };
                if image_id != wanted {
                    return None;
                }
                fetch(&app, &delivery, comment_id).await
            }
        }))
    }

    /// A run's progress, a few times a second, then once more with `done` and the result.
    async fn benchmark_progress(
        &self,
        ctx: &Context<'_>,
        run_id: ID,
    ) -> Result<impl Stream<Item = BenchmarkProgress> + use<>> {
        let viewer = ctx.viewer()?;
        let wanted: BenchmarkRunId = parse_id(&run_id)?;
        let events = events(ctx)?;
        let app = ctx.app().clone();
        let mut conn = app.db.conn().await?;
        match models::BenchmarkRun::find(&mut conn, wanted).await? {
            Some(run) if viewer.may_manage(run.owner_id) => {}
            _ => return Err(Error::NotFound("benchmark run")),
        }
        drop(conn);
        Ok(events.filter_map(move |delivery| {
            let app = app.clone();
            async move {
                let Event::BenchmarkProgress {
                    run_id,
                    fraction,
                    done,
                } = delivery.event
                else {
                    return None;
                };
                if run_id != wanted {
                    return None;
                }
                let run = fetch(&app, &delivery, run_id).await?;
                Some(BenchmarkProgress {
                    fraction,
                    done,
                    run,
                })
            }
        }))
    }

    /// Fires once when the generation succeeds or fails (its owner's, or any for an
    /// admin).
    async fn generation_completed(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<impl Stream<Item = Generation> + use<>> {
        let viewer = ctx.viewer()?;
        let wanted: GenerationId = parse_id(&id)?;
        let events = events(ctx)?;
        let app = ctx.app().clone();
        let mut conn = app.db.conn().await?;
        match models::Generation::find(&mut conn, wanted).await? {
            Some(generation) if viewer.may_manage(generation.owner_id) => {}
            _ => return Err(Error::NotFound("generation")),
        }
        drop(conn);
        Ok(events.filter_map(move |delivery| {
            let app = app.clone();
            async move {
                let Event::GenerationCompleted { generation_id } = delivery.event else {
                    return None;
                };
                if generation_id != wanted {
                    return None;
                }
                fetch(&app, &delivery, generation_id).await
            }
        }))
    }
}

/// The row as it is now, for an event about it; `None` (the event is skipped) when
/// it is gone or the database cannot be reached. The load is shared with every other
/// subscriber of the same event; what each may see is still decided per subscriber.
async fn fetch<T: RowObject>(
    app: &App,
    delivery: &Delivery,
    id: <T::Row as models::ById>::Id,
) -> Option<T>
where
    T::Row: Clone + Send + Sync + 'static,
{
    let row = delivery
        .shared(|| async {
            let mut conn = app.db.conn().await.map_err(drop)?;
            T::Row::find(&mut conn, id).await.map_err(drop)
        })
        .await
        .ok()
        .flatten()?;
    Some(T::from(T::Row::clone(&row)))
}

/// The subscriptions running on one socket, for its cap.
#[derive(Clone)]
pub(super) struct SocketSubscriptions {
    running: Arc<AtomicUsize>,
    max: usize,
}

impl SocketSubscriptions {
    pub(super) fn new(max: usize) -> Self {
        Self {
            running: Arc::default(),
            max,
        }
    }

    fn take(&self) -> Result<RunningSubscription> {
        self.running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |running| {
                (running < self.max).then_some(running + 1)
            })
            .map_err(|running| {
                Error::QuotaExceeded(QuotaExceeded {
                    quota: "subscriptionsPerSocket",
                    used: running as u64,
                    requested: 1,
                    limit: self.max as u64,
                })
            })?;
        Ok(RunningSubscription(self.running.clone()))
    }
}

/// A subscription's place on its socket, held by its stream: given back when the
/// stream ends, completed or stopped by the client.
struct RunningSubscription(Arc<AtomicUsize>);

impl Drop for RunningSubscription {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The process's events from now on, holding the subscription's place on its socket
/// (refused when the socket runs as many as it may). A subscriber too slow to keep up
/// skips what it missed (and the log says so) rather than holding everyone back.
fn events(ctx: &Context<'_>) -> Result<impl Stream<Item = Arc<Delivery>> + use<>> {
    let place = ctx
        .data_opt::<SocketSubscriptions>()
        .map(SocketSubscriptions::take)
        .transpose()?;
    let receiver = ctx.app().events.deliveries();
    Ok(futures::stream::unfold(
        (receiver, place),
        |(mut receiver, place)| async move {
            loop {
                match receiver.recv().await {
                    Ok(delivery) => return Some((delivery, (receiver, place))),
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "a subscriber fell behind; events skipped");
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    ))
}
