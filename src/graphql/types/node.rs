use async_graphql::{Context, ID, Interface};

use super::{ApiToken, BenchmarkRun, Comment, Generation, Image, User};
use crate::error::{Error, Result};
use crate::graphql::ContextExt as _;
use imagegraph_db::models;
use imagegraph_db::{BenchmarkRunId, CommentId, GenerationId, GlobalId, ImageId, TokenId, UserId};

/// Ids one `nodes` call may ask for.
pub(crate) const MAX_NODES: usize = 100;

/// Any object with a global id (`Query.node`).
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub(crate) enum Node {
    Image(Image),
    Comment(Comment),
    User(User),
    ImageGeneration(Generation),
    BenchmarkRun(BenchmarkRun),
    ApiToken(ApiToken),
}

/// The object a global id names, with one lookup chosen by the type the id carries.
/// `None` for a well-formed id of no object the viewer may see (Relay's rule), so an
/// unknown id and another user's generation look the same; a malformed id is
/// `BAD_USER_INPUT`.
pub(crate) async fn load(
    ctx: &Context<'_>,
    viewer: &models::User,
    id: &ID,
) -> Result<Option<Node>> {
    let Some((type_name, uuid)) = imagegraph_db::decode_global_id(id) else {
        return Err(Error::bad_input(format!(
            "`{}` is not a global id",
            id.chars().take(64).collect::<String>()
        )));
    };
    let loaders = ctx.loaders();
    Ok(match type_name.as_str() {
        ImageId::TYPE_NAME => loaders
            .images
            .load_one(ImageId::from_uuid(uuid))
            .await?
            .map(Node::Image),
        CommentId::TYPE_NAME => loaders
            .comments
            .load_one(CommentId::from_uuid(uuid))
            .await?
            .map(Node::Comment),
        UserId::TYPE_NAME => loaders
            .users
            .load_one(UserId::from_uuid(uuid))
            .await?
            .map(Node::User),
        GenerationId::TYPE_NAME => loaders
            .generations
            .load_one(GenerationId::from_uuid(uuid))
            .await?
            .filter(|generation| viewer.may_manage(generation.owner_id))
            .map(Node::ImageGeneration),
        BenchmarkRunId::TYPE_NAME => loaders
            .benchmark_runs
            .load_one(BenchmarkRunId::from_uuid(uuid))
            .await?
            .filter(|run| viewer.may_manage(run.owner_id))
            .map(Node::BenchmarkRun),
        // Only the viewer's own live tokens: anyone else's id is `null`, as unknown.
        TokenId::TYPE_NAME => {
            let mut conn = ctx.app().db.conn().await?;
            models::token::find(&mut conn, TokenId::from_uuid(uuid))
                .await?
                .filter(|token| token.user_id == viewer.id && token.revoked_at.is_none())
                .map(|token| Node::ApiToken(ApiToken(token)))
        }
        _ => None,
    })
}
