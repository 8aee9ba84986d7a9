//! Pixel-editing engine: an ordered list of [`EditInstruction`]s applied to an
//! 8-bit RGB or RGBA image.
//!
//! * The four enhance operations (brightness, contrast, saturation, sharpness)
//!   are bit-identical to Pillow's `ImageEnhance` (verified against Pillow 13.0
//!   fixtures), including how Pillow treats alpha: the alpha channel is never
//!   changed by them.
//! * `blur` reproduces Pillow's `GaussianBlur` (three extended box blurs, all
//!   channels including alpha, like Pillow) bit for bit.
//! * `grayscale` is Pillow's `convert("L")` luma. An RGB image becomes one
//!   channel (grey), as Pillow's `convert("L")` does: a third of the bytes for
//!   every later step and a one-component JPEG, which decodes to the same grey as
//!   an RGB JPEG of R = G = B would. Later instructions that only work on RGB
//!   (blur, resize) get the luma replicated into R, G and B first, so every result
//!   reads back exactly as before. RGBA keeps four channels: luma in R, G and B,
//!   alpha kept.
//! * `resize` uses Lanczos3 (Pillow's `Image.LANCZOS`) with alpha
//!   premultiplication for RGBA, like Pillow; results differ from Pillow by at
//!   most a few levels (see tests for the bound).
//! * `rotate` is clockwise; `flip` horizontal mirrors left-right.
//!
//! [`validate`] must be called first: [`apply`] assumes a valid list and
//! panics (on out-of-range crops) rather than re-checking. Every buffer the engine
//! allocates itself is reserved fallibly, so a size the allocator cannot give is an
//! [`ImageError::TooLarge`], never an abort; [`crate::cost`] tells beforehand how
//! many bytes a list will hold at its peak.
//!
//! The outside (JSON and GraphQL) form of instructions lives in [`wire`].

mod blur;
mod codec;
mod enhance;
mod geometry;
mod resize;
mod stream;
mod validate;
pub mod wire;

use image::{DynamicImage, GrayImage, RgbImage, RgbaImage};

use crate::error::{ImageError, Result};

pub use codec::{EncodeError, decode, encode_jpeg, encode_jpeg_gray};
pub(crate) use resize::{PassOrder, ResizePlan, pass_order, plan as resize_plan};
pub use stream::{stream_edit, stream_jpeg};
pub use validate::{InvalidInstruction, MAX_INSTRUCTIONS, output_size, validate};

/// One editing step. See the module docs for the JSON form.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EditInstruction {
    /// Pillow `ImageEnhance.Brightness`; 0 = black, 1 = unchanged.
    Brightness(f32),
    /// Pillow `ImageEnhance.Contrast`; 0 = solid mean grey, 1 = unchanged.
    Contrast(f32),
    /// Pillow `ImageEnhance.Color`; 0 = greyscale, 1 = unchanged.
    Saturation(f32),
    /// Pillow `ImageEnhance.Sharpness`; 0 = smoothed, 1 = unchanged, 2 = sharpened.
    Sharpness(f32),
    /// Pillow `ImageFilter.GaussianBlur(sigma)`.
    Blur {
        /// Standard deviation in pixels.
        sigma: f32,
    },
    /// Pillow `convert("L")` luma: one grey channel for RGB, written to R, G and
    /// B for RGBA (alpha kept).
    Grayscale,
    /// Clockwise rotation in degrees: 90, 180 or 270 (validated).
    Rotate(u16),
    /// Mirror along an axis.
    Flip(FlipAxis),
    /// Keep the rectangle at (`x`, `y`), `width` x `height` pixels.
    Crop {
        /// Left edge.
        x: u32,
        /// Top edge.
        y: u32,
        /// Width kept.
        width: u32,
        /// Height kept.
        height: u32,
    },
    /// With only one of `width`/`height`, the other follows the aspect ratio
    /// and `fit` is irrelevant.
    Resize {
        /// Target width.
        width: Option<u32>,
        /// Target height.
        height: Option<u32>,
        /// How the image meets a box when both sides are given.
        fit: Fit,
    },
}

/// The axis of a flip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlipAxis {
    /// Mirror left-right (Pillow `FLIP_LEFT_RIGHT`).
    Horizontal,
    /// Mirror top-bottom (Pillow `FLIP_TOP_BOTTOM`).
    Vertical,
}

/// How a resize meets a box of both width and height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fit {
    /// Largest size that fits inside the box, aspect kept.
    #[default]
    Contain,
    /// Smallest size that covers the box, aspect kept, then centre-cropped to it.
    Cover,
    /// Exactly the box, aspect ignored.
    Fill,
}

