//! Streamed brightness and saturation (`stream_jpeg`, `stream_edit`) against the
//! whole-image path the service takes otherwise: decode, apply, encode.

use image::{DynamicImage, GenericImageView, GrayImage, Rgb, RgbImage};
use imagegraph_imaging::edit::{self, EditInstruction as E, encode_jpeg, encode_jpeg_gray};
use imagegraph_imaging::{
    ImageError, MediaFormat, Refusal, UploadLimits, decode, decode_after, encode, stream_edit,
    stream_jpeg,
};

const LIMITS: UploadLimits = UploadLimits {
    max_bytes: 64 << 20,
    max_pixels: 50_000_000,
    max_side: 65_535,
    max_aspect_ratio: 2000,
};

/// Gradients, hard stripes and noise, so that every kernel and every chroma
/// block sees varied values.
fn photo(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let noise = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 27;
        let stripe = (x / 7 + y / 5) % 3 == 0;
        let r = 30 + (200 * x / w.max(1)) + noise;
        let g = if stripe { 240 } else { 20 + 180 * y / h.max(1) };
        let b = 250 - (120 * (x + y) / (w + h)) - noise;
        Rgb([r.min(255) as u8, g.min(255) as u8, b.min(255) as u8])
    })
}

/// A JPEG of `photo` in one of the layouts the stream must handle.
fn source(w: u32, h: u32, subsamp: turbojpeg::Subsamp, progressive: bool) -> Vec<u8> {
    compress(&photo(w, h), subsamp, progressive)
}

fn compress(rgb: &RgbImage, subsamp: turbojpeg::Subsamp, progressive: bool) -> Vec<u8> {
    let (w, h) = rgb.dimensions();
    let mut compressor = turbojpeg::Compressor::new().unwrap();
    compressor.set_quality(85).unwrap();
    compressor.set_subsamp(subsamp).unwrap();
    compressor.set_progressive(progressive).unwrap();
    let image = turbojpeg::Image {
        pixels: rgb.as_raw().as_slice(),
        width: w as usize,
        pitch: w as usize * 3,
        height: h as usize,
        format: turbojpeg::PixelFormat::RGB,
    };
    compressor.compress_to_vec(image).unwrap()
}

/// The whole-image path: what the service stores when nothing streams.
fn ordinary(bytes: &[u8], list: &[E], quality: u8) -> Vec<u8> {
    let (_, image) = decode(bytes, LIMITS).unwrap();
    encode(
        &edit::apply(image, list).unwrap(),
        MediaFormat::Jpeg,
        quality,
    )
    .unwrap()
}

