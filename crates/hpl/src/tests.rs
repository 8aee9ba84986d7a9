use super::*;

fn params(n: usize, nb: usize, threads: usize, seed: u64) -> HplParams {
    HplParams {
        n,
        nb,
        threads,
        seed,
    }
}

fn seeded(n: usize, seed: u64) -> DMatrix<f64> {
    generate_augmented(n, seed).remove_column(n)
}

/// Every code path: recursion on/off, blocked TRSM on/off, look-ahead on/off.
fn tunings() -> Vec<Tuning> {
    let d = Tuning::default();
    vec![
        d.clone(),
        Tuning {
            panel_base: usize::MAX,
            trsm_base: usize::MAX,
            ..d.clone()
        },
        Tuning {
            lookahead: false,
            chunk_cols: 7,
            ..d.clone()
        },
        Tuning {
            panel_base: 1,
            trsm_base: 1,
            chunk_cols: 1,
            ..d
        },
    ]
}

#[test]
fn residual_passes_for_many_shapes() {
    // (n, nb): multiples of nb, ragged last panel, n < nb, n = 1, odd sizes.
    let shapes = [
        (1, 1),
        (1, 64),
        (2, 64),
        (7, 3),
        (50, 16),
        (97, 32),
        (128, 32),
        (200, 64),
        (257, 40),
    ];
    for (n, nb) in shapes {
        for threads in [1, 2] {
            for seed in [1, 2025] {
                let r = run(&params(n, nb, threads, seed), &mut |_| {}).unwrap();
                assert!(r.passed && r.residual < RESIDUAL_THRESHOLD, "{r:?}");
                assert!(
                    r.residual.is_finite() && r.gflops > 0.0 && r.seconds > 0.0,
                    "{r:?}"
                );
                assert_eq!(
                    (r.n, r.nb, r.threads, r.seed),
                    (n, nb.min(n), threads, seed)
                );
            }
        }
    }
}

#[test]
fn residual_passes_with_every_tuning() {
    for tuning in tunings() {
        for threads in [1, 2, 3] {
            let r = run_with_tuning(&params(131, 24, threads, 9), &tuning, &mut |_| {}).unwrap();
            assert!(r.passed, "{tuning:?} threads={threads}: {r:?}");
        }
    }
}

#[test]
fn residual_check_detects_a_wrong_solution() {
    let n = 60;
    let a = seeded(n, 3);
    let b = DVector::from_fn(n, |i, _| generate::augmented_entry(3, n, i, n));
    let mut x = solve(&a, &b, 16, 1).unwrap();
    assert!(scaled_residual(&a, &b, &x) < RESIDUAL_THRESHOLD);
    x[n / 2] += 1e-6;
    assert!(scaled_residual(&a, &b, &x) > RESIDUAL_THRESHOLD);
}

#[test]
fn recovers_a_known_solution() {
    for (n, nb) in [(150, 16), (64, 64), (33, 8)] {
        let a = seeded(n, 11);
        let x_true = DVector::from_fn(n, |i, _| (i as f64 + 1.0) / n as f64 - 0.3);
        let b = &a * &x_true;
        for threads in [1, 2] {
            let x = solve(&a, &b, nb, threads).unwrap();
            let err = (&x - &x_true).amax();
            assert!(
                err < 1e-9,
                "n={n} nb={nb} threads={threads}: max error {err}"
            );
        }
    }
}

#[test]
fn generated_run_matches_explicit_solve() {
    // run() factors its own buffer; solve() goes through DMatrix. Same answer.
    let n = 90;
    let a = seeded(n, 5);
    let b = DVector::from_fn(n, |i, _| generate::augmented_entry(5, n, i, n));
    let x1 = solve(&a, &b, 16, 1).unwrap();
    let x2 = solve(&a, &b, 16, 2).unwrap();
    assert!((&x1 - &x2).amax() < 1e-12);
    let x3 = solve_augmented(&mut generate_augmented(n, 5), 16, 1).unwrap();
    assert_eq!(x1, x3);
    assert!(scaled_residual(&a, &b, &x1) < RESIDUAL_THRESHOLD);
}

#[test]
fn zero_pivot_in_natural_order_is_pivoted_away() {
    let a = DMatrix::from_row_slice(2, 2, &[0.0, 1.0, 1.0, 0.0]);
    let b = DVector::from_vec(vec![2.0, 3.0]);
    let x = solve(&a, &b, 1, 1).unwrap();
    assert_eq!(x.as_slice(), &[3.0, 2.0]);

    // A scaled cyclic shift: every leading principal minor is zero, so each
    // step needs a row interchange.
    let n = 45;
    let a = DMatrix::from_fn(n, n, |i, j| {
        if j == (i + 1) % n {
            (i + 2) as f64
        } else {
            0.0
        }
    });
    let x_true = DVector::from_fn(n, |i, _| i as f64 - 7.0);
    let b = &a * &x_true;
    for (nb, threads) in [(1, 1), (8, 1), (8, 2), (64, 2)] {
        let x = solve(&a, &b, nb, threads).unwrap();
        assert!(
            (&x - &x_true).amax() < 1e-12,
            "nb={nb} threads={threads}: {x}"
        );
    }
}

