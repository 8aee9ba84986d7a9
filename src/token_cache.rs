//! Who a token belongs to, remembered in memory and forgotten when the database
//! announces a change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imagegraph_db::UserId;
use imagegraph_db::models::User;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::events::Event;

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

    pub(crate) fn get(&self, hash: &[u8], epoch: u64) -> Option<User> {
        let state = self.lock();
        let cached = state.entries.get(hash)?;
        (cached.epoch == epoch && cached.at.elapsed() < TOKEN_CACHE_TTL)
            .then(|| cached.user.clone())
    }

    pub(crate) fn revision(&self) -> u64 {
        self.lock().revision
    }

    pub(crate) fn insert(&self, hash: Vec<u8>, user: User, epoch: u64, revision: u64) {
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
