//! A pure-Rust HPL (High-Performance Linpack) core.
//!
//! [`run`] generates a seeded random system `A x = b` of order `n`, solves it
//! with a right-looking blocked LU with partial pivoting, checks HPL's scaled
//! residual and reports the time and GFLOPS the way HPL does. [`solve`] and
//! [`solve_augmented`] expose the same solver for a caller's own matrix.
//!
//! Speed comes from putting nearly all flops into `matrixmultiply`'s GEMM:
//! the right-hand side is factored as column `n + 1` of the matrix (as HPL
//! does), the panel factorisation and the `U12` triangular solve are recursive
//! so their work is mostly GEMM too, and with more than one thread the
//! trailing update is split by columns over a rayon pool while the next panel
//! is factored (one step of look-ahead). Each of these can be switched off
//! through [`Tuning`] (see `examples/hpl.rs`) to measure what it gives;
//! `scripts/hpl_compare.py` compares the result with scipy/OpenBLAS.
//!
//! The parallelism is rayon's, over columns; `matrixmultiply` is built without
//! its `threading` feature (see Cargo.toml), so a `threads: 1` run really uses
//! one core and the two kinds of threads never compete.

#![warn(missing_docs)]

mod generate;
mod lu;
mod residual;

use std::fmt;
use std::time::Instant;

use nalgebra::{DMatrix, DVector};

pub use lu::Tuning;

/// HPL's pass threshold for the scaled residual.
pub const RESIDUAL_THRESHOLD: f64 = 16.0;

/// What to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HplParams {
    /// Order of the matrix, `>= 1`.
    pub n: usize,
    /// Block (panel) width, `>= 1`; clamped to `n`.
    pub nb: usize,
    /// Worker threads, `>= 1`. One means everything runs on the calling thread.
    pub threads: usize,
    /// Seed of the matrix and right-hand side.
    pub seed: u64,
}

/// Outcome of one [`run`].
#[derive(Clone, Debug, PartialEq)]
pub struct HplReport {
    /// Order of the matrix.
    pub n: usize,
    /// Block size actually used (after clamping to `n`).
    pub nb: usize,
    /// Worker threads used.
    pub threads: usize,
    /// Seed of the matrix and right-hand side.
    pub seed: u64,
    /// Wall time of the factorisation and solve (not generation or checking).
    pub seconds: f64,
    /// `(2/3 n^3 + 2 n^2) / seconds / 1e9`, HPL's formula.
    pub gflops: f64,
    /// `||Ax-b||_oo / (eps * (||A||_oo ||x||_oo + ||b||_oo) * n)`.
    pub residual: f64,
    /// `residual < 16`.
    pub passed: bool,
}

/// Why a run or solve failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HplError {
    /// An exact zero pivot was met after pivoting in this column (0-based),
    /// or the back substitution overflowed there.
    Singular {
        /// The column, 0-based.
        column: usize,
    },
    /// Parameters or input matrices that cannot be used.
    InvalidParams(String),
    /// The rayon pool could not be built.
    ThreadPool(String),
}

impl fmt::Display for HplError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Singular { column } => {
                write!(f, "matrix is singular (zero pivot in column {column})")
            }
            Self::InvalidParams(msg) => write!(f, "invalid parameters: {msg}"),
            Self::ThreadPool(msg) => write!(f, "cannot build thread pool: {msg}"),
        }
    }
}

impl std::error::Error for HplError {}

/// HPL's flop count for order `n`.
pub fn flops(n: usize) -> f64 {
    let n = n as f64;
    2.0 / 3.0 * n * n * n + 2.0 * n * n
}

/// A block size that works well with `matrixmultiply` (its `kc` is 256).
pub fn default_block_size(n: usize) -> usize {
    match n {
        0..=255 => 32,
        256..=1499 => 128,
        _ => 256,
    }
}

fn validate(n: usize, nb: usize, threads: usize) -> Result<(), HplError> {
    let bad = |what: &str| {
        Err(HplError::InvalidParams(format!(
            "{what} must be at least 1"
        )))
    };
    match (n, nb, threads) {
        (0, _, _) => bad("n"),
        (_, 0, _) => bad("nb"),
        (_, _, 0) => bad("threads"),
        _ => Ok(()),
    }
}

fn build_pool(threads: usize) -> Result<Option<rayon::ThreadPool>, HplError> {
    if threads == 1 {
        return Ok(None);
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("hpl-{i}"))
        .build()
        .map(Some)
        .map_err(|e| HplError::ThreadPool(e.to_string()))
}

/// Runs the benchmark with the default [`Tuning`].
///
/// `progress` is called on the calling thread at least once per panel with a
/// non-decreasing fraction of the work done, and last with `1.0`.
pub fn run(params: &HplParams, progress: &mut dyn FnMut(f64)) -> Result<HplReport, HplError> {
    run_with_tuning(params, &Tuning::default(), progress)
}

