//! The two libjpeg-turbo fast paths against the ordinary ones: shrink-on-load
//! (DCT-scaled decoding for thumbnails, resizes and previews) and lossless JPEG
//! geometry (rotate, flip and crop on the coefficients).

use image::{DynamicImage, GenericImageView, Rgb, RgbImage};
use imagegraph_imaging::edit::{
    self, EditInstruction as E, Fit, FlipAxis, encode_jpeg, shrink_on_load, validate,
};
use imagegraph_imaging::{
    ImageError, MediaFormat, UploadLimits, decode, decode_at_least, lossless_edit, prepare_upload,
    render_thumbnail, thumbnail_size,
};

const LIMITS: UploadLimits = UploadLimits {
    max_bytes: 64 << 20,
    max_pixels: 50_000_000,
    max_side: 65_535,
    max_aspect_ratio: 2000,
};

/// Photo-like: smooth gradients, hard edges, an asymmetric mark near the top-left
/// corner (so a wrong orientation cannot pass), and mild noise.
fn photo(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let noise = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 29;
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let mark = fx < 0.3 && fy < 0.2;
        let stripe = (x / 37 + y / 53) % 5 == 0;
        let r = if mark { 240.0 } else { 40.0 + 160.0 * fx };
        let g = if stripe { 30.0 } else { 50.0 + 150.0 * fy };
        let b = 200.0 - 120.0 * (fx + fy) / 2.0;
        Rgb([
            (r as u32 + noise).min(255) as u8,
            (g as u32 + noise).min(255) as u8,
            (b as u32 + noise).min(255) as u8,
        ])
    })
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    encode_jpeg(&photo(w, h), 90).unwrap()
}

/// `bytes` with an EXIF APP1 segment carrying `orientation` (1..=8) after SOI.
fn with_orientation(bytes: &[u8], orientation: u8) -> Vec<u8> {
    let mut app1 = vec![0xFF, 0xE1, 0, 34];
    app1.extend_from_slice(b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01");
    app1.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0]);
    app1.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(app1.len(), 36);
    let mut out = bytes[..2].to_vec();
    out.extend_from_slice(&app1);
    out.extend_from_slice(&bytes[2..]);
    out
}

/// Mean absolute channel difference; panics on a size mismatch.
fn mean_diff(a: &DynamicImage, b: &DynamicImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions(), "size");
    let (a, b) = (a.to_rgb8(), b.to_rgb8());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

fn load(bytes: &[u8]) -> DynamicImage {
    image::load_from_memory(bytes).unwrap()
}

/// The thumbnail the full decode makes, as uploads made it before shrink-on-load.
fn full_thumbnail(bytes: &[u8]) -> DynamicImage {
    let (_, image) = decode(bytes, LIMITS).unwrap();
    load(&render_thumbnail(&image).unwrap().0)
}

#[test]
fn scaled_thumbnails_keep_their_size_and_are_close_to_full_decodes() {
    // Odd sizes: 1 pixel wide or tall, sides not a multiple of 8 or 16.
    for (w, h) in [
        (1600, 1200),
        (1203, 805),
        (1001, 999),
        (3000, 17),
        (3000, 64),
        (1, 1000),
        (1000, 1),
        (803, 2),
    ] {
        let bytes = jpeg(w, h);
        let size = thumbnail_size(w, h);
        let (_, scaled) = decode_at_least(&bytes, LIMITS, size.0, size.1).unwrap();
        assert!(
            scaled.width() >= size.0 && scaled.height() >= size.1,
            "{w}x{h}: decoded {:?} for {size:?}",
            scaled.dimensions()
        );
        // Thin sides with a partial last block are not scaled below 32 pixels (the
        // partial pixel would shift the far edge too much); others are.
        let smaller = scaled.width() <= w.div_ceil(2) && scaled.height() <= h.div_ceil(2);
        assert!(
            smaller || w.min(h) < 64,
            "{w}x{h}: decoded {:?}",
            scaled.dimensions()
        );
        let prepared = prepare_upload(&bytes, LIMITS).unwrap();
        assert_eq!((prepared.width, prepared.height), (w, h));
        assert_eq!(prepared.thumbnail_format, MediaFormat::Jpeg);
        let ours = load(&prepared.thumbnail);
        let reference = full_thumbnail(&bytes);
        assert_eq!(ours.dimensions(), reference.dimensions(), "{w}x{h}");
        // Today's thumbnails are box-sampled from the full decode; ours are
        // Lanczos from the DCT-scaled one. Measured: 1.2 to 2.4 levels on these
        // hard-edged images, 4.0 on the 9-pixel-tall thumbnail of 3000 x 64.
        let mad = mean_diff(&ours, &reference);
        let bound = if w.min(h) >= 800 { 3.0 } else { 5.0 };
        assert!(mad < bound, "{w}x{h}: mean difference {mad}");
    }
}

