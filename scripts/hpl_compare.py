#!/usr/bin/env python3
"""Side-by-side HPL comparison: our Rust LU vs scipy/OpenBLAS (lu_factor + lu_solve).

Both solve the same seeded system (the SplitMix64 generator is replicated here),
are timed over factorisation + solve only, and use HPL's GFLOPS formula and
scaled residual. Runs alternate between the two so machine noise hits both.

Setup (once):  python3 -m venv .venv-bench && .venv-bench/bin/pip install numpy scipy threadpoolctl
Run:           .venv-bench/bin/python scripts/hpl_compare.py [--n 4000] [--reps 3] [--threads 1 2]
"""

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.linalg as sla
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "target" / "release" / "examples" / "hpl"
GAMMA = np.uint64(0x9E3779B97F4A7C15)


def augmented(n, seed):
    """[A | b] exactly as crates/hpl/src/generate.rs builds it (column-major index)."""
    idx = np.arange(n * (n + 1), dtype=np.uint64) + np.uint64(1)
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + GAMMA * idx
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    vals = (z >> np.uint64(11)).astype(np.float64) * 2.0**-53 - 0.5
    ab = vals.reshape(n + 1, n).T  # column j is contiguous in the stream
    return np.asfortranarray(ab[:, :n]), ab[:, n].copy()


def flops(n):
    return 2.0 / 3.0 * n**3 + 2.0 * n**2


def scaled_residual(a, b, x):
    eps = np.finfo(np.float64).eps / 2  # HPL's unit roundoff 2^-53
    r = a @ x - b
    n = a.shape[0]
    return np.abs(r).max() / (
        eps * (np.abs(a).sum(axis=1).max() * np.abs(x).max() + np.abs(b).max()) * n
    )


def idle_cpus(interval=1.0):
    """Average number of idle CPUs over `interval` seconds (Linux /proc/stat)."""

    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)  # idle + iowait, total

    i0, t0 = snap()
    time.sleep(interval)
    i1, t1 = snap()
    return (i1 - i0) / max(t1 - t0, 1) * os.cpu_count()


def wait_for_idle(need, timeout):
    """Other builds share the cores; wait until `need` CPUs are idle (or give up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        idle = idle_cpus()
        if idle >= need:
            return True
    print(f"warning: fewer than {need:.1f} CPUs idle; measuring anyway", file=sys.stderr)
    return False


def run_openblas(a, b, threads):
    work = np.array(a, order="F", copy=True)
    with threadpool_limits(limits=threads, user_api="blas"):
        t0 = time.perf_counter()
        lu = sla.lu_factor(work, overwrite_a=True, check_finite=False)
        x = sla.lu_solve(lu, b, check_finite=False)
        seconds = time.perf_counter() - t0
    return flops(a.shape[0]) / seconds / 1e9, scaled_residual(a, b, x)


def run_ours(n, nb, threads, seed):
    cmd = [str(EXAMPLE), "--n", str(n), "--threads", str(threads), "--seed", str(seed)]
    if nb:
        cmd += ["--nb", str(nb)]
    # matrixmultiply's own threading would double-book the cores (see crates/hpl/src/lib.rs).
    env = dict(os.environ, MATMUL_NUM_THREADS="1")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False).stdout
    m = re.search(r"RESULT gflops=(\S+) residual=(\S+) passed=(\S+)", out)
    if not m:
        sys.exit(f"unexpected output from {cmd}:\n{out}")
    return float(m.group(1)), float(m.group(2)), m.group(3) == "true"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--nb", type=int, default=0, help="0: the library's default_block_size")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each measurement wait up to SECONDS for `threads` idle CPUs",
    )
    args = ap.parse_args()

    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "imagegraph-hpl", "--example", "hpl"], cwd=ROOT, check=True)
    a, b = augmented(args.n, args.seed)

    rows = []
    for threads in args.threads:
        ours, blas = [], []
        need = min(threads, os.cpu_count()) - 0.1
        for rep in range(args.reps):
            if args.wait_idle:
                wait_for_idle(need, args.wait_idle)
            ours.append(run_ours(args.n, args.nb, threads, args.seed))
            if args.wait_idle:
                wait_for_idle(need, args.wait_idle)
            blas.append(run_openblas(a, b, threads))
            print(
                f"threads={threads} rep={rep}: ours {ours[-1][0]:.2f} GFLOPS (resid {ours[-1][1]:.3e}), "
                f"OpenBLAS {blas[-1][0]:.2f} GFLOPS (resid {blas[-1][1]:.3e})",
                file=sys.stderr,
            )
        best_ours = max(g for g, _, _ in ours)
        best_blas = max(g for g, _ in blas)
        passed = all(p and r < 16 for _, r, p in ours) and all(r < 16 for _, r in blas)
        rows.append((threads, best_ours, best_blas, passed))

    print(f"\nN = {args.n}, best of {args.reps}, GFLOPS = (2/3 N^3 + 2 N^2) / s / 1e9")
    print("| threads | ours GFLOPS | OpenBLAS GFLOPS | ratio | residual passed |")
    print("|--------:|------------:|----------------:|------:|:----------------|")
    for threads, o, s, passed in rows:
        print(f"| {threads} | {o:.2f} | {s:.2f} | {o / s:.1%} | {'yes' if passed else 'NO'} |")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
