use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};
use imagegraph_db::GlobalId as _;

use super::{Generation, Image, User};
use crate::error::{Error, Result};
use crate::graphql::ContextExt as _;
use imagegraph_db::models::generation::GenerationStatus;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "imagegraph_db::models::generation::GenerationShape")]
pub enum GenerationShape {
    /// 1024x1024.
    Square,
    /// 1024x1536 (gpt-image) or 1024x1792 (DALL-E 3).
    Portrait,
    /// 1536x1024 (gpt-image) or 1792x1024 (DALL-E 3).
    Landscape,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "GenerationStatus", remote = "GenerationStatus")]
pub enum GenerationStatusGql {
    Pending,
    Running,
    Succeeded,
    Failed,
}

/// An image being generated from a prompt. Its status moves like an analysis's:
/// PENDING, RUNNING, then SUCCEEDED (with `image`) or FAILED (with `error`).
#[Object(name = "ImageGeneration")]
impl Generation {
    pub async fn id(&self) -> ID {
        ID(self.id.global_id())
    }

    async fn owner(&self, ctx: &Context<'_>) -> Result<User> {
        ctx.loaders()
            .users
            .load_one(self.owner_id)
            .await?
            .ok_or(Error::NotFound("user"))
    }

    async fn prompt(&self) -> &str {
        &self.prompt
    }

    async fn size(&self) -> GenerationShape {
        self.size.into()
    }

    async fn status(&self) -> GenerationStatusGql {
        self.status.into()
    }

    async fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// Why it failed, in words safe to show (a refusal quotes the provider).
    async fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// `AI_PROVIDER_ERROR` when it failed.
    async fn error_code(&self) -> Option<&str> {
        (self.status == GenerationStatus::Failed)
            .then_some(crate::error::ErrorCode::AiProviderError.as_str())
    }

    /// The generated image, once it has succeeded.
    async fn image(&self, ctx: &Context<'_>) -> Result<Option<Image>> {
        let Some(image_id) = self.image_id else {
            return Ok(None);
        };
        ctx.loaders().images.load_one(image_id).await
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.completed_at
    }
}
