//! Passwords: Argon2id with OWASP's parameters (m = 19456 KiB, t = 2, p = 1), stored
//! as PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) and compared in
//! constant time by the `argon2` crate.
//!
//! One hash takes tens of milliseconds of a core and 19 MiB, so hashing runs on
//! blocking threads, at most `PASSWORD_HASH_CONCURRENCY` at once: a flood of sign-in
//! attempts queues here instead of taking every core. A check for a name that does not
//! exist (or has no password, or is disabled) runs the same Argon2 work against
//! [`DUMMY_HASH`], so its answer takes the time a wrong password takes.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

/// Fewest characters of a new password.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Most bytes of any password, new or checked: nobody makes us hash megabytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// OWASP's first Argon2id choice: 19 MiB, two passes, one lane.
const MEMORY_KIB: u32 = 19_456;
const PASSES: u32 = 2;
const LANES: u32 = 1;

/// How long a check may wait for a free hashing slot before it is refused as
/// retryable.
const QUEUE_WAIT: Duration = Duration::from_secs(5);

/// A hash of 32 random bytes that were thrown away, made with the parameters above (a
/// unit test holds them equal): checks with no real hash to compare run against it.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$puntUhDIdy8zXF7pQjMqvg$CFFQr9nBIvLnxBT4MAO90+JAUdM6D5ljuKTzx3iB/hw";

/// A password in hand: kept out of `Debug` (and so out of logs).
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(password: String) -> Self {
        Self(password)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Checks a password's size before any work: every password at most
/// [`MAX_PASSWORD_BYTES`], a new one at least [`MIN_PASSWORD_CHARS`] characters.
pub fn check_length(field: &'static str, password: &str, new: bool) -> Result<()> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::bad_field(
            field,
            format!("`{field}` is longer than {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    if new && password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::bad_field(
            field,
            format!("`{field}` must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes and checks passwords on blocking threads, a bounded number at once.
pub struct PasswordHasher {
    slots: Arc<Semaphore>,
    /// Checks waiting for a slot now; past [`WAITERS_PER_SLOT`] per slot a new one is
    /// refused at once as rate-limited instead of joining a queue it cannot leave in
    /// time (a flood from many addresses would otherwise hold every sign-in for
    /// [`QUEUE_WAIT`]).
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
}

/// Queued checks allowed per hashing slot: about a second of work each at ~50 ms a hash.
const WAITERS_PER_SLOT: usize = 16;

/// Takes a place in the queue; gives it back when dropped (the wait ended or the
/// request went away).
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl PasswordHasher {
    /// `concurrency` 0: half the cores, at least one.
    pub fn new(concurrency: usize) -> Self {
        let slots = if concurrency == 0 {
            (crate::host::cores() as usize / 2).max(1)
        } else {
            concurrency
        };
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            waiting: Arc::default(),
            max_waiting: slots.saturating_mul(WAITERS_PER_SLOT),
        }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let waiting = Waiting(self.waiting.clone());
        if self.waiting.fetch_add(1, Ordering::Relaxed) >= self.max_waiting {
            return Err(Error::RateLimited {
                retry_after: Duration::from_secs(1),
            });
        }
        let permit = tokio::time::timeout(QUEUE_WAIT, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| Error::Unavailable("password checking"))?
            .map_err(Error::internal)?;
        drop(waiting);
        // The permit moves into the blocking task: a request that gives up does not
        // free a slot its hash still holds.
        Ok(tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await?)
    }

    /// A new PHC string for `password`, with a fresh random salt.
    pub async fn hash(&self, password: Password) -> Result<String> {
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(password.as_str().as_bytes(), &salt)
                .map(|hash| hash.to_string())
        })
        .await?
        .map_err(|err| Error::internal(anyhow::anyhow!("hashing a password: {err}")))
    }

    /// Whether `password` matches `stored`. With no stored hash (no such user, no
    /// password, disabled) the same work runs against [`DUMMY_HASH`] and the answer
    /// is `false`: both take the same time.
    pub async fn verify(&self, stored: Option<String>, password: Password) -> Result<bool> {
        self.run(move || {
            let real = stored.is_some();
            let phc = stored.as_deref().unwrap_or(DUMMY_HASH);
            let matches = match PasswordHash::new(phc) {
                Ok(hash) => argon2()
                    .verify_password(password.as_str().as_bytes(), &hash)
                    .is_ok(),
                Err(err) => {
                    tracing::error!(error = %err, "a stored password hash does not parse");
                    let dummy = PasswordHash::new(DUMMY_HASH).expect("the dummy hash parses");
                    let _ = argon2().verify_password(password.as_str().as_bytes(), &dummy);
                    false
                }
            };
            real && matches
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_has_the_parameters_of_real_ones() {
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        let salt = SaltString::generate(&mut OsRng);
        let hasher = argon2();
        let real = hasher
            .hash_password(b"correct horse battery", &salt)
            .unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        assert_eq!(
            dummy.hash.map(|h| h.len()),
            real.hash.map(|h| h.len()),
            "same output length"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once_and_frees_its_places() {
        let hasher = Arc::new(PasswordHasher::new(1));
        let held = hasher.slots.clone().acquire_owned().await.unwrap();
        let queued: Vec<_> = (0..WAITERS_PER_SLOT)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move {
                    hasher
                        .verify(None, Password::new("a guess at it".into()))
                        .await
                })
            })
            .collect();
        while hasher.waiting.load(Ordering::Relaxed) < WAITERS_PER_SLOT {
            tokio::task::yield_now().await;
        }
        let refused = hasher.verify(None, Password::new("one more".into())).await;
        assert!(
            matches!(refused, Err(Error::RateLimited { .. })),
            "{refused:?}"
        );
        assert_eq!(hasher.waiting.load(Ordering::Relaxed), WAITERS_PER_SLOT);
        drop(held);
        for task in queued {
            assert!(!task.await.unwrap().unwrap(), "no real hash: never a match");
        }
        assert_eq!(hasher.waiting.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let hasher = PasswordHasher::new(1);
        let hash = hasher
            .hash(Password::new("correct horse battery".into()))
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            hasher
                .verify(
                    Some(hash.clone()),
                    Password::new("correct horse battery".into())
                )
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(Some(hash), Password::new("correct horse batterY".into()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(None, Password::new("anything at all".into()))
                .await
                .unwrap()
        );
    }

    #[test]
    fn passwords_stay_out_of_debug_and_lengths_are_checked() {
        let password = Password::new("hunter2hunter2".into());
        assert!(!format!("{password:?}").contains("hunter2"));
        assert!(check_length("password", "short", true).is_err());
        assert!(check_length("password", "short", false).is_ok());
        assert!(check_length("password", &"x".repeat(1025), false).is_err());
        assert_eq!(
            check_length("newPassword", "", true).unwrap_err().field(),
            Some("newPassword")
        );
        // Characters, not bytes: ten letters of two bytes each are enough.
        assert!(check_length("password", &"é".repeat(10), true).is_ok());
    }
}
