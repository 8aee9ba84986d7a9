//! libjpeg-turbo beyond encoding: decoding (in full, or with DCT scaling for
//! shrink-on-load) and lossless transforms on the DCT coefficients (for the files
//! our own transform, `lossless/rewrite.rs`, leaves to it).
//!
//! JPEGs are decoded by libjpeg-turbo, as Pillow decodes them, so that a streamed
//! edit (`edit/stream.rs`, the same library strip by strip) gives the very bytes
//! the whole-image path gives. A file libjpeg-turbo decodes cleanly is taken as
//! it decodes it; anything it reports (an error, or a warning such as "Premature
//! end of JPEG file" or "Corrupt JPEG data"), and anything it is not used for
//! (arithmetic coding, lossless JPEG, CMYK, more than 8 bits), makes it give up,
//! and the caller takes the pure-Rust decoder (zune-jpeg), which refuses or
//! accepts as before. So every file accepted before still is; a file only
//! libjpeg-turbo reads cleanly (none is known) would now be accepted too. Both
//! read the whole entropy-coded stream (scaling only shortens the inverse DCT),
//! so a truncated or corrupt file cannot pass for a good one.
//!
//! The price of the fallback is kept to one partial decode. Whole-image decodes
//! go through the C shim of the streamed edits ([`crate::jpeg_ffi`], libjpeg's
//! scanline API with TurboJPEG's exact settings, so the same pixels), which stops
//! at the first warning; TurboJPEG itself, through the `turbojpeg` crate, would
//! decode a file warned about early to its end (the crate cannot set
//! `TJPARAM_STOPONWARNING`). And a [`Refusal::Reported`] travels with the bytes:
//! a streamed edit that libjpeg-turbo stopped hands it to the decode path
//! ([`crate::decode_after`]), which then goes straight to zune-jpeg instead of
//! having libjpeg-turbo report the same thing again. A file libjpeg-turbo warns
//! about late (cut just before its end-of-image marker, say) thus costs at most
//! one libjpeg-turbo decode, stopped at the warning, plus zune-jpeg's: two
//! decodes, streamed edit or not (a streamed edit used to cost three); one warned
//! about early, little more than zune-jpeg's (`tests/decode_once.rs` counts
//! them). A lossless transform ([`transform`]) still reads such a file to its end
//! before the decode path runs.

use image::{DynamicImage, GrayImage, RgbImage};
use turbojpeg::{
    Colorspace, DecompressHeader, Decompressor, ScalingFactor, Subsamp, Transform, TransformCrop,
    TransformOp, Transformer,
};

use crate::edit::zeroed;
use crate::jpeg_ffi::{Decoder, Refused};

/// Why libjpeg-turbo did not decode (or stream) a JPEG, as far as a later decode
/// of the same bytes is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// It was not used: not a file or an edit it is used for, or it gave up for a
    /// reason of its own (memory). A whole-image decode tries it as usual.
    Declined,
    /// It reported an error or a warning about the file (truncated, corrupt), or
    /// more progressive scans than the limit: any decode of these bytes by it
    /// would again, so a whole-image decode takes zune-jpeg straight away.
    Reported,
}

impl Refusal {
    /// The refusal a [`Decoder`]'s code stands for.
    pub(crate) fn of(refused: Refused) -> Refusal {
        if refused.reported() {
            Refusal::Reported
        } else {
            Refusal::Declined
        }
    }
}

/// Most progressive scans libjpeg-turbo will read before giving up (and handing
/// the file to the ordinary decoder): a guard against the many-scans CPU attack.
pub(crate) const SCAN_LIMIT: u32 = 500;

/// The DCT scaling factors tried, smallest first.
const FACTORS: [ScalingFactor; 3] = [
    ScalingFactor::ONE_EIGHTH,
    ScalingFactor::ONE_QUARTER,
    ScalingFactor::ONE_HALF,
];

/// A scaled side whose last pixel stands for only part of a block (the side is not
/// a multiple of the denominator) must be at least this long: that pixel then
/// shifts the far edge by at most 1/32 of the side, a fraction of a pixel of the
/// result. Thinner images are small anyway and decode in full.
const MIN_PARTIAL_SIDE: usize = 32;

