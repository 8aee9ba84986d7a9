use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use imagegraph_db::GlobalId as _;

use super::connection::{CommentConnection, ImageConnection, TotalCount};
use super::{Image, User};
use crate::error::{Error, Result};
use crate::graphql::ContextExt as _;
use crate::graphql::loaders::CommentPageKey;
use crate::graphql::pagination::{self, page_request};
use crate::use_cases::images::{original_key, thumbnail_key};
use imagegraph_db::models::{
    self,
    image::{AnalysisStatus, ImageFilter, ImageOrder, ImageSource},
};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ImageSource")]
pub enum ImageSourceGql {
    Upload,
    Generation,
    Edit,
}

impl From<ImageSourceGql> for ImageSource {
    fn from(source: ImageSourceGql) -> Self {
        match source {
            ImageSourceGql::Upload => Self::Upload,
            ImageSourceGql::Generation => Self::Generation,
            ImageSourceGql::Edit => Self::Edit,
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "AnalysisStatus")]
pub enum AnalysisStatusGql {
    NotRequested,
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl From<AnalysisStatusGql> for AnalysisStatus {
    fn from(status: AnalysisStatusGql) -> Self {
        match status {
            AnalysisStatusGql::NotRequested => Self::NotRequested,
            AnalysisStatusGql::Pending => Self::Pending,
            AnalysisStatusGql::Running => Self::Running,
            AnalysisStatusGql::Succeeded => Self::Succeeded,
            AnalysisStatusGql::Failed => Self::Failed,
        }
    }
}

/// Where the AI description of an image stands.
#[derive(SimpleObject)]
pub(super) struct Analysis {
    status: AnalysisStatusGql,
    /// The model that wrote (or is writing) the description.
    model: Option<String>,
    /// Why the analysis failed, for the image's owner and admins only (it can quote
    /// the provider); null for anyone else.
    error: Option<String>,
    requested_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
}

#[Object]
impl Image {
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

    /// The original, as a signed URL usable in an `<img>` tag.
    async fn url(&self, ctx: &Context<'_>) -> String {
        ctx.app().media.url(&original_key(self))
    }

    /// A rendition at most 400 pixels on its long side.
    async fn thumbnail_url(&self, ctx: &Context<'_>) -> String {
        ctx.app().media.url(&thumbnail_key(self))
    }

    async fn content_type(&self) -> &str {
        self.content_type.as_str()
    }

    async fn width(&self) -> i32 {
        self.width
    }

    async fn height(&self) -> i32 {
        self.height
    }

    /// Size of the original in bytes.
    async fn byte_size(&self) -> i64 {
        self.byte_size
    }

    async fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Keywords from the analysis: at most 10, lower case, each at most 32
    /// characters. Empty until an analysis succeeds, and from a vision server that
    /// answers only in plain text.
    async fn tags(&self) -> &[String] {
        &self.tags
    }

    async fn analysis(&self, ctx: &Context<'_>) -> Analysis {
        let may_read_error = ctx
            .viewer()
            .is_ok_and(|viewer| viewer.may_manage(self.owner_id));
        Analysis {
            status: match self.analysis_status {
                AnalysisStatus::NotRequested => AnalysisStatusGql::NotRequested,
                AnalysisStatus::Pending => AnalysisStatusGql::Pending,
                AnalysisStatus::Running => AnalysisStatusGql::Running,
                AnalysisStatus::Succeeded => AnalysisStatusGql::Succeeded,
                AnalysisStatus::Failed => AnalysisStatusGql::Failed,
            },
            model: self.analysis_model.clone(),
            error: self.analysis_error.clone().filter(|_| may_read_error),
            requested_at: self.analysis_requested_at,
            completed_at: self.analysis_completed_at,
        }
    }

    async fn source(&self) -> ImageSourceGql {
        match self.source {
            ImageSource::Upload => ImageSourceGql::Upload,
            ImageSource::Generation => ImageSourceGql::Generation,
            ImageSource::Edit => ImageSourceGql::Edit,
        }
    }

    /// The prompt an image was generated from.
    async fn prompt(&self) -> Option<&str> {
        self.prompt.as_deref()
    }

    /// The image this one was derived from.
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<Image>> {
        let Some(parent_id) = self.parent_id else {
            return Ok(None);
        };
        ctx.loaders().images.load_one(parent_id).await
    }

    /// Images derived from this one, newest first.
    #[graphql(
        complexity = "crate::graphql::limits::connection_complexity(first, None, &pagination::IMAGES, child_complexity)"
    )]
    async fn versions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<ImageConnection> {
        let request = page_request(first, after.as_deref(), None, None, &pagination::IMAGES)?;
        let filter = ImageFilter {
            parent_id: Some(self.id),
            ..ImageFilter::default()
        };
        let mut conn = ctx.app().db.conn().await?;
        let page = models::Image::page(&mut conn, &filter, ImageOrder::Newest, &request).await?;
        drop(conn);
        let page = ctx.loaders().with_owners(page).await;
        Ok(ImageConnection::keyed(
            page,
            &request,
            TotalCount::Images(filter),
        ))
    }

    /// Comments on this image, newest first.
    #[graphql(
        complexity = "crate::graphql::limits::connection_complexity(first, last, &pagination::COMMENTS, child_complexity)"
    )]
    async fn comments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 80; default 20.")] first: Option<i32>,
        after: Option<String>,
        #[graphql(desc = "At most 80.")] last: Option<i32>,
        before: Option<String>,
    ) -> Result<CommentConnection> {
        let request = page_request(
            first,
            after.as_deref(),
            last,
            before.as_deref(),
            &pagination::COMMENTS,
        )?;
        let key = CommentPageKey {
            image_id: self.id,
            request,
        };
        let page = ctx
            .loaders()
            .comment_pages
            .load_one(key)
            .await?
            .unwrap_or_else(imagegraph_db::page::Page::empty);
        Ok(CommentConnection::new(
            page,
            &request,
            TotalCount::Known(self.comment_count.into()),
        ))
    }

    async fn comment_count(&self) -> i64 {
        self.comment_count.into()
    }

    /// The edit instructions that produced this content (for EDIT images and images
    /// replaced in place), in the form `[{"brightness": 1.2}, {"grayscale": true}]`.
    async fn edits(&self) -> Option<async_graphql::Json<serde_json::Value>> {
        self.edits.clone().map(async_graphql::Json)
    }

    async fn uploaded_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// When the image's content last changed.
    async fn edited_at(&self) -> DateTime<Utc> {
        self.edited_at
    }
}