/// What TurboJPEG (`tj3Decompress8`, as the `turbojpeg` crate calls it) decodes
/// `bytes` to at 1/`denom`: RGB, or grey for a grey file.
fn tj3_decompress(bytes: &[u8], denom: usize) -> DynamicImage {
    let mut decompressor = turbojpeg::Decompressor::new().unwrap();
    let header = decompressor.read_header(bytes).unwrap();
    let factor = turbojpeg::ScalingFactor::new(1, denom);
    decompressor.set_scaling_factor(factor).unwrap();
    let scaled = header.scaled(factor);
    let grey = header.colorspace == turbojpeg::Colorspace::Gray;
    let (format, channels) = if grey {
        (turbojpeg::PixelFormat::GRAY, 1)
    } else {
        (turbojpeg::PixelFormat::RGB, 3)
    };
    let mut pixels = vec![0; scaled.width * scaled.height * channels];
    let image = turbojpeg::Image {
        pixels: pixels.as_mut_slice(),
        width: scaled.width,
        pitch: scaled.width * channels,
        height: scaled.height,
        format,
    };
    decompressor.decompress(bytes, image).unwrap();
    let (w, h) = (scaled.width as u32, scaled.height as u32);
    if grey {
        DynamicImage::ImageLuma8(image::GrayImage::from_raw(w, h, pixels).unwrap())
    } else {
        DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, pixels).unwrap())
    }
}

