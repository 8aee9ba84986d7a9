//! Right-looking blocked LU with partial pivoting on the augmented matrix
//! `[A | b]`, stored column-major with leading dimension `lda`.
//!
//! Like HPL, `b` rides along as column `n`, so every row swap and every
//! trailing update also applies the forward substitution `L^-1 P b`. The
//! multipliers in `L` are therefore never used after their own step and their
//! rows are not swapped later; only a back substitution with `U` remains.
//!
//! All matrix products go through nalgebra's `gemm` on strided views, which
//! hands anything larger than 5x5 to `matrixmultiply::dgemm`. Column ranges are
//! split with `split_at_mut`/`chunks_mut` and row ranges with nalgebra's
//! `rows_range_pair_mut`, so there is no unsafe code here.

use std::sync::{Mutex, PoisonError};

use nalgebra::{Dyn, MatrixView, MatrixViewMut, U1};

use super::HplError;

type View<'a> = MatrixView<'a, f64, Dyn, Dyn, U1, Dyn>;
type ViewMut<'a> = MatrixViewMut<'a, f64, Dyn, Dyn, U1, Dyn>;

/// Knobs of the factorisation. `Default` holds the tuned values; the other
/// settings exist so the benchmark example can measure each lever.
#[derive(Clone, Debug)]
pub struct Tuning {
    /// Panel width at or below which the panel is factored column by column.
    /// A value `>= nb` disables the recursive panel factorisation.
    pub panel_base: usize,
    /// Triangle size at or below which the TRSM is done column by column.
    /// A value `>= nb` disables the GEMM-based blocked TRSM.
    pub trsm_base: usize,
    /// Columns per GEMM call of the trailing update: the whole width on one
    /// thread, the largest piece handed to a worker on several.
    pub chunk_cols: usize,
    /// Smallest piece of the parallel trailing update (see `chunk_cols`).
    pub min_chunk_cols: usize,
    /// Factor panel `k + 1` while the rest of update `k` runs (threads > 1).
    pub lookahead: bool,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            panel_base: 8,
            trsm_base: 16,
            chunk_cols: 512,
            min_chunk_cols: 64,
            lookahead: true,
        }
    }
}

/// Column-major view of `nrows x ncols` starting at row `row0` of the first
/// column of `cols`.
fn view(cols: &[f64], lda: usize, row0: usize, nrows: usize, ncols: usize) -> View<'_> {
    View::from_slice_with_strides_generic(&cols[row0..], Dyn(nrows), Dyn(ncols), U1, Dyn(lda))
}

fn view_mut(cols: &mut [f64], lda: usize, row0: usize, nrows: usize, ncols: usize) -> ViewMut<'_> {
    ViewMut::from_slice_with_strides_generic(
        &mut cols[row0..],
        Dyn(nrows),
        Dyn(ncols),
        U1,
        Dyn(lda),
    )
}

/// Rows `top..top+split` of `cols` act as `B`, rows `top+split..top+nrows`
/// as `C`: `C -= A * B`, where `A` is `(nrows - split) x split`.
fn gemm_below(a: &View<'_>, cols: &mut [f64], lda: usize, top: usize, split: usize, nrows: usize) {
    let ncols = cols.len() / lda;
    if ncols == 0 || split == 0 || nrows <= split {
        return;
    }
    let mut v = view_mut(cols, lda, top, nrows, ncols);
    let (b, mut c) = v.rows_range_pair_mut(0..split, split..nrows);
    c.gemm(-1.0, a, &b, 1.0);
}

/// Applies the interchanges `row start + i <-> piv[i]` in order to every column.
fn swap_rows(cols: &mut [f64], lda: usize, start: usize, piv: &[usize]) {
    for col in cols.chunks_exact_mut(lda) {
        for (i, &p) in piv.iter().enumerate() {
            col.swap(start + i, p);
        }
    }
}

/// Largest diagonal block the TRSM solves directly, with fixed-size arrays.
const SMALL: usize = 16;

/// Forward substitution of `W` right-hand sides at once against the
/// zero-padded strict lower triangle `lz` (column `j` in `lz[j]`). The fixed
/// widths let the compiler unroll and vectorise the updates, and the `W`
/// independent columns hide the dependency of step `j` on step `j - 1`.
fn forward_small<const W: usize>(
    lz: &[[f64; SMALL]; SMALL],
    size: usize,
    xs: &mut [[f64; SMALL]; W],
) {
    for (j, lj) in lz.iter().enumerate().take(size) {
        for x in xs.iter_mut() {
            let xj = x[j];
            for (xi, li) in x.iter_mut().zip(lj) {
                *xi -= li * xj;
            }
        }
    }
}

