//! Times the libjpeg-turbo fast paths against the paths they replace, on a
//! 4000 x 3000 photo-like JPEG q90 (4:2:0).
//!
//! `cargo run --release -p imagegraph-imaging --example jpeg_paths_bench -- [IMAGE.jpg] [REPS]`
//!
//! Without IMAGE (or when it does not exist) a photo-like image is generated and
//! written there (default `target/photo_4000x3000.jpg`, the file
//! `scripts/edit_compare.py` uses). Prints best-of-REPS milliseconds:
//! * upload thumbnail (decode + 400 px thumbnail + encode), full decode vs
//!   shrink-on-load (`prepare_upload`);
//! * resize to 400 px wide end to end (decode + resize + JPEG q90), full decode vs
//!   shrink-on-load;
//! * rotate end to end: decode + rotate + JPEG q90, vs libjpeg-turbo's lossless
//!   transform alone, vs ours (`lossless_transform`), vs `lossless_edit` (ours +
//!   verifying decode + thumbnail), on the image and on a 4032 x 3024 one (sides
//!   multiples of the MCU).

use std::time::Instant;

use image::{DynamicImage, Rgb, RgbImage};
use imagegraph_imaging::edit::{self, EditInstruction as E, Fit, encode_jpeg};
use imagegraph_imaging::{
    MediaFormat, UploadLimits, decode, decode_at_least, encode, lossless_edit, lossless_transform,
    prepare_upload, render_thumbnail,
};

const LIMITS: UploadLimits = UploadLimits {
    max_bytes: 64 << 20,
    max_pixels: 50_000_000,
    max_side: 65_535,
    max_aspect_ratio: 1000,
};

fn photo(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let noise = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 28;
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let (dx, dy) = (fx - 0.4, fy - 0.6);
        let blob = (-(dx * dx + dy * dy) * 12.0).exp() * 70.0;
        let rect = (x / 400 + y / 300) % 3 == 0 && (x % 400) < 250 && (y % 300) < 180;
        let r = 60.0 + 120.0 * fx + blob;
        let g = if rect { 200.0 } else { 40.0 + 150.0 * fy };
        let b = 200.0 - 120.0 * (fx + fy) / 2.0 - blob / 2.0;
        Rgb([
            (r as u32 + noise).min(255) as u8,
            (g as u32 + noise).min(255) as u8,
            (b.max(0.0) as u32 + noise).min(255) as u8,
        ])
    })
}

fn best_ms(reps: usize, mut run: impl FnMut()) -> f64 {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            run();
            t.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "target/photo_4000x3000.jpg".to_owned());
    let reps: usize = args.get(2).map_or(5, |r| r.parse().expect("REPS"));
    let bytes = std::fs::read(&path).unwrap_or_else(|_| {
        let bytes = encode_jpeg(&photo(4000, 3000), 90).expect("encodable");
        std::fs::write(&path, &bytes).expect("writable");
        bytes
    });
    let (_, full) = decode(&bytes, LIMITS).expect("decodable");
    println!(
        "{path}: {}x{}, {} bytes, best of {reps}, RAYON_NUM_THREADS={}",
        full.width(),
        full.height(),
        bytes.len(),
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into())
    );
    drop(full);

    let thumb_before = best_ms(reps, || {
        let (_, image) = decode(&bytes, LIMITS).unwrap();
        std::hint::black_box(render_thumbnail(&image).unwrap());
    });
    let thumb_after = best_ms(reps, || {
        std::hint::black_box(prepare_upload(&bytes, LIMITS).unwrap());
    });
    println!(
        "upload thumbnail 400 px     full decode {thumb_before:7.1} ms   shrink-on-load {thumb_after:7.1} ms   x{:.1}",
        thumb_before / thumb_after
    );

    let resize = [E::Resize {
        width: Some(400),
        height: None,
        fit: Fit::Contain,
    }];
    let resize_before = best_ms(reps, || {
        let (_, image) = decode(&bytes, LIMITS).unwrap();
        let out = edit::apply(image, &resize).unwrap();
        std::hint::black_box(encode(&out, MediaFormat::Jpeg, 90).unwrap());
    });
    let resize_after = best_ms(reps, || {
        let plan = edit::shrink_on_load(4000, 3000, &resize, None).unwrap();
        let (_, image) = decode_at_least(&bytes, LIMITS, plan.min_width, plan.min_height).unwrap();
        let out = edit::apply(image, &plan.instructions).unwrap();
        std::hint::black_box(encode(&out, MediaFormat::Jpeg, 90).unwrap());
    });
    println!(
        "resize 400 wide, JPEG q90   full decode {resize_before:7.1} ms   shrink-on-load {resize_after:7.1} ms   x{:.1}",
        resize_before / resize_after
    );

    // 3000 is not a multiple of the 16-pixel MCU of 4:2:0: a quarter turn clockwise
    // would move the partial bottom row of MCUs to the left edge, so it takes the
    // decode path; a quarter turn anticlockwise (partial row stays at the bottom)
    // is lossless. A 4032 x 3024 photo (both sides multiples of 16) is lossless
    // both ways.
    let phone = encode_jpeg(&photo(4032, 3024), 90).expect("encodable");
    for (name, bytes, op, degrees) in [
        (
            "4000x3000 rotate 270",
            &bytes,
            turbojpeg::TransformOp::Rot270,
            270,
        ),
        (
            "4000x3000 rotate 90 ",
            &bytes,
            turbojpeg::TransformOp::Rot90,
            90,
        ),
        (
            "4032x3024 rotate 90 ",
            &phone,
            turbojpeg::TransformOp::Rot90,
            90,
        ),
    ] {
        let list = [E::Rotate(degrees)];
        let decoded = best_ms(reps, || {
            let (_, image) = decode(bytes, LIMITS).unwrap();
            let out: DynamicImage = edit::apply(image, &list).unwrap();
            std::hint::black_box(encode(&out, MediaFormat::Jpeg, 90).unwrap());
        });
        let lossless = lossless_edit(bytes, LIMITS, &list).unwrap().is_some();
        if !lossless {
            println!(
                "{name}  decode+rotate+encode {decoded:7.1} ms   lossless: not perfect, takes the decode path"
            );
            continue;
        }
        let libjpeg_turbo = best_ms(reps, || {
            let mut transform = turbojpeg::Transform::op(op);
            transform.perfect = true;
            transform.copy_none = true;
            std::hint::black_box(turbojpeg::transform(&transform, bytes).unwrap());
        });
        let ours = best_ms(reps, || {
            std::hint::black_box(lossless_transform(bytes, LIMITS, &list).unwrap().unwrap());
        });
        let whole = best_ms(reps, || {
            std::hint::black_box(lossless_edit(bytes, LIMITS, &list).unwrap().unwrap());
        });
        println!(
            "{name}  decode+rotate+encode {decoded:7.1} ms   lossless: libjpeg-turbo's transform {libjpeg_turbo:6.1} ms   ours {ours:6.1} ms   lossless_edit (ours + verifying decode, thumbnail) {whole:6.1} ms"
        );
    }
}
