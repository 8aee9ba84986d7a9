//! How many WebSockets each client address and each user holds open on this process.
//! A socket takes a slot for its address before it is upgraded and one for its user
//! at `connection_init`; each slot is given back when the socket ends.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use imagegraph_db::UserId;

#[derive(Default)]
pub(super) struct SocketCounts {
    pub(super) by_address: Counts<IpAddr>,
    pub(super) by_user: Counts<UserId>,
}

pub(super) struct Counts<K>(Arc<Mutex<HashMap<K, usize>>>);

impl<K> Default for Counts<K> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<K: Hash + Eq + Copy> Counts<K> {
    /// A slot for `key`, unless it already holds `max`.
    pub(super) fn take(&self, key: K, max: usize) -> Option<Slot<K>> {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let held = counts.entry(key).or_insert(0);
        if *held >= max {
            return None;
        }
        *held += 1;
        Some(Slot {
            counts: self.0.clone(),
            key,
        })
    }

    #[cfg(test)]
    fn held(&self, key: K) -> usize {
        let counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(&key).copied().unwrap_or(0)
    }
}

/// One open socket's place in a count; dropping it gives the place back (and forgets
/// keys that hold nothing, so the map does not grow with every address ever seen).
pub(super) struct Slot<K: Hash + Eq + Copy> {
    counts: Arc<Mutex<HashMap<K, usize>>>,
    key: K,
}

impl<K: Hash + Eq + Copy> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = counts.get_mut(&self.key) {
            *held -= 1;
            if *held == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_per_key_and_given_back_on_drop() {
        let counts = Counts::<u8>::default();
        let first = counts.take(1, 2).unwrap();
        let _second = counts.take(1, 2).unwrap();
        assert!(counts.take(1, 2).is_none());
        assert!(
            counts.take(2, 2).is_some(),
            "other keys have their own count"
        );
        drop(first);
        assert_eq!(counts.held(1), 1);
        assert!(counts.take(1, 2).is_some());
        assert_eq!(counts.held(2), 0, "a key holding nothing is forgotten");
    }
}
