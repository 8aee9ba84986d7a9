//! The edit pipeline under the memory budget: adversarial declared sizes (up to
//! u32::MAX a side) and instruction lists through `validate` and the cost model,
//! and `apply` on a real buffer whenever the model says the work is small. The cost
//! model must never panic or overflow, must count at least the image itself, and
//! work it admits must run (no abort, no panic, no allocation error).
#![no_main]

use image::{DynamicImage, RgbImage, RgbaImage};
use imagegraph_imaging::cost;
use imagegraph_imaging::edit::{apply, validate, wire};
use libfuzzer_sys::fuzz_target;

/// The service's default pixel cap: declared sizes are checked against it.
const MAX_PIXELS: u64 = 50_000_000;
/// Work declared below this is run for real; the fuzzer's RSS limit stays far off.
const RUN_BELOW: u64 = 48 << 20;

fuzz_target!(|bytes: &[u8]| {
    let [mode, w0, w1, w2, w3, h0, h1, h2, h3, rest @ ..] = bytes else {
        return;
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(rest) else {
        return;
    };
    let Ok(instructions) = wire::from_json(&value) else {
        return;
    };
    let (mut width, mut height) = (
        u32::from_le_bytes([*w0, *w1, *w2, *w3]),
        u32::from_le_bytes([*h0, *h1, *h2, *h3]),
    );
    // Half the inputs small enough to run, half declared as large as they like.
    if mode & 1 == 0 {
        width = width % 300 + 1;
        height = height % 300 + 1;
    }
    let channels = if mode & 2 == 0 { 3 } else { 4 };
    if validate(&instructions, width, height, MAX_PIXELS).is_err() {
        return;
    }
    for instruction in &instructions {
        // Never panics, whatever the sizes.
        let _ = cost::resize_intermediate(width, height, instruction);
    }
    let declared = cost::edit(width, height, channels, &instructions);
    let image_bytes = u64::from(width) * u64::from(height) * u64::from(channels);
    assert!(declared >= image_bytes, "{declared} < {image_bytes}");
    if declared > RUN_BELOW {
        return;
    }
    let image = if channels == 3 {
        DynamicImage::ImageRgb8(RgbImage::from_pixel(
            width,
            height,
            image::Rgb([200, 100, 50]),
        ))
    } else {
        DynamicImage::ImageRgba8(RgbaImage::from_pixel(
            width,
            height,
            image::Rgba([200, 100, 50, 128]),
        ))
    };
    let out = apply(image, &instructions).expect("admitted work runs");
    assert!(
        u64::from(out.width()) * u64::from(out.height())
            <= MAX_PIXELS.max(u64::from(width) * u64::from(height))
    );
});