#[test]
fn singular_matrices_are_reported() {
    let a = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 4.0]);
    let b = DVector::from_vec(vec![1.0, 1.0]);
    assert_eq!(solve(&a, &b, 2, 1), Err(HplError::Singular { column: 1 }));

    let zero = DMatrix::zeros(3, 3);
    assert_eq!(
        solve(&zero, &DVector::zeros(3), 2, 2),
        Err(HplError::Singular { column: 0 })
    );

    let n = 80;
    let b = DVector::from_element(n, 1.0);
    // A zero column stays exactly zero through every update.
    let mut a = seeded(n, 4);
    a.column_mut(37).fill(0.0);
    // A zero row is never chosen as pivot, so it ends up as the last row.
    let mut c = seeded(n, 4);
    c.row_mut(10).fill(0.0);
    for (nb, threads) in [(1, 1), (16, 1), (16, 2), (100, 2)] {
        assert_eq!(
            solve(&a, &b, nb, threads),
            Err(HplError::Singular { column: 37 })
        );
        assert_eq!(
            solve(&c, &b, nb, threads),
            Err(HplError::Singular { column: n - 1 })
        );
    }
}

#[test]
fn overflowing_back_substitution_is_an_error_not_nan() {
    // Pivots are nonzero, but x overflows: reported instead of returning inf/NaN.
    let a = DMatrix::from_row_slice(2, 2, &[1.0, 1.0, 0.0, 1e-300]);
    let b = DVector::from_vec(vec![1.0, 1e10]);
    assert_eq!(solve(&a, &b, 2, 1), Err(HplError::Singular { column: 1 }));
}

#[test]
fn non_finite_input_is_rejected() {
    let mut a = DMatrix::identity(4, 4);
    a[(2, 1)] = f64::NAN;
    let r = solve(&a, &DVector::zeros(4), 2, 1);
    assert!(matches!(r, Err(HplError::InvalidParams(_))), "{r:?}");
}

#[test]
fn progress_is_monotonic_and_ends_at_one() {
    for threads in [1, 2] {
        let mut seen = Vec::new();
        let (n, nb) = (100, 16);
        run(&params(n, nb, threads, 1), &mut |f| seen.push(f)).unwrap();
        assert!(seen.len() > n.div_ceil(nb), "{seen:?}");
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
        assert!(seen.iter().all(|f| (0.0..=1.0).contains(f)), "{seen:?}");
        assert_eq!(seen.last(), Some(&1.0));
        assert!(seen[0] < 0.5, "{seen:?}");
    }
}

#[test]
fn invalid_params_are_rejected() {
    for (n, nb, threads) in [(0, 8, 1), (8, 0, 1), (8, 8, 0)] {
        let r = run(&params(n, nb, threads, 1), &mut |_| {
            panic!("no progress expected")
        });
        assert!(
            matches!(r, Err(HplError::InvalidParams(_))),
            "{n} {nb} {threads}: {r:?}"
        );
    }
    // Too large to allocate: an error, not an overflow panic or an abort.
    let r = run(&params(1 << 31, 8, 1, 1), &mut |_| {
        panic!("no progress expected")
    });
    assert!(matches!(r, Err(HplError::InvalidParams(_))), "{r:?}");
    let r = solve(&DMatrix::zeros(2, 3), &DVector::zeros(2), 2, 1);
    assert!(matches!(r, Err(HplError::InvalidParams(_))), "{r:?}");
    let r = solve(&DMatrix::identity(2, 2), &DVector::zeros(3), 2, 1);
    assert!(matches!(r, Err(HplError::InvalidParams(_))), "{r:?}");
    let r = solve_augmented(&mut DMatrix::zeros(3, 3), 2, 1);
    assert!(matches!(r, Err(HplError::InvalidParams(_))), "{r:?}");
}

#[test]
fn block_size_is_clamped_and_default_is_sane() {
    let r = run(&params(20, 500, 1, 1), &mut |_| {}).unwrap();
    assert_eq!(r.nb, 20);
    for n in [1, 100, 1000, 4000, 100_000] {
        let nb = default_block_size(n);
        assert!((1..=256).contains(&nb), "n={n} nb={nb}");
    }
}

#[test]
fn report_has_hpl_layout() {
    let mut r = run(&params(64, 16, 1, 1), &mut |_| {}).unwrap();
    let text = format_report(&r);
    assert!(
        text.contains("T/V                N    NB     P     Q"),
        "{text}"
    );
    assert!(
        text.contains("WRL0") && text.contains("   64    16     1     1"),
        "{text}"
    );
    assert!(
        text.contains("PASSED") && !text.contains("FAILED"),
        "{text}"
    );
    r.passed = false;
    r.threads = 2;
    let text = format_report(&r);
    assert!(text.contains("FAILED") && text.contains("WRL1"), "{text}");
}

#[test]
fn errors_display() {
    assert_eq!(
        HplError::Singular { column: 3 }.to_string(),
        "matrix is singular (zero pivot in column 3)"
    );
    assert!(
        HplError::InvalidParams("n must be at least 1".into())
            .to_string()
            .contains("n must")
    );
}
