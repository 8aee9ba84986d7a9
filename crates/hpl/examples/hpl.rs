//! Runs the HPL core once (or `--reps` times) and prints HPL-style reports.
//!
//! ```text
//! cargo run --release --example hpl -- --n 4000 --threads 2
//! ```
//! Options: `--n --nb --threads --seed --reps`, and for measuring the levers
//! `--panel-base --trsm-base --chunk-cols --min-chunk-cols --no-lookahead`. The last line is
//! `RESULT gflops=<best> residual=<of best> passed=<all passed>` for scripts.

use std::process::ExitCode;

use imagegraph_hpl::{self as hpl, HplParams, Tuning};

fn parse_args() -> Result<(HplParams, Tuning, usize), String> {
    let mut p = HplParams {
        n: 1000,
        nb: 0,
        threads: 1,
        seed: 42,
    };
    let mut t = Tuning::default();
    let mut reps = 1;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--no-lookahead" {
            t.lookahead = false;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = || {
            value
                .parse::<u64>()
                .map_err(|e| format!("{flag} {value}: {e}"))
        };
        match flag.as_str() {
            "--n" => p.n = num()? as usize,
            "--nb" => p.nb = num()? as usize,
            "--threads" => p.threads = num()? as usize,
            "--seed" => p.seed = num()?,
            "--reps" => reps = num()? as usize,
            "--panel-base" => t.panel_base = num()? as usize,
            "--trsm-base" => t.trsm_base = num()? as usize,
            "--chunk-cols" => t.chunk_cols = num()? as usize,
            "--min-chunk-cols" => t.min_chunk_cols = num()? as usize,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if p.nb == 0 {
        p.nb = hpl::default_block_size(p.n);
    }
    Ok((p, t, reps.max(1)))
}

fn main() -> ExitCode {
    let (params, tuning, reps) = match parse_args() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut best: Option<hpl::HplReport> = None;
    let mut all_passed = true;
    for _ in 0..reps {
        match hpl::run_with_tuning(&params, &tuning, &mut |_| {}) {
            Ok(r) => {
                println!("{}", hpl::format_report(&r));
                all_passed &= r.passed;
                if best.as_ref().is_none_or(|b| r.gflops > b.gflops) {
                    best = Some(r);
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let best = best.expect("reps >= 1");
    println!(
        "RESULT gflops={:.3} residual={:.6e} passed={all_passed}",
        best.gflops, best.residual
    );
    if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
