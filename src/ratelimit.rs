//! Token buckets keyed by who is asking. Each key holds up to `burst` tokens and
//! regains `per_minute` of them a minute; a request takes one or is told how long to
//! wait for the next.
//!
//! Buckets live in memory, per process: each replica enforces the limit on the
//! requests it sees, so N replicas allow up to N times the rate. A shared store would
//! cost a round trip on every request to save that factor.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use imagegraph_db::UserId;

use crate::config::Config;
use crate::error::Error;

/// The limits the service enforces.
pub struct RateLimits {
    /// Per user, on mutations that call the AI provider or run the benchmark.
    pub costly: RateLimiter<UserId>,
    /// Per client address, on requests without a valid token.
    pub anonymous: RateLimiter<IpAddr>,
    /// Per user, on uploads.
    pub uploads: RateLimiter<UserId>,
    /// Per user, on edits (saved, replaced or previewed).
    pub edits: RateLimiter<UserId>,
    /// Per user, on comments added or changed.
    pub comments: RateLimiter<UserId>,
    /// Per client address, on sign-in attempts.
    pub login_addresses: RateLimiter<IpAddr>,
    /// Per user name (lower case) from all addresses, on failed sign-in attempts and
    /// password checks: ten times the per-address allowance below, so guessing one
    /// account's password from many addresses is bounded, and one address alone
    /// cannot lock the account out.
    pub login_names: RateLimiter<String>,
    /// Per user name and client address, on failed sign-in attempts.
    pub login_name_addresses: RateLimiter<(String, IpAddr)>,
    /// Per user, on account changes (users, tokens, passwords).
    pub accounts: RateLimiter<UserId>,
}

/// How many times one address's allowance of failed sign-ins for a name all addresses
/// together get.
const ALL_ADDRESSES: u32 = 10;

impl RateLimits {
    pub fn from_config(config: &Config) -> Self {
        let limits = &config.rate_limits;
        Self {
            costly: RateLimiter::new(
                limits.rate_limit_costly_burst,
                limits.rate_limit_costly_per_minute,
            ),
            anonymous: RateLimiter::new(
                limits.rate_limit_anonymous_burst,
                limits.rate_limit_anonymous_per_minute,
            ),
            uploads: RateLimiter::new(
                limits.rate_limit_uploads_burst,
                limits.rate_limit_uploads_per_minute,
            ),
            edits: RateLimiter::new(
                limits.rate_limit_edits_burst,
                limits.rate_limit_edits_per_minute,
            ),
            comments: RateLimiter::new(
                limits.rate_limit_comments_burst,
                limits.rate_limit_comments_per_minute,
            ),
            login_addresses: RateLimiter::new(
                limits.rate_limit_login_burst,
                limits.rate_limit_login_per_minute,
            ),
            login_names: RateLimiter::new(
                limits
                    .rate_limit_login_name_burst
                    .saturating_mul(ALL_ADDRESSES),
                limits.rate_limit_login_name_per_minute * f64::from(ALL_ADDRESSES),
            ),
            login_name_addresses: RateLimiter::new(
                limits.rate_limit_login_name_burst,
                limits.rate_limit_login_name_per_minute,
            ),
            accounts: RateLimiter::new(
                limits.rate_limit_accounts_burst,
                limits.rate_limit_accounts_per_minute,
            ),
        }
    }
}

pub struct RateLimiter<K> {
    /// `None`: unlimited.
    rate: Option<Rate>,
    max_keys: usize,
    buckets: Mutex<Buckets<K>>,
}

#[derive(Clone, Copy)]
struct Rate {
    burst: f64,
    per_second: f64,
}

struct Buckets<K> {
    map: HashMap<K, Bucket>,
    /// Size at which full buckets are next swept out.
    sweep_at: usize,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

const MIN_SWEEP_AT: usize = 1024;
/// Most buckets one limiter keeps. Past it (after full buckets are swept), the half
/// touched longest ago is dropped: a flood of one-off keys (made-up user names, many
/// addresses) cannot grow memory without bound, and the buckets kept are the ones in
/// use, so an attacker's own keys survive longest.
const MAX_KEYS: usize = 100_000;

impl<K: Hash + Eq> RateLimiter<K> {
    /// `per_minute` of 0 turns the limit off.
    pub fn new(burst: u32, per_minute: f64) -> Self {
        Self::with_max_keys(burst, per_minute, MAX_KEYS)
    }