/// The smallest of 1/8, 1/4 and 1/2 that still decodes a `width` x `height` JPEG
/// to at least `min_width` x `min_height`, or `None` when only the full size is.
pub(crate) fn scale_for(
    width: u32,
    height: u32,
    min_width: u32,
    min_height: u32,
) -> Option<ScalingFactor> {
    let fits = |factor: &ScalingFactor, side: u32, min: u32| {
        let scaled = factor.scale(side as usize);
        scaled >= min as usize
            && ((side as usize).is_multiple_of(factor.denom()) || scaled >= MIN_PARTIAL_SIDE)
    };
    FACTORS
        .into_iter()
        .find(|factor| fits(factor, width, min_width) && fits(factor, height, min_height))
}

/// The header, when the file is one the fast paths may handle: 8-bit Huffman-coded
/// lossy JPEG in YCbCr, RGB or grey, of the size the ordinary decoder declared.
pub(crate) fn supported_header(
    decompressor: &mut Decompressor,
    bytes: &[u8],
    width: u32,
    height: u32,
) -> Option<DecompressHeader> {
    let header = decompressor.read_header(bytes).ok()?;
    let ordinary = matches!(
        header.colorspace,
        Colorspace::YCbCr | Colorspace::RGB | Colorspace::Gray
    ) && !header.is_lossless
        && !header.is_arithmetic
        && (header.width, header.height) == (width as usize, height as usize);
    ordinary.then_some(header)
}

/// Decodes a JPEG (stored `width` x `height`, as its header declares and the
/// caller has checked against the limits) at the smallest DCT scale still at
/// least `min_width` x `min_height` (the full size when no scale is), in the
/// stored orientation, with the pixels `tj3Decompress8` gives. Stops at the
/// first error or warning; the caller then decodes the file with zune-jpeg, as
/// before.
pub(crate) fn decode_at_least(
    bytes: &[u8],
    width: u32,
    height: u32,
    min_width: u32,
    min_height: u32,
) -> Result<DynamicImage, Refusal> {
    let factor = scale_for(width, height, min_width, min_height).unwrap_or(ScalingFactor::ONE);
    let mut decompressor = Decompressor::new().map_err(|_| Refusal::Declined)?;
    let header =
        supported_header(&mut decompressor, bytes, width, height).ok_or(Refusal::Declined)?;
    drop(decompressor);
    let scaled = header.scaled(factor);
    let denom = u32::try_from(factor.denom()).map_err(|_| Refusal::Declined)?;
    // No memory cap, as TurboJPEG has none by default: the budget admitted the
    // decode at its full cost.
    let mut decoder = Decoder::new(bytes, SCAN_LIMIT, 0, denom).map_err(Refusal::of)?;
    let (w, h) = (decoder.width, decoder.height);
    if (w as usize, h as usize) != (scaled.width, scaled.height) {
        return Err(Refusal::Declined);
    }
    let row_len = w as usize * decoder.channels;
    let mut pixels = zeroed(row_len * h as usize).map_err(|_| Refusal::Declined)?;
    let mut done = 0;
    while done < pixels.len() {
        match decoder.read(&mut pixels[done..]).map_err(Refusal::of)? {
            0 => return Err(Refusal::Declined),
            rows => done += rows * row_len,
        }
    }
    let image = if decoder.channels == 1 {
        GrayImage::from_raw(w, h, pixels).map(DynamicImage::ImageLuma8)
    } else {
        RgbImage::from_raw(w, h, pixels).map(DynamicImage::ImageRgb8)
    };
    image.ok_or(Refusal::Declined)
}

/// One of the eight ways to turn or mirror an image: the lossless transforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    Identity,
    FlipHorizontal,
    FlipVertical,
    /// Mirror along the top-left to bottom-right diagonal.
    Transpose,
    /// Mirror along the top-right to bottom-left diagonal.
    Transverse,
    Rotate90,
    Rotate180,
    Rotate270,
}

impl Turn {
    pub(crate) const ALL: [Turn; 8] = [
        Turn::Identity,
        Turn::FlipHorizontal,
        Turn::FlipVertical,
        Turn::Transpose,
        Turn::Transverse,
        Turn::Rotate90,
        Turn::Rotate180,
        Turn::Rotate270,
    ];

    /// Whether width and height swap.
    pub(crate) fn transposes(self) -> bool {
        matches!(
            self,
            Turn::Transpose | Turn::Transverse | Turn::Rotate90 | Turn::Rotate270
        )
    }

