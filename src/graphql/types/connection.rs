//! Relay connection types. `totalCount` is computed only when asked for, and so are
//! cursors: a feed's edges and nested pages would otherwise encode 82 of them per
//! request (a `format!` and a base64 pass each) to send one.

use async_graphql::{Context, Object};

use super::{BenchmarkRun, Comment, Image, User};
use crate::error::Result;
use crate::graphql::ContextExt as _;
use crate::graphql::pagination::{PageBounds, PageInfo, encode_cursor};
use imagegraph_db::UserId;
use imagegraph_db::models;
use imagegraph_db::models::image::ImageFilter;
use imagegraph_db::page::{Cursor, Page, PageRequest};

/// How to count the rows a connection walks over.
#[derive(Clone)]
pub(crate) enum TotalCount {
    Images(ImageFilter),
    /// A count already at hand (an image's comments, kept on its row).
    Known(i64),
    /// Benchmark runs: everyone's, or one owner's.
    BenchmarkRuns(Option<UserId>),
    /// Every user.
    Users,
}

impl TotalCount {
    async fn resolve(&self, ctx: &Context<'_>) -> Result<i64> {
        match self {
            Self::Images(filter) => {
                let mut conn = ctx.app().db.conn().await?;
                Ok(models::Image::count(&mut conn, filter).await?)
            }
            Self::BenchmarkRuns(owner) => {
                let mut conn = ctx.app().db.conn().await?;
                Ok(models::BenchmarkRun::count(&mut conn, *owner).await?)
            }
            Self::Users => {
                let mut conn = ctx.app().db.conn().await?;
                Ok(models::User::count(&mut conn).await?)
            }
            Self::Known(count) => Ok(*count),
        }
    }
}

macro_rules! connection {
    ($connection:ident, $edge:ident, $node:ty, $doc:literal) => {
        pub(crate) struct $edge {
            key: Cursor,
            node: $node,
        }

        #[Object]
        impl $edge {
            async fn cursor(&self) -> String {
                encode_cursor(self.key)
            }

            async fn node(&self) -> &$node {
                &self.node
            }
        }

        #[doc = $doc]
        pub(crate) struct $connection {
            edges: Vec<$edge>,
            page_info: PageBounds,
            total: TotalCount,
        }

        impl $connection {
            /// A page ordered newest first: each node's key is its `(created_at, id)`.
            #[allow(dead_code, reason = "images come with their keys")]
            pub(crate) fn new(page: Page<$node>, request: &PageRequest, total: TotalCount) -> Self {
                let keyed = page.map(|node| {
                    let key = Cursor {
                        created_at: node.created_at,
                        id: node.id.uuid(),
                        rank: None,
                    };
                    (node, key)
                });
                Self::keyed(keyed, request, total)
            }

            /// A page whose nodes come with their keys (a relevance rank, say).
            #[allow(dead_code, reason = "only images are ordered by anything but time")]
            pub(crate) fn keyed(
                page: Page<($node, Cursor)>,
                request: &PageRequest,
                total: TotalCount,
            ) -> Self {
                let page_info = PageBounds::new(&page, request, |(_, key)| *key);
                let edges = page
                    .items
                    .into_iter()
                    .map(|(node, key)| $edge { key, node })
                    .collect();
                Self {
                    edges,
                    page_info,
                    total,
                }
            }
        }

        #[Object]
        impl $connection {
            async fn edges(&self) -> &[$edge] {
                &self.edges
            }

            async fn nodes(&self) -> Vec<&$node> {
                self.edges.iter().map(|edge| &edge.node).collect()
            }

            async fn page_info(&self) -> PageInfo {
                self.page_info.info()
            }

            /// All items of the list, on every page.
            async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
                self.total.resolve(ctx).await
            }
        }
    };
}

connection!(
    ImageConnection,
    ImageEdge,
    Image,
    "A page of images, newest first or by relevance to a search."
);
connection!(
    CommentConnection,
    CommentEdge,
    Comment,
    "A page of comments, newest first."
);
connection!(
    BenchmarkRunConnection,
    BenchmarkRunEdge,
    BenchmarkRun,
    "A page of benchmark runs, newest first."
);
connection!(
    UserConnection,
    UserEdge,
    User,
    "A page of users, newest first."
);
