//! Comment use cases.

use diesel_async::AsyncConnection as _;
use imagegraph_db::models::ById as _;
use imagegraph_db::{CommentId, ImageId};

use crate::error::{Error, Result};
use crate::events::{self, Event};
use imagegraph_db::Db;
use imagegraph_db::models::{Comment, Image, User};

pub const MAX_COMMENT_CHARS: usize = 5000;

fn clean_text(text: &str) -> Result<&str> {
    crate::text::clean(text, "comment text", MAX_COMMENT_CHARS)
}

/// Adds a comment. The image is checked first, so a comment on a missing image is
/// `NOT_FOUND` whatever its text.
pub async fn add(db: &Db, author: &User, image_id: ImageId, text: &str) -> Result<Comment> {
    let mut conn = db.conn().await?;
    if Image::find(&mut conn, image_id).await?.is_none() {
        return Err(Error::NotFound("image"));
    }
    let text = clean_text(text)?;
    let inserted = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            let comment = Comment::insert(conn, image_id, author.id, text).await?;
            events::publish(
                conn,
                &Event::CommentAdded {
                    image_id,
                    comment_id: comment.id,
                },
            )
            .await?;
            Ok(comment)
        })
        .await;
    match inserted {
        Ok(comment) => Ok(comment),
        // The image was deleted between the check and the insert.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ForeignKeyViolation,
            _,
        )) => Err(Error::NotFound("image")),
        Err(err) => Err(err.into()),
    }
}

pub async fn update(db: &Db, viewer: &User, id: CommentId, text: &str) -> Result<Comment> {
    let mut conn = db.conn().await?;
    let comment = Comment::find(&mut conn, id)
        .await?
        .ok_or(Error::NotFound("comment"))?;
    authorize(viewer, &comment, "edit")?;
    let text = clean_text(text)?;
    Ok(Comment::update_text(&mut conn, id, text).await?)
}

pub async fn delete(db: &Db, viewer: &User, id: CommentId) -> Result<CommentId> {
    let mut conn = db.conn().await?;
    let comment = Comment::find(&mut conn, id)
        .await?
        .ok_or(Error::NotFound("comment"))?;
    authorize(viewer, &comment, "delete")?;
    if !Comment::delete(&mut conn, id).await? {
        return Err(Error::NotFound("comment"));
    }
    Ok(id)
}

fn authorize(viewer: &User, comment: &Comment, action: &str) -> Result<()> {
    if viewer.may_manage(comment.author_id) {
        Ok(())
    } else {
        Err(Error::forbidden(format!(
            "only the comment's author or an admin can {action} it"
        )))
    }
}
