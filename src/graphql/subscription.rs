//! Subscriptions over `/graphql/ws`. Each one follows the process's event bus (fed by
//! PostgreSQL LISTEN/NOTIFY, so events from any replica arrive) and loads the row
//! fresh when its event fires.

use async_graphql::{Context, ID, Subscription as SubscriptionDerive};
use futures::{Stream, StreamExt as _};
use imagegraph_db::models::{self, ById as _};
use imagegraph_db::{BenchmarkRunId, GenerationId, ImageId};
use tokio::sync::broadcast::error::RecvError;

use super::types::{BenchmarkProgress, Comment, Generation, Image, RowObject};
use super::{ContextExt as _, parse_id};
use crate::app::App;
use crate::error::{Error, Result};
use crate::events::Event;

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
        let app = ctx.app().clone();
        Ok(events(ctx).filter_map(move |event| {
            let app = app.clone();
            async move {
                let Event::AnalysisCompleted { image_id } = event else {
                    return None;
                };
                if wanted.is_some_and(|id| id != image_id) {
                    return None;
                }
                fetch(&app, image_id).await
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
        let app = ctx.app().clone();
        let mut conn = app.db.conn().await?;
        if models::Image::find(&mut conn, wanted).await?.is_none() {
            return Err(Error::NotFound("image"));
        }
        drop(conn);
        Ok(events(ctx).filter_map(move |event| {
            let app = app.clone();
            async move {
                let Event::CommentAdded {
                    image_id,
                    comment_id,
                } = event
                else {
                    return None;
                };
                if image_id != wanted {
                    return None;
                }
                fetch(&app, comment_id).await
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
        let app = ctx.app().clone();
        let mut conn = app.db.conn().await?;
        match models::BenchmarkRun::find(&mut conn, wanted).await? {
            Some(run) if viewer.may_manage(run.owner_id) => {}
            _ => return Err(Error::NotFound("benchmark run")),
        }
        drop(conn);
        Ok(events(ctx).filter_map(move |event| {
            let app = app.clone();
            async move {
                let Event::BenchmarkProgress {
                    run_id,
                    fraction,
                    done,
                } = event
                else {
                    return None;
                };
                if run_id != wanted {
                    return None;
                }
                let run = fetch(&app, run_id).await?;
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
        let app = ctx.app().clone();
        let mut conn = app.db.conn().await?;
        match models::Generation::find(&mut conn, wanted).await? {
            Some(generation) if viewer.may_manage(generation.owner_id) => {}
            _ => return Err(Error::NotFound("generation")),
        }
        drop(conn);
        Ok(events(ctx).filter_map(move |event| {
            let app = app.clone();
            async move {
                let Event::GenerationCompleted { generation_id } = event else {
                    return None;
                };
                if generation_id != wanted {
                    return None;
                }
                fetch(&app, generation_id).await
            }
        }))
    }
}

/// The row as it is now, for an event about it; `None` (the event is skipped) when
/// it is gone or the database cannot be reached.
async fn fetch<T: RowObject>(app: &App, id: <T::Row as models::ById>::Id) -> Option<T> {
    let mut conn = app.db.conn().await.ok()?;
    T::Row::find(&mut conn, id)
        .await
        .ok()
        .flatten()
        .map(T::from)
}

/// The process's events from now on. A subscriber too slow to keep up skips what it
/// missed (and the log says so) rather than holding everyone back.
fn events(ctx: &Context<'_>) -> impl Stream<Item = Event> + use<> {
    let receiver = ctx.app().events.subscribe();
    futures::stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(event) => return Some((event, receiver)),
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a subscriber fell behind; events skipped");
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}