/// Working image: tightly packed 8-bit rows, 1 (grey), 3 (RGB) or 4 (RGBA)
/// channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pixels {
    pub width: u32,
    pub height: u32,
    pub channels: usize,
    pub data: Vec<u8>,
}

impl Pixels {
    fn from_dynamic(image: DynamicImage) -> Self {
        let (width, height) = (image.width(), image.height());
        // Anything with alpha works as RGBA so alpha survives; 16-bit and
        // float images are reduced to 8 bits, as the service outputs 8-bit.
        if let DynamicImage::ImageLuma8(grey) = image {
            return Pixels {
                width,
                height,
                channels: 1,
                data: grey.into_raw(),
            };
        }
        if image.color().has_alpha() {
            Pixels {
                width,
                height,
                channels: 4,
                data: image.into_rgba8().into_raw(),
            }
        } else {
            Pixels {
                width,
                height,
                channels: 3,
                data: image.into_rgb8().into_raw(),
            }
        }
    }

    fn into_dynamic(self) -> DynamicImage {
        let Pixels {
            width,
            height,
            channels,
            data,
        } = self;
        if channels == 4 {
            DynamicImage::ImageRgba8(
                RgbaImage::from_raw(width, height, data).expect("buffer matches dimensions"),
            )
        } else if channels == 1 {
            DynamicImage::ImageLuma8(
                GrayImage::from_raw(width, height, data).expect("buffer matches dimensions"),
            )
        } else {
            DynamicImage::ImageRgb8(
                RgbImage::from_raw(width, height, data).expect("buffer matches dimensions"),
            )
        }
    }

    pub(crate) fn row_len(&self) -> usize {
        self.width as usize * self.channels
    }

    /// Grey replicated into R, G and B, for the operations written for RGB and
    /// RGBA only; other images as they are.
    fn at_least_rgb(self) -> Result<Pixels> {
        if self.channels != 1 {
            return Ok(self);
        }
        let mut data = with_capacity(self.data.len() * 3)?;
        data.extend(self.data.iter().flat_map(|&l| [l, l, l]));
        Ok(Pixels {
            channels: 3,
            data,
            ..self
        })
    }
}

/// Applies `instructions` in order. The result is RGBA8 when the input has an
/// alpha channel; otherwise Luma8 when the input is Luma8 or the list makes it grey
/// and nothing after needs RGB (see the module docs), else RGB8.
///
/// Assumes [`validate`] accepted `instructions` for this image's size; an
/// out-of-bounds crop panics. A buffer that cannot be allocated is an error.
pub fn apply(image: DynamicImage, instructions: &[EditInstruction]) -> Result<DynamicImage> {
    let mut px = Pixels::from_dynamic(image);
    for instruction in instructions {
        px = apply_one(px, instruction)?;
    }
    Ok(px.into_dynamic())
}

fn apply_one(mut px: Pixels, instruction: &EditInstruction) -> Result<Pixels> {
    if matches!(
        instruction,
        EditInstruction::Blur { .. } | EditInstruction::Resize { .. }
    ) {
        px = px.at_least_rgb()?;
    }
    match *instruction {
        EditInstruction::Brightness(f) => enhance::brightness(&mut px, f),
        EditInstruction::Contrast(f) => enhance::contrast(&mut px, f),
        EditInstruction::Saturation(f) => enhance::saturation(&mut px, f),
        EditInstruction::Sharpness(f) => return enhance::sharpness(px, f),
        EditInstruction::Blur { sigma } => blur::gaussian_blur(&mut px, sigma)?,
        EditInstruction::Grayscale if px.channels == 3 => return Ok(geometry::luma_of_rgb(px)),
        EditInstruction::Grayscale => geometry::grayscale(&mut px),
        EditInstruction::Rotate(degrees) => return geometry::rotate(px, degrees),
        EditInstruction::Flip(axis) => geometry::flip(&mut px, axis),
        EditInstruction::Crop {
            x,
            y,
            width,
            height,
        } => return geometry::crop(&px, x, y, width, height),
        EditInstruction::Resize { width, height, fit } => {
            let plan = resize::plan(px.width, px.height, width, height, fit);
            return resize::resize(px, plan);
        }
    }
    Ok(px)
}

/// How an edit may start from an image decoded smaller than its full size
/// (shrink-on-load, [`crate::decode_at_least`]) and still give a result of the same
/// size, with pixels close to the full decode's.
#[derive(Debug, Clone, PartialEq)]
pub struct ShrinkOnLoad {
    /// Smallest displayed size the decoded image may have.
    pub min_width: u32,
    /// Smallest displayed height the decoded image may have.
    pub min_height: u32,
    /// The instructions to run on that image instead (same length and kinds: a
    /// leading resize is given its exact target size, so the result's size does
    /// not depend on the size decoded).
    pub instructions: Vec<EditInstruction>,
}

