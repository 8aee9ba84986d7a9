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
}

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
        }
    }
}

pub struct RateLimiter<K> {
    /// `None`: unlimited.
    rate: Option<Rate>,
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

impl<K: Hash + Eq> RateLimiter<K> {
    /// `per_minute` of 0 turns the limit off.
    pub fn new(burst: u32, per_minute: f64) -> Self {
        let rate = (per_minute > 0.0).then(|| Rate {
            burst: f64::from(burst.max(1)),
            per_second: per_minute / 60.0,
        });
        Self {
            rate,
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                sweep_at: MIN_SWEEP_AT,
            }),
        }
    }

    /// Takes a token for `key`, or says how long until one is available.
    pub fn take(&self, key: K) -> Result<(), Error> {
        self.take_at(key, Instant::now())
            .map_err(|retry_after| Error::RateLimited { retry_after })
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
            buckets.sweep_at = (buckets.map.len() * 2).max(MIN_SWEEP_AT);
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
