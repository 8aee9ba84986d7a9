//! Checks the edit engine against Pillow references made by
//! `scripts/make_edit_fixtures.py`, plus exact geometry, composition and
//! validation behaviour.

use std::path::PathBuf;

use image::{DynamicImage, GenericImageView, Rgb, RgbImage, Rgba, RgbaImage};
use imagegraph_imaging::edit::{
    EditInstruction as E, Fit, FlipAxis, InvalidInstruction, MAX_INSTRUCTIONS, encode_jpeg,
    validate,
};

/// The engine, for inputs that always fit in memory here.
fn apply(image: DynamicImage, instructions: &[E]) -> DynamicImage {
    imagegraph_imaging::edit::apply(image, instructions).expect("small images fit")
}

const KINDS: [&str; 2] = ["rgb", "rgba"];
const FACTORS: [(f32, &str); 4] = [(0.0, "0_0"), (0.5, "0_5"), (1.3, "1_3"), (2.0, "2_0")];

fn fixture(name: &str) -> DynamicImage {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/edit")
        .join(format!("{name}.png"));
    image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn input(kind: &str) -> DynamicImage {
    fixture(&format!("input_{kind}"))
}

/// Max and mean absolute channel difference; panics on size or mode mismatch.
fn diff(ours: &DynamicImage, expected: &DynamicImage) -> (u8, f64) {
    assert_eq!(ours.dimensions(), expected.dimensions(), "size");
    assert_eq!(ours.color(), expected.color(), "mode");
    let (a, b) = (ours.as_bytes(), expected.as_bytes());
    let max = a
        .iter()
        .zip(b)
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap_or(0);
    let sum: u64 = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y) as u64).sum();
    (max, sum as f64 / a.len() as f64)
}

fn rgb_from_luma(l: &DynamicImage, like: &DynamicImage) -> DynamicImage {
    // Pillow's grayscale reference is mode L: ours is too for RGB, and for RGBA
    // replicates luma into R, G and B.
    let l = l.to_luma8();
    match like {
        DynamicImage::ImageRgb8(_) => DynamicImage::ImageLuma8(l),
        DynamicImage::ImageRgba8(src) => {
            DynamicImage::ImageRgba8(RgbaImage::from_fn(l.width(), l.height(), |x, y| {
                let v = l.get_pixel(x, y)[0];
                Rgba([v, v, v, src.get_pixel(x, y)[3]])
            }))
        }
        _ => DynamicImage::ImageRgb8(RgbImage::from_fn(l.width(), l.height(), |x, y| {
            let v = l.get_pixel(x, y)[0];
            Rgb([v, v, v])
        })),
    }
}

#[test]
fn enhance_ops_are_bit_identical_to_pillow() {
    type MakeOp = fn(f32) -> E;
    let ops: [(&str, MakeOp); 4] = [
        ("brightness", E::Brightness),
        ("contrast", E::Contrast),
        ("saturation", E::Saturation),
        ("sharpness", E::Sharpness),
    ];
    for kind in KINDS {
        for (name, make) in ops {
            for (factor, tag) in FACTORS {
                let ours = apply(input(kind), &[make(factor)]);
                let expected = fixture(&format!("{name}_{tag}_{kind}"));
                assert_eq!(diff(&ours, &expected).0, 0, "{name} {factor} {kind}");
            }
        }
    }
}

#[test]
fn factor_one_is_identity() {
    for kind in KINDS {
        let original = input(kind);
        for op in [
            E::Brightness(1.0),
            E::Contrast(1.0),
            E::Saturation(1.0),
            E::Sharpness(1.0),
        ] {
            assert_eq!(apply(original.clone(), &[op]), original, "{op:?} {kind}");
        }
    }
}

/// Blur is a port of Pillow's box-blur code, so it is held to exact equality.
#[test]
fn blur_matches_pillow_exactly() {
    for kind in KINDS {
        for (sigma, tag) in [(0.7, "0_7"), (2.0, "2_0"), (5.0, "5_0")] {
            let ours = apply(input(kind), &[E::Blur { sigma }]);
            let expected = fixture(&format!("blur_{tag}_{kind}"));
            assert_eq!(diff(&ours, &expected).0, 0, "blur {sigma} {kind}");
        }
    }
}

