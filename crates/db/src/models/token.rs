use crate::ids::{TokenId, UserId};
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::models::User;
use crate::schema::{api_tokens, users};

#[derive(Insertable)]
#[diesel(table_name = api_tokens)]
struct NewToken<'a> {
    id: TokenId,
    user_id: UserId,
    token_hash: &'a [u8],
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    user_id: UserId,
    token_hash: &[u8],
) -> QueryResult<()> {
    diesel::insert_into(api_tokens::table)
        .values(NewToken {
            id: TokenId::new(),
            user_id,
            token_hash,
        })
        .execute(conn)
        .await?;
    Ok(())
}

/// The user a live (not revoked) token belongs to.
pub async fn find_user(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
) -> QueryResult<Option<User>> {
    api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(token_hash))
        .filter(api_tokens::revoked_at.is_null())
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

/// Revokes every live token of a user; returns how many.
pub async fn revoke_all(conn: &mut AsyncPgConnection, user_id: UserId) -> QueryResult<usize> {
    diesel::update(api_tokens::table)
        .filter(api_tokens::user_id.eq(user_id))
        .filter(api_tokens::revoked_at.is_null())
        .set(api_tokens::revoked_at.eq(Utc::now()))
        .execute(conn)
        .await
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
