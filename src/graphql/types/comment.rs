use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use imagegraph_db::GlobalId as _;

use super::{Comment, Image, User};
use crate::error::{Error, Result};
use crate::graphql::ContextExt as _;

#[Object]
impl Comment {
    pub async fn id(&self) -> ID {
        ID(self.id.global_id())
    }

    async fn image(&self, ctx: &Context<'_>) -> Result<Image> {
        ctx.loaders()
            .images
            .load_one(self.image_id)
            .await?
            .ok_or(Error::NotFound("image"))
    }

    async fn author(&self, ctx: &Context<'_>) -> Result<User> {
        ctx.loaders()
            .users
            .load_one(self.author_id)
            .await?
            .ok_or(Error::NotFound("user"))
    }

    async fn text(&self) -> &str {
        &self.text
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    async fn edited_at(&self) -> DateTime<Utc> {
        self.edited_at
    }
}
