//! Seeded, dependency-free matrix generator.
//!
//! Entries come from a counter-based SplitMix64: entry number `idx` of the
//! stream is `mix(seed + (idx + 1) * GAMMA)`, which is exactly the value the
//! sequential SplitMix64 generator would return on its `idx + 1`-th call. Being
//! counter based, any entry can be regenerated on its own, which the residual
//! check relies on to avoid keeping a second copy of `A`.

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Value number `idx` of the stream for `seed`, uniform in `[-0.5, 0.5)` like HPL.
pub(crate) fn uniform(seed: u64, idx: u64) -> f64 {
    let z = mix(seed.wrapping_add(GAMMA.wrapping_mul(idx.wrapping_add(1))));
    // The top 53 bits give every representable multiple of 2^-53 in [0, 1).
    (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64) - 0.5
}

/// Entry `(i, j)` of the augmented matrix `[A | b]` of order `n`; column `n` is `b`.
///
/// The index is column-major over `n` rows so it does not depend on the
/// leading dimension of whatever buffer holds the matrix.
pub(crate) fn augmented_entry(seed: u64, n: usize, i: usize, j: usize) -> f64 {
    uniform(seed, (j as u64) * (n as u64) + i as u64)
}

/// Fills a column-major `lda x (n + 1)` buffer with `[A | b]`.
pub(crate) fn fill_augmented(buf: &mut [f64], lda: usize, n: usize, seed: u64) {
    debug_assert!(lda >= n && buf.len() == lda * (n + 1));
    for (j, col) in buf.chunks_exact_mut(lda).enumerate() {
        for (i, v) in col[..n].iter_mut().enumerate() {
            *v = augmented_entry(seed, n, i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_matches_sequential_splitmix64() {
        // Reference: the usual sequential SplitMix64 formulation.
        let seed = 42u64;
        let mut state = seed;
        for idx in 0..100u64 {
            state = state.wrapping_add(GAMMA);
            let expected = (mix(state) >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            assert_eq!(uniform(seed, idx), expected);
        }
    }

    #[test]
    fn values_in_range_and_spread() {
        let vals: Vec<f64> = (0..10_000).map(|i| uniform(7, i)).collect();
        assert!(vals.iter().all(|v| (-0.5..0.5).contains(v)));
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!(vals.iter().any(|&v| v < -0.45) && vals.iter().any(|&v| v > 0.45));
        assert_ne!(uniform(1, 0), uniform(2, 0));
    }
}
