//! Lanczos3 resizing through `fast_image_resize` (SIMD), with Pillow's
//! `Image.LANCZOS` filter support and, for RGBA, alpha premultiplication as
//! Pillow does (`RGBA` -> `RGBa` -> resize -> `RGBA`).

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use rayon::prelude::*;

use super::{Fit, Pixels};

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

pub(crate) fn resize(px: Pixels, plan: ResizePlan) -> Pixels {
    if !plan.cover && plan.width == px.width && plan.height == px.height {
        return px;
    }
    let pixel_type = if px.channels == 4 {
        PixelType::U8x4
    } else {
        PixelType::U8x3
    };
    // Source window: the centred box with the target's aspect for cover,
    // the whole image otherwise.
    let (crop_w, crop_h) = if plan.cover {
        let scale =
            (plan.width as f64 / px.width as f64).max(plan.height as f64 / px.height as f64);
        (
            (plan.width as f64 / scale).min(px.width as f64),
            (plan.height as f64 / scale).min(px.height as f64),
        )
    } else {
        (px.width as f64, px.height as f64)
    };
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
    // Two single-axis passes, horizontal first, as Pillow does: a combined
    // call lets fast_image_resize run the vertical pass first, and the
    // different intermediate rounding moves results up to ~7 levels away from
    // Pillow on noisy images; this order keeps them within 1-2.
    let mut pass = |src: &[u8], src_w, src_h, dst_w, dst_h, options: ResizeOptions| {
        let src = ImageRef::new(src_w, src_h, src, pixel_type).expect("buffer matches dimensions");
        let mut dst = Image::new(dst_w, dst_h, pixel_type);
        resizer
            .resize(&src, &mut dst, &options)
            .expect("pixel types match and sizes are non-zero");
        dst.into_vec()
    };
    let data = if crop_w == plan.width as f64 || crop_h == plan.height as f64 {
        // One axis is untouched: a single call is already single-axis.
        pass(
            &px.data,
            px.width,
            px.height,
            plan.width,
            plan.height,
            lanczos.crop(left, top, crop_w, crop_h),
        )
    } else {
        let mid = pass(
            &px.data,
            px.width,
            px.height,
            plan.width,
            px.height,
            lanczos.crop(left, 0.0, crop_w, px.height as f64),
        );
        pass(
            &mid,
            plan.width,
            px.height,
            plan.width,
            plan.height,
            lanczos.crop(0.0, top, plan.width as f64, crop_h),
        )
    };
    let mut data = data;
    if px.channels == 4 {
        unpremultiply(&mut data);
    }
    Pixels {
        width: plan.width,
        height: plan.height,
        channels: px.channels,
        data,
    }
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
