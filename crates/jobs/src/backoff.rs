use std::time::Duration;

/// Exponential backoff with jitter for the delay before attempt `attempt + 1`:
/// `base * 2^(attempt-1)`, capped, then half fixed and half random so that workers
/// failing together do not retry together.
pub fn backoff(attempt: i32, base: Duration, cap: Duration) -> Duration {
    let exp = base
        .saturating_mul(1u32 << attempt.clamp(1, 20).saturating_sub(1))
        .min(cap);
    let half = exp / 2;
    half + half.mul_f64(rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jitter_and_caps() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(5);
        for (attempt, full) in [(1, 100), (2, 200), (3, 400), (4, 800)] {
            for _ in 0..50 {
                let d = backoff(attempt, base, cap).as_millis();
                assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d} ms");
            }
        }
        assert!(backoff(30, base, cap) <= cap);
        assert!(backoff(30, base, cap) >= cap / 2);
    }
}
