//! Criterion benchmark of the LU solve (factorisation + back substitution) on
//! the seeded HPL matrix; generating the matrix is setup and not timed.
//!
//! Run with `cargo bench --bench hpl` so matrixmultiply
//! does not add threads of its own to the 1-thread case.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use imagegraph_hpl as hpl;

fn lu(c: &mut Criterion) {
    let mut group = c.benchmark_group("hpl_lu");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    for n in [1000, 2000] {
        let ab = hpl::generate_augmented(n, 42);
        let nb = hpl::default_block_size(n);
        // One "element" per flop, so criterion's rate reads as FLOP/s.
        group.throughput(Throughput::Elements(hpl::flops(n) as u64));
        for threads in [1, 2] {
            group.bench_with_input(
                BenchmarkId::new(format!("threads{threads}"), n),
                &ab,
                |b, ab| {
                    b.iter_batched(
                        || ab.clone(),
                        |mut m| {
                            hpl::solve_augmented(black_box(&mut m), nb, threads)
                                .expect("nonsingular")
                        },
                        BatchSize::LargeInput,
                    );
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, lu);
criterion_main!(benches);
