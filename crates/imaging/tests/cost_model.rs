//! The cost model against real allocations: a counting allocator measures the peak
//! bytes each operation holds, which must never exceed what `cost` declared for it
//! beforehand. Also: the resize pass order keeps the intermediate small.
#![allow(unsafe_code)] // The counting allocator below; nothing else.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Cursor;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use imagegraph_imaging::cost::{self, Output};
use imagegraph_imaging::edit::{EditInstruction as E, Fit, FlipAxis, apply, validate};
use imagegraph_imaging::{UploadLimits, decode, prepare_upload, probe};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = CURRENT.fetch_add(by, Ordering::SeqCst) + by;
    PEAK.fetch_max(now, Ordering::SeqCst);
}

// SAFETY: every call is forwarded to the system allocator unchanged; only sizes
// are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // Both blocks may be alive during the move.
            grew(new_size);
            CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One test at a time: the counters are process-wide, so another test's
/// allocations would count against the one measuring.
static SERIAL: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The peak bytes allocated by `work` above what was held when it started.
fn peak_of<T>(work: impl FnOnce() -> T) -> (T, u64) {
    let base = CURRENT.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let out = work();
    let peak = PEAK.load(Ordering::SeqCst);
    (out, (peak - base) as u64)
}

const LIMITS: UploadLimits = UploadLimits {
    max_bytes: 64 << 20,
    max_pixels: 50_000_000,
    max_side: 65_535,
    max_aspect_ratio: 1000,
};

fn noisy_rgb(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
        let n = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 24;
        Rgb([n as u8, (x % 256) as u8, (y % 256) as u8])
    }))
}

fn noisy_rgba(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgba8(RgbaImage::from_fn(w, h, |x, y| {
        let n = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 24;
        Rgba([
            n as u8,
            (x % 256) as u8,
            (y % 256) as u8,
            (n / 2 + 100) as u8,
        ])
    }))
}

