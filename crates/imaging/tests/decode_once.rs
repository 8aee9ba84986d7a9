//! What a JPEG libjpeg-turbo warns about costs: at most one libjpeg-turbo
//! decode, stopped at the first warning, then zune-jpeg's, for a plain decode
//! and for a streamed edit alike; while what is accepted, what is refused, and
//! the pixels, are what they were when libjpeg-turbo decoded such a file to its
//! end (TurboJPEG), reported it, and zune-jpeg decided.
//!
//! The decode counts are process-wide: every test here holds `SERIAL`, and no
//! other test binary shares the process.

use std::sync::{Mutex, PoisonError};

use image::{Rgb, RgbImage};
use imagegraph_imaging::edit::{self, EditInstruction as E};
use imagegraph_imaging::{
    DecodeCounts, MediaFormat, Refusal, UploadLimits, decode, decode_after, decode_counts, encode,
    stream_edit, stream_jpeg,
};

static SERIAL: Mutex<()> = Mutex::new(());

const LIMITS: UploadLimits = UploadLimits {
    max_bytes: 64 << 20,
    max_pixels: 50_000_000,
    max_side: 65_535,
    max_aspect_ratio: 2000,
};

const WIDTH: u32 = 960;
const HEIGHT: u32 = 720;

fn photo(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let noise = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 27;
        let stripe = (x / 7 + y / 5) % 3 == 0;
        let r = 30 + (200 * x / w) + noise;
        let g = if stripe { 240 } else { 20 + 180 * y / h };
        let b = 250 - (120 * (x + y) / (w + h)) - noise;
        Rgb([r.min(255) as u8, g.min(255) as u8, b.min(255) as u8])
    })
}

fn compress(progressive: bool) -> Vec<u8> {
    let rgb = photo(WIDTH, HEIGHT);
    let mut compressor = turbojpeg::Compressor::new().unwrap();
    compressor.set_quality(85).unwrap();
    compressor.set_subsamp(turbojpeg::Subsamp::Sub2x2).unwrap();
    compressor.set_progressive(progressive).unwrap();
    compressor
        .compress_to_vec(turbojpeg::Image {
            pixels: rgb.as_raw().as_slice(),
            width: WIDTH as usize,
            pitch: WIDTH as usize * 3,
            height: HEIGHT as usize,
            format: turbojpeg::PixelFormat::RGB,
        })
        .unwrap()
}

/// `bytes` with 64 bytes of 0xFF from `at` (a fraction of the length): a run of
/// fill bytes in the entropy-coded data, which libjpeg-turbo warns about there.
fn corrupt_at(bytes: &[u8], at: f64) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let start = (bytes.len() as f64 * at) as usize;
    out[start..start + 64].fill(0xFF);
    out
}

/// Files libjpeg-turbo warns about, each with whether the warning comes late
/// (after nearly every row is out) or early.
fn warned() -> Vec<(&'static str, Vec<u8>, bool)> {
    let baseline = compress(false);
    let progressive = compress(true);
    vec![
        (
            "cut before its EOI",
            baseline[..baseline.len() - 2].to_vec(),
            true,
        ),
        ("corrupt near the end", corrupt_at(&baseline, 0.97), true),
        (
            "progressive, cut before its EOI",
            progressive[..progressive.len() - 2].to_vec(),
            true,
        ),
        (
            "corrupt in the first third",
            corrupt_at(&baseline, 0.3),
            false,
        ),
    ]
}

/// The counts of what `run` decodes.
fn counted<T>(run: impl FnOnce() -> T) -> (T, DecodeCounts) {
    let before = decode_counts();
    let out = run();
    (out, decode_counts().since(before))
}

/// `run` on a worker of a rayon pool of `threads`: one thread streams in one,
/// two decode on the stream's own pool beside the encoder.
fn on_threads<T: Send>(threads: usize, run: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(run)
}

/// What decided before, for a file TurboJPEG reports: zune-jpeg, on its own.
fn zune(bytes: &[u8]) -> Result<image::DynamicImage, String> {
    image::load_from_memory(bytes).map_err(|err| err.to_string())
}

/// TurboJPEG, as whole-image decodes used it: whether it reports the file.
fn turbojpeg_reports(bytes: &[u8]) -> bool {
    let mut decompressor = turbojpeg::Decompressor::new().unwrap();
    let mut pixels = vec![0; (WIDTH * HEIGHT * 3) as usize];
    let image = turbojpeg::Image {
        pixels: pixels.as_mut_slice(),
        width: WIDTH as usize,
        pitch: WIDTH as usize * 3,
        height: HEIGHT as usize,
        format: turbojpeg::PixelFormat::RGB,
    };
    decompressor.decompress(bytes, image).is_err()
}

