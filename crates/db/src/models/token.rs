//! API tokens. Only a token's SHA-256 is stored; [`ApiToken`], what users see of
//! their tokens, does not carry even that.

use crate::ids::{TokenId, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::models::User;
use crate::schema::{api_tokens, users};
use crate::text_enum::text_enum;

text_enum! {
    /// How a token was made: by the CLI, by `login` (a session: the oldest are
    /// revoked when a user holds too many), or by `createApiToken`.
    pub enum TokenKind { Cli => "CLI", Login => "LOGIN", Api => "API" }
}

/// A token as its owner sees it: never the secret, nor its hash.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: TokenId,
    pub user_id: UserId,
    pub name: String,
    pub kind: TokenKind,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Insertable)]
#[diesel(table_name = api_tokens)]
struct NewToken<'a> {
    id: TokenId,
    user_id: UserId,
    token_hash: &'a [u8],
    name: &'a str,
    kind: TokenKind,
}

/// A token from the CLI, named `cli`.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    user_id: UserId,
    token_hash: &[u8],
) -> QueryResult<()> {
    insert_named(conn, user_id, token_hash, "cli", TokenKind::Cli).await?;
    Ok(())
}

pub async fn insert_named(
    conn: &mut AsyncPgConnection,
    user_id: UserId,
    token_hash: &[u8],
    name: &str,
    kind: TokenKind,
) -> QueryResult<ApiToken> {
    diesel::insert_into(api_tokens::table)
        .values(NewToken {
            id: TokenId::new(),
            user_id,
            token_hash,
            name,
            kind,
        })
        .returning(ApiToken::as_returning())
        .get_result(conn)
        .await
}

/// The token behind a hash, as authentication needs it: whose it is, which, and when
/// it was last recorded as used.
#[derive(Debug, Clone)]
pub struct TokenOwner {
    pub user: User,
    pub token_id: TokenId,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The user a live (not revoked) token belongs to, unless that user is disabled.
pub async fn find_user(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
) -> QueryResult<Option<TokenOwner>> {
    let row: Option<(User, TokenId, Option<DateTime<Utc>>)> = api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(token_hash))
        .filter(api_tokens::revoked_at.is_null())
        .filter(users::disabled_at.is_null())
        .select((User::as_select(), api_tokens::id, api_tokens::last_used_at))
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(|(user, token_id, last_used_at)| TokenOwner {
        user,
        token_id,
        last_used_at,
    }))
}

/// Records that a token was used, unless that was recorded after `stale_before`
/// (another request or replica did it): at most one write per token per interval.
pub async fn touch(
    conn: &mut AsyncPgConnection,
    id: TokenId,
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
) -> QueryResult<bool> {
    Ok(diesel::update(api_tokens::table.find(id))
        .filter(api_tokens::revoked_at.is_null())
        .filter(
            api_tokens::last_used_at
                .is_null()
                .or(api_tokens::last_used_at.lt(stale_before)),
        )
        .set(api_tokens::last_used_at.eq(now))
        .execute(conn)
        .await?
        > 0)
}

/// A user's live tokens, oldest first.
pub async fn live_for_user(
    conn: &mut AsyncPgConnection,
    user_id: UserId,
) -> QueryResult<Vec<ApiToken>> {
    api_tokens::table
        .filter(api_tokens::user_id.eq(user_id))
        .filter(api_tokens::revoked_at.is_null())
        .order((api_tokens::created_at.asc(), api_tokens::id.asc()))
        .select(ApiToken::as_select())
        .load(conn)
        .await
}

/// One token by id, live or not.
pub async fn find(conn: &mut AsyncPgConnection, id: TokenId) -> QueryResult<Option<ApiToken>> {
    api_tokens::table
        .find(id)
        .select(ApiToken::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn count_live(conn: &mut AsyncPgConnection, user_id: UserId) -> QueryResult<i64> {
    api_tokens::table
        .filter(api_tokens::user_id.eq(user_id))
        .filter(api_tokens::revoked_at.is_null())
        .count()
        .get_result(conn)
        .await
}

/// Revokes a user's oldest live `login` tokens but `except` (the one just made)
/// until at most `keep` live tokens are left, or none of those remain; returns how
/// many were revoked.
pub async fn revoke_oldest_logins(
    conn: &mut AsyncPgConnection,
    user_id: UserId,
    keep: i64,
    except: TokenId,
) -> QueryResult<usize> {
    let live = count_live(conn, user_id).await?;
    let excess = live - keep;
    if excess <= 0 {
        return Ok(0);
    }
    let oldest: Vec<TokenId> = api_tokens::table
        .filter(api_tokens::user_id.eq(user_id))
        .filter(api_tokens::revoked_at.is_null())
        .filter(api_tokens::kind.eq(TokenKind::Login))
        .filter(api_tokens::id.ne(except))
        .order((api_tokens::created_at.asc(), api_tokens::id.asc()))
        .limit(excess)
        .select(api_tokens::id)
        .load(conn)
        .await?;
    diesel::update(api_tokens::table)
        .filter(api_tokens::id.eq_any(&oldest))
        .set(api_tokens::revoked_at.eq(Utc::now()))
        .execute(conn)
        .await
}

/// Revokes one live token of `user_id`; `false` when it has none of that id.
pub async fn revoke_own(
    conn: &mut AsyncPgConnection,
    user_id: UserId,
    id: TokenId,
) -> QueryResult<bool> {
    Ok(diesel::update(api_tokens::table.find(id))
        .filter(api_tokens::user_id.eq(user_id))
        .filter(api_tokens::revoked_at.is_null())
        .set(api_tokens::revoked_at.eq(Utc::now()))
        .execute(conn)
        .await?
        > 0)
}

/// Revokes every live token of a user but `keep`; returns how many.
pub async fn revoke_all_but(
    conn: &mut AsyncPgConnection,
    user_id: UserId,
    keep: Option<TokenId>,
) -> QueryResult<usize> {
    // No token has the nil id: keeping it keeps none.
    let keep = keep.unwrap_or_else(|| TokenId::from_uuid(uuid::Uuid::nil()));
    diesel::update(api_tokens::table)
        .filter(api_tokens::user_id.eq(user_id))
        .filter(api_tokens::revoked_at.is_null())
        .filter(api_tokens::id.ne(keep))
        .set(api_tokens::revoked_at.eq(Utc::now()))
        .execute(conn)
        .await
}

/// Revokes every live token of a user; returns how many.
pub async fn revoke_all(conn: &mut AsyncPgConnection, user_id: UserId) -> QueryResult<usize> {
    revoke_all_but(conn, user_id, None).await
}

/// Revokes one token by its hash; returns whether a live token matched.
pub async fn revoke(conn: &mut AsyncPgConnection, token_hash: &[u8]) -> QueryResult<bool> {
    let n = diesel::update(api_tokens::table)
        .filter(api_tokens::token_hash.eq(token_hash))
        .filter(api_tokens::revoked_at.is_null())
        .set(api_tokens::revoked_at.eq(Utc::now()))
        .execute(conn)
        .await?;
    Ok(n > 0)
}