fn encoded(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    image.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

#[test]
fn decoding_and_uploads_stay_within_the_model() {
    let _one = one_at_a_time();
    let sixteen = DynamicImage::ImageRgba16(image::ImageBuffer::from_fn(900, 700, |x, y| {
        Rgba([(x * 70) as u16, (y * 90) as u16, 1234, 60000])
    }));
    for (name, bytes) in [
        ("png rgb", encoded(&noisy_rgb(1600, 1200), ImageFormat::Png)),
        ("jpeg", encoded(&noisy_rgb(1600, 1200), ImageFormat::Jpeg)),
        (
            "png rgba",
            encoded(&noisy_rgba(1200, 900), ImageFormat::Png),
        ),
        ("png rgba16", encoded(&sixteen, ImageFormat::Png)),
        ("gif", encoded(&noisy_rgba(500, 400), ImageFormat::Gif)),
    ] {
        let probed = probe(&bytes, LIMITS).unwrap();
        let (decoded, used) = peak_of(|| decode(&bytes, LIMITS).unwrap());
        drop(decoded);
        let declared = cost::decode(&probed);
        assert!(
            used <= declared,
            "{name}: decoding used {used}, declared {declared}"
        );
        let (prepared, used) = peak_of(|| prepare_upload(&bytes, LIMITS).unwrap());
        drop(prepared);
        let declared = cost::upload(&probed);
        assert!(
            used <= declared,
            "{name}: upload used {used}, declared {declared}"
        );
    }
}

#[test]
fn every_operation_stays_within_the_model() {
    let _one = one_at_a_time();
    let ops = [
        E::Brightness(1.4),
        E::Contrast(0.6),
        E::Saturation(1.7),
        E::Sharpness(2.0),
        E::Blur { sigma: 6.0 },
        E::Grayscale,
        E::Rotate(90),
        E::Rotate(180),
        E::Flip(FlipAxis::Vertical),
        E::Crop {
            x: 10,
            y: 20,
            width: 700,
            height: 500,
        },
        E::Resize {
            width: Some(640),
            height: None,
            fit: Fit::Contain,
        },
        E::Resize {
            width: Some(500),
            height: Some(500),
            fit: Fit::Cover,
        },
        E::Resize {
            width: Some(2000),
            height: Some(300),
            fit: Fit::Fill,
        },
    ];
    for (kind, image) in [
        ("rgb", noisy_rgb(2400, 1800)),
        ("rgba", noisy_rgba(2400, 1800)),
    ] {
        let channels = if kind == "rgb" { 3 } else { 4 };
        for op in ops {
            let list = [op];
            validate(&list, 2400, 1800, 50_000_000).unwrap();
            let input = image.clone();
            let (out, used) = peak_of(|| apply(input, &list).unwrap());
            drop(out);
            // The input is held before the measurement starts; the model counts it.
            let held = used + 2400 * 1800 * u64::from(channels);
            let declared = cost::edit(2400, 1800, channels, &list);
            assert!(
                held <= declared,
                "{kind} {op:?}: held {held}, declared {declared}"
            );
        }
    }
}

#[test]
fn thin_strips_resize_within_the_model() {
    let _one = one_at_a_time();
    // A strip like the 1 x 40,000,000 attack, small enough to run here.
    let strip = noisy_rgb(1, 200_000);
    let list = [E::Resize {
        width: Some(300),
        height: Some(300),
        fit: Fit::Fill,
    }];
    validate(&list, 1, 200_000, 50_000_000).unwrap();
    let (out, used) = peak_of(|| apply(strip, &list).unwrap());
    assert_eq!((out.width(), out.height()), (300, 300));
    let declared = cost::edit(1, 200_000, 3, &list);
    assert!(used <= declared, "used {used}, declared {declared}");
    // Horizontal first would have held 300 x 200,000 pixels in between.
    assert!(declared < 300 * 200_000 * 3, "declared {declared}");
}

#[test]
fn whole_jobs_and_previews_stay_within_the_model() {
    let _one = one_at_a_time();
    let bytes = encoded(&noisy_rgb(1800, 1200), ImageFormat::Png);
    let probed = probe(&bytes, LIMITS).unwrap();
    let list = [E::Sharpness(1.5), E::Rotate(270)];
    let declared = cost::edit_job(&probed, &list, Output::Preview { max_side: 1024 });
    let ((), used) = peak_of(|| {
        let (_, image) = decode(&bytes, LIMITS).unwrap();
        let edited = apply(image, &list).unwrap();
        let fit = [E::Resize {
            width: Some(1024),
            height: Some(1024),
            fit: Fit::Contain,
        }];
        let small = apply(edited, &fit).unwrap();
        let jpeg = imagegraph_imaging::encode(&small, imagegraph_imaging::MediaFormat::Jpeg, 85);
        drop(jpeg.unwrap());
    });
    assert!(used <= declared, "preview used {used}, declared {declared}");
    let declared = cost::edit_job(&probed, &list, Output::Stored);
    let ((), used) = peak_of(|| {
        let (_, image) = decode(&bytes, LIMITS).unwrap();
        let edited = apply(image, &list).unwrap();
        let png = imagegraph_imaging::encode(&edited, imagegraph_imaging::MediaFormat::Png, 90);
        let thumb = imagegraph_imaging::render_thumbnail(&edited);
        drop((png.unwrap(), thumb.unwrap()));
    });
    assert!(used <= declared, "stored used {used}, declared {declared}");
}

#[test]
fn resize_takes_the_pass_order_with_the_smaller_intermediate() {
    let _one = one_at_a_time();
    let fill = |width, height| E::Resize {
        width: Some(width),
        height: Some(height),
        fit: Fit::Fill,
    };
    // The reproduced crash: horizontal first would hold 1000 x 40,000,000 pixels.
    assert_eq!(
        cost::resize_intermediate(1, 40_000_000, &fill(1000, 1000)),
        Some((1, 1000))
    );
    assert_eq!(
        cost::resize_intermediate(40_000_000, 1, &fill(1000, 1000)),
        Some((1000, 1))
    );
    // Ordinary shapes keep Pillow's order (horizontal first).
    assert_eq!(
        cost::resize_intermediate(4000, 3000, &fill(2000, 1000)),
        Some((2000, 3000))
    );
    // Whatever the shapes, the intermediate is never larger than both the source
    // and the result, and never larger than the other order's when it is.
    let sides = [1, 2, 7, 300, 1000, 4096, 100_000, 40_000_000];
    for &(sw, sh) in &[(1, 40_000_000), (40_000_000, 1), (300, 7), (4096, 4096)] {
        for &w in &sides {
            for &h in &sides {
                let Some((iw, ih)) = cost::resize_intermediate(sw, sh, &fill(w, h)) else {
                    continue;
                };
                let mid = u64::from(iw) * u64::from(ih);
                let source = u64::from(sw) * u64::from(sh);
                let result = u64::from(w) * u64::from(h);
                assert!(mid <= source.max(result), "{sw}x{sh} -> {w}x{h}: {iw}x{ih}");
            }
        }
    }
    // The thin attack is declared at the size of its coefficient tables (a few
    // GB), so a budget refuses it, rather than at the 120 GB horizontal-first cost.
    let declared = cost::edit(1, 40_000_000, 3, &[fill(1000, 1000)]);
    assert!(
        (1 << 30..16 << 30).contains(&declared),
        "declared {declared}"
    );
}
