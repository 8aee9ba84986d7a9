//! Users, their passwords and their API tokens. Tokens are 256 random bits shown
//! once; only their SHA-256 is stored, so a database leak reveals no usable token.
//! Passwords are Argon2id hashes (`crate::passwords`).
//!
//! Names are ASCII letters, digits, `-`, `_` and `.`, 1 to 64 of them, unique
//! whatever their case: ASCII only, so no two names can look alike (a Cyrillic `а`
//! for a Latin `a`). Names made before this rule keep working.

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use sha2::{Digest as _, Sha256};

use crate::app::App;
use crate::error::{Error, Result};
use crate::passwords::{self, Password, PasswordHasher};
use crate::token_cache::{CachedToken, TokenCache, last_used_is_stale};
use imagegraph_db::models::token::{ApiToken, TokenKind};
use imagegraph_db::models::{Role, User, token};
use imagegraph_db::page::{Page, PageRequest};
use imagegraph_db::{Db, TokenId, UserId};

const TOKEN_PREFIX: &str = "igt_";
/// Live tokens one user may hold. `createApiToken` past it is refused; `login` past
/// it revokes the user's oldest earlier login tokens instead (sessions roll over), so
/// signing in never fails for it.
pub const MAX_LIVE_TOKENS: i64 = 100;
/// Longest token name, in characters.
const MAX_TOKEN_NAME_CHARS: usize = 64;
/// The name of tokens `login` makes.
const LOGIN_TOKEN_NAME: &str = "login";

/// A request's credentials: whose token it carries, and which token.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: User,
    pub token_id: TokenId,
}

pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A user name as given (trimmed), or `BAD_USER_INPUT` naming `field`.
pub fn validate_name<'a>(field: &'static str, name: &'a str) -> Result<&'a str> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'));
    if !ok {
        return Err(Error::bad_field(
            field,
            format!("`{field}` must be 1 to 64 ASCII letters, digits, `_`, `-` or `.`"),
        ));
    }
    Ok(name)
}

/// A token name, trimmed: 1 to 64 characters, no control characters.
fn validate_token_name(name: &str) -> Result<&str> {
    let name = name.trim();
    let count = name.chars().count();
    if count == 0 || count > MAX_TOKEN_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(Error::bad_field(
            "name",
            format!(
                "`name` must be 1 to {MAX_TOKEN_NAME_CHARS} characters, none of them control characters"
            ),
        ));
    }
    Ok(name)
}

/// The key an address's sign-in allowance is kept under: an IPv6 client's /64 (one
/// host usually holds a whole /64, and could otherwise sign in from 2^64 addresses).
fn address_key(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(v6) & !((1u128 << 64) - 1),
            )),
        },
        IpAddr::V4(_) => client,
    }
}

