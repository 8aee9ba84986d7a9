use crate::ids::{ContentId, ImageId, UserId};
use chrono::{DateTime, Utc};
use diesel::dsl::{AsSelect, SqlTypeOf};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Float4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::models::User;
use crate::page::{Page, PageRequest, Rank};
use crate::schema::images;
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
    /// Normalised keywords from the analysis (at most 10, lower case).
    pub tags: Vec<String>,
}

/// Which images a list walks over. Every condition given must hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ImageFilter {
    /// Only images derived from this one (its versions, kept content included);
    /// without it, only images that are not kept content (the feed).
    pub parent_id: Option<ImageId>,
    /// Full-text search (`websearch_to_tsquery` syntax) over description, prompt, tags
    /// and comments. The caller checks it is not blank.
    pub search: Option<String>,
    /// Images carrying every one of these tags (normalised by the caller).
    pub tags: Vec<String>,
    pub owner_id: Option<UserId>,
    pub source: Option<ImageSource>,
    pub analysis_status: Option<AnalysisStatus>,
    /// Uploaded strictly after this instant.
    pub uploaded_after: Option<DateTime<Utc>>,
    /// Uploaded strictly before this instant.
    pub uploaded_before: Option<DateTime<Utc>>,
}

/// The order of a list of images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ImageOrder {
    /// Newest first, on `(created_at, id)`.
    #[default]
    Newest,
    /// Best match of the filter's search first (then newest), on `(rank, created_at,
    /// id)`. Only with a search.
    Relevance,
}

/// The rank of an image for the search in hand, written the same way in the select
/// list, the order and the keyset: the rank a cursor carries compares exactly with
/// the one computed for the next page. `ts_rank_cd` answers `real`.
const RANK: &str = "ts_rank_cd(images.search_document, search.query)";

/// `FROM ... WHERE ...` of a list of images: the images (with their owners when
/// `with_owners`), the search's query once per statement (`search.query`), and the
/// filter's conditions. Every value is a bind parameter.
///
/// A statement with a search or tags is planned for its values every time, never
/// kept prepared: after five runs PostgreSQL may switch a prepared statement to a
/// generic plan, which cannot know how rare the words or tags are. At 100,000 images
/// the generic plan for two words and a tag walked the 8,300 images with that tag
/// through the tags index and tested each document (25-45 ms), where the plan made for
/// the words reads the ~1,150 candidates of the search index (3-8 ms). The extra parse
/// and plan cost about half a millisecond. Without them (the feed, owners, sources,
/// statuses, times) one plan fits all, and diesel keeps the statement prepared.
struct FromWhere<'a> {
    filter: &'a ImageFilter,
    with_owners: bool,
}

impl FromWhere<'_> {
    fn walk<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let filter = self.filter;
        if filter.search.is_some() || !filter.tags.is_empty() {
            out.unsafe_to_cache_prepared();
        }
        out.push_sql(" FROM images");
        if self.with_owners {
            out.push_sql(" JOIN users ON users.id = images.owner_id");
        }
        if let Some(search) = &filter.search {
            out.push_sql(" CROSS JOIN websearch_to_tsquery('english', ");
            out.push_bind_param::<Text, _>(search)?;
            out.push_sql(") AS search(query)");
        }
        match &filter.parent_id {
            Some(parent) => {
                out.push_sql(" WHERE images.parent_id = ");
                out.push_bind_param::<SqlUuid, _>(parent)?;
            }
            None => out.push_sql(" WHERE images.kept_from IS NULL"),
        }
        if filter.search.is_some() {
            out.push_sql(" AND images.search_document @@ search.query");
        }
        if !filter.tags.is_empty() {
            out.push_sql(" AND images.tags @> ");
            out.push_bind_param::<Array<Text>, _>(&filter.tags)?;
        }
        if let Some(owner) = &filter.owner_id {
            out.push_sql(" AND images.owner_id = ");
            out.push_bind_param::<SqlUuid, _>(owner)?;
        }
        if let Some(source) = &filter.source {
            out.push_sql(" AND images.source = ");
            out.push_bind_param::<Text, _>(source)?;
        }
        if let Some(status) = &filter.analysis_status {
            out.push_sql(" AND images.analysis_status = ");
            out.push_bind_param::<Text, _>(status)?;
        }
        if let Some(after) = &filter.uploaded_after {
            out.push_sql(" AND images.created_at > ");
            out.push_bind_param::<Timestamptz, _>(after)?;
        }
        if let Some(before) = &filter.uploaded_before {
            out.push_sql(" AND images.created_at < ");
            out.push_bind_param::<Timestamptz, _>(before)?;
        }
        Ok(())
    }
}