#[test]
fn grayscale_matches_pillow_exactly() {
    for kind in KINDS {
        let original = input(kind);
        let ours = apply(original.clone(), &[E::Grayscale]);
        let expected = rgb_from_luma(&fixture(&format!("grayscale_{kind}")), &original);
        assert_eq!(diff(&ours, &expected).0, 0, "grayscale {kind}");
    }
}

/// Stated tolerance for Lanczos resize against Pillow: every channel within
/// 2 levels, mean difference below 0.05 (fast_image_resize and Pillow round
/// their fixed-point weights differently). For RGBA the colour channels are
/// compared premultiplied by alpha: un-premultiplying divides by alpha, so a
/// 1-level difference at alpha 20 becomes 12 levels in a nearly invisible
/// pixel.
const RESIZE_MAX_DIFF: u8 = 2;
const RESIZE_MEAN_DIFF: f64 = 0.05;

#[test]
fn resize_is_within_tolerance_of_pillow() {
    for kind in KINDS {
        for (w, h) in [(40, 30), (25, 48), (100, 75)] {
            let ours = apply(
                input(kind),
                &[E::Resize {
                    width: Some(w),
                    height: Some(h),
                    fit: Fit::Fill,
                }],
            );
            let expected = fixture(&format!("resize_{w}x{h}_{kind}"));
            let (max, mean) = if kind == "rgba" {
                diff(&premultiplied(&ours), &premultiplied(&expected))
            } else {
                diff(&ours, &expected)
            };
            println!("resize {w}x{h} {kind}: max {max} mean {mean:.4}");
            assert!(
                max <= RESIZE_MAX_DIFF && mean < RESIZE_MEAN_DIFF,
                "resize {w}x{h} {kind}: max {max} mean {mean}"
            );
        }
    }
}

fn premultiplied(img: &DynamicImage) -> DynamicImage {
    let mut rgba = img.to_rgba8();
    for p in rgba.pixels_mut() {
        let a = p[3] as u32;
        for c in 0..3 {
            p[c] = ((p[c] as u32 * a + 127) / 255) as u8;
        }
    }
    DynamicImage::ImageRgba8(rgba)
}

#[test]
fn resize_fit_modes_and_aspect() {
    let img = DynamicImage::ImageRgb8(RgbImage::new(400, 200));
    let size =
        |width, height, fit| apply(img.clone(), &[E::Resize { width, height, fit }]).dimensions();
    assert_eq!(size(Some(100), Some(100), Fit::Contain), (100, 50));
    assert_eq!(size(Some(100), Some(100), Fit::Cover), (100, 100));
    assert_eq!(size(Some(100), Some(100), Fit::Fill), (100, 100));
    assert_eq!(size(Some(100), None, Fit::Fill), (100, 50));
    assert_eq!(size(None, Some(50), Fit::Cover), (100, 50));
    assert_eq!(size(Some(1), None, Fit::Contain), (1, 1));
}

#[test]
fn cover_crops_the_centre() {
    // Left and right thirds red, middle third blue: a square cover crop of a
    // 3:1 image keeps only the middle.
    let img = RgbImage::from_fn(300, 100, |x, _| {
        if (100..200).contains(&x) {
            Rgb([0, 0, 255])
        } else {
            Rgb([255, 0, 0])
        }
    });
    let out = apply(
        DynamicImage::ImageRgb8(img),
        &[E::Resize {
            width: Some(50),
            height: Some(50),
            fit: Fit::Cover,
        }],
    )
    .to_rgb8();
    assert_eq!(out.dimensions(), (50, 50));
    assert_eq!(out.get_pixel(25, 25), &Rgb([0, 0, 255]));
    assert!(
        out.get_pixel(1, 25)[0] < 10,
        "edges come from the middle third"
    );
}