/// The key a name's sign-in allowance is kept under.
fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn unique_violation(err: &diesel::result::Error) -> bool {
    matches!(
        err,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Inserts a user (`password_hash`: a PHC string, or none for tokens only); a name
/// taken in any case is `BAD_USER_INPUT` on `name`.
async fn insert_user(
    conn: &mut AsyncPgConnection,
    name: &str,
    role: Role,
    password_hash: Option<&str>,
) -> Result<User> {
    User::insert_with_password(conn, name, role, password_hash)
        .await
        .map_err(|err| {
            if unique_violation(&err) {
                Error::bad_field("name", format!("a user named `{name}` already exists"))
            } else {
                err.into()
            }
        })
}

/// Creates a user and its first token; returns the token, which is never seen again.
pub async fn create(db: &Db, name: &str, role: Role) -> Result<(User, String)> {
    let name = validate_name("name", name)?;
    let mut conn = db.conn().await?;
    let user = insert_user(&mut conn, name, role, None).await?;
    let token = mint(&mut conn, &user).await?;
    Ok((user, token))
}

/// Creates a user with a password (`createUser`, `users create --password-stdin`).
pub async fn create_with_password(
    db: &Db,
    hasher: &PasswordHasher,
    name: &str,
    role: Role,
    password: Password,
) -> Result<User> {
    let name = validate_name("name", name)?;
    passwords::check_length("password", password.as_str(), true)?;
    let hash = hasher.hash(password).await?;
    let mut conn = db.conn().await?;
    insert_user(&mut conn, name, role, Some(&hash)).await
}

/// A new CLI token for `user`.
pub async fn mint(conn: &mut AsyncPgConnection, user: &User) -> Result<String> {
    let token = new_token();
    token::insert(conn, user.id, &hash_token(&token)).await?;
    Ok(token)
}

/// A new token and the row that describes it.
pub struct NewToken {
    pub token: String,
    pub api_token: ApiToken,
}

/// `login`: a new token for the user `name` when `password` is theirs. A wrong name,
/// a wrong password, a user without a password and a disabled user all get the same
/// answer after the same Argon2 work. Attempts are rate-limited per client address
/// and per name before any hashing.
pub async fn login(
    app: &App,
    client: IpAddr,
    name: &str,
    password: Password,
) -> Result<(User, NewToken)> {
    let name = validate_name("name", name)?;
    passwords::check_length("password", password.as_str(), false)?;
    app.limits.login_addresses.take(address_key(client))?;
    // A name's allowances are spent by failures only (checked here, charged below), so
    // the owner signing in costs nothing and a stranger cannot lock them out.
    let name_address = (name_key(name), address_key(client));
    app.limits.login_names.check(&name_address.0)?;
    app.limits.login_name_addresses.check(&name_address)?;
    let mut conn = app.db.conn().await?;
    let found = User::find_credentials(&mut conn, name).await?;
    drop(conn);
    let (user, stored) = match found {
        Some((user, hash)) if !user.is_disabled() => (Some(user), hash),
        _ => (None, None),
    };
    let checked = stored.clone();
    let matches = app.passwords.verify(stored, password).await?;
    let Some(user) = user.filter(|_| matches) else {
        // Spent whether or not a token is left: a refusal is already on its way.
        let _ = app.limits.login_names.take(name_address.0.clone());
        let _ = app.limits.login_name_addresses.take(name_address);
        return Err(Error::WrongCredentials);
    };
    let mut conn = app.db.conn().await?;
    let token = conn
        .transaction::<_, Error, _>(async |conn| {
            // The hash was checked outside any lock (it may have waited seconds for a
            // slot): if the password changed meanwhile (changePassword revokes every
            // other token) or the user was disabled, the old password mints nothing.
            match User::lock_credentials(conn, user.id).await? {
                Some((hash, None)) if hash == checked => {}
                _ => return Err(Error::WrongCredentials),
            }
            let token = new_token();
            let api_token = token::insert_named(
                conn,
                user.id,
                &hash_token(&token),
                LOGIN_TOKEN_NAME,
                TokenKind::Login,
            )
            .await?;
            token::revoke_oldest_logins(conn, user.id, MAX_LIVE_TOKENS, api_token.id).await?;
            Ok(NewToken { token, api_token })
        })
        .await?;
    Ok((user, token))
}

/// `createApiToken`: a named token for the viewer, at most [`MAX_LIVE_TOKENS`] live.
pub async fn create_api_token(db: &Db, auth: &Authenticated, name: &str) -> Result<NewToken> {
    let name = validate_token_name(name)?;
    let viewer = &auth.user;
    let mut conn = db.conn().await?;
    conn.transaction::<_, Error, _>(async |conn| {
        // The user's row locked: two requests at once cannot both pass the count, and
        // a token revoked (changePassword, revokeApiToken) or a user disabled since
        // the request was authenticated cannot mint a successor that outlives it.
        let Some((_, None)) = User::lock_credentials(conn, viewer.id).await? else {
            return Err(Error::Unauthenticated);
        };
        if token::find(conn, auth.token_id)
            .await?
            .is_none_or(|token| token.revoked_at.is_some())
        {
            return Err(Error::Unauthenticated);
        }
        if token::count_live(conn, viewer.id).await? >= MAX_LIVE_TOKENS {
            return Err(Error::bad_input(format!(
                "a user may hold at most {MAX_LIVE_TOKENS} live tokens; revoke one first"
            )));
        }
        let token = new_token();
        let api_token =
            token::insert_named(conn, viewer.id, &hash_token(&token), name, TokenKind::Api).await?;
        Ok(NewToken { token, api_token })
    })
    .await
}

/// `revokeApiToken`: only the viewer's own live tokens; any other id is `NOT_FOUND`.
pub async fn revoke_api_token(db: &Db, viewer: &User, id: TokenId) -> Result<TokenId> {
    let mut conn = db.conn().await?;
    if token::revoke_own(&mut conn, viewer.id, id).await? {
        Ok(id)
    } else {
        Err(Error::NotFound("API token"))
    }
}

/// The viewer's live tokens, oldest first.
pub async fn api_tokens(db: &Db, viewer: &User) -> Result<Vec<ApiToken>> {
    let mut conn = db.conn().await?;
    Ok(token::live_for_user(&mut conn, viewer.id).await?)
}

/// `changePassword`: checks the current password (rate-limited as sign-ins are),
/// sets the new one and revokes every other token of the user, keeping the one the
/// request came with. A user without a password has no current one to give: a token
/// alone (which may have leaked) never sets a password; the first one comes from
/// `createUser` or the CLI's `users password`. Returns how many tokens were revoked.
pub async fn change_password(
    app: &App,
    auth: &Authenticated,
    current: Password,
    new: Password,
) -> Result<usize> {
    passwords::check_length("currentPassword", current.as_str(), false)?;
    passwords::check_length("newPassword", new.as_str(), true)?;
    let user = &auth.user;
    app.limits.login_names.check(&name_key(&user.name))?;
    let mut conn = app.db.conn().await?;
    let stored = User::password_hash(&mut conn, user.id).await?;
    drop(conn);
    let checked = stored.clone();
    let right = stored.is_some() && app.passwords.verify(stored, current).await?;
    if !right {
        let _ = app.limits.login_names.take(name_key(&user.name));
        return Err(Error::bad_field(
            "currentPassword",
            "`currentPassword` is not the user's password",
        ));
    }
    let hash = app.passwords.hash(new).await?;
    let mut conn = app.db.conn().await?;
    conn.transaction::<_, Error, _>(async |conn| {
        // Two changes at once checked the same current password: only the first wins.
        match User::lock_credentials(conn, user.id).await? {
            Some((stored, _)) if stored == checked => {}
            _ => {
                return Err(Error::bad_field(
                    "currentPassword",
                    "`currentPassword` is not the user's password",
                ));
            }
        }
        User::set_password_hash(conn, user.id, &hash).await?;
        Ok(token::revoke_all_but(conn, user.id, Some(auth.token_id)).await?)
    })
    .await
}

/// `users password NAME`: sets a user's password (tokens are kept).
pub async fn set_password(
    db: &Db,
    hasher: &PasswordHasher,
    name: &str,
    password: Password,
) -> Result<User> {
    passwords::check_length("password", password.as_str(), true)?;
    let mut conn = db.conn().await?;
    let user = User::find_by_name(&mut conn, name)
        .await?
        .ok_or(Error::NotFound("user"))?;
    drop(conn);
    let hash = hasher.hash(password).await?;
    let mut conn = db.conn().await?;
    User::set_password_hash(&mut conn, user.id, &hash).await?;
    Ok(user)
}

/// `updateUser` (admins): sets a user's role and/or disabled state. The change is
/// refused when it would leave no active (enabled) admin, whoever makes it: the last
/// admin can neither demote nor disable themselves. Disabling keeps the user's tokens
/// but refuses them at once (token lookups skip disabled users, and the users
/// trigger closes their sockets); enabling makes them work again.
pub async fn update_user(
    db: &Db,
    viewer: &User,
    id: UserId,
    role: Option<Role>,
    disabled: Option<bool>,
) -> Result<User> {
    if !viewer.is_admin() {
        return Err(Error::forbidden("only admins can change users"));
    }
    let mut conn = db.conn().await?;
    conn.transaction::<_, Error, _>(async |conn| {
        let admins = User::lock_active_admins(conn).await?;
        let user = User::update_account(conn, id, role, disabled)
            .await?
            .ok_or(Error::NotFound("user"))?;
        let was_active_admin = admins.contains(&id);
        let is_active_admin = user.is_admin() && !user.is_disabled();
        if was_active_admin && !is_active_admin && admins.len() == 1 {
            let field = if user.is_admin() { "disabled" } else { "role" };
            return Err(Error::bad_field(
                field,
                "this is the last active admin: make another admin first",
            ));
        }
        Ok(user)
    })
    .await
}

/// `users(first, after)` (admins): every user, newest first.
pub async fn page(db: &Db, viewer: &User, request: &PageRequest) -> Result<Page<User>> {
    if !viewer.is_admin() {
        return Err(Error::forbidden("only admins can list users"));
    }
    let mut conn = db.conn().await?;
    Ok(User::page(&mut conn, request).await?)
}

/// The user and token a bearer token stands for; `None` for an unknown or revoked
/// token, or a disabled user. Served from the process's token cache when it can
/// vouch for the answer. `epoch` is the event listener's
/// ([`crate::events::EventBus::epoch`]): without a listener nothing is cached.
///
/// Records the token's use (`last_used_at`) at most once a minute, in a task of its
/// own so the request does not wait for the write.
pub async fn authenticate(
    db: &Db,
    tokens: &TokenCache,
    epoch: Option<u64>,
    bearer: &str,
) -> Result<Option<Authenticated>> {
    if !bearer.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let hash = hash_token(bearer);
    let now = chrono::Utc::now();
    if let Some(cached) = epoch.and_then(|epoch| tokens.get(&hash, epoch)) {
        if let Some(permit) = tokens.last_used_writer()
            && tokens.claim_last_used(&hash, now)
        {
            record_use(db, cached.token_id, now, permit);
        }
        return Ok(Some(Authenticated {
            user: cached.user,
            token_id: cached.token_id,
        }));
    }
    let revision = tokens.revision();
    let mut conn = db.conn().await?;
    let owner = token::find_user(&mut conn, &hash).await?;
    drop(conn);
    let Some(owner) = owner else {
        return Ok(None);
    };
    let mut last_used = owner.last_used_at;
    if last_used_is_stale(last_used, now)
        && let Some(permit) = tokens.last_used_writer()
    {
        record_use(db, owner.token_id, now, permit);
        last_used = Some(now);
    }
    let auth = Authenticated {
        user: owner.user,
        token_id: owner.token_id,
    };
    if let Some(epoch) = epoch {
        let cached = CachedToken {
            user: auth.user.clone(),
            token_id: auth.token_id,
        };
        tokens.insert(hash, cached, last_used, epoch, revision);
    }
    Ok(Some(auth))
}

/// Writes `last_used_at` in the background. The write is conditional (only when the
/// stored time is a minute old), so replicas and racing requests write it once.
fn record_use(
    db: &Db,
    token_id: TokenId,
    now: chrono::DateTime<chrono::Utc>,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let db = db.clone();
    let interval = chrono::Duration::from_std(crate::token_cache::LAST_USED_INTERVAL)
        .unwrap_or_else(|_| chrono::Duration::seconds(60));
    let stale_before = now - interval;
    tokio::spawn(async move {
        let _permit = permit;
        let written = async {
            let mut conn = db.conn().await?;
            token::touch(&mut conn, token_id, now, stale_before).await?;
            Ok::<_, Error>(())
        };
        if let Err(err) = written.await {
            tracing::debug!(error = ?err, "could not record a token's use");
        }
    });
}

/// The user a live token belongs to, read from the database (never the cache): for
/// checking a token again after its user was announced as changed. `None` for a
/// revoked token or a disabled user.
pub async fn find_token_user(db: &Db, bearer: &str) -> Result<Option<User>> {
    if !bearer.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let mut conn = db.conn().await?;
    Ok(token::find_user(&mut conn, &hash_token(bearer))
        .await?
        .map(|owner| owner.user))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_ascii_and_sized() {
        assert_eq!(validate_name("name", "  a.b-c_9 ").unwrap(), "a.b-c_9");
        for bad in ["", " ", "a b", "\u{430}lice", "é", &"x".repeat(65), "a/b"] {
            assert_eq!(
                validate_name("name", bad).unwrap_err().field(),
                Some("name"),
                "{bad}"
            );
        }
        assert!(validate_name("name", &"x".repeat(64)).is_ok());
    }

    #[test]
    fn ipv6_clients_share_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(other));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(address_key(v4), v4);
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), v4);
    }
}
