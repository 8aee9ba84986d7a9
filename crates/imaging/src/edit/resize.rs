//! Lanczos3 resizing through `fast_image_resize` (SIMD), with Pillow's
//! `Image.LANCZOS` filter support and, for RGBA, alpha premultiplication as
//! Pillow does (`RGBA` -> `RGBa` -> resize -> `RGBA`).

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use rayon::prelude::*;

use super::{Fit, Pixels, zeroed};
use crate::error::{ImageError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResizePlan {
    pub width: u32,
    pub height: u32,
    /// Scale to cover the box and centre-crop (only `Fit::Cover` with both sides).
    pub cover: bool,
}

fn scaled(side: u32, scale: f64) -> u32 {
    ((side as f64 * scale).round() as u32).max(1)
}

/// Output size of a resize step; shared by validation and execution so the
/// dimensions tracked through the pipeline are the ones actually produced.
/// With neither side given the size is unchanged (validation rejects that).
pub(crate) fn plan(
    src_w: u32,
    src_h: u32,
    width: Option<u32>,
    height: Option<u32>,
    fit: Fit,
) -> ResizePlan {
    let keep = |w, h| ResizePlan {
        width: w,
        height: h,
        cover: false,
    };
    match (width, height) {
        (None, None) => keep(src_w, src_h),
        (Some(w), None) => keep(w, scaled(src_h, w as f64 / src_w as f64)),
        (None, Some(h)) => keep(scaled(src_w, h as f64 / src_h as f64), h),
        (Some(w), Some(h)) => match fit {
            Fit::Fill => keep(w, h),
            Fit::Cover => ResizePlan {
                width: w,
                height: h,
                cover: true,
            },
            Fit::Contain => {
                let scale = (w as f64 / src_w as f64).min(h as f64 / src_h as f64);
                keep(scaled(src_w, scale).min(w), scaled(src_h, scale).min(h))
            }
        },
    }
}

/// Which axis a two-pass resize scales first, and the intermediate it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PassOrder {
    /// One call: only one axis changes (or the size does not change at all).
    Single,
    /// Horizontal then vertical, as Pillow does: intermediate `width` x `height`.
    HorizontalFirst { width: u32, height: u32 },
    /// Vertical then horizontal: intermediate `width` x `height`.
    VerticalFirst { width: u32, height: u32 },
}

impl PassOrder {
    /// Pixels of the intermediate image (0 for a single pass).
    pub(crate) fn intermediate_pixels(self) -> u64 {
        match self {
            Self::Single => 0,
            Self::HorizontalFirst { width, height } | Self::VerticalFirst { width, height } => {
                u64::from(width) * u64::from(height)
            }
        }
    }
}

/// The source window a plan reads: the centred box with the target's aspect for
/// cover, the whole image otherwise.
fn source_window(src_w: u32, src_h: u32, plan: ResizePlan) -> (f64, f64) {
    if plan.cover {
        let scale = (plan.width as f64 / src_w as f64).max(plan.height as f64 / src_h as f64);
        (
            (plan.width as f64 / scale).min(src_w as f64),
            (plan.height as f64 / scale).min(src_h as f64),
        )
    } else {
        (src_w as f64, src_h as f64)
    }
}

/// Pillow's order (horizontal first) keeps results within 1-2 levels of Pillow,
/// so it is kept unless its intermediate would be larger than both the source
/// and the result, as when a 1 x 40,000,000 strip is resized to 1000 x 1000
/// (1000 x 40,000,000). Then the other order is taken: the two intermediates
/// multiply to source x result pixels, so when one exceeds the larger of the two,
/// the other is below the smaller, and no resize ever holds more than
/// max(source, result) pixels in between.
pub(crate) fn pass_order(src_w: u32, src_h: u32, plan: ResizePlan) -> PassOrder {
    if !plan.cover && plan.width == src_w && plan.height == src_h {
        return PassOrder::Single;
    }
    let (crop_w, crop_h) = source_window(src_w, src_h, plan);
    if crop_w == plan.width as f64 || crop_h == plan.height as f64 {
        return PassOrder::Single;
    }
    let horizontal = PassOrder::HorizontalFirst {
        width: plan.width,
        height: src_h,
    };
    let vertical = PassOrder::VerticalFirst {
        width: src_w,
        height: plan.height,
    };
    let source = u64::from(src_w) * u64::from(src_h);
    let result = u64::from(plan.width) * u64::from(plan.height);
    if horizontal.intermediate_pixels() > source.max(result) {
        vertical
    } else {
        horizontal
    }
}