/// Base case of [`trsm_lower_unit`] for `size <= SMALL`.
fn trsm_small(l: &[f64], lda: usize, row0: usize, lcol0: usize, size: usize, cols: &mut [f64]) {
    let mut lz = [[0.0; SMALL]; SMALL];
    for (j, lzj) in lz.iter_mut().enumerate().take(size) {
        let lc = &l[(lcol0 + j) * lda + row0..][..size];
        lzj[j + 1..size].copy_from_slice(&lc[j + 1..]);
    }
    const W: usize = 4;
    let mut groups = cols.chunks_exact_mut(W * lda);
    for group in &mut groups {
        let mut xs = [[0.0; SMALL]; W];
        for (x, col) in xs.iter_mut().zip(group.chunks_exact(lda)) {
            x[..size].copy_from_slice(&col[row0..row0 + size]);
        }
        forward_small(&lz, size, &mut xs);
        for (x, col) in xs.iter().zip(group.chunks_exact_mut(lda)) {
            col[row0..row0 + size].copy_from_slice(&x[..size]);
        }
    }
    for col in groups.into_remainder().chunks_exact_mut(lda) {
        let mut xs = [[0.0; SMALL]; 1];
        xs[0][..size].copy_from_slice(&col[row0..row0 + size]);
        forward_small(&lz, size, &mut xs);
        col[row0..row0 + size].copy_from_slice(&xs[0][..size]);
    }
}

/// `B <- L^-1 B` for the unit lower triangle `L` of order `size` found at rows
/// `row0..` of columns `lcol0..` of `l`; `B` is rows `row0..row0+size` of `cols`.
///
/// Recursive halving puts all but the small diagonal blocks into GEMM.
#[allow(clippy::too_many_arguments)]
fn trsm_lower_unit(
    l: &[f64],
    lda: usize,
    row0: usize,
    lcol0: usize,
    size: usize,
    cols: &mut [f64],
    base: usize,
) {
    if size <= base.min(SMALL) {
        trsm_small(l, lda, row0, lcol0, size, cols);
        return;
    }
    if size <= base {
        // Only reached when the blocked TRSM is switched off for measurement.
        for col in cols.chunks_exact_mut(lda) {
            let b = &mut col[row0..row0 + size];
            for j in 0..size {
                let x = b[j];
                let lc = &l[(lcol0 + j) * lda + row0..][j + 1..size];
                for (bi, li) in b[j + 1..].iter_mut().zip(lc) {
                    *bi -= x * li;
                }
            }
        }
        return;
    }
    let h = size / 2;
    trsm_lower_unit(l, lda, row0, lcol0, h, cols, base);
    let l21 = view(&l[lcol0 * lda..], lda, row0 + h, size - h, h);
    gemm_below(&l21, cols, lda, row0, h, size);
    trsm_lower_unit(l, lda, row0 + h, lcol0 + h, size - h, cols, base);
}

/// Unblocked LU of the `m x w` panel at rows `row0..` of `p` (exactly `w` columns).
fn panel_unblocked(
    p: &mut [f64],
    lda: usize,
    row0: usize,
    m: usize,
    piv: &mut [usize],
    col0: usize,
) -> Result<(), HplError> {
    let end = row0 + m;
    for (j, pj) in piv.iter_mut().enumerate() {
        let r = row0 + j;
        let cj = &p[j * lda..j * lda + end];
        let mut ip = r;
        let mut best = cj[r].abs();
        for (i, v) in cj.iter().enumerate().skip(r + 1) {
            if v.abs() > best {
                best = v.abs();
                ip = i;
            }
        }
        // `best` is NaN only if the column's first candidate is NaN, which no
        // row interchange can make usable either.
        if best == 0.0 || best.is_nan() {
            return Err(HplError::Singular { column: col0 + j });
        }
        *pj = ip;
        if ip != r {
            for col in p.chunks_exact_mut(lda) {
                col.swap(r, ip);
            }
        }
        let (left, right) = p.split_at_mut((j + 1) * lda);
        let cj = &mut left[j * lda..j * lda + end];
        let inv = 1.0 / cj[r];
        for v in &mut cj[r + 1..] {
            *v *= inv;
        }
        let lj = &cj[r + 1..];
        for col in right.chunks_exact_mut(lda) {
            let t = col[r];
            if t != 0.0 {
                for (x, l) in col[r + 1..end].iter_mut().zip(lj) {
                    *x -= t * l;
                }
            }
        }
    }
    Ok(())
}

