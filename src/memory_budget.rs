//! Memory-weighted limiters: work declares its peak bytes and holds that many of a
//! budget while it runs. Two pools, so that neither can wait on the other:
//! - `App::pixels` (`MEMORY_BUDGET_MB`) admits every decode, thumbnail, edit, preview
//!   and analysis resize at its `imaging::cost`;
//! - `App::bodies` (a quarter of that again) admits large request bodies, which are read,
//!   parsed and base64-decoded before any pixel work is asked for, so that many uploads
//!   in flight at once cannot grow memory without bound while they wait.
//!
//! A permit moves into the blocking task, so a request that times out or disconnects
//! does not give back memory its work still holds.
//!
//! Work that can never fit is refused at once (`PAYLOAD_TOO_LARGE`); work that
//! could fit later waits its turn (first come, first served, so small work cannot
//! starve large work) for a bounded time, then is refused as retryable
//! (`SERVICE_UNAVAILABLE`).

use std::sync::Arc;
use std::time::Duration;

use metrics::{counter, gauge};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, Result};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

#[derive(Debug)]
pub struct MemoryBudget {
    /// The pool's name in metrics (`pixels`, `bodies`).
    pool: &'static str,
    /// What the pool admits, for refusals ("image work", "request body").
    what: &'static str,
    /// Counted in KiB: permits are u32, and a budget in bytes would overflow them.
    kib: Arc<Semaphore>,
    capacity_kib: u32,
    wait: Duration,
}

/// A share of the budget; given back when dropped.
#[derive(Debug)]
pub struct Permit {
    kib: Option<OwnedSemaphorePermit>,
    budget: Arc<MemoryBudget>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        drop(self.kib.take());
        self.budget.publish();
    }
}

impl MemoryBudget {
    /// The pool for pixel work.
    pub fn pixels(budget_mb: u64, wait: Duration) -> Arc<Self> {
        Self::new("pixels", "image work", budget_mb.saturating_mul(MIB), wait)
    }

    /// The pool for large request bodies: a quarter of the pixel budget.
    pub fn bodies(budget_mb: u64, wait: Duration) -> Arc<Self> {
        Self::new(
            "bodies",
            "request body",
            budget_mb.saturating_mul(MIB) / 4,
            wait,
        )
    }

    fn new(pool: &'static str, what: &'static str, bytes: u64, wait: Duration) -> Arc<Self> {
        let capacity_kib = u32::try_from(bytes / KIB).unwrap_or(u32::MAX);
        let budget = Self {
            pool,
            what,
            kib: Arc::new(Semaphore::new(capacity_kib as usize)),
            capacity_kib,
            wait,
        };
        budget.publish();
        Arc::new(budget)
    }

    /// The budget, in bytes.
    pub fn capacity(&self) -> u64 {
        u64::from(self.capacity_kib) * KIB
    }

    /// Bytes held by permits now.
    pub fn in_use(&self) -> u64 {
        let free = self.kib.available_permits() as u64;
        (u64::from(self.capacity_kib).saturating_sub(free)) * KIB
    }

    fn publish(&self) {
        gauge!("imagegraph_memory_budget_bytes", "pool" => self.pool, "state" => "capacity")
            .set(self.capacity() as f64);
        gauge!("imagegraph_memory_budget_bytes", "pool" => self.pool, "state" => "in_use")
            .set(self.in_use() as f64);
    }

    /// A share of `bytes`, waiting at most the configured time for it.
    pub async fn acquire(self: &Arc<Self>, bytes: u64) -> Result<Permit> {
        let kib = bytes.div_ceil(KIB).max(1);
        if kib > u64::from(self.capacity_kib) {
            counter!("imagegraph_memory_budget_refusals_total", "pool" => self.pool, "reason" => "too_large")
                .increment(1);
            return Err(Error::PayloadTooLarge(format!(
                "this {} needs about {} MB of memory; the budget is {} MB",
                self.what,
                bytes.div_ceil(MIB),
                self.capacity() / MIB
            )));
        }
        let wanted = self.kib.clone().acquire_many_owned(kib as u32);
        match tokio::time::timeout(self.wait, wanted).await {
            Ok(Ok(permit)) => {
                self.publish();
                Ok(Permit {
                    kib: Some(permit),
                    budget: Arc::clone(self),
                })
            }
            Ok(Err(closed)) => Err(Error::internal(closed)),
            Err(_) => {
                counter!("imagegraph_memory_budget_refusals_total", "pool" => self.pool, "reason" => "timeout")
                    .increment(1);
                Err(Error::Unavailable(match self.pool {
                    "bodies" => "memory for request bodies",
                    _ => "memory for image work",
                }))
            }
        }
    }

    /// Runs `work` on a blocking thread with `bytes` of the budget, held until the
    /// work ends, whether or not anyone still waits for its result.
    pub async fn run<T, F>(self: &Arc<Self>, bytes: u64, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let permit = self.acquire(bytes).await?;
        let handle = tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        });
        Ok(handle.await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = MIB;

    #[tokio::test]
    async fn work_larger_than_the_budget_is_refused_at_once() {
        let budget = MemoryBudget::pixels(10, Duration::from_secs(60));
        let started = std::time::Instant::now();
        let err = budget.acquire(3782 * MB).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1));
        match err {
            Error::PayloadTooLarge(msg) => assert!(
                msg.contains("about 3782 MB") && msg.contains("budget is 10 MB"),
                "{msg}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn work_that_could_fit_waits_then_is_retryable() {
        let budget = MemoryBudget::pixels(10, Duration::from_millis(200));
        let held = budget.acquire(8 * MB).await.unwrap();
        assert_eq!(budget.in_use(), 8 * MB);
        let err = budget.acquire(4 * MB).await.unwrap_err();
        assert!(err.is_retryable(), "{err:?}");
        assert_eq!(err.code(), crate::error::ErrorCode::ServiceUnavailable);
        // Given back, the same work goes through.
        drop(held);
        assert_eq!(budget.in_use(), 0);
        let permit = budget.acquire(4 * MB).await.unwrap();
        assert_eq!(budget.in_use(), 4 * MB);
        drop(permit);
    }

    #[tokio::test]
    async fn a_dropped_request_keeps_the_memory_until_its_work_ends() {
        let budget = MemoryBudget::pixels(10, Duration::from_secs(5));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (finish_tx, finish_rx) = std::sync::mpsc::channel::<()>();
        let request = {
            let budget = Arc::clone(&budget);
            tokio::spawn(async move {
                budget
                    .run(6 * MB, move || {
                        started_tx.send(()).unwrap();
                        finish_rx.recv().unwrap();
                    })
                    .await
            })
        };
        tokio::task::spawn_blocking(move || started_rx.recv().unwrap())
            .await
            .unwrap();
        // The client goes away (a timeout or a disconnect drops the future).
        request.abort();
        assert!(request.await.unwrap_err().is_cancelled());
        assert_eq!(budget.in_use(), 6 * MB, "the work still runs");
        // So a second piece of the same size has to wait for it.
        let waiting = {
            let budget = Arc::clone(&budget);
            tokio::spawn(async move { budget.acquire(6 * MB).await.map(drop) })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished());
        finish_tx.send(()).unwrap();
        waiting.await.unwrap().unwrap();
        for _ in 0..100 {
            if budget.in_use() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(budget.in_use(), 0);
    }
}
