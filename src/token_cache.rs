//! Who a token belongs to, remembered in memory and forgotten when the database
//! announces a change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use imagegraph_db::models::User;
use imagegraph_db::{TokenId, UserId};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};
use tokio_util::sync::CancellationToken;

use crate::events::Event;

/// Who a token belongs to, remembered so most requests skip the lookup. An entry is
/// trusted only while the event listener that would carry its revocation has stayed
/// connected since it was cached (the same epoch), and for at most `TOKEN_CACHE_TTL`.
/// Database triggers announce every revocation or change of a user (`UserChanged`),
/// and `forget_changed_users` drops that user's entries.
///
/// Each entry also remembers when its token's use was last written to the database
/// (`api_tokens.last_used_at`), so a token used on every request is written at most
/// once per [`LAST_USED_INTERVAL`] from here too.
pub struct TokenCache {
    state: Mutex<CacheState>,
    /// Slots for background writes of `last_used_at`: when all are taken, a use goes
    /// unrecorded until a later request (the write is a courtesy, never a queue).
    writes: Arc<Semaphore>,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            writes: Arc::new(Semaphore::new(LAST_USED_WRITES)),
        }
    }
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
    token_id: TokenId,
    last_used: Option<DateTime<Utc>>,
    epoch: u64,
    at: Instant,
}

/// A token the cache vouches for.
#[derive(Debug, Clone)]
pub struct CachedToken {
    pub user: User,
    pub token_id: TokenId,
}

const TOKEN_CACHE_TTL: Duration = Duration::from_secs(60);
const TOKEN_CACHE_ENTRIES: usize = 10_000;
/// Background writes of `last_used_at` at once.
const LAST_USED_WRITES: usize = 4;
/// A token's `last_used_at` is written at most this often.
pub const LAST_USED_INTERVAL: Duration = Duration::from_secs(60);

/// Whether a `last_used_at` of `last` is old enough to be written again at `now`.
pub fn last_used_is_stale(last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last.is_none_or(|last| {
        now.signed_duration_since(last)
            .to_std()
            .is_ok_and(|age| age >= LAST_USED_INTERVAL)
    })
}

impl TokenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn get(&self, hash: &[u8], epoch: u64) -> Option<CachedToken> {
        let state = self.lock();
        let cached = state.entries.get(hash)?;
        (cached.epoch == epoch && cached.at.elapsed() < TOKEN_CACHE_TTL).then(|| CachedToken {
            user: cached.user.clone(),
            token_id: cached.token_id,
        })
    }

    /// Claims the write of the token's `last_used_at` at `now` when the one last
    /// written is older than [`LAST_USED_INTERVAL`]; `false` when it is recent (or
    /// the entry is gone), so concurrent requests claim it once.
    pub(crate) fn claim_last_used(&self, hash: &[u8], now: DateTime<Utc>) -> bool {
        let mut state = self.lock();
        match state.entries.get_mut(hash) {
            Some(cached) if last_used_is_stale(cached.last_used, now) => {
                cached.last_used = Some(now);
                true
            }
            _ => false,
        }
    }

    /// A slot for one background write of `last_used_at`, if one is free.
    pub(crate) fn last_used_writer(&self) -> Option<OwnedSemaphorePermit> {
        self.writes.clone().try_acquire_owned().ok()
    }

    /// Waits until no write of `last_used_at` is in flight (for tests that count
    /// statements).
    pub async fn last_used_writes_settled(&self) {
        let all = u32::try_from(LAST_USED_WRITES).unwrap_or(u32::MAX);
        drop(self.writes.acquire_many(all).await);
    }

    pub(crate) fn revision(&self) -> u64 {
        self.lock().revision
    }

    pub(crate) fn insert(
        &self,
        hash: Vec<u8>,
        token: CachedToken,
        last_used: Option<DateTime<Utc>>,
        epoch: u64,
        revision: u64,
    ) {
        let mut state = self.lock();
        if state.revision != revision {
            return;
        }
        if state.entries.len() >= TOKEN_CACHE_ENTRIES {
            state.entries.clear();
        }
        let at = Instant::now();
        state.entries.insert(
            hash,
            Cached {
                user: token.user,
                token_id: token.token_id,
                last_used,
                epoch,
                at,
            },
        );
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
