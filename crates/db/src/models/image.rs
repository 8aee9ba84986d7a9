use crate::ids::{ContentId, ImageId, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::models::User;
use crate::page::{Direction, Page, PageRequest};
use crate::schema::{images, users};
use crate::text_enum::text_enum;

text_enum! {
    /// The media type of stored image bytes.
    pub enum ContentType { Jpeg => "image/jpeg", Png => "image/png", Webp => "image/webp", Gif => "image/gif" }
}

text_enum! {
    pub enum ImageSource { Upload => "UPLOAD", Generation => "GENERATION", Edit => "EDIT" }
}

text_enum! {
    pub enum AnalysisStatus {
        NotRequested => "NOT_REQUESTED",
        Pending => "PENDING",
        Running => "RUNNING",
        Succeeded => "SUCCEEDED",
        Failed => "FAILED",
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable, Insertable)]
#[diesel(table_name = images)]
pub struct Image {
    pub id: ImageId,
    pub owner_id: UserId,
    pub content_id: ContentId,
    pub content_type: ContentType,
    pub width: i32,
    pub height: i32,
    pub byte_size: i64,
    pub thumbnail_content_type: ContentType,
    pub description: Option<String>,
    pub analysis_status: AnalysisStatus,
    pub analysis_model: Option<String>,
    pub analysis_error: Option<String>,
    pub analysis_requested_at: Option<DateTime<Utc>>,
    pub analysis_completed_at: Option<DateTime<Utc>>,
    pub source: ImageSource,
    pub prompt: Option<String>,
    pub parent_id: Option<ImageId>,
    pub created_at: DateTime<Utc>,
    pub edited_at: DateTime<Utc>,
    /// The edit instructions that produced this content, as JSON.
    pub edits: Option<serde_json::Value>,
    /// Kept by a trigger on `comments`; never written from here.
    #[diesel(skip_insertion)]
    pub comment_count: i32,
    /// Set on the previous content that a REPLACE kept: the image it was kept from.
    /// Such a row is history, never a new image in the feed, and goes with that image.
    pub kept_from: Option<ImageId>,
}

/// Which images a list walks over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ImageFilter {
    /// Only images derived from this one (its versions, kept content included);
    /// without it, only images that are not kept content (the feed).
    pub parent_id: Option<ImageId>,
}

impl ImageFilter {
    fn apply<'a>(
        &self,
        query: images::BoxedQuery<'a, diesel::pg::Pg>,
    ) -> images::BoxedQuery<'a, diesel::pg::Pg> {
        match self.parent_id {
            Some(parent) => query.filter(images::parent_id.eq(parent)),
            None => query.filter(images::kept_from.is_null()),
        }
    }
}

impl Image {
    pub async fn insert(conn: &mut AsyncPgConnection, image: &Image) -> QueryResult<Image> {
        diesel::insert_into(images::table)
            .values(image)
            .returning(Image::as_returning())
            .get_result(conn)
            .await
    }

    /// A page of images with their owners, in one statement: every list shows who
    /// posted each image.
    pub async fn page(
        conn: &mut AsyncPgConnection,
        filter: ImageFilter,
        req: &PageRequest,
    ) -> QueryResult<Page<(Image, User)>> {
        let mut query = images::table
            .inner_join(users::table)
            .select((Image::as_select(), User::as_select()))
            .into_boxed();
        query = match filter.parent_id {
            Some(parent) => query.filter(images::parent_id.eq(parent)),
            None => query.filter(images::kept_from.is_null()),
        };
        if let Some(keyset) = req.cursor_filter("images") {
            query = query.filter(keyset);
        }
        query = match req.direction {
            Direction::Forward => query.order((images::created_at.desc(), images::id.desc())),
            Direction::Backward => query.order((images::created_at.asc(), images::id.asc())),
        };
        let rows = query.limit(req.limit + 1).load(conn).await?;
        Ok(Page::from_rows(rows, req))
    }

    pub async fn count(conn: &mut AsyncPgConnection, filter: ImageFilter) -> QueryResult<i64> {
        filter
            .apply(images::table.into_boxed())
            .count()
            .get_result(conn)
            .await
    }