/// `run` on a worker of a rayon pool of `threads` (the stream runs in one
/// thread on one, and decodes on its own decoding pool on two), or, with 0, on
/// this thread, outside any pool, as the service calls it (the stream then
/// decodes on its decoding pool when rayon's global pool has two threads or
/// more).
fn on_threads<T: Send>(threads: usize, run: impl FnOnce() -> T + Send) -> T {
    if threads == 0 {
        return run();
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(run)
}

fn lists() -> Vec<Vec<E>> {
    vec![
        vec![E::Brightness(1.2)],
        vec![E::Saturation(1.3)],
        vec![E::Brightness(0.7), E::Saturation(0.4), E::Brightness(1.6)],
        vec![E::Saturation(2.5), E::Brightness(1.0)],
        vec![E::Brightness(1.0)],
    ]
}

#[test]
fn streamed_bytes_are_the_whole_image_paths_at_odd_sizes_and_layouts() {
    use turbojpeg::Subsamp::{None as Sub1x1, Sub2x1, Sub2x2};
    let sizes = [
        (1, 1),
        (1, 45),
        (45, 1),
        (7, 9),
        (17, 33),
        (33, 17),
        (31, 65),
        (100, 61),
        (129, 97),
        (640, 481),
    ];
    let mut checked = 0;
    for (w, h) in sizes {
        for (subsamp, progressive) in [
            (Sub2x2, false),
            (Sub1x1, false),
            (Sub2x1, false),
            (Sub2x2, true),
            (Sub1x1, true),
        ] {
            let bytes = source(w, h, subsamp, progressive);
            for list in lists() {
                let expected = ordinary(&bytes, &list, 90);
                for threads in [1, 2, 0] {
                    let streamed = on_threads(threads, || stream_jpeg(&bytes, LIMITS, &list, 90));
                    let what = format!(
                        "{w}x{h} {subsamp:?} progressive={progressive} {list:?} on {threads}"
                    );
                    let streamed =
                        streamed.unwrap_or_else(|why| panic!("{what}: did not stream: {why:?}"));
                    assert!(streamed == expected, "{what}: bytes differ");
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, sizes.len() * 5 * lists().len() * 3);
}

#[test]
fn the_requested_quality_is_kept() {
    let bytes = source(300, 200, turbojpeg::Subsamp::Sub2x2, false);
    for quality in [1, 50, 75, 100] {
        let list = [E::Brightness(1.3)];
        assert_eq!(
            stream_jpeg(&bytes, LIMITS, &list, quality),
            Ok(ordinary(&bytes, &list, quality)),
            "q{quality}"
        );
    }
}

/// A source made by the engine's own encoder (the one uploads and earlier edits
/// are stored with), and an edit of an edit.
#[test]
fn the_engines_own_jpegs_stream_and_chain() {
    let bytes = encode_jpeg(&photo(257, 190), 90).unwrap();
    let once = stream_jpeg(&bytes, LIMITS, &[E::Brightness(1.2)], 90).unwrap();
    let twice = stream_jpeg(&once, LIMITS, &[E::Saturation(0.8)], 90).unwrap();
    assert_eq!(twice, ordinary(&once, &[E::Saturation(0.8)], 90));
}

/// More edits at once than the decoding pool has threads, from plain threads and
/// from rayon workers: the decodings queue, none waits on another, and each gives
/// the whole-image path's bytes. A deadlock here would hang the test.
#[test]
fn many_streams_at_once_share_the_decoding_pool() {
    let sources: Vec<Vec<u8>> = (0..6)
        .map(|i| source(96 + 8 * i, 200 + i, turbojpeg::Subsamp::Sub2x2, i % 2 == 1))
        .collect();
    let list = [E::Brightness(1.3), E::Saturation(0.7)];
    let expected: Vec<Vec<u8>> = sources.iter().map(|b| ordinary(b, &list, 90)).collect();
    let streamed: Vec<Option<Vec<u8>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = sources
            .iter()
            .enumerate()
            .map(|(i, bytes)| {
                let list = &list;
                scope.spawn(move || {
                    // Half from a 2-thread rayon pool's worker, half from plain threads.
                    let threads = if i % 2 == 0 { 2 } else { 0 };
                    on_threads(threads, || {
                        (0..3)
                            .map(|_| stream_jpeg(bytes, LIMITS, list, 90).ok())
                            .reduce(|a, b| if a == b { a } else { None })
                            .flatten()
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, (got, want)) in streamed.into_iter().zip(expected).enumerate() {
        assert_eq!(got.as_deref(), Some(want.as_slice()), "source {i}");
    }
}

/// The broken files of `jpeg_paths.rs` and bit flips in the entropy-coded data:
/// libjpeg-turbo reports the damage, so nothing streams, and the whole-image
/// path decides as it always has (zune-jpeg: a file cut short is accepted with its
/// missing rows filled, one cut in its header refused). A flip libjpeg-turbo
/// cannot see (it still decodes to valid codes) decodes to the same pixels on
/// both paths, so it may stream, and then gives the same bytes.
#[test]
fn broken_jpegs_never_stream_and_decide_as_before() {
    let bytes = source(640, 480, turbojpeg::Subsamp::Sub2x2, false);
    let middle = bytes.len() / 2;
    let mut broken: Vec<(String, Vec<u8>)> = vec![
        ("truncated".into(), bytes[..middle].to_vec()),
        ("cut at the end".into(), bytes[..bytes.len() - 2].to_vec()),
        ("header only".into(), bytes[..400].to_vec()),
    ];
    let mut early_eoi = bytes.clone();
    early_eoi[middle..middle + 4].copy_from_slice(&[0xFF, 0xD9, 0xFF, 0xD9]);
    broken.push(("early EOI in the data".into(), early_eoi));
    let mut garbage = bytes.clone();
    garbage[middle..middle + 64].fill(0xFF);
    broken.push(("0xFF run in the data".into(), garbage));
    let mut progressive_cut = source(640, 480, turbojpeg::Subsamp::Sub2x2, true);
    progressive_cut.truncate(progressive_cut.len() * 2 / 3);
    broken.push(("progressive, truncated".into(), progressive_cut));
    let mut flips = 0;
    for i in 0..24 {
        let mut flipped = bytes.clone();
        let at = 700 + (bytes.len() - 800) * i / 24;
        flipped[at] ^= 1 << (i % 8);
        broken.push((format!("bit {} of byte {at} flipped", i % 8), flipped));
    }
    let list = [E::Brightness(1.2)];
    for (name, broken) in &broken {
        let before = image::load_from_memory(broken).map(|image| image.dimensions());
        let now = decode(broken, LIMITS).map(|(_, image)| image.dimensions());
        match (&before, &now) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{name}"),
            (Err(_), Err(err)) => assert!(matches!(err, ImageError::Invalid(_)), "{name}"),
            _ => panic!("{name}: decided otherwise than before: {before:?} then {now:?}"),
        }
        for threads in [1, 2, 0] {
            let streamed = on_threads(threads, || stream_jpeg(broken, LIMITS, &list, 90));
            let edit = on_threads(threads, || stream_edit(broken, LIMITS, &list, 90));
            if name.starts_with("bit") {
                if let Ok(streamed) = &streamed {
                    assert_eq!(*streamed, ordinary(broken, &list, 90), "{name}");
                    assert!(matches!(edit, Ok(Ok(_))), "{name}");
                } else {
                    flips += 1;
                    assert_eq!(streamed, Err(Refusal::Reported), "{name}");
                    assert!(matches!(edit, Ok(Err(Refusal::Reported))), "{name}");
                }
            } else {
                // The header-only file is refused before libjpeg-turbo decodes
                // a row: by its header reader, or zune-jpeg's.
                assert!(streamed.is_err(), "{name} on {threads}");
                assert!(
                    matches!(edit, Ok(Err(why)) if Err(why) == streamed),
                    "{name} on {threads}"
                );
            }
            // Whatever the stream refused, the decode path it hands the
            // refusal to decides as the whole-image path decides on its own.
            if let Err(refusal) = streamed {
                let after = decode_after(broken, LIMITS, u32::MAX, u32::MAX, refusal)
                    .map(|(_, image)| image);
                let alone = decode(broken, LIMITS).map(|(_, image)| image);
                match (after, alone) {
                    (Ok(a), Ok(b)) => assert!(a == b, "{name}: pixels differ"),
                    (Err(a), Err(b)) => assert_eq!(a, b, "{name}"),
                    (a, b) => panic!("{name}: {:?} then {:?}", a.err(), b.err()),
                }
            }
        }
    }
    assert!(flips >= 3, "some flips are seen: {flips} of 72 fell back");
}

/// `bytes` with an EXIF APP1 segment carrying `orientation` (1..=8) after SOI.
fn with_orientation(bytes: &[u8], orientation: u8) -> Vec<u8> {
    let mut app1 = vec![0xFF, 0xE1, 0, 34];
    app1.extend_from_slice(b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01");
    app1.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0]);
    app1.extend_from_slice(&[0, 0, 0, 0]);
    let mut out = bytes[..2].to_vec();
    out.extend_from_slice(&app1);
    out.extend_from_slice(&bytes[2..]);
    out
}

#[test]
fn only_upright_colour_jpegs_with_point_edits_stream() {
    let bytes = source(96, 64, turbojpeg::Subsamp::Sub2x2, false);
    let list = [E::Brightness(1.2)];
    let upright = with_orientation(&bytes, 1);
    assert_eq!(
        stream_jpeg(&upright, LIMITS, &list, 90),
        Ok(ordinary(&upright, &list, 90))
    );
    for orientation in 2..=8 {
        let turned = with_orientation(&bytes, orientation);
        assert_eq!(
            stream_jpeg(&turned, LIMITS, &list, 90),
            Err(Refusal::Declined),
            "{orientation}"
        );
    }
    let grey = encode_jpeg_gray(
        &GrayImage::from_fn(96, 64, |x, y| [(x * 2 + y) as u8].into()),
        90,
    )
    .unwrap();
    assert_eq!(
        stream_jpeg(&grey, LIMITS, &list, 90),
        Err(Refusal::Declined),
        "grey"
    );
    let png = {
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(photo(20, 20))
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    assert_eq!(
        stream_jpeg(&png, LIMITS, &list, 90),
        Err(Refusal::Declined),
        "PNG"
    );
    for other in [
        vec![],
        vec![E::Contrast(1.2)],
        vec![E::Grayscale],
        vec![E::Brightness(1.2), E::Grayscale],
        vec![E::Sharpness(2.0)],
        vec![E::Saturation(1.2), E::Rotate(90)],
        vec![E::Blur { sigma: 1.0 }],
    ] {
        assert_eq!(
            stream_jpeg(&bytes, LIMITS, &other, 90),
            Err(Refusal::Declined),
            "{other:?}"
        );
    }
    // Over the limits: the whole-image path reports it.
    let small = UploadLimits {
        max_pixels: 96 * 64 - 1,
        ..LIMITS
    };
    assert_eq!(
        stream_jpeg(&bytes, small, &list, 90),
        Err(Refusal::Declined)
    );
}

#[test]
fn stream_edit_gives_the_facts_and_a_thumbnail() {
    // Smooth, with edges far apart: thumbnails by different filters of a
    // picture without detail near the thumbnail's pixel pitch agree closely.
    let smooth = RgbImage::from_fn(1000, 601, |x, y| {
        let stripe = (x / 97 + y / 61) % 4 == 0;
        Rgb([
            (40 + x / 5) as u8,
            if stripe { 30 } else { (50 + y / 4) as u8 },
            (220 - (x + y) / 10) as u8,
        ])
    });
    let bytes = compress(&smooth, turbojpeg::Subsamp::Sub2x2, true);
    let list = [E::Saturation(1.4), E::Brightness(0.9)];
    let (out, prepared) = on_threads(2, || stream_edit(&bytes, LIMITS, &list, 90))
        .unwrap()
        .unwrap();
    assert_eq!(out, ordinary(&bytes, &list, 90));
    assert_eq!(
        (prepared.format, prepared.width, prepared.height),
        (MediaFormat::Jpeg, 1000, 601)
    );
    assert_eq!(prepared.thumbnail_format, MediaFormat::Jpeg);
    assert!(prepared.reencoded.is_none());
    let thumbnail = image::load_from_memory(&prepared.thumbnail).unwrap();
    assert_eq!(thumbnail.dimensions(), (400, 240));
    // Close to the whole-image path's thumbnail (box-sampled from the full
    // pixels): the same picture, within a few levels on average.
    let full = imagegraph_imaging::render_thumbnail(&decode(&out, LIMITS).unwrap().1).unwrap();
    let full = image::load_from_memory(&full.0).unwrap().to_rgb8();
    let ours = thumbnail.to_rgb8();
    let diff: u64 = full
        .as_raw()
        .iter()
        .zip(ours.as_raw())
        .map(|(&a, &b)| u64::from(a.abs_diff(b)))
        .sum();
    let mean = diff as f64 / full.as_raw().len() as f64;
    assert!(mean < 2.0, "mean difference {mean}");
}