fn numbered(w: u32, h: u32) -> RgbaImage {
    RgbaImage::from_fn(w, h, |x, y| {
        Rgba([x as u8, y as u8, (x * 7 + y) as u8, 200])
    })
}

#[test]
fn quarter_turns_across_tiles_are_exact() {
    // Sides that are not multiples of the 64-pixel tiles the turn works in, and
    // one-pixel strips.
    for (w, h) in [(130, 67), (67, 130), (1, 200), (200, 1), (64, 128)] {
        let rgba = numbered(w, h);
        let rgb = DynamicImage::ImageRgba8(rgba.clone()).to_rgb8();
        let turn = |image: DynamicImage, degrees| apply(image, &[E::Rotate(degrees)]);
        let rgba_in = || DynamicImage::ImageRgba8(rgba.clone());
        let rgb_in = || DynamicImage::ImageRgb8(rgb.clone());
        assert_eq!(
            turn(rgba_in(), 90).to_rgba8(),
            image::imageops::rotate90(&rgba)
        );
        assert_eq!(
            turn(rgba_in(), 270).to_rgba8(),
            image::imageops::rotate270(&rgba)
        );
        assert_eq!(
            turn(rgb_in(), 90).to_rgb8(),
            image::imageops::rotate90(&rgb)
        );
        assert_eq!(
            turn(rgb_in(), 270).to_rgb8(),
            image::imageops::rotate270(&rgb)
        );
    }
}

#[test]
fn rotate_flip_crop_are_exact() {
    let img = numbered(5, 3);
    let run = |ops: &[E]| apply(DynamicImage::ImageRgba8(img.clone()), ops).to_rgba8();

    let r90 = run(&[E::Rotate(90)]);
    assert_eq!(r90.dimensions(), (3, 5));
    // Clockwise: the top-left pixel moves to the top-right corner.
    assert_eq!(r90.get_pixel(2, 0), img.get_pixel(0, 0));
    assert_eq!(r90.get_pixel(0, 0), img.get_pixel(0, 2));
    assert_eq!(r90, image::imageops::rotate90(&img));
    assert_eq!(run(&[E::Rotate(180)]), image::imageops::rotate180(&img));
    assert_eq!(run(&[E::Rotate(270)]), image::imageops::rotate270(&img));
    assert_eq!(run(&[E::Rotate(90), E::Rotate(270)]), img);

    assert_eq!(
        run(&[E::Flip(FlipAxis::Horizontal)]),
        image::imageops::flip_horizontal(&img)
    );
    assert_eq!(
        run(&[E::Flip(FlipAxis::Vertical)]),
        image::imageops::flip_vertical(&img)
    );

    let cropped = run(&[E::Crop {
        x: 1,
        y: 1,
        width: 3,
        height: 2,
    }]);
    assert_eq!(
        cropped,
        image::imageops::crop_imm(&img, 1, 1, 3, 2).to_image()
    );
}

#[test]
fn composition_applies_in_order() {
    let original = input("rgb");
    let ops = [
        E::Crop {
            x: 4,
            y: 2,
            width: 50,
            height: 40,
        },
        E::Brightness(1.3),
        E::Rotate(90),
        E::Sharpness(2.0),
        E::Flip(FlipAxis::Horizontal),
        E::Saturation(0.5),
        E::Resize {
            width: Some(20),
            height: None,
            fit: Fit::Contain,
        },
    ];
    validate(&ops, 64, 48, 1_000_000).unwrap();
    let all = apply(original.clone(), &ops);
    let stepwise = ops
        .iter()
        .fold(original, |img, op| apply(img, std::slice::from_ref(op)));
    assert_eq!(all, stepwise);
    // 50x40 rotated is 40x50; 20 wide keeps the 4:5 aspect.
    assert_eq!(all.dimensions(), (20, 25));

    // Order matters: a crop window is taken from the rotated image.
    let a = apply(
        input("rgb"),
        &[
            E::Rotate(90),
            E::Crop {
                x: 0,
                y: 0,
                width: 10,
                height: 10,
            },
        ],
    );
    let b = apply(
        input("rgb"),
        &[
            E::Crop {
                x: 0,
                y: 0,
                width: 10,
                height: 10,
            },
            E::Rotate(90),
        ],
    );
    assert_ne!(a, b);
}