    fn with_max_keys(burst: u32, per_minute: f64, max_keys: usize) -> Self {
        let rate = (per_minute > 0.0).then(|| Rate {
            burst: f64::from(burst.max(1)),
            per_second: per_minute / 60.0,
        });
        Self {
            max_keys: max_keys.max(2),
            rate,
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                sweep_at: MIN_SWEEP_AT.min(max_keys.max(2)),
            }),
        }
    }

    /// Takes a token for `key`, or says how long until one is available.
    pub fn take(&self, key: K) -> Result<(), Error> {
        self.take_at(key, Instant::now())
            .map_err(|retry_after| Error::RateLimited { retry_after })
    }

    /// Refuses when `key` has no token left, without taking one (and without keeping
    /// a bucket for a key it has not seen): for allowances charged only on failure.
    pub fn check(&self, key: &K) -> Result<(), Error> {
        self.check_at(key, Instant::now())
            .map_err(|retry_after| Error::RateLimited { retry_after })
    }

    fn check_at(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let Some(rate) = self.rate else {
            return Ok(());
        };
        let buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match buckets.map.get(key) {
            Some(bucket) => {
                let tokens = rate.refilled(bucket, now);
                if tokens >= 1.0 {
                    Ok(())
                } else {
                    Err(Duration::from_secs_f64((1.0 - tokens) / rate.per_second))
                }
            }
            None => Ok(()),
        }
    }

    fn take_at(&self, key: K, now: Instant) -> Result<(), Duration> {
        let Some(rate) = self.rate else {
            return Ok(());
        };
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.map.len() >= buckets.sweep_at {
            // A full bucket is the same as no bucket: dropping those loses nothing.
            buckets
                .map
                .retain(|_, bucket| rate.refilled(bucket, now) < rate.burst);
            if buckets.map.len() >= self.max_keys {
                // Keep the half touched most recently; amortised O(1) per new key.
                let mut times: Vec<Instant> = buckets.map.values().map(|b| b.updated).collect();
                let middle = times.len() / 2;
                let (_, cutoff, _) = times.select_nth_unstable(middle);
                let cutoff = *cutoff;
                buckets.map.retain(|_, bucket| bucket.updated > cutoff);
            }
            buckets.sweep_at =
                (buckets.map.len() * 2).clamp(MIN_SWEEP_AT.min(self.max_keys), self.max_keys);
        }
        let bucket = buckets.map.entry(key).or_insert(Bucket {
            tokens: rate.burst,
            updated: now,
        });
        let tokens = rate.refilled(bucket, now);
        bucket.updated = now;
        if tokens >= 1.0 {
            bucket.tokens = tokens - 1.0;
            Ok(())
        } else {
            bucket.tokens = tokens;
            Err(Duration::from_secs_f64((1.0 - tokens) / rate.per_second))
        }
    }
}

impl Rate {
    fn refilled(&self, bucket: &Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        (bucket.tokens + elapsed * self.per_second).min(self.burst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_refuses_only_what_take_would_and_takes_nothing() {
        let limiter = RateLimiter::new(2, 60.0);
        let start = Instant::now();
        for _ in 0..5 {
            assert!(limiter.check_at(&1, start).is_ok());
        }
        assert!(
            limiter.buckets.lock().unwrap().map.is_empty(),
            "no bucket kept"
        );
        assert!(limiter.take_at(1, start).is_ok());
        assert!(limiter.take_at(1, start).is_ok());
        assert_eq!(limiter.check_at(&1, start).unwrap_err().as_millis(), 1000);
        assert!(limiter.check_at(&1, start + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn a_burst_then_the_refill_rate() {
        let limiter = RateLimiter::new(3, 60.0);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take_at(1, start).is_ok());
        }
        let wait = limiter.take_at(1, start).unwrap_err();
        assert_eq!(wait.as_millis(), 1000);
        // Half a token later, half a second to go; a whole one later, it passes.
        let wait = limiter
            .take_at(1, start + Duration::from_millis(500))
            .unwrap_err();
        assert_eq!(wait.as_millis(), 500);
        assert!(limiter.take_at(1, start + Duration::from_secs(1)).is_ok());
        assert!(limiter.take_at(1, start + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn keys_are_independent_and_zero_rate_is_unlimited() {
        let limiter = RateLimiter::new(1, 1.0);
        let now = Instant::now();
        assert!(limiter.take_at("a", now).is_ok());
        assert!(limiter.take_at("a", now).is_err());
        assert!(limiter.take_at("b", now).is_ok());
        let unlimited = RateLimiter::new(1, 0.0);
        for _ in 0..100 {
            assert!(unlimited.take_at("a", now).is_ok());
        }
    }

    #[test]
    fn the_map_is_bounded_and_keeps_recent_keys() {
        let limiter = RateLimiter::with_max_keys(1, 1.0, 100);
        let start = Instant::now();
        // Every key drains its bucket, so sweeping full buckets frees nothing.
        for key in 0..1_000_usize {
            let now = start + Duration::from_millis(key as u64);
            limiter.take_at(key, now).unwrap();
            assert!(limiter.buckets.lock().unwrap().map.len() <= 100);
        }
        // The most recent key is still limited.
        let later = start + Duration::from_millis(1_000);
        assert!(limiter.take_at(999, later).is_err());
    }

    #[test]
    fn sweeping_keeps_only_buckets_in_use() {
        let limiter = RateLimiter::new(2, 60.0);
        let now = Instant::now();
        // Many one-off callers leave full buckets behind; a sweep drops them.
        for key in 0..MIN_SWEEP_AT {
            limiter.take_at(key, now).unwrap();
        }
        let later = now + Duration::from_secs(5);
        limiter.take_at(usize::MAX, later).unwrap();
        limiter.take_at(usize::MAX, later).unwrap();
        let buckets = limiter.buckets.lock().unwrap();
        assert_eq!(buckets.map.len(), 1);
        // The drained bucket survived the sweep with its debt.
        drop(buckets);
        assert!(limiter.take_at(usize::MAX, later).is_err());
    }
}
