//! Criterion timings of each operation on a 4000x3000 RGB image (synthetic,
//! so the bench needs no fixture file). Small sample size: these are
//! seconds-long runs on a shared 2-core machine.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use image::{DynamicImage, Rgb, RgbImage};
use imagegraph_imaging::edit::{EditInstruction as E, Fit, apply, encode_jpeg};

fn photo() -> DynamicImage {
    // Gradients plus a cheap deterministic hash as noise.
    DynamicImage::ImageRgb8(RgbImage::from_fn(4000, 3000, |x, y| {
        let n = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 27;
        Rgb([
            (x / 16 + n) as u8,
            (y / 12 + n) as u8,
            ((x + y) / 28 + n) as u8,
        ])
    }))
}

fn bench(c: &mut Criterion) {
    let img = photo();
    let mut group = c.benchmark_group("edit_4000x3000");
    group.sample_size(10);
    let ops = [
        ("brightness", E::Brightness(1.2)),
        ("contrast", E::Contrast(1.2)),
        ("saturation", E::Saturation(1.3)),
        ("sharpness", E::Sharpness(2.0)),
        ("blur_2", E::Blur { sigma: 2.0 }),
        (
            "resize_400w",
            E::Resize {
                width: Some(400),
                height: None,
                fit: Fit::Contain,
            },
        ),
        ("grayscale", E::Grayscale),
        ("rotate_90", E::Rotate(90)),
    ];
    for (name, op) in ops {
        group.bench_function(name, |b| {
            b.iter_batched(
                || img.clone(),
                |i| apply(i, &[op]).expect("fits"),
                BatchSize::LargeInput,
            );
        });
    }
    let rgb = img.to_rgb8();
    group.bench_function("encode_jpeg_q90", |b| b.iter(|| encode_jpeg(&rgb, 90)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
