//! Subscriptions over `/graphql/ws`. Each one follows the process's event bus (fed by
//! PostgreSQL LISTEN/NOTIFY, so events from any replica arrive) and loads the row
//! fresh when its event fires.

use async_graphql::{Context, ID, Result, Subscription as SubscriptionDerive};
use futures::{Stream, StreamExt as _};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::types::BenchmarkProgress;
use super::{ContextExt as _, parse_id};
use crate::db::models::{BenchmarkRun, Comment, Generation, Image};
use crate::error::Error;
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
        let wanted = image_id.as_ref().map(parse_id).transpose()?;
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
                let mut conn = app.db.conn().await.ok()?;
                Image::find(&mut conn, image_id).await.ok().flatten()
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
        let wanted = parse_id(&image_id)?;
        let app = ctx.app().clone();
        let mut conn = app.db.conn().await.map_err(Error::from)?;
        if Image::find(&mut conn, wanted)
            .await
            .map_err(Error::from)?
            .is_none()
        {
            return Err(Error::NotFound("image").into());
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
                let mut conn = app.db.conn().await.ok()?;
                Comment::find(&mut conn, comment_id).await.ok().flatten()
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
        let wanted = parse_id(&run_id)?;
        let app = ctx.app().clone();
        let mut conn = app.db.conn().await.map_err(Error::from)?;
        match BenchmarkRun::find(&mut conn, wanted)
            .await
            .map_err(Error::from)?
        {
            Some(run) if run.owner_id == viewer.id || viewer.is_admin() => {}
            _ => return Err(Error::NotFound("benchmark run").into()),
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
                let mut conn = app.db.conn().await.ok()?;
                let run = BenchmarkRun::find(&mut conn, run_id).await.ok().flatten()?;
                Some(BenchmarkProgress {
                    fraction,
                    done,
                    run,
                })
            }
        }))
    }

    /// Fires once when the generation succeeds or fails.
    async fn generation_completed(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<impl Stream<Item = Generation> + use<>> {
        ctx.viewer()?;
        let wanted: Uuid = parse_id(&id)?;
        let app = ctx.app().clone();
        Ok(events(ctx).filter_map(move |event| {
            let app = app.clone();
            async move {
                let Event::GenerationCompleted { generation_id } = event else {
                    return None;
                };
                if generation_id != wanted {
                    return None;
                }
                let mut conn = app.db.conn().await.ok()?;
                Generation::find(&mut conn, generation_id)
                    .await
                    .ok()
                    .flatten()
            }
        }))
    }
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
                    tracing::warn!(missed, "a subscriber fell behind; events skipped")
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}
