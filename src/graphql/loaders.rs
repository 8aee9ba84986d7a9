//! Per-request DataLoaders: nested fields of a page resolve in one statement per
//! kind, not one per parent. Created for each request, so no cache outlives it.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use uuid::Uuid;

use super::errors::LoadError;
use crate::db::Db;
use crate::db::models::{Comment, Generation, Image, User};
use crate::db::page::{Page, PageRequest};

pub struct Loaders {
    /// Shared with the comment page loader, which fills it with the authors it reads.
    pub users: Arc<DataLoader<UserLoader, HashMapCache>>,
    pub images: DataLoader<ImageLoader, HashMapCache>,
    pub comments: DataLoader<CommentLoader, HashMapCache>,
    pub comment_pages: DataLoader<CommentPageLoader, HashMapCache>,
    pub generations: DataLoader<GenerationLoader, HashMapCache>,
}

impl Loaders {
    pub fn new(db: &Db) -> Self {
        fn loader<T: Send + Sync + 'static>(inner: T) -> DataLoader<T, HashMapCache> {
            DataLoader::with_cache(inner, tokio::spawn, HashMapCache::default())
        }
        let users = Arc::new(loader(UserLoader(db.clone())));
        Self {
            users: users.clone(),
            images: loader(ImageLoader(db.clone())),
            comments: loader(CommentLoader(db.clone())),
            comment_pages: loader(CommentPageLoader {
                db: db.clone(),
                users,
            }),
            generations: loader(GenerationLoader(db.clone())),
        }
    }

    /// Loaders that batch but never cache: for WebSocket connections, which live long
    /// and must see rows as they are when each event fires.
    pub fn uncached(db: &Db) -> Self {
        let loaders = Self::new(db);
        loaders.users.enable_all_cache(false);
        loaders.images.enable_all_cache(false);
        loaders.comments.enable_all_cache(false);
        loaders.comment_pages.enable_all_cache(false);
        loaders.generations.enable_all_cache(false);
        loaders
    }

    /// Splits a page of images with their owners, keeping the owners for `owner`.
    pub async fn with_owners(&self, page: Page<(Image, User)>) -> Page<Image> {
        let (page, owners) = page.unzip();
        self.users
            .feed_many(owners.into_iter().map(|user| (user.id, user)))
            .await;
        page
    }
}

pub struct UserLoader(Db);

impl Loader<Uuid> for UserLoader {
    type Value = User;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, User>, LoadError> {
        let mut conn = self.0.conn().await?;
        Ok(User::load_many(&mut conn, keys)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect())
    }
}

pub struct ImageLoader(Db);

impl Loader<Uuid> for ImageLoader {
    type Value = Image;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Image>, LoadError> {
        let mut conn = self.0.conn().await?;
        Ok(Image::load_many(&mut conn, keys)
            .await?
            .into_iter()
            .map(|i| (i.id, i))
            .collect())
    }
}

pub struct CommentLoader(Db);

impl Loader<Uuid> for CommentLoader {
    type Value = Comment;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Comment>, LoadError> {
        let mut conn = self.0.conn().await?;
        Ok(Comment::load_many(&mut conn, keys)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect())
    }
}

pub struct GenerationLoader(Db);

impl Loader<Uuid> for GenerationLoader {
    type Value = Generation;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Generation>, LoadError> {
        let mut conn = self.0.conn().await?;
        Ok(Generation::load_many(&mut conn, keys)
            .await?
            .into_iter()
            .map(|g| (g.id, g))
            .collect())
    }
}

/// A page of comments per image. Keys asking for the same page shape (the usual
/// case: `comments(first: 5)` under every image of a feed) share one statement.
pub struct CommentPageLoader {
    db: Db,
    users: Arc<DataLoader<UserLoader, HashMapCache>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommentPageKey {
    pub image_id: Uuid,
    pub request: PageRequest,
}

impl Loader<CommentPageKey> for CommentPageLoader {
    type Value = Page<Comment>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[CommentPageKey],
    ) -> Result<HashMap<CommentPageKey, Page<Comment>>, LoadError> {
        let mut by_request: HashMap<PageRequest, Vec<Uuid>> = HashMap::new();
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
                Comment::pages_for_images(&mut conn, &image_ids, &request).await?;
            authors.extend(found_authors);
            for (image_id, page) in found {
                pages.insert(CommentPageKey { image_id, request }, page);
            }
        }
        drop(conn);
        // Before the pages are handed out, so `author` finds them cached.
        self.users
            .feed_many(authors.into_iter().map(|user| (user.id, user)))
            .await;
        Ok(pages)
    }
}
