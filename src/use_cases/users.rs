//! Users and their API tokens. Tokens are 256 random bits shown once; only their
//! SHA-256 is stored, so a database leak reveals no usable token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel_async::AsyncPgConnection;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::token_cache::TokenCache;
use imagegraph_db::Db;
use imagegraph_db::models::{Role, User, token};

const TOKEN_PREFIX: &str = "igt_";

pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn validate_name(name: &str) -> Result<&str> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !ok {
        return Err(Error::bad_input(
            "a user name is 1 to 64 letters, digits, `_`, `-` or `.`",
        ));
    }
    Ok(name)
}

/// Creates a user and its first token; returns the token, which is never seen again.
pub async fn create(db: &Db, name: &str, role: Role) -> Result<(User, String)> {
    let name = validate_name(name)?;
    let mut conn = db.conn().await?;
    if User::find_by_name(&mut conn, name).await?.is_some() {
        return Err(Error::bad_input(format!(
            "a user named `{name}` already exists"
        )));
    }
    let user = User::insert(&mut conn, name, role).await?;
    let token = mint(&mut conn, &user).await?;
    Ok((user, token))
}

pub async fn mint(conn: &mut AsyncPgConnection, user: &User) -> Result<String> {
    let token = new_token();
    token::insert(conn, user.id, &hash_token(&token)).await?;
    Ok(token)
}

/// The user a bearer token belongs to; `None` for an unknown or revoked token.
/// Served from the process's token cache when it can vouch for the answer.
/// `epoch` is the event listener's ([`crate::events::EventBus::epoch`]): without a
/// listener nothing is cached.
pub async fn authenticate(
    db: &Db,
    tokens: &TokenCache,
    epoch: Option<u64>,
    bearer: &str,
) -> Result<Option<User>> {
    if !bearer.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let hash = hash_token(bearer);
    if let Some(user) = epoch.and_then(|epoch| tokens.get(&hash, epoch)) {
        return Ok(Some(user));
    }
    let revision = tokens.revision();
    let mut conn = db.conn().await?;
    let user = token::find_user(&mut conn, &hash).await?;
    if let (Some(epoch), Some(user)) = (epoch, &user) {
        tokens.insert(hash, user.clone(), epoch, revision);
    }
    Ok(user)
}

/// The user a live token belongs to, read from the database (never the cache): for
/// checking a token again after its user was announced as changed.
pub async fn find_token_user(db: &Db, bearer: &str) -> Result<Option<User>> {
    if !bearer.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let mut conn = db.conn().await?;
    Ok(token::find_user(&mut conn, &hash_token(bearer)).await?)
}

/// On first start, when there are no users, creates `admin`; returns its token.
pub async fn bootstrap_admin(db: &Db) -> Result<Option<String>> {
    let mut conn = db.conn().await?;
    if User::count(&mut conn).await? > 0 {
        return Ok(None);
    }
    drop(conn);
    let (_, token) = create(db, "admin", Role::Admin).await?;
    Ok(Some(token))
}
