//! Edit instructions in their outside (JSON) form, then validation against an image
//! size: whatever validation accepts must run without panicking, as `apply` relies on.
#![no_main]

use image::{DynamicImage, RgbaImage};
use imagegraph_imaging::edit::wire;
use imagegraph_imaging::edit::{apply, validate};
use libfuzzer_sys::fuzz_target;

/// Small, so each accepted list runs quickly.
const MAX_PIXELS: u64 = 1 << 14;

fuzz_target!(|bytes: &[u8]| {
    let [w, h, rest @ ..] = bytes else {
        return;
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(rest) else {
        return;
    };
    let Ok(instructions) = wire::from_json(&value) else {
        return;
    };
    let (width, height) = (u32::from(*w % 48) + 1, u32::from(*h % 48) + 1);
    if validate(&instructions, width, height, MAX_PIXELS).is_ok() {
        let image = DynamicImage::ImageRgba8(RgbaImage::from_pixel(
            width,
            height,
            image::Rgba([200, 100, 50, 255]),
        ));
        let out = apply(image, &instructions).expect("small images fit");
        assert!(
            u64::from(out.width()) * u64::from(out.height())
                <= MAX_PIXELS.max(u64::from(width * height))
        );
    }
});