/// [`run`] with explicit [`Tuning`], for measuring the individual optimisations.
pub fn run_with_tuning(
    params: &HplParams,
    tuning: &Tuning,
    progress: &mut dyn FnMut(f64),
) -> Result<HplReport, HplError> {
    let HplParams {
        n,
        nb,
        threads,
        seed,
    } = *params;
    validate(n, nb, threads)?;
    let nb = nb.min(n);
    let pool = build_pool(threads)?;
    // One copy of [A | b]; A is regenerated from the seed for the check.
    let lda = n;
    let len = lda
        .checked_mul(n + 1)
        .filter(|len| len.checked_mul(size_of::<f64>()).is_some())
        .ok_or_else(|| HplError::InvalidParams(format!("n = {n} does not fit in memory")))?;
    let mut ab = vec![0.0; len];
    generate::fill_augmented(&mut ab, lda, n, seed);

    let start = Instant::now();
    lu::factor_augmented(&mut ab, lda, n, nb, pool.as_ref(), tuning, progress)?;
    let x = lu::back_substitute(&ab, lda, n)?;
    let seconds = start.elapsed().as_secs_f64();
    drop(ab);

    let residual = residual::scaled_residual_generated(n, seed, &x);
    progress(1.0);
    Ok(HplReport {
        n,
        nb,
        threads,
        seed,
        seconds,
        gflops: flops(n) / seconds / 1e9,
        residual,
        passed: residual < RESIDUAL_THRESHOLD,
    })
}

/// The seeded `n x (n + 1)` system `[A | b]` that [`run`] solves.
pub fn generate_augmented(n: usize, seed: u64) -> DMatrix<f64> {
    DMatrix::from_fn(n, n + 1, |i, j| generate::augmented_entry(seed, n, i, j))
}

/// Solves `[A | b]` given as one `n x (n + 1)` matrix, factoring it in place.
///
/// On success the matrix holds `U` (with spent `L` multipliers below it) and
/// `L^-1 P b` in its last column.
pub fn solve_augmented(
    ab: &mut DMatrix<f64>,
    nb: usize,
    threads: usize,
) -> Result<DVector<f64>, HplError> {
    let n = ab.nrows();
    validate(n, nb, threads)?;
    if ab.ncols() != n + 1 {
        return Err(HplError::InvalidParams(format!(
            "augmented matrix must be n x (n + 1), got {n} x {}",
            ab.ncols()
        )));
    }
    if ab.iter().any(|v| !v.is_finite()) {
        return Err(HplError::InvalidParams(
            "matrix contains NaN or infinity".into(),
        ));
    }
    let pool = build_pool(threads)?;
    let tuning = Tuning::default();
    lu::factor_augmented(
        ab.as_mut_slice(),
        n,
        n,
        nb.min(n),
        pool.as_ref(),
        &tuning,
        &mut |_| {},
    )?;
    lu::back_substitute(ab.as_slice(), n, n).map(DVector::from_vec)
}

/// Solves `A x = b` for a square `A`, working on a copy.
pub fn solve(
    a: &DMatrix<f64>,
    b: &DVector<f64>,
    nb: usize,
    threads: usize,
) -> Result<DVector<f64>, HplError> {
    if !a.is_square() || a.nrows() != b.len() {
        return Err(HplError::InvalidParams(format!(
            "need a square A and a matching b, got {}x{} and {}",
            a.nrows(),
            a.ncols(),
            b.len()
        )));
    }
    let mut ab = a.clone().insert_column(a.ncols(), 0.0);
    ab.set_column(a.ncols(), b);
    solve_augmented(&mut ab, nb, threads)
}

/// HPL's scaled residual of `x` for `A x = b`.
pub fn scaled_residual(a: &DMatrix<f64>, b: &DVector<f64>, x: &DVector<f64>) -> f64 {
    let n = a.nrows();
    residual::scaled_residual_with(
        n,
        x.as_slice(),
        |i, j| if j == n { b[i] } else { a[(i, j)] },
    )
}

/// An HPL-style result block.
///
/// `T/V` is `WR` (wall time, recursive panel) plus `L1` with look-ahead
/// (more than one thread) or `L0` without. `P x Q` is always `1 x 1`: one
/// process, threads inside it.
pub fn format_report(r: &HplReport) -> String {
    let rule = "=".repeat(80);
    let thin = "-".repeat(80);
    let tv = if r.threads > 1 { "WRL1" } else { "WRL0" };
    let verdict = if r.passed { "PASSED" } else { "FAILED" };
    format!(
        "{rule}\n\
         T/V                N    NB     P     Q               Time                 Gflops\n\
         {thin}\n\
         {tv:<10}{n:>9}{nb:>6}{p:>6}{q:>6}{time:>19.2}{gflops:>23.4e}\n\
         threads: {threads}, seed: {seed}\n\
         {thin}\n\
         ||Ax-b||_oo/(eps*(||A||_oo*||x||_oo+||b||_oo)*N)= {resid:>15.7} ...... {verdict}\n\
         {rule}",
        n = r.n,
        nb = r.nb,
        p = 1,
        q = 1,
        time = r.seconds,
        gflops = r.gflops,
        threads = r.threads,
        seed = r.seed,
        resid = r.residual,
    )
}

#[cfg(test)]
mod tests;
