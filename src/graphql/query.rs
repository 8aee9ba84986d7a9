use async_graphql::{Context, ID, Object};

use super::types::{
    BenchmarkRunConnection, ImageConnection, ImageFilterInput, ImageOrderGql, Node, TotalCount,
    node,
};
use super::{ContextExt as _, parse_id};
use crate::error::{Error, Result};
use crate::graphql::pagination::{self, ordered_page_request, page_request};
use crate::graphql::types::{BenchmarkRun, Comment, Generation, Image, User};
use imagegraph_db::models::{self, ById as _};
use imagegraph_db::{BenchmarkRunId, CommentId, GenerationId, ImageId};

#[derive(Default)]
pub struct Query;

#[Object(name = "CoreQuery")]
impl Query {
    /// Any object by its global id; `null` when there is none the viewer may see.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let viewer = ctx.viewer()?;
        node::load(ctx, viewer, &id).await
    }

    /// Objects by their global ids, in the order given (`null` where `node` would
    /// answer `null`). At most 100.
    #[graphql(complexity = "ids.len() * child_complexity")]
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
        let viewer = ctx.viewer()?;
        if ids.len() > node::MAX_NODES {
            return Err(Error::bad_input(format!(
                "`ids` holds {} ids; the limit is {}",
                ids.len(),
                node::MAX_NODES
            )));
        }
        // Loaders batch the lookups of one type into one statement (repeats once).
        // An id that cannot be read is an error at its own place, not the whole list's.
        let loaded =
            futures::future::join_all(ids.iter().map(|id| node::load(ctx, viewer, id))).await;
        Ok(loaded
            .into_iter()
            .enumerate()
            .map(|(index, node)| {
                node.unwrap_or_else(|err| {
                    let err = async_graphql::Error::from(err)
                        .into_server_error(ctx.item.pos)
                        .with_path(vec![
                            async_graphql::PathSegment::Field(
                                ctx.item.node.response_key().node.to_string(),
                            ),
                            async_graphql::PathSegment::Index(index),
                        ]);
                    ctx.add_error(err);
                    None
                })
            })
            .collect())
    }

    /// The user the request's token belongs to.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(ctx.viewer()?.clone().into())
    }

    async fn image(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Image>> {
        ctx.viewer()?;
        let id: ImageId = parse_id(&id)?;
        Ok(Some(
            ctx.loaders()
                .images
                .load_one(id)
                .await?
                .ok_or(Error::NotFound("image"))?,
        ))
    }

    /// Images, newest first or by relevance to a search; content kept by a REPLACE
    /// is not a new image and is listed only under its image's `versions`.
    #[graphql(
        complexity = "super::limits::connection_complexity(first, last, &pagination::IMAGES, child_complexity)"
    )]
    #[expect(
        clippy::too_many_arguments,
        reason = "each is an argument of the GraphQL field"
    )]
    async fn images(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only images matching every condition given.")] filter: Option<
            ImageFilterInput,
        >,
        #[graphql(
            desc = "NEWEST when left out; RELEVANCE only with `filter.search`. A cursor works only in the order that made it."
        )]
        order_by: Option<ImageOrderGql>,
        #[graphql(desc = "At most 30; default 10.")] first: Option<i32>,
        after: Option<String>,
        #[graphql(desc = "At most 30.")] last: Option<i32>,
        before: Option<String>,
    ) -> Result<ImageConnection> {
        ctx.viewer()?;
        let filter = filter
            .map(ImageFilterInput::into_filter)
            .transpose()?
            .unwrap_or_default();
        let (order, ordering) = order_by.unwrap_or_default().for_filter(&filter)?;
        let request = ordered_page_request(
            first,
            after.as_deref(),
            last,
            before.as_deref(),
            &pagination::IMAGES,
            ordering,
        )?;
        let mut conn = ctx.app().db.conn().await?;
        let page = models::Image::page(&mut conn, &filter, order, &request).await?;
        drop(conn);
        let page = ctx.loaders().with_owners(page).await;
        Ok(ImageConnection::keyed(
            page,
            &request,
            TotalCount::Images(filter),
        ))
    }

    /// A benchmark run (its owner's, or any for an admin).
    async fn benchmark_run(&self, ctx: &Context<'_>, id: ID) -> Result<Option<BenchmarkRun>> {
        let viewer = ctx.viewer()?;
        let id: BenchmarkRunId = parse_id(&id)?;
        let mut conn = ctx.app().db.conn().await?;
        let run = models::BenchmarkRun::find(&mut conn, id).await?;
        match run {
            Some(run) if viewer.may_manage(run.owner_id) => Ok(Some(run.into())),
            _ => Err(Error::NotFound("benchmark run")),
        }
    }

    /// Benchmark runs, newest first: the viewer's own, or everyone's for an admin.
    #[graphql(
        complexity = "super::limits::connection_complexity(first, None, &pagination::IMAGES, child_complexity)"
    )]
    async fn benchmark_runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 30; default 10.")] first: Option<i32>,
        after: Option<String>,
    ) -> Result<BenchmarkRunConnection> {
        let viewer = ctx.viewer()?;
        let owner = (!viewer.is_admin()).then_some(viewer.id);
        let request = page_request(first, after.as_deref(), None, None, &pagination::IMAGES)?;
        let mut conn = ctx.app().db.conn().await?;
        let page = models::BenchmarkRun::page(&mut conn, owner, &request)
            .await?
            .map(BenchmarkRun);
        Ok(BenchmarkRunConnection::new(
            page,
            &request,
            TotalCount::BenchmarkRuns(owner),
        ))
    }

    /// An image generation, to follow its progress (its owner's, or any for an admin:
    /// its error can quote the provider).
    async fn generation(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Generation>> {
        let viewer = ctx.viewer()?;
        let id: GenerationId = parse_id(&id)?;
        match ctx.loaders().generations.load_one(id).await? {
            Some(generation) if viewer.may_manage(generation.owner_id) => Ok(Some(generation)),
            _ => Err(Error::NotFound("generation")),
        }
    }

    async fn comment(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Comment>> {
        ctx.viewer()?;
        let id: CommentId = parse_id(&id)?;
        Ok(Some(
            ctx.loaders()
                .comments
                .load_one(id)
                .await?
                .ok_or(Error::NotFound("comment"))?,
        ))
    }
}
