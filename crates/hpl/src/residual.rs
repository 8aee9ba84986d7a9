//! HPL's scaled residual `||Ax - b||_oo / (eps * (||A||_oo ||x||_oo + ||b||_oo) * n)`.

use super::generate::augmented_entry;

/// HPL's `eps` is the unit roundoff `2^-53` (LAPACK `dlamch('e')`), half of
/// Rust's `f64::EPSILON`; using the same value keeps residuals comparable.
const UNIT_ROUNDOFF: f64 = f64::EPSILON / 2.0;

/// Scaled residual for any `[A | b]` given entry by entry (`entry(i, n)` is `b_i`).
///
/// Streams the matrix column by column so it needs no copy of `A`.
pub(crate) fn scaled_residual_with(
    n: usize,
    x: &[f64],
    mut entry: impl FnMut(usize, usize) -> f64,
) -> f64 {
    assert_eq!(x.len(), n);
    let mut r = vec![0.0; n];
    let mut row_abs = vec![0.0; n];
    for (j, &xj) in x.iter().enumerate() {
        for (i, (ri, si)) in r.iter_mut().zip(row_abs.iter_mut()).enumerate() {
            let a = entry(i, j);
            *ri += a * xj;
            *si += a.abs();
        }
    }
    let mut b_norm = 0.0f64;
    for (i, ri) in r.iter_mut().enumerate() {
        let b = entry(i, n);
        *ri -= b;
        b_norm = b_norm.max(b.abs());
    }
    let norm = |v: &[f64]| v.iter().fold(0.0f64, |m, e| m.max(e.abs()));
    let (r_norm, a_norm, x_norm) = (norm(&r), norm(&row_abs), norm(x));
    let scaled = r_norm / (UNIT_ROUNDOFF * (a_norm * x_norm + b_norm) * n as f64);
    // A NaN anywhere must fail the check rather than compare false silently.
    if scaled.is_nan() {
        f64::INFINITY
    } else {
        scaled
    }
}

/// Scaled residual of `x` against the seeded `[A | b]`, regenerated on the fly.
pub(crate) fn scaled_residual_generated(n: usize, seed: u64, x: &[f64]) -> f64 {
    scaled_residual_with(n, x, |i, j| augmented_entry(seed, n, i, j))
}