    /// The size of a `w` x `h` image after the turn.
    pub(crate) fn size(self, w: u32, h: u32) -> (u32, u32) {
        if self.transposes() { (h, w) } else { (w, h) }
    }

    /// The turn that undoes this one.
    pub(crate) fn inverse(self) -> Turn {
        match self {
            Turn::Rotate90 => Turn::Rotate270,
            Turn::Rotate270 => Turn::Rotate90,
            other => other,
        }
    }

    /// Where pixel (`x`, `y`) of a `w` x `h` image lands (clockwise rotations).
    pub(crate) fn map(self, w: u32, h: u32, x: u32, y: u32) -> (u32, u32) {
        match self {
            Turn::Identity => (x, y),
            Turn::FlipHorizontal => (w - 1 - x, y),
            Turn::FlipVertical => (x, h - 1 - y),
            Turn::Transpose => (y, x),
            Turn::Transverse => (h - 1 - y, w - 1 - x),
            Turn::Rotate90 => (h - 1 - y, x),
            Turn::Rotate180 => (w - 1 - x, h - 1 - y),
            Turn::Rotate270 => (y, w - 1 - x),
        }
    }

    /// `self` then `then`: the single turn doing both.
    pub(crate) fn then(self, then: Turn) -> Turn {
        // Found by where both send the corners of a small image with sides that
        // cannot be confused.
        let (w, h) = (2, 3);
        let corners = [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)];
        let (mw, mh) = self.size(w, h);
        Turn::ALL
            .into_iter()
            .find(|both| {
                corners.iter().all(|&(x, y)| {
                    let (mx, my) = self.map(w, h, x, y);
                    both.map(w, h, x, y) == then.map(mw, mh, mx, my)
                })
            })
            .expect("the turns of a rectangle are closed under composition")
    }

    /// Where the rectangle (`x`, `y`, `rw`, `rh`) of a `w` x `h` image lands.
    pub(crate) fn map_rect(self, w: u32, h: u32, rect: Rect) -> Rect {
        let (ax, ay) = self.map(w, h, rect.x, rect.y);
        let (bx, by) = self.map(w, h, rect.x + rect.width - 1, rect.y + rect.height - 1);
        let (width, height) = self.size(rect.width, rect.height);
        Rect {
            x: ax.min(bx),
            y: ay.min(by),
            width,
            height,
        }
    }

    fn op(self) -> TransformOp {
        match self {
            Turn::Identity => TransformOp::None,
            Turn::FlipHorizontal => TransformOp::Hflip,
            Turn::FlipVertical => TransformOp::Vflip,
            Turn::Transpose => TransformOp::Transpose,
            Turn::Transverse => TransformOp::Transverse,
            Turn::Rotate90 => TransformOp::Rot90,
            Turn::Rotate180 => TransformOp::Rot180,
            Turn::Rotate270 => TransformOp::Rot270,
        }
    }
}

/// A rectangle of pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// Why a lossless transform was not made; the caller decodes instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotLossless {
    /// Not a JPEG the fast paths handle (see the module docs), or libjpeg-turbo
    /// reported something while reading it.
    Unsupported,
    /// The crop's corner is not on the MCU grid of the turned image.
    UnalignedCrop,
    /// The turn would move partial MCUs at the right or bottom edge (the image's
    /// size is not a multiple of the MCU): libjpeg-turbo refuses it as imperfect.
    Imperfect,
}

/// Turns then crops a JPEG stored `width` x `height` on its DCT coefficients:
/// `turn` on the whole image, then `crop` in the turned image's coordinates. No
/// decode, no re-encode; metadata is not copied (the ordinary path drops it too,
/// and an EXIF orientation applied into `turn` must not be applied twice).
pub(crate) fn transform(
    bytes: &[u8],
    width: u32,
    height: u32,
    turn: Turn,
    crop: Rect,
) -> Result<Vec<u8>, NotLossless> {
    let mut decompressor = Decompressor::new().map_err(|_| NotLossless::Unsupported)?;
    let header = supported_header(&mut decompressor, bytes, width, height)
        .ok_or(NotLossless::Unsupported)?;
    if header.subsamp == Subsamp::Unknown {
        return Err(NotLossless::Unsupported);
    }
    let (mcu_w, mcu_h) = header.subsamp.mcu_size();
    let mcu = (mcu_w as u32, mcu_h as u32);
    let (turned_mcu_w, turned_mcu_h) = turn.size(mcu.0, mcu.1);
    if !crop.x.is_multiple_of(turned_mcu_w) || !crop.y.is_multiple_of(turned_mcu_h) {
        return Err(NotLossless::UnalignedCrop);
    }
    if !perfect(turn, width, height, mcu) {
        return Err(NotLossless::Imperfect);
    }
    let mut transform = Transform::op(turn.op());
    transform.perfect = true;
    transform.copy_none = true;
    let (turned_w, turned_h) = turn.size(width, height);
    if (crop.x, crop.y, crop.width, crop.height) != (0, 0, turned_w, turned_h) {
        transform.crop = Some(TransformCrop {
            x: crop.x as usize,
            y: crop.y as usize,
            width: Some(crop.width as usize),
            height: Some(crop.height as usize),
        });
    }
    let mut transformer = Transformer::new().map_err(|_| NotLossless::Unsupported)?;
    transformer
        .transform_to_vec(&transform, bytes)
        .map_err(|_| NotLossless::Unsupported)
}

