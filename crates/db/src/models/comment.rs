use std::collections::HashMap;

use crate::ids::{CommentId, ImageId, UserId};
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Timestamptz, Untyped, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::models::User;
use crate::models::user::Role;
use crate::page::{Direction, Keyset, Page, PageRequest};
use crate::schema::comments;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable, Insertable)]
#[diesel(table_name = comments)]
pub struct Comment {
    pub id: CommentId,
    pub image_id: ImageId,
    pub author_id: UserId,
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub edited_at: DateTime<Utc>,
}

impl Comment {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        image_id: ImageId,
        author_id: UserId,
        text: &str,
    ) -> QueryResult<Comment> {
        let now = Utc::now();
        let comment = Comment {
            id: CommentId::new(),
            image_id,
            author_id,
            text: text.to_owned(),
            created_at: now,
            edited_at: now,
        };
        diesel::insert_into(comments::table)
            .values(&comment)
            .returning(Comment::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn update_text(
        conn: &mut AsyncPgConnection,
        id: CommentId,
        text: &str,
    ) -> QueryResult<Comment> {
        diesel::update(comments::table.find(id))
            .set((comments::text.eq(text), comments::edited_at.eq(Utc::now())))
            .returning(Comment::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn delete(conn: &mut AsyncPgConnection, id: CommentId) -> QueryResult<bool> {
        Ok(diesel::delete(comments::table.find(id))
            .execute(conn)
            .await?
            > 0)
    }

    /// One page of comments for each of many images, in a single statement: a LATERAL
    /// subquery walks each image's `(image_id, created_at, id)` index range separately.
    /// One page of comments for each image, and their authors (whom every comment
    /// list shows), in one statement.
    pub async fn pages_for_images(
        conn: &mut AsyncPgConnection,
        image_ids: &[ImageId],
        req: &PageRequest,
    ) -> QueryResult<(HashMap<ImageId, Page<Comment>>, Vec<User>)> {
        let query = CommentPages {
            image_ids,
            keyset: req.cursor_filter("comments"),
            direction: req.direction,
            limit: req.limit + 1,
        };
        let rows: Vec<CommentWithAuthor> = query.load(conn).await?;
        let mut authors = Vec::with_capacity(rows.len());
        let mut grouped: HashMap<ImageId, Vec<Comment>> = HashMap::with_capacity(image_ids.len());
        for row in rows {
            authors.push(User {
                id: row.comment.author_id,
                name: row.author_name,
                role: row.author_role,
                created_at: row.author_created_at,
                disabled_at: row.author_disabled_at,
            });
            grouped
                .entry(row.comment.image_id)
                .or_default()
                .push(row.comment);
        }
        let pages = image_ids
            .iter()
            .map(|id| {
                let rows = grouped.remove(id).unwrap_or_default();
                (*id, Page::from_rows(rows, req))
            })
            .collect();
        Ok((pages, authors))
    }
}

#[derive(QueryableByName)]
struct CommentWithAuthor {
    #[diesel(embed)]
    comment: Comment,
    #[diesel(sql_type = diesel::sql_types::Text)]
    author_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    author_role: Role,
    #[diesel(sql_type = Timestamptz)]
    author_created_at: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Timestamptz>)]
    author_disabled_at: Option<DateTime<Utc>>,
}

/// `comments(first: n)` under many images: a `LATERAL` subquery per image over
/// `unnest($1)`, each joined with its authors. Built by hand rather than with
/// `sql_query`, whose statements diesel never caches: this one runs on every feed
/// request, and preparing it each time would cost a round trip and a plan.
struct CommentPages<'a> {
    image_ids: &'a [ImageId],
    keyset: Option<Keyset>,
    direction: Direction,
    /// One more than the page, to learn whether another follows.
    limit: i64,
}

impl QueryFragment<Pg> for CommentPages<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let order = match self.direction {
            Direction::Forward => "DESC",
            Direction::Backward => "ASC",
        };
        out.push_sql("SELECT c.* FROM unnest(");
        out.push_bind_param::<Array<SqlUuid>, _>(self.image_ids)?;
        out.push_sql(
            ") AS i(id) CROSS JOIN LATERAL ( \
             SELECT comments.*, u.name AS author_name, u.role AS author_role, \
                    u.created_at AS author_created_at, u.disabled_at AS author_disabled_at \
             FROM comments JOIN users u ON u.id = comments.author_id \
             WHERE comments.image_id = i.id",
        );
        if let Some(keyset) = &self.keyset {
            out.push_sql(" AND ");
            keyset.walk_ast(out.reborrow())?;
        }
        out.push_sql(&format!(
            " ORDER BY comments.created_at {order}, comments.id {order} LIMIT "
        ));
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(") c");
        Ok(())
    }
}

impl QueryId for CommentPages<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for CommentPages<'_> {
    type SqlType = Untyped;
}

super::by_id!(Comment, comments, CommentId);
