//! Users and their API tokens. Tokens are 256 random bits shown once; only their
//! SHA-256 is stored, so a database leak reveals no usable token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel_async::AsyncPgConnection;
use imagegraph_db::UserId;
use sha2::{Digest as _, Sha256};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::events::Event;
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

/// Who a token belongs to, remembered so most requests skip the lookup. An entry is
/// trusted only while the event listener that would carry its revocation has stayed
/// connected since it was cached (the same epoch), and for at most `TOKEN_CACHE_TTL`.
/// Database triggers announce every revocation or change of a user (`UserChanged`),
/// and `forget_changed_users` drops that user's entries.
#[derive(Default)]
pub struct TokenCache {
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    entries: HashMap<Vec<u8>, Cached>,
    /// Bumped by every forget: a lookup that started before one must not cache what
    /// it read, which may predate the change.
    revision: u64,
}

struct Cached {
    user: User,
    epoch: u64,
    at: Instant,
}

const TOKEN_CACHE_TTL: Duration = Duration::from_secs(60);
const TOKEN_CACHE_ENTRIES: usize = 10_000;

impl TokenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, hash: &[u8], epoch: u64) -> Option<User> {
        let state = self.lock();
        let cached = state.entries.get(hash)?;
        (cached.epoch == epoch && cached.at.elapsed() < TOKEN_CACHE_TTL)
            .then(|| cached.user.clone())
    }

    fn revision(&self) -> u64 {
        self.lock().revision
    }

    fn insert(&self, hash: Vec<u8>, user: User, epoch: u64, revision: u64) {
        let mut state = self.lock();
        if state.revision != revision {
            return;
        }
        if state.entries.len() >= TOKEN_CACHE_ENTRIES {
            state.entries.clear();
        }
        let at = Instant::now();
        state.entries.insert(hash, Cached { user, epoch, at });
    }

    pub fn forget_user(&self, user_id: UserId) {
        let mut state = self.lock();
        state.revision += 1;
        state.entries.retain(|_, cached| cached.user.id != user_id);
    }

    pub fn forget_all(&self) {
        let mut state = self.lock();
        state.revision += 1;
        state.entries.clear();
    }
}

/// Drops cached tokens of users the database says changed, until `shutdown`. Takes a
/// receiver subscribed before the listener starts, so no announcement is missed.
pub async fn forget_changed_users(
    tokens: Arc<TokenCache>,
    mut events: broadcast::Receiver<Event>,
    shutdown: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            () = shutdown.cancelled() => return,
        };
        match event {
            Ok(Event::UserChanged { user_id }) => tokens.forget_user(user_id),
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => tokens.forget_all(),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
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