/// Recursive LU (LAPACK `dgetrf2`-style) of the `m x w` panel at rows `row0..`
/// of `p`, which holds exactly the panel's `w` columns. Pivots are stored as
/// absolute row numbers. Halving the columns turns most of the panel work into
/// GEMM instead of rank-1 updates over the whole tall panel.
fn panel_factor(
    p: &mut [f64],
    lda: usize,
    row0: usize,
    m: usize,
    piv: &mut [usize],
    col0: usize,
    tuning: &Tuning,
) -> Result<(), HplError> {
    let w = piv.len();
    if w <= tuning.panel_base.max(1) {
        return panel_unblocked(p, lda, row0, m, piv, col0);
    }
    let n1 = w / 2;
    let (left, right) = p.split_at_mut(n1 * lda);
    let (piv1, piv2) = piv.split_at_mut(n1);
    panel_factor(left, lda, row0, m, piv1, col0, tuning)?;
    swap_rows(right, lda, row0, piv1);
    trsm_lower_unit(left, lda, row0, 0, n1, right, tuning.trsm_base);
    let l21 = view(left, lda, row0 + n1, m - n1, n1);
    gemm_below(&l21, right, lda, row0, n1, m);
    panel_factor(right, lda, row0 + n1, m - n1, piv2, col0 + n1, tuning)?;
    swap_rows(left, lda, row0 + n1, piv2);
    Ok(())
}

/// Everything needed to apply the factored panel of step `k` to other columns.
struct StepUpdate<'a> {
    /// The panel's columns; `L11` and `L21` start at row `k`.
    panel: &'a [f64],
    lda: usize,
    k: usize,
    n: usize,
    jb: usize,
    /// The panel's interchanges, absolute row numbers.
    piv: &'a [usize],
    trsm_base: usize,
}

impl<'a> StepUpdate<'a> {
    fn new(
        panel: &'a [f64],
        lda: usize,
        k: usize,
        n: usize,
        piv: &'a [usize],
        tuning: &Tuning,
    ) -> Self {
        Self {
            panel,
            lda,
            k,
            n,
            jb: piv.len(),
            piv,
            trsm_base: tuning.trsm_base,
        }
    }

    /// Row interchanges, `U12 = L11^-1 A12` and `A22 -= L21 U12` on the whole
    /// columns in `cols`.
    fn apply(&self, cols: &mut [f64]) {
        let Self {
            panel,
            lda,
            k,
            n,
            jb,
            ..
        } = *self;
        swap_rows(cols, lda, k, self.piv);
        trsm_lower_unit(panel, lda, k, 0, jb, cols, self.trsm_base);
        let l21 = view(panel, lda, k + jb, n - k - jb, jb);
        gemm_below(&l21, cols, lda, k, jb, n - k);
    }
}

/// Splits whole columns into pieces for the workers, largest first and
/// shrinking towards the end (guided self-scheduling), so GEMM calls stay
/// wide while the workers still finish a step at nearly the same time.
fn guided_pieces<'a>(
    mut cols: &'a mut [f64],
    lda: usize,
    threads: usize,
    tuning: &Tuning,
) -> std::vec::IntoIter<&'a mut [f64]> {
    let max = tuning.chunk_cols.max(1);
    let min = tuning.min_chunk_cols.clamp(1, max);
    let mut pieces = Vec::new();
    while !cols.is_empty() {
        let left = cols.len() / lda;
        let width = left.div_ceil(2 * threads).clamp(min, max).min(left);
        let (piece, tail) = cols.split_at_mut(width * lda);
        pieces.push(piece);
        cols = tail;
    }
    pieces.into_iter()
}

/// Fraction of the factorisation flops done once `done` columns are finished.
fn fraction(done: usize, n: usize) -> f64 {
    let rest = (n - done) as f64 / n as f64;
    1.0 - rest * rest * rest
}

