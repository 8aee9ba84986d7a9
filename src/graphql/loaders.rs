//! Per-request DataLoaders: nested fields of a page resolve in one statement per
//! kind, not one per parent. Created for each request, so no cache outlives it.
//!
//! Their caches hash with foldhash, not SipHash: every field of a feed looks up or
//! fills them. A cache lives for one request, and the number of keys one request can
//! name is bounded by the query limits, so collisions cannot be made to cost much;
//! foldhash is still seeded per process and per map.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use foldhash::fast::RandomState;
use std::marker::PhantomData;

use imagegraph_db::models::{self, ById};
use imagegraph_db::page::{Cursor, Page, PageRequest, Rank};
use imagegraph_db::{Db, ImageId};

use super::types::{BenchmarkRun, Comment, Generation, Image, RowObject, User};
use crate::error::Error;

type Cache = HashMapCache<RandomState>;

pub(crate) struct Loaders {
    /// Shared with the comment page loader, which fills it with the authors it reads.
    pub(crate) users: Arc<DataLoader<RowLoader<User>, Cache>>,
    pub(crate) images: DataLoader<RowLoader<Image>, Cache>,
    pub(crate) comments: DataLoader<RowLoader<Comment>, Cache>,
    pub(crate) comment_pages: DataLoader<CommentPageLoader, Cache>,
    pub(crate) generations: DataLoader<RowLoader<Generation>, Cache>,
    pub(crate) benchmark_runs: DataLoader<RowLoader<BenchmarkRun>, Cache>,
}

/// Batched loads run in a task of their own: it stays in the request's span and
/// origin, so what it logs carries the request's id.
fn spawn_in_request(load: futures::future::BoxFuture<'static, ()>) -> tokio::task::JoinHandle<()> {
    use tracing::Instrument as _;
    let origin = imagegraph_jobs::Origin::current();
    tokio::spawn(origin.scope(load).in_current_span())
}

impl Loaders {
    pub(crate) fn new(db: &Db) -> Self {
        fn loader<T: Send + Sync + 'static>(inner: T) -> DataLoader<T, Cache> {
            DataLoader::with_cache(inner, spawn_in_request, Cache::new())
        }
        let users = Arc::new(loader(RowLoader::new(db)));
        Self {
            users: users.clone(),
            images: loader(RowLoader::new(db)),
            comments: loader(RowLoader::new(db)),
            comment_pages: loader(CommentPageLoader {
                db: db.clone(),
                users,
            }),
            generations: loader(RowLoader::new(db)),
            benchmark_runs: loader(RowLoader::new(db)),
        }
    }

    /// Loaders that batch but never cache: for WebSocket connections, which live long
    /// and must see rows as they are when each event fires.
    pub(crate) fn uncached(db: &Db) -> Self {
        let loaders = Self::new(db);
        loaders.users.enable_all_cache(false);
        loaders.images.enable_all_cache(false);
        loaders.comments.enable_all_cache(false);
        loaders.comment_pages.enable_all_cache(false);
        loaders.generations.enable_all_cache(false);
        loaders.benchmark_runs.enable_all_cache(false);
        loaders
    }

    /// Splits a page of images with their owners (and ranks), keeping the owners for
    /// `owner`; each image comes with its key in the list.
    pub(crate) async fn with_owners(
        &self,
        page: Page<(models::Image, models::User, Option<Rank>)>,
    ) -> Page<(Image, Cursor)> {
        let mut owners = Vec::with_capacity(page.items.len());
        let page = page.map(|(image, owner, rank)| {
            owners.push((owner.id, User(owner)));
            let key = Cursor {
                created_at: image.created_at,
                id: image.id.uuid(),
                rank,
            };
            (Image(image), key)
        });
        self.users.feed_many(owners).await;
        page
    }
}

/// Loads the GraphQL object of a row type by id, many ids in one statement.
pub(crate) struct RowLoader<T> {
    db: Db,
    _object: PhantomData<fn() -> T>,
}

impl<T> RowLoader<T> {
    fn new(db: &Db) -> Self {
        Self {
            db: db.clone(),
            _object: PhantomData,
        }
    }
}

impl<T> Loader<<T::Row as ById>::Id> for RowLoader<T>
where
    T: RowObject,
{
    type Value = T;
    type Error = Error;

    async fn load(
        &self,
        keys: &[<T::Row as ById>::Id],
    ) -> Result<HashMap<<T::Row as ById>::Id, T>, Error> {
        let mut conn = self.db.conn().await?;
        Ok(T::Row::load_many(&mut conn, keys)
            .await?
            .into_iter()
            .map(|row| (row.id(), T::from(row)))
            .collect())
    }
}

/// A page of comments per image. Keys asking for the same page shape (the usual
/// case: `comments(first: 5)` under every image of a feed) share one statement.
pub(crate) struct CommentPageLoader {
    db: Db,
    users: Arc<DataLoader<RowLoader<User>, Cache>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CommentPageKey {
    pub(crate) image_id: ImageId,
    pub(crate) request: PageRequest,
}

impl Loader<CommentPageKey> for CommentPageLoader {
    type Value = Page<Comment>;
    type Error = Error;

    async fn load(
        &self,
        keys: &[CommentPageKey],
    ) -> Result<HashMap<CommentPageKey, Page<Comment>>, Error> {
        let mut by_request: HashMap<PageRequest, Vec<ImageId>, RandomState> = HashMap::default();
        for key in keys {
            by_request
                .entry(key.request)
                .or_default()
                .push(key.image_id);
        }
        let mut conn = self.db.conn().await?;
        let mut pages = HashMap::with_capacity(keys.len());
        let mut authors = Vec::new();
        for (request, image_ids) in by_request {
            let (found, found_authors) =
                models::Comment::pages_for_images(&mut conn, &image_ids, &request).await?;
            authors.extend(found_authors);
            for (image_id, page) in found {
                pages.insert(CommentPageKey { image_id, request }, page.map(Comment));
            }
        }
        drop(conn);
        // Before the pages are handed out, so `author` finds them cached.
        self.users
            .feed_many(authors.into_iter().map(|user| (user.id, User(user))))
            .await;
        Ok(pages)
    }
}