fn invalid(ops: &[E]) -> InvalidInstruction {
    validate(ops, 100, 80, 50_000_000).expect_err("should be rejected")
}

#[test]
fn validation_names_the_failing_index() {
    let ok = E::Brightness(1.0);
    assert_eq!(invalid(&[ok, E::Contrast(10.5)]).index, 1);
    assert_eq!(invalid(&[ok, ok, E::Saturation(f32::NAN)]).index, 2);
    assert_eq!(invalid(&[E::Sharpness(-0.1)]).index, 0);
    assert_eq!(invalid(&[ok, E::Blur { sigma: 0.0 }]).index, 1);
    assert_eq!(invalid(&[E::Blur { sigma: 100.5 }]).index, 0);
    assert_eq!(invalid(&[ok, E::Rotate(45)]).index, 1);
    let e = invalid(&[
        E::Crop {
            x: 0,
            y: 0,
            width: 50,
            height: 50,
        },
        E::Crop {
            x: 10,
            y: 10,
            width: 41,
            height: 10,
        },
    ]);
    assert_eq!(e.index, 1);
    assert!(e.to_string().starts_with("instruction 1: crop"), "{e}");
    // The crop is checked against the rotated size (80x100).
    assert!(
        validate(
            &[
                E::Rotate(90),
                E::Crop {
                    x: 0,
                    y: 90,
                    width: 80,
                    height: 10
                }
            ],
            100,
            80,
            1 << 30
        )
        .is_ok()
    );
    assert_eq!(
        invalid(&[
            E::Rotate(90),
            E::Crop {
                x: 0,
                y: 0,
                width: 100,
                height: 10
            }
        ])
        .index,
        1
    );
    assert_eq!(
        invalid(&[E::Crop {
            x: 0,
            y: 0,
            width: 0,
            height: 10
        }])
        .index,
        0
    );
    assert_eq!(
        invalid(&[E::Crop {
            x: u32::MAX,
            y: 0,
            width: 2,
            height: 10
        }])
        .index,
        0
    );
    let resize = |width, height| E::Resize {
        width,
        height,
        fit: Fit::Fill,
    };
    assert_eq!(invalid(&[ok, resize(Some(0), None)]).index, 1);
    assert_eq!(invalid(&[resize(None, None)]).index, 0);
    assert_eq!(
        invalid(&[ok, ok, ok, resize(Some(10_000), Some(10_000))]).index,
        3
    );
    // Aspect-derived sizes count too: 100x80 -> 10000 wide is 10000x8000.
    assert_eq!(invalid(&[resize(Some(10_000), None)]).index, 0);
    assert_eq!(invalid(&[ok; MAX_INSTRUCTIONS + 1]).index, MAX_INSTRUCTIONS);
    assert!(validate(&[ok; MAX_INSTRUCTIONS], 100, 80, 50_000_000).is_ok());
    assert!(validate(&[E::Brightness(0.0), E::Contrast(10.0)], 1, 1, 1).is_ok());
}

#[test]
fn jpeg_round_trip() {
    // Smooth content: the noisy fixtures lose most of their chroma noise to
    // 4:2:0 subsampling, which says nothing about the encoder.
    let rgb = RgbImage::from_fn(64, 48, |x, y| Rgb([(x * 4) as u8, (y * 5) as u8, 128]));
    let bytes = encode_jpeg(&rgb, 90).unwrap();
    let back = image::load_from_memory(&bytes).unwrap().to_rgb8();
    assert_eq!(back.dimensions(), rgb.dimensions());
    let mean = back
        .as_raw()
        .iter()
        .zip(rgb.as_raw())
        .map(|(a, b)| a.abs_diff(*b) as f64)
        .sum::<f64>()
        / rgb.as_raw().len() as f64;
    assert!(mean < 2.0, "mean error {mean}");
}