/// Factors the column-major `lda x (n + 1)` augmented matrix `[A | b]` in
/// place: afterwards its first `n` columns hold `U` (and the unused `L`
/// multipliers) and column `n` holds `L^-1 P b`.
///
/// With `pool` the trailing update is split across the pool's threads in
/// chunks of columns, with one step of look-ahead; without it everything runs
/// on the calling thread. `progress` is called on the calling thread after each
/// panel with the fraction of flops done.
pub(crate) fn factor_augmented(
    a: &mut [f64],
    lda: usize,
    n: usize,
    nb: usize,
    pool: Option<&rayon::ThreadPool>,
    tuning: &Tuning,
    progress: &mut dyn FnMut(f64),
) -> Result<(), HplError> {
    assert!(lda >= n && a.len() == lda * (n + 1) && nb >= 1);
    let chunk = tuning.chunk_cols.max(1) * lda;
    let mut piv = vec![0usize; n];
    let Some(pool) = pool else {
        let mut k = 0;
        while k < n {
            let jb = nb.min(n - k);
            let (panel, trailing) = a[k * lda..].split_at_mut(jb * lda);
            let pk = &mut piv[k..k + jb];
            panel_factor(panel, lda, k, n - k, pk, k, tuning)?;
            let update = StepUpdate::new(panel, lda, k, n, pk, tuning);
            for cols in trailing.chunks_mut(chunk) {
                update.apply(cols);
            }
            k += jb;
            progress(fraction(k, n));
        }
        return Ok(());
    };

    let jb0 = nb.min(n);
    panel_factor(&mut a[..jb0 * lda], lda, 0, n, &mut piv[..jb0], 0, tuning)?;
    let mut k = 0;
    while k < n {
        let jb = nb.min(n - k);
        let next = nb.min(n - k - jb);
        let (panel, trailing) = a[k * lda..].split_at_mut(jb * lda);
        let (done, pending) = piv.split_at_mut(k + jb);
        let pk = &done[k..];
        let panel = &*panel;
        let update = StepUpdate::new(panel, lda, k, n, pk, tuning);
        let threads = pool.current_num_threads();
        // With look-ahead the calling worker takes the next panel's columns
        // and factors that panel while the others start on the queue.
        let ahead = tuning.lookahead && next > 0;
        let (ahead_cols, queued) = if ahead {
            let (next_cols, rest) = trailing.split_at_mut(next * lda);
            (Some(next_cols), rest)
        } else {
            (None, &mut *trailing)
        };
        let queue = Mutex::new(guided_pieces(queued, lda, threads, tuning));
        let drain = || {
            loop {
                // A separate statement, so the guard is dropped before the
                // work: in a `while let` scrutinee it would live through the
                // body and serialise the workers.
                let piece = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                match piece {
                    Some(cols) => update.apply(cols),
                    None => break,
                }
            }
        };
        let res = pool.install(|| {
            rayon::scope(|s| {
                for _ in 1..threads {
                    s.spawn(|_| drain());
                }
                let res = match ahead_cols {
                    Some(cols) => {
                        update.apply(cols);
                        let pn = &mut pending[..next];
                        panel_factor(cols, lda, k + jb, n - k - jb, pn, k + jb, tuning)
                    }
                    None => Ok(()),
                };
                drain();
                res
            })
        });
        res?;
        if !ahead && next > 0 {
            let pn = &mut pending[..next];
            panel_factor(
                &mut trailing[..next * lda],
                lda,
                k + jb,
                n - k - jb,
                pn,
                k + jb,
                tuning,
            )?;
        }
        k += jb;
        progress(fraction(k, n));
    }
    Ok(())
}

/// Solves `U x = y` where `U` is the upper triangle of the first `n` columns
/// and `y` is column `n`. A non-finite `x_j` means `U` is numerically singular.
pub(crate) fn back_substitute(a: &[f64], lda: usize, n: usize) -> Result<Vec<f64>, HplError> {
    let (u, y) = a.split_at(n * lda);
    let mut x = y[..n].to_vec();
    // Column-oriented so each step streams one contiguous column of U.
    for j in (0..n).rev() {
        let col = &u[j * lda..j * lda + j + 1];
        x[j] /= col[j];
        let xj = x[j];
        if !xj.is_finite() {
            return Err(HplError::Singular { column: j });
        }
        for (xi, ui) in x[..j].iter_mut().zip(&col[..j]) {
            *xi -= xj * ui;
        }
    }
    Ok(x)
}