/// Whole-image decodes run libjpeg's scanline API through the C shim (to stop at
/// the first warning) instead of TurboJPEG's whole-image call: the very pixels
/// TurboJPEG gives, at every DCT scale, for colour (4:2:0, 4:2:2, 4:4:4,
/// progressive) and grey files of odd sizes.
#[test]
fn whole_image_decodes_give_turbojpegs_pixels_at_every_scale() {
    use turbojpeg::Subsamp::{Gray, None as Sub1x1, Sub2x1, Sub2x2};
    let mut checked = 0;
    for (w, h) in [(1, 1), (7, 9), (45, 1), (129, 97), (803, 602), (1001, 999)] {
        for (subsamp, progressive) in [
            (Sub2x2, false),
            (Sub2x1, false),
            (Sub1x1, false),
            (Sub2x2, true),
            (Gray, false),
            (Gray, true),
        ] {
            let rgb = photo(w, h);
            let mut compressor = turbojpeg::Compressor::new().unwrap();
            compressor.set_quality(88).unwrap();
            compressor.set_subsamp(subsamp).unwrap();
            compressor.set_progressive(progressive).unwrap();
            let bytes = compressor
                .compress_to_vec(turbojpeg::Image {
                    pixels: rgb.as_raw().as_slice(),
                    width: w as usize,
                    pitch: w as usize * 3,
                    height: h as usize,
                    format: turbojpeg::PixelFormat::RGB,
                })
                .unwrap();
            for denom in [1, 2, 4, 8] {
                let (_, ours) =
                    decode_at_least(&bytes, LIMITS, w.div_ceil(denom), h.div_ceil(denom)).unwrap();
                // The scale the decode chose (never below the one asked for).
                let chosen = [1, 2, 4, 8]
                    .into_iter()
                    .find(|d| ours.dimensions() == (w.div_ceil(*d), h.div_ceil(*d)))
                    .unwrap_or_else(|| panic!("{w}x{h}: decoded {:?}", ours.dimensions()));
                assert!(chosen <= denom, "{w}x{h} 1/{denom}: 1/{chosen}");
                let what = format!("{w}x{h} {subsamp:?} progressive={progressive} 1/{chosen}");
                let theirs = tj3_decompress(&bytes, chosen as usize);
                assert_eq!(ours.color(), theirs.color(), "{what}");
                assert!(ours == theirs, "{what}: pixels differ");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 6 * 6 * 4);
}

#[test]
fn small_jpegs_and_other_formats_are_decoded_in_full() {
    // 700 is less than twice 400: no scale is both smaller and large enough.
    let bytes = jpeg(700, 500);
    let (_, image) = decode_at_least(&bytes, LIMITS, 400, 286).unwrap();
    assert_eq!(image.dimensions(), (700, 500));
    let mut png = Vec::new();
    DynamicImage::ImageRgb8(photo(1600, 1200))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let (_, image) = decode_at_least(&png, LIMITS, 100, 75).unwrap();
    assert_eq!(image.dimensions(), (1600, 1200));
}

/// The scaled path decides exactly as the full decode does on a broken file: it
/// reads the whole entropy-coded stream, and anything libjpeg-turbo reports
/// (truncation, corrupt data) sends the file to the full decode, which refuses it
/// or not as before. (The full decode, zune-jpeg in its lenient mode, accepts a
/// JPEG cut short and fills the missing rows, as it always has; a file cut inside
/// its header is refused by both.)
#[test]
fn truncated_and_corrupt_jpegs_decide_as_the_full_decode_does() {
    let bytes = jpeg(1600, 1200);
    let truncated = bytes[..bytes.len() / 2].to_vec();
    let mut no_end = bytes.clone();
    no_end.truncate(bytes.len() - 2);
    let mut bad_marker = bytes.clone();
    let middle = bytes.len() / 2;
    bad_marker[middle..middle + 4].copy_from_slice(&[0xFF, 0xD9, 0xFF, 0xD9]);
    let mut garbage = bytes.clone();
    for byte in &mut garbage[middle..middle + 64] {
        *byte = 0xFF;
    }
    let mut headless = bytes.clone();
    headless.truncate(400);
    let mut refused = 0;
    for (name, broken) in [
        ("truncated", &truncated),
        ("cut at the end", &no_end),
        ("early EOI in the data", &bad_marker),
        ("0xFF run in the data", &garbage),
        ("header only", &headless),
    ] {
        let full = decode(broken, LIMITS).map(|(_, image)| image.dimensions());
        let scaled = decode_at_least(broken, LIMITS, 400, 300).map(|(_, image)| image.dimensions());
        let upload = prepare_upload(broken, LIMITS).map(|p| (p.width, p.height));
        match &full {
            Err(err) => {
                refused += 1;
                assert!(matches!(err, ImageError::Invalid(_)), "{name}: {err:?}");
                assert_eq!(scaled.as_ref().err(), Some(err), "{name}");
                assert_eq!(upload.as_ref().err(), Some(err), "{name}");
            }
            Ok(size) => {
                // Accepted as before, and by the full decode: libjpeg-turbo
                // reported the damage, so no scaled image was made from it.
                assert_eq!(scaled.as_ref(), Ok(size), "{name}");
                assert_eq!(upload.as_ref(), Ok(size), "{name}");
            }
        }
    }
    assert!(refused >= 1, "the header-only file is refused");
    // The intact file does take the scaled path.
    let (_, image) = decode_at_least(&bytes, LIMITS, 400, 300).unwrap();
    assert_eq!(image.dimensions(), (400, 300));
}

#[test]
fn limits_apply_to_the_declared_size_before_decoding() {
    let bytes = jpeg(1600, 1200);
    let tight = UploadLimits {
        max_pixels: 1_000_000,
        ..LIMITS
    };
    assert!(matches!(
        decode_at_least(&bytes, tight, 100, 75),
        Err(ImageError::TooLarge(_))
    ));
    assert!(matches!(
        prepare_upload(&bytes, tight),
        Err(ImageError::TooLarge(_))
    ));
}

#[test]
fn every_exif_orientation_gives_an_upright_thumbnail() {
    let plain = jpeg(1600, 1000);
    for orientation in 1..=8u8 {
        let bytes = with_orientation(&plain, orientation);
        let (_, full) = decode(&bytes, LIMITS).unwrap();
        let turned = orientation >= 5;
        assert_eq!(
            full.dimensions(),
            if turned { (1000, 1600) } else { (1600, 1000) },
            "orientation {orientation}"
        );
        let prepared = prepare_upload(&bytes, LIMITS).unwrap();
        assert_eq!((prepared.width, prepared.height), full.dimensions());
        let ours = load(&prepared.thumbnail);
        let reference = full_thumbnail(&bytes);
        assert_eq!(
            ours.dimensions(),
            thumbnail_size(full.width(), full.height())
        );
        let mad = mean_diff(&ours, &reference);
        assert!(
            mad < 4.0,
            "orientation {orientation}: mean difference {mad}"
        );
        // Turned the wrong way, the thumbnail would be far off.
        if orientation != 1 {
            let unturned = full_thumbnail(&plain);
            if unturned.dimensions() == ours.dimensions() {
                assert!(mean_diff(&ours, &unturned) > 10.0, "{orientation}");
            }
        }
    }
}

/// An edit run as the service runs it: the shrink-on-load plan when there is one.
fn edited(bytes: &[u8], list: &[E], preview_side: Option<u32>) -> DynamicImage {
    let (_, probe_image) = decode(bytes, LIMITS).unwrap();
    let (w, h) = probe_image.dimensions();
    validate(list, w, h, LIMITS.max_pixels).unwrap();
    let plan = shrink_on_load(w, h, list, preview_side).expect("a shrink-on-load plan");
    let (_, image) = decode_at_least(bytes, LIMITS, plan.min_width, plan.min_height).unwrap();
    assert!(
        image.width() < w,
        "decoded smaller: {:?}",
        image.dimensions()
    );
    edit::apply(image, &plan.instructions).unwrap()
}

#[test]
fn resize_edits_decode_smaller_with_the_same_size_and_close_pixels() {
    for (w, h) in [(1600, 1200), (1203, 805), (2001, 1333)] {
        let bytes = with_orientation(&jpeg(w, h), 6);
        let (_, full) = decode(&bytes, LIMITS).unwrap();
        for resize in [
            E::Resize {
                width: Some(300),
                height: None,
                fit: Fit::Contain,
            },
            E::Resize {
                width: None,
                height: Some(150),
                fit: Fit::Contain,
            },
            E::Resize {
                width: Some(200),
                height: Some(200),
                fit: Fit::Contain,
            },
            E::Resize {
                width: Some(120),
                height: Some(100),
                fit: Fit::Cover,
            },
            E::Resize {
                width: Some(90),
                height: Some(70),
                fit: Fit::Fill,
            },
        ] {
            let list = [resize, E::Brightness(1.1)];
            let reference = edit::apply(full.clone(), &list).unwrap();
            let ours = edited(&bytes, &list, None);
            assert_eq!(
                ours.dimensions(),
                reference.dimensions(),
                "{w}x{h} {resize:?}"
            );
            let mad = mean_diff(&ours, &reference);
            assert!(mad < 4.0, "{w}x{h} {resize:?}: mean difference {mad}");
        }
    }
}

#[test]
fn previews_of_scale_free_edits_decode_smaller() {
    let bytes = jpeg(3000, 2100);
    let list = [E::Saturation(1.3), E::Rotate(90), E::Grayscale];
    let plan = shrink_on_load(3000, 2100, &list, Some(1024)).unwrap();
    // The preview of the turned 2100 x 3000 result is 717 x 1024; before the turn
    // that is 1024 x 717.
    assert_eq!((plan.min_width, plan.min_height), (1024, 717));
    let ours = edited(&bytes, &list, Some(1024));
    assert_eq!(ours.dimensions(), (1050, 1500));
    // Sizes that depend on the pixel scale are not shrunk.
    for list in [
        vec![E::Blur { sigma: 2.0 }],
        vec![E::Sharpness(2.0)],
        vec![E::Crop {
            x: 0,
            y: 0,
            width: 10,
            height: 10,
        }],
        vec![E::Brightness(1.2)],
    ] {
        let preview = list.len() == 1 && matches!(list[0], E::Brightness(_));
        assert!(
            shrink_on_load(3000, 2100, &list, None).is_none(),
            "{list:?}"
        );
        assert_eq!(
            shrink_on_load(3000, 2100, &list, Some(1024)).is_some(),
            preview,
            "{list:?}"
        );
    }
}

fn lossless(bytes: &[u8], list: &[E]) -> Option<Vec<u8>> {
    let (_, image) = decode(bytes, LIMITS).unwrap();
    validate(list, image.width(), image.height(), LIMITS.max_pixels).unwrap();
    let (out, prepared) = lossless_edit(bytes, LIMITS, list).unwrap()?;
    let decoded = load(&out);
    assert_eq!(decoded.dimensions(), (prepared.width, prepared.height));
    assert_eq!(prepared.format, MediaFormat::Jpeg);
    let thumb = load(&prepared.thumbnail);
    assert_eq!(
        thumb.dimensions(),
        thumbnail_size(prepared.width, prepared.height)
    );
    Some(out)
}

/// The decode path's result for the same edit (before re-encoding).
fn decoded_path(bytes: &[u8], list: &[E]) -> DynamicImage {
    let (_, image) = decode(bytes, LIMITS).unwrap();
    edit::apply(image, list).unwrap()
}

#[test]
fn four_lossless_quarter_turns_give_back_the_original_pixels_exactly() {
    for (w, h) in [(640, 480), (1024, 768)] {
        let original = jpeg(w, h);
        let mut bytes = original.clone();
        for _ in 0..4 {
            bytes = lossless(&bytes, &[E::Rotate(90)]).expect("aligned: lossless");
        }
        assert_eq!(load(&bytes).to_rgb8(), load(&original).to_rgb8());
        // In one edit too.
        let once = lossless(&original, &[E::Rotate(90); 4]).unwrap();
        assert_eq!(load(&once).to_rgb8(), load(&original).to_rgb8());
        let flips = [
            E::Flip(FlipAxis::Horizontal),
            E::Rotate(180),
            E::Flip(FlipAxis::Vertical),
        ];
        let back = lossless(&original, &flips).unwrap();
        assert_eq!(load(&back).to_rgb8(), load(&original).to_rgb8());
    }
}

#[test]
fn lossless_geometry_matches_the_decode_path() {
    let bytes = jpeg(640, 480);
    let lists: Vec<Vec<E>> = vec![
        vec![E::Rotate(90)],
        vec![E::Rotate(180)],
        vec![E::Rotate(270)],
        vec![E::Flip(FlipAxis::Horizontal)],
        vec![E::Flip(FlipAxis::Vertical)],
        vec![E::Crop {
            x: 32,
            y: 16,
            width: 301,
            height: 199,
        }],
        vec![
            E::Rotate(90),
            E::Crop {
                x: 16,
                y: 48,
                width: 208,
                height: 123,
            },
            E::Flip(FlipAxis::Horizontal),
        ],
        // A crop of the whole image, then a turn: one transform.
        vec![
            E::Crop {
                x: 0,
                y: 0,
                width: 640,
                height: 480,
            },
            E::Rotate(270),
        ],
    ];
    for list in lists {
        let out = lossless(&bytes, &list).unwrap_or_else(|| panic!("{list:?}: lossless"));
        let ours = load(&out);
        let reference = decoded_path(&bytes, &list);
        assert_eq!(ours.dimensions(), reference.dimensions(), "{list:?}");
        // Equal up to the JPEG round trip: chroma upsampling next to a new edge.
        let mad = mean_diff(&ours, &reference);
        assert!(mad < 0.5, "{list:?}: mean difference {mad}");
    }
    // Flips and half turns move whole blocks: no difference at all.
    for list in [vec![E::Rotate(180)], vec![E::Flip(FlipAxis::Vertical)]] {
        let out = lossless(&bytes, &list).unwrap();
        let reference = decoded_path(&bytes, &list);
        let mad = mean_diff(&load(&out), &reference);
        assert!(mad < 0.5, "{list:?}: {mad}");
    }
}

#[test]
fn unaligned_crops_and_imperfect_turns_take_the_decode_path() {
    let aligned = jpeg(640, 480);
    let unaligned_crop = [E::Crop {
        x: 3,
        y: 16,
        width: 100,
        height: 100,
    }];
    assert!(lossless(&aligned, &unaligned_crop).is_none());
    // After a quarter turn the grid is the turned image's: y = 8 is not on the
    // 16-pixel grid of 4:2:0.
    let crop_after_turn = [
        E::Rotate(90),
        E::Crop {
            x: 16,
            y: 8,
            width: 50,
            height: 50,
        },
    ];
    assert!(lossless(&aligned, &crop_after_turn).is_none());
    // 650 x 490 is not a multiple of the 16 x 16 MCU: every turn but the
    // transpose would move partial MCUs, and trimming would change the size.
    let odd = jpeg(650, 490);
    for list in [
        vec![E::Rotate(90)],
        vec![E::Rotate(180)],
        vec![E::Rotate(270)],
        vec![E::Flip(FlipAxis::Horizontal)],
        vec![E::Flip(FlipAxis::Vertical)],
    ] {
        assert!(lossless(&odd, &list).is_none(), "{list:?}");
        let reference = decoded_path(&odd, &list);
        let expected = if matches!(list[0], E::Rotate(90 | 270)) {
            (490, 650)
        } else {
            (650, 490)
        };
        assert_eq!(reference.dimensions(), expected);
    }
    // Crops alone never move a partial MCU: lossless at any size.
    let crop = [E::Crop {
        x: 16,
        y: 32,
        width: 634,
        height: 458,
    }];
    let out = lossless(&odd, &crop).expect("aligned crop of an odd size");
    assert_eq!(load(&out).dimensions(), (634, 458));
    // One pixel wide, 64 tall: a quarter turn only needs whole MCUs at the bottom.
    let thin = jpeg(1, 64);
    let out = lossless(&thin, &[E::Rotate(90)]).expect("perfect");
    // Read back by the decoder the decode path uses. libjpeg-turbo (as in Pillow)
    // upsamples the chroma of a one-pixel-wide image differently from the same
    // image turned (edge replication along one axis, not the other): about 1.6
    // levels apart on average here, where zune-jpeg's simpler edges gave under 1.
    let (_, turned) = decode(&out, LIMITS).unwrap();
    let mad = mean_diff(&turned, &decoded_path(&thin, &[E::Rotate(90)]));
    assert!(mad < 2.0, "{mad}");
    assert!(lossless(&thin, &[E::Rotate(270)]).is_none());
    // Not only geometry, not a JPEG, or truncated: the decode path.
    assert!(lossless(&aligned, &[E::Rotate(90), E::Grayscale]).is_none());
    let mut png = Vec::new();
    DynamicImage::ImageRgb8(photo(64, 48))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    assert!(
        lossless_edit(&png, LIMITS, &[E::Rotate(90)])
            .unwrap()
            .is_none()
    );
    let truncated = &aligned[..aligned.len() / 2];
    assert!(
        lossless_edit(truncated, LIMITS, &[E::Rotate(90)])
            .unwrap()
            .is_none()
    );
}

#[test]
fn exif_orientation_is_applied_in_the_same_transform() {
    let plain = jpeg(640, 480);
    for orientation in 1..=8u8 {
        let bytes = with_orientation(&plain, orientation);
        for list in [
            vec![E::Rotate(90)],
            vec![
                // 16 + 208 leaves 416 or 256 pixels to the right: after the flip
                // the crop's corner is still on the 16-pixel grid.
                E::Crop {
                    x: 16,
                    y: 16,
                    width: 208,
                    height: 100,
                },
                E::Flip(FlipAxis::Horizontal),
            ],
        ] {
            let out = lossless(&bytes, &list)
                .unwrap_or_else(|| panic!("orientation {orientation} {list:?}"));
            let ours = load(&out);
            // The orientation was applied and not kept: decoding shows it upright.
            let reference = decoded_path(&bytes, &list);
            assert_eq!(ours.dimensions(), reference.dimensions(), "{orientation}");
            let mad = mean_diff(&ours, &reference);
            assert!(mad < 0.5, "orientation {orientation} {list:?}: {mad}");
        }
    }
}