pub(crate) fn resize(px: Pixels, plan: ResizePlan) -> Result<Pixels> {
    let order = pass_order(px.width, px.height, plan);
    if !plan.cover && plan.width == px.width && plan.height == px.height {
        return Ok(px);
    }
    let pixel_type = if px.channels == 4 {
        PixelType::U8x4
    } else {
        PixelType::U8x3
    };
    let channels = px.channels;
    let (crop_w, crop_h) = source_window(px.width, px.height, plan);
    let left = (px.width as f64 - crop_w) / 2.0;
    let top = (px.height as f64 - crop_h) / 2.0;
    let mut resizer = Resizer::new();
    // Premultiplication is done here, once around both passes, with Pillow's
    // own rounding (fast_image_resize would redo it around each call).
    let lanczos = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .use_alpha(false);
    let mut px = px;
    if px.channels == 4 {
        premultiply(&mut px.data);
    }
    // Two single-axis passes rather than one combined call: a combined call lets
    // fast_image_resize pick the order itself and hold an intermediate of its own,
    // and the different intermediate rounding moves results up to ~7 levels away
    // from Pillow on noisy images; Pillow's order keeps them within 1-2.
    let mut pass = |src: &[u8], src_w, src_h, dst_w: u32, dst_h: u32, options: ResizeOptions| {
        let src = ImageRef::new(src_w, src_h, src, pixel_type).expect("buffer matches dimensions");
        let buffer = zeroed(dst_w as usize * dst_h as usize * channels)?;
        let mut dst = Image::from_vec_u8(dst_w, dst_h, buffer, pixel_type)
            .expect("buffer matches dimensions");
        resizer
            .resize(&src, &mut dst, &options)
            .expect("pixel types match and sizes are non-zero");
        Ok::<_, ImageError>(dst.into_vec())
    };
    let mut data = match order {
        PassOrder::Single => pass(
            &px.data,
            px.width,
            px.height,
            plan.width,
            plan.height,
            lanczos.crop(left, top, crop_w, crop_h),
        )?,
        PassOrder::HorizontalFirst { width, height }
        | PassOrder::VerticalFirst { width, height } => {
            let horizontal = |rows: f64| lanczos.crop(left, 0.0, crop_w, rows);
            let vertical = |columns: f64| lanczos.crop(0.0, top, columns, crop_h);
            let (first, second) = if matches!(order, PassOrder::HorizontalFirst { .. }) {
                (horizontal(px.height as f64), vertical(plan.width as f64))
            } else {
                (vertical(px.width as f64), horizontal(plan.height as f64))
            };
            let mid = pass(&px.data, px.width, px.height, width, height, first)?;
            px.data = Vec::new();
            pass(&mid, width, height, plan.width, plan.height, second)?
        }
    };
    if channels == 4 {
        unpremultiply(&mut data);
    }
    Ok(Pixels {
        width: plan.width,
        height: plan.height,
        channels,
        data,
    })
}

/// Pillow's RGBA -> RGBa: `MULDIV255` with rounding.
fn premultiply(data: &mut [u8]) {
    data.par_chunks_mut(4 * 4096).for_each(|chunk| {
        for p in chunk.chunks_exact_mut(4) {
            let a = p[3] as u32;
            for c in &mut p[..3] {
                let t = *c as u32 * a + 128;
                *c = (((t >> 8) + t) >> 8) as u8;
            }
        }
    });
}

/// Pillow's RGBa -> RGBA: truncating division, clipped.
fn unpremultiply(data: &mut [u8]) {
    data.par_chunks_mut(4 * 4096).for_each(|chunk| {
        for p in chunk.chunks_exact_mut(4) {
            let a = p[3] as u32;
            if a != 0 && a != 255 {
                for c in &mut p[..3] {
                    *c = (255 * *c as u32 / a).min(255) as u8;
                }
            }
        }
    });
}