    /// Moves an unfinished analysis (PENDING or RUNNING) to `status`; false when no
    /// analysis was in progress, which keeps the analysis job idempotent.
    pub async fn advance_analysis(
        conn: &mut AsyncPgConnection,
        id: ImageId,
        status: AnalysisStatus,
        description: Option<&str>,
        error: Option<&str>,
    ) -> QueryResult<bool> {
        let unfinished = [AnalysisStatus::Pending, AnalysisStatus::Running];
        let query = diesel::update(
            images::table
                .find(id)
                .filter(images::analysis_status.eq_any(unfinished)),
        );
        let n = match status {
            AnalysisStatus::Succeeded | AnalysisStatus::Failed => {
                query
                    .set((
                        images::analysis_status.eq(status),
                        images::description.eq(description),
                        images::analysis_error.eq(error),
                        images::analysis_completed_at.eq(Some(Utc::now())),
                    ))
                    .execute(conn)
                    .await?
            }
            _ => {
                query
                    .set(images::analysis_status.eq(status))
                    .execute(conn)
                    .await?
            }
        };
        Ok(n == 1)
    }

    pub async fn set_analysis_model(
        conn: &mut AsyncPgConnection,
        id: ImageId,
        model: &str,
    ) -> QueryResult<()> {
        diesel::update(images::table.find(id))
            .set(images::analysis_model.eq(model))
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Marks a new analysis as requested (PENDING), clearing the last outcome.
    pub async fn request_analysis(conn: &mut AsyncPgConnection, id: ImageId) -> QueryResult<Image> {
        diesel::update(images::table.find(id))
            .set((
                images::analysis_status.eq(AnalysisStatus::Pending),
                images::analysis_error.eq(None::<String>),
                images::analysis_requested_at.eq(Some(Utc::now())),
                images::analysis_completed_at.eq(None::<DateTime<Utc>>),
            ))
            .returning(Image::as_returning())
            .get_result(conn)
            .await
    }

    /// Points an image at new content, if its content is still `expected_content`
    /// (so two concurrent replacements cannot both win).
    pub async fn replace_content(
        conn: &mut AsyncPgConnection,
        updated: &Image,
        expected_content: ContentId,
    ) -> QueryResult<Option<Image>> {
        diesel::update(
            images::table
                .find(updated.id)
                .filter(images::content_id.eq(expected_content)),
        )
        .set((
            images::content_id.eq(updated.content_id),
            images::content_type.eq(updated.content_type),
            images::width.eq(updated.width),
            images::height.eq(updated.height),
            images::byte_size.eq(updated.byte_size),
            images::thumbnail_content_type.eq(updated.thumbnail_content_type),
            images::edited_at.eq(updated.edited_at),
            images::edits.eq(&updated.edits),
            images::description.eq(&updated.description),
            images::analysis_status.eq(updated.analysis_status),
            images::analysis_model.eq(&updated.analysis_model),
            images::analysis_error.eq(&updated.analysis_error),
            images::analysis_requested_at.eq(updated.analysis_requested_at),
            images::analysis_completed_at.eq(updated.analysis_completed_at),
        ))
        .returning(Image::as_returning())
        .get_result(conn)
        .await
        .optional()
    }

    pub async fn find_for_update(
        conn: &mut AsyncPgConnection,
        id: ImageId,
    ) -> QueryResult<Option<Image>> {
        images::table
            .find(id)
            .for_update()
            .select(Image::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Deletes the row and the content kept from it by REPLACE, at any depth, in one
    /// statement (comments go with them); returns every deleted row so their objects
    /// can be removed. Empty when the image was not there.
    pub async fn delete(conn: &mut AsyncPgConnection, id: ImageId) -> QueryResult<Vec<Image>> {
        // The cascade on `kept_from` would delete the kept rows too, but without
        // returning them, and their objects would wait for gc.
        diesel::sql_query(
            "WITH RECURSIVE doomed(id) AS ( \
                 SELECT id FROM images WHERE id = $1 \
                 UNION SELECT i.id FROM images i JOIN doomed d ON i.kept_from = d.id) \
             DELETE FROM images WHERE id IN (SELECT id FROM doomed) RETURNING *",
        )
        .bind::<diesel::sql_types::Uuid, _>(id)
        .load(conn)
        .await
    }
}

super::by_id!(Image, images, ImageId);