#[test]
fn a_warned_file_is_decoded_by_libjpeg_turbo_at_most_once_then_by_zune_jpeg() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    for (name, bytes, late) in warned() {
        assert!(
            turbojpeg_reports(&bytes),
            "{name}: a file TurboJPEG reports"
        );
        let before = zune(&bytes);
        assert!(
            before.is_ok(),
            "{name}: zune-jpeg accepts it, filling what is lost"
        );

        let (now, counts) = counted(|| decode(&bytes, LIMITS));
        let now = now.map(|(_, image)| image).map_err(|err| err.to_string());
        assert!(now == before, "{name}: decided otherwise, or other pixels");
        assert_eq!((counts.turbo, counts.zune), (1, 1), "{name}: {counts:?}");
        // Stopped at the warning: an early one leaves most rows undecoded.
        if !late {
            assert!(
                counts.turbo_rows < u64::from(HEIGHT) / 2,
                "{name}: libjpeg-turbo decoded {} rows of {HEIGHT}",
                counts.turbo_rows
            );
        }
    }
}

/// The service's streamed edit: the stream, then (refused) the decode path told
/// why, the edit and the encoder.
fn service_edit(bytes: &[u8], list: &[E]) -> Vec<u8> {
    let refusal = match stream_edit(bytes, LIMITS, list, 90).unwrap() {
        Ok((out, _)) => return out,
        Err(refusal) => refusal,
    };
    let (_, image) = decode_after(bytes, LIMITS, u32::MAX, u32::MAX, refusal).unwrap();
    encode(&edit::apply(image, list).unwrap(), MediaFormat::Jpeg, 90).unwrap()
}

#[test]
fn a_streamed_edit_of_a_warned_file_decodes_it_once_by_each_decoder() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let list = [E::Brightness(1.2), E::Saturation(0.8)];
    for (name, bytes, _) in warned() {
        // Before: zune-jpeg's pixels, edited and encoded.
        let (_, image) = decode(&bytes, LIMITS).unwrap();
        let before = encode(&edit::apply(image, &list).unwrap(), MediaFormat::Jpeg, 90).unwrap();
        for threads in [1, 2] {
            assert_eq!(
                on_threads(threads, || stream_jpeg(&bytes, LIMITS, &list, 90)),
                Err(Refusal::Reported),
                "{name} on {threads}"
            );
            let (now, counts) = counted(|| on_threads(threads, || service_edit(&bytes, &list)));
            assert!(now == before, "{name} on {threads}: other bytes");
            assert_eq!(
                (counts.turbo, counts.zune),
                (1, 1),
                "{name} on {threads}: {counts:?}"
            );
        }
    }
}

#[test]
fn clean_and_declined_files_still_decode_by_libjpeg_turbo_alone() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let bytes = compress(false);
    let (decoded, counts) = counted(|| decode(&bytes, LIMITS).unwrap());
    assert_eq!((counts.turbo, counts.zune), (1, 0), "{counts:?}");
    assert_eq!(counts.turbo_rows, u64::from(HEIGHT));
    assert_eq!(decoded.1.to_rgb8().dimensions(), (WIDTH, HEIGHT));

    let list = [E::Brightness(1.2)];
    let (_, counts) = counted(|| stream_jpeg(&bytes, LIMITS, &list, 90).unwrap());
    assert_eq!((counts.turbo, counts.zune), (1, 0), "streamed: {counts:?}");

    // An edit the stream does not take: declined before any decode, and the
    // decode path decodes with libjpeg-turbo as ever.
    let other = [E::Contrast(1.2)];
    let (refusal, counts) = counted(|| stream_edit(&bytes, LIMITS, &other, 90).unwrap());
    assert_eq!(refusal.err(), Some(Refusal::Declined));
    assert_eq!((counts.turbo, counts.zune), (0, 0), "declined: {counts:?}");
    let (after, counts) =
        counted(|| decode_after(&bytes, LIMITS, u32::MAX, u32::MAX, Refusal::Declined).unwrap());
    assert_eq!((counts.turbo, counts.zune), (1, 0), "after: {counts:?}");
    assert!(after.1 == decoded.1);
}