/// The limits the page statement is written with: the feed's 10, the gallery's 20,
/// and the largest page (30), each plus the one row that tells whether more follow.
const LIMIT_STEPS: [i64; 3] = [11, 21, 31];

/// One page of images with their owners (and ranks, ordered by relevance): built by
/// hand, like the comment pages, so that diesel keeps the feed's prepared.
struct ImagePage<'a> {
    from_where: FromWhere<'a>,
    order: ImageOrder,
    req: &'a PageRequest,
    /// One more than the page, to learn whether another follows.
    limit: i64,
    images: AsSelect<Image, Pg>,
    users: AsSelect<User, Pg>,
}

impl<'a> ImagePage<'a> {
    fn new(filter: &'a ImageFilter, order: ImageOrder, req: &'a PageRequest) -> Self {
        Self {
            from_where: FromWhere {
                filter,
                with_owners: true,
            },
            order,
            req,
            limit: req.limit + 1,
            images: Image::as_select(),
            users: User::as_select(),
        }
    }
}

impl QueryFragment<Pg> for ImagePage<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let ranked = self.order == ImageOrder::Relevance;
        if ranked && self.from_where.filter.search.is_none() {
            return Err(diesel::result::Error::QueryBuilderError(
                "relevance order needs a search".into(),
            ));
        }
        out.push_sql("SELECT ");
        self.images.walk_ast(out.reborrow())?;
        out.push_sql(", ");
        self.users.walk_ast(out.reborrow())?;
        if ranked {
            out.push_sql(&format!(", {RANK}"));
        } else {
            out.push_sql(", NULL::real");
        }
        self.from_where.walk(out.reborrow())?;
        if let Some(cursor) = &self.req.cursor {
            let operator = self.req.direction.keyset_operator();
            match (ranked, &cursor.rank) {
                (true, Some(rank)) => {
                    out.push_sql(&format!(
                        " AND ({RANK}, images.created_at, images.id) {operator} ("
                    ));
                    out.push_bind_param::<Float4, _>(&rank.0)?;
                    out.push_sql(", ");
                    out.push_bind_param::<Timestamptz, _>(&cursor.created_at)?;
                    out.push_sql(", ");
                    out.push_bind_param::<SqlUuid, _>(&cursor.id)?;
                    out.push_sql(")");
                }
                (false, None) => {
                    // The cursor's values go in as sub-selects, which the planner cannot
                    // look into: a custom plan is then estimated like the generic one,
                    // and the prepared statement keeps the generic plan. With plain
                    // parameters every custom plan was estimated cheaper (the cursor's
                    // real selectivity against a default third), so each request was
                    // planned anew: 0.2 ms of PostgreSQL's CPU, several times the
                    // statement's execution. The best plan is the same whatever the
                    // cursor: the feed index from the cursor on.
                    out.push_sql(&format!(
                        " AND (images.created_at, images.id) {operator} ((SELECT "
                    ));
                    out.push_bind_param::<Timestamptz, _>(&cursor.created_at)?;
                    out.push_sql("), (SELECT ");
                    out.push_bind_param::<SqlUuid, _>(&cursor.id)?;
                    out.push_sql("))");
                }
                _ => {
                    return Err(diesel::result::Error::QueryBuilderError(
                        "a cursor of another order".into(),
                    ));
                }
            }
        }
        let order = self.req.direction.sql_order();
        out.push_sql(" ORDER BY ");
        if ranked {
            out.push_sql(&format!("{RANK} {order}, "));
        }
        // The limit is written into the text, not bound: for a bound limit a generic
        // plan assumes a tenth of the rows are fetched, so it never looked as cheap as
        // a custom plan and even the first page was planned on every request. Each
        // text is a prepared statement kept for the connection's life, so the limit is
        // rounded up to one of three (`Page::from_rows` drops the extra rows): a client
        // cycling page sizes cannot multiply them by 31.
        let limit = LIMIT_STEPS
            .into_iter()
            .find(|&step| step >= self.limit)
            .unwrap_or(self.limit);
        out.push_sql(&format!(
            "images.created_at {order}, images.id {order} LIMIT {limit}"
        ));
        Ok(())
    }
}