/// libjpeg-turbo's rule (`jtransform_perfect_transform`): which edges must hold
/// whole MCUs (`mcu` pixels, across and down) for the turn to move no partial one.
pub(crate) fn perfect(turn: Turn, width: u32, height: u32, (mcu_w, mcu_h): (u32, u32)) -> bool {
    let whole_w = width.is_multiple_of(mcu_w);
    let whole_h = height.is_multiple_of(mcu_h);
    match turn {
        Turn::Identity | Turn::Transpose => true,
        Turn::FlipHorizontal | Turn::Rotate270 => whole_w,
        Turn::FlipVertical | Turn::Rotate90 => whole_h,
        Turn::Transverse | Turn::Rotate180 => whole_w && whole_h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_is_the_smallest_still_large_enough() {
        assert_eq!(
            scale_for(4000, 3000, 400, 300),
            Some(ScalingFactor::ONE_EIGHTH)
        );
        assert_eq!(
            scale_for(4000, 3000, 501, 300),
            Some(ScalingFactor::ONE_QUARTER)
        );
        assert_eq!(
            scale_for(4000, 3000, 1000, 1000),
            Some(ScalingFactor::ONE_HALF)
        );
        assert_eq!(scale_for(4000, 3000, 2001, 10), None);
        // Sides round up: 1/8 of 1001 pixels is 126.
        assert_eq!(
            scale_for(1001, 800, 126, 100),
            Some(ScalingFactor::ONE_EIGHTH)
        );
        // A thin side with a partial last pixel is not scaled below 32 pixels.
        assert_eq!(scale_for(3000, 17, 400, 2), None);
        assert_eq!(scale_for(1, 1000, 1, 100), None);
        assert_eq!(scale_for(16, 1000, 1, 100), Some(ScalingFactor::ONE_EIGHTH));
        assert_eq!(
            scale_for(3000, 300, 400, 30),
            Some(ScalingFactor::ONE_QUARTER)
        );
    }

    #[test]
    fn turns_compose_like_the_pixel_operations() {
        use Turn::*;
        assert_eq!(Rotate90.then(Rotate90), Rotate180);
        assert_eq!(Rotate90.then(Rotate180), Rotate270);
        assert_eq!(Rotate270.then(Rotate90), Identity);
        assert_eq!(FlipHorizontal.then(FlipHorizontal), Identity);
        assert_eq!(FlipHorizontal.then(FlipVertical), Rotate180);
        assert_eq!(Rotate90.then(FlipHorizontal), Transpose);
        assert_eq!(Rotate90.then(FlipVertical), Transverse);
        for a in Turn::ALL {
            assert_eq!(a.then(Identity), a);
            assert_eq!(Identity.then(a), a);
        }
    }

    #[test]
    fn rectangles_follow_the_turn() {
        // A 10 x 4 image; the 3 x 2 block at (1, 0) after a clockwise quarter turn
        // (4 x 10) sits at the right edge, 1 pixel down.
        let rect = Rect {
            x: 1,
            y: 0,
            width: 3,
            height: 2,
        };
        assert_eq!(
            Turn::Rotate90.map_rect(10, 4, rect),
            Rect {
                x: 2,
                y: 1,
                width: 2,
                height: 3
            }
        );
        assert_eq!(
            Turn::Rotate180.map_rect(10, 4, rect),
            Rect {
                x: 6,
                y: 2,
                width: 3,
                height: 2
            }
        );
    }
}