/// Whether an edit of a `width` x `height` (displayed) image may decode the image
/// smaller, and how: when the first instruction is a resize, the image need only
/// be as large as what the resize reads at the result's scale; for a preview
/// (`preview_side`) of instructions that do not depend on the pixel scale
/// (enhance factors, grayscale, rotations, flips), only as large as the preview.
/// Results of a smaller decode must then be brought to the full decode's size by
/// the caller: a preview to the size [`output_size`] gives, fitted in its side.
/// `None` when the full image is needed. The instructions must have passed
/// [`validate`].
pub fn shrink_on_load(
    width: u32,
    height: u32,
    instructions: &[EditInstruction],
    preview_side: Option<u32>,
) -> Option<ShrinkOnLoad> {
    let (first, rest) = instructions.split_first()?;
    if let EditInstruction::Resize {
        width: to_w,
        height: to_h,
        fit,
    } = *first
    {
        let plan = resize::plan(width, height, to_w, to_h, fit);
        let (min_width, min_height, first) = if plan.cover {
            // Scaled to cover the box, then centre-cropped: the whole image is read
            // at that scale.
            let scale = (f64::from(plan.width) / f64::from(width))
                .max(f64::from(plan.height) / f64::from(height));
            let side = |s: u32| ((f64::from(s) * scale).ceil() as u32).clamp(1, s);
            (side(width), side(height), *first)
        } else {
            let exact = EditInstruction::Resize {
                width: Some(plan.width),
                height: Some(plan.height),
                fit: Fit::Fill,
            };
            (plan.width, plan.height, exact)
        };
        let mut instructions = Vec::with_capacity(instructions.len());
        instructions.push(first);
        instructions.extend_from_slice(rest);
        return Some(ShrinkOnLoad {
            min_width,
            min_height,
            instructions,
        });
    }
    let side = preview_side?;
    let mut turned = false;
    for instruction in instructions {
        match instruction {
            EditInstruction::Brightness(_)
            | EditInstruction::Contrast(_)
            | EditInstruction::Saturation(_)
            | EditInstruction::Grayscale
            | EditInstruction::Flip(_)
            | EditInstruction::Rotate(180) => {}
            EditInstruction::Rotate(_) => turned = !turned,
            _ => return None,
        }
    }
    let (w, h) = output_size(width, height, instructions);
    if w.max(h) <= side {
        return None;
    }
    let fitted = resize::plan(w, h, Some(side), Some(side), Fit::Contain);
    let (min_width, min_height) = if turned {
        (fitted.height, fitted.width)
    } else {
        (fitted.width, fitted.height)
    };
    Some(ShrinkOnLoad {
        min_width,
        min_height,
        instructions: instructions.to_vec(),
    })
}

/// A zeroed buffer of `len` bytes, or an error when the allocator cannot give it.
pub(crate) fn zeroed(len: usize) -> Result<Vec<u8>> {
    // The fallible reservation only asks whether the allocator can give `len`
    // bytes; the buffer itself comes from `vec!`, which asks for zeroed memory
    // (calloc): a large block is fresh pages the kernel zeroes as they are first
    // written, where filling a reserved Vec would write every byte twice (a 12 MP
    // quarter turn: 36 MB of memset before the pixels). Std has no stable
    // fallible zeroed allocation.
    drop(with_capacity(len)?);
    Ok(vec![0; len])
}

/// An empty buffer with room for `len` bytes, or an error when the allocator
/// cannot give it.
pub(crate) fn with_capacity(len: usize) -> Result<Vec<u8>> {
    let mut buffer = Vec::new();
    buffer.try_reserve_exact(len).map_err(|_| {
        ImageError::TooLarge(format!(
            "the edit needs a buffer of {len} bytes, more than can be allocated"
        ))
    })?;
    Ok(buffer)
}

/// Rows per rayon task: large enough that scheduling cost is noise, small
/// enough that two cores share the work evenly.
pub(crate) const ROWS_PER_TASK: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_buffers_are_errors_not_aborts() {
        assert!(matches!(
            zeroed(usize::MAX / 2),
            Err(ImageError::TooLarge(_))
        ));
        assert!(matches!(
            with_capacity(usize::MAX / 2),
            Err(ImageError::TooLarge(_))
        ));
        assert_eq!(zeroed(16).unwrap(), vec![0; 16]);
    }
}