impl QueryId for ImagePage<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for ImagePage<'_> {
    type SqlType = (
        SqlTypeOf<AsSelect<Image, Pg>>,
        SqlTypeOf<AsSelect<User, Pg>>,
        Nullable<Float4>,
    );
}

/// `count(*)` of the images a filter lets through.
struct ImageCount<'a> {
    from_where: FromWhere<'a>,
}

impl QueryFragment<Pg> for ImageCount<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT count(*)");
        self.from_where.walk(out.reborrow())
    }
}

impl QueryId for ImageCount<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for ImageCount<'_> {
    type SqlType = BigInt;
}

/// `EXPLAIN (ANALYZE, BUFFERS)` of a statement, one line of plan per row.
struct Explain<T>(T);

impl<T: QueryFragment<Pg>> QueryFragment<Pg> for Explain<T> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("EXPLAIN (ANALYZE, BUFFERS) ");
        self.0.walk_ast(out.reborrow())
    }
}

impl<T> QueryId for Explain<T> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<T> Query for Explain<T> {
    type SqlType = Text;
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
    /// posted each image. Ordered by relevance, each row's cursor carries its rank.
    /// The request's cursor must be of the same order (the API layer checks).
    pub async fn page(
        conn: &mut AsyncPgConnection,
        filter: &ImageFilter,
        order: ImageOrder,
        req: &PageRequest,
    ) -> QueryResult<Page<(Image, User, Option<Rank>)>> {
        let rows: Vec<(Image, User, Option<f32>)> =
            ImagePage::new(filter, order, req).load(conn).await?;
        let rows = rows
            .into_iter()
            .map(|(image, user, rank)| (image, user, rank.map(Rank)))
            .collect();
        Ok(Page::from_rows(rows, req))
    }

    /// The plan PostgreSQL runs for `page`, executed (`EXPLAIN (ANALYZE, BUFFERS)`).
    pub async fn explain_page(
        conn: &mut AsyncPgConnection,
        filter: &ImageFilter,
        order: ImageOrder,
        req: &PageRequest,
    ) -> QueryResult<Vec<String>> {
        Explain(ImagePage::new(filter, order, req)).load(conn).await
    }

    pub async fn count(conn: &mut AsyncPgConnection, filter: &ImageFilter) -> QueryResult<i64> {
        ImageCount {
            from_where: FromWhere {
                filter,
                with_owners: false,
            },
        }
        .get_result(conn)
        .await
    }

    /// Moves an unfinished analysis (PENDING or RUNNING) to `status`; false when no
    /// analysis was in progress, which keeps the analysis job idempotent. A finished
    /// one sets the description and tags (`described`), none when `None`.
    pub async fn advance_analysis(
        conn: &mut AsyncPgConnection,
        id: ImageId,
        status: AnalysisStatus,
        described: Option<(&str, &[String])>,
        error: Option<&str>,
    ) -> QueryResult<bool> {
        let (description, tags) = match described {
            Some((text, tags)) => (Some(text), tags),
            None => (None, &[][..]),
        };
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
                        images::tags.eq(tags),
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
            images::tags.eq(&updated.tags),
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
