//! Lossless JPEG geometry: an edit made only of rotations, flips and crops, run on
//! the DCT coefficients (no decode, no re-encode, no generation loss): by our own
//! transform for baseline JPEGs ([`rewrite`]), by libjpeg-turbo's for the rest.

mod decode;
mod encode;
mod frame;
mod huffman;
mod rewrite;

/// A noisy, colourful `w` x `h` JPEG from libjpeg-turbo: every coefficient
/// position gets used, with the file's own Huffman tables when `optimize`.
#[cfg(test)]
fn test_jpeg(w: u32, h: u32, subsamp: turbojpeg::Subsamp, quality: i32, optimize: bool) -> Vec<u8> {
    let pixels: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            let (x, y) = (i % w, i / w);
            let noise = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 27;
            [
                (x * 255 / w.max(1)) as u8 ^ noise as u8,
                (y * 255 / h.max(1)) as u8,
                ((x + 2 * y) % 256) as u8 ^ (noise as u8) << 2,
            ]
        })
        .collect();
    let mut compressor = turbojpeg::Compressor::new().unwrap();
    compressor.set_quality(quality).unwrap();
    compressor.set_subsamp(subsamp).unwrap();
    compressor.set_optimize(optimize).unwrap();
    let image = turbojpeg::Image {
        pixels: pixels.as_slice(),
        width: w as usize,
        pitch: 3 * w as usize,
        height: h as usize,
        format: turbojpeg::PixelFormat::RGB,
    };
    compressor.compress_to_vec(image).unwrap()
}

use image::metadata::Orientation;

use crate::edit::{EditInstruction, FlipAxis};
use crate::error::Result;
use crate::format::MediaFormat;
use crate::jpeg::{self, Rect, Turn};
#[cfg(test)]
use crate::upload::probe;
use crate::upload::{
    Prepared, UploadLimits, decode_at_least, render_thumbnail_sized, stored_shape, thumbnail_size,
};

/// The single turn and crop (in the turned image's coordinates) that the EXIF
/// orientation and then `instructions` make of an image stored `width` x
/// `height`; `None` when an instruction is not a rotation, flip or crop. The
/// instructions must have passed [`crate::edit::validate`] for the displayed size.
pub(crate) fn plan(
    orientation: Turn,
    width: u32,
    height: u32,
    instructions: &[EditInstruction],
) -> Option<(Turn, Rect)> {
    let mut turn = orientation;
    let (w, h) = turn.size(width, height);
    let mut rect = Rect {
        x: 0,
        y: 0,
        width: w,
        height: h,
    };
    for instruction in instructions {
        let step = match *instruction {
            EditInstruction::Rotate(90) => Turn::Rotate90,
            EditInstruction::Rotate(180) => Turn::Rotate180,
            EditInstruction::Rotate(270) => Turn::Rotate270,
            EditInstruction::Flip(FlipAxis::Horizontal) => Turn::FlipHorizontal,
            EditInstruction::Flip(FlipAxis::Vertical) => Turn::FlipVertical,
            EditInstruction::Crop {
                x,
                y,
                width,
                height,
            } => {
                rect = Rect {
                    x: rect.x + x,
                    y: rect.y + y,
                    width,
                    height,
                };
                continue;
            }
            _ => return None,
        };
        // The crop so far, carried through the turn of the whole image.
        let (tw, th) = turn.size(width, height);
        rect = step.map_rect(tw, th, rect);
        turn = turn.then(step);
    }
    Some((turn, rect))
}

fn orientation_turn(orientation: Orientation) -> Turn {
    match orientation {
        Orientation::NoTransforms => Turn::Identity,
        Orientation::Rotate90 => Turn::Rotate90,
        Orientation::Rotate180 => Turn::Rotate180,
        Orientation::Rotate270 => Turn::Rotate270,
        Orientation::FlipHorizontal => Turn::FlipHorizontal,
        Orientation::FlipVertical => Turn::FlipVertical,
        Orientation::Rotate90FlipH => Turn::Transpose,
        Orientation::Rotate270FlipH => Turn::Transverse,
    }
}

/// The lossless transform alone: the JPEG that an edit made only of `rotate`,
/// `flip` and `crop` gives, or `Ok(None)` when it must take the decode path:
///
/// * the image is not a JPEG, or not one libjpeg-turbo reads cleanly (truncated
///   or corrupt files go to the decode path, which refuses them as before), or an
///   instruction is not a rotation, flip or crop;
/// * a crop's top-left corner, in the turned image, is not on the MCU grid (8 or
///   16 pixels, by chroma subsampling): a lossless crop can only start there;
/// * the turn would move a partial MCU from the right or bottom edge (a size that
///   is not a multiple of the MCU): libjpeg-turbo refuses it as imperfect, and
///   trimming the edge would change the result's size.
///
/// A baseline JPEG is turned by our own transform ([`rewrite`]: one entropy
/// decode, then the rows encoded in parallel, with a restart marker per MCU
/// row); anything else, and anything that transform does not read cleanly, by
/// libjpeg-turbo's. Both give the same coefficients. An EXIF orientation other
/// than 1 is applied first, in the same transform, and no metadata is copied (the
/// decode path drops it too), so the result is upright with no orientation tag.
/// `instructions` must have passed [`crate::edit::validate`] for the displayed
/// size.
pub fn lossless_transform(
    bytes: &[u8],
    limits: UploadLimits,
    instructions: &[EditInstruction],
) -> Result<Option<Vec<u8>>> {
    Ok(transform(bytes, limits, instructions)?.map(|(out, _)| out))
}

/// [`lossless_transform`], with the crop it made (the result's size).
fn transform(
    bytes: &[u8],
    limits: UploadLimits,
    instructions: &[EditInstruction],
) -> Result<Option<(Vec<u8>, Rect)>> {
    if MediaFormat::sniff(bytes) != Some(MediaFormat::Jpeg) {
        return Ok(None);
    }
    let (_, (width, height), orientation) = stored_shape(bytes, limits)?;
    let Some((turn, crop)) = plan(orientation_turn(orientation), width, height, instructions)
    else {
        return Ok(None);
    };
    let out = rewrite::transform(bytes, width, height, turn, crop).or_else(|| {
        // libjpeg-turbo's transform carries on through what its decoder only
        // warns about (a scan cut short, say) and writes a file that does not
        // decode cleanly either (found by fuzzing): only a clean one is taken.
        let out = jpeg::transform(bytes, width, height, turn, crop).ok()?;
        let clean = jpeg::decode_at_least(&out, crop.width, crop.height, 1, 1).is_ok();
        clean.then_some(out)
    });
    Ok(out.map(|out| (out, crop)))
}

/// Runs an edit made only of `rotate`, `flip` and `crop` on a JPEG as one
/// lossless transform (see [`lossless_transform`]), returning the new JPEG's
/// bytes and its facts and thumbnail, as an upload would have them; `Ok(None)`
/// when the edit must take the decode path instead ([`crate::edit::apply`], then
/// encoding), which gives the same size and, up to the JPEG round trip, the same
/// pixels.
///
/// The result is verified by decoding it (at the thumbnail's DCT scale): only a
/// decodable JPEG of the planned size is returned; otherwise the decode path runs.
pub fn lossless_edit(
    bytes: &[u8],
    limits: UploadLimits,
    instructions: &[EditInstruction],
) -> Result<Option<(Vec<u8>, Prepared)>> {
    let Some((out, crop)) = transform(bytes, limits, instructions)? else {
        return Ok(None);
    };
    // Verified as an upload would be: a JPEG of the planned size, upright, that
    // decodes. Anything else (libjpeg-turbo having adjusted the crop for an image
    // with unusual sampling factors, say) leaves the edit to the decode path.
    let Ok((format, (out_w, out_h), out_orientation)) = stored_shape(&out, limits) else {
        return Ok(None);
    };
    if format != MediaFormat::Jpeg
        || (out_w, out_h) != (crop.width, crop.height)
        || out_orientation != Orientation::NoTransforms
    {
        return Ok(None);
    }
    let size = thumbnail_size(out_w, out_h);
    let Ok((_, small)) = decode_at_least(&out, limits, size.0, size.1) else {
        return Ok(None);
    };
    let shrunk = (small.width(), small.height()) != (out_w, out_h);
    let (thumbnail, thumbnail_format) = render_thumbnail_sized(&small, size, shrunk)?;
    let prepared = Prepared {
        format: MediaFormat::Jpeg,
        width: out_w,
        height: out_h,
        thumbnail,
        thumbnail_format,
        reencoded: None,
    };
    Ok(Some((out, prepared)))
}

#[cfg(test)]
mod tests {
    use turbojpeg::Subsamp;

    use super::*;

    const LIMITS: UploadLimits = UploadLimits {
        max_bytes: 1 << 20,
        max_pixels: 1 << 20,
        max_side: 65_535,
        max_aspect_ratio: 1000,
    };

    #[test]
    fn a_scan_cut_short_is_never_turned_into_a_broken_file() {
        for subsamp in [Subsamp::Sub2x2, Subsamp::None] {
            let whole = test_jpeg(64, 48, subsamp, 85, false);
            let mut checked = 0;
            for cut in (whole.len() / 2..whole.len() - 2).step_by(7) {
                // Cut inside the scan, then ended properly: libjpeg-turbo only
                // warns ("premature end of data segment").
                let mut bytes = whole[..cut].to_vec();
                bytes.extend_from_slice(&[0xFF, 0xD9]);
                if probe(&bytes, LIMITS).is_err() {
                    continue;
                }
                checked += 1;
                if let Some(out) =
                    lossless_transform(&bytes, LIMITS, &[EditInstruction::Rotate(270)])
                        .expect("valid instructions")
                {
                    let decoded = turbojpeg::decompress(&out, turbojpeg::PixelFormat::RGB);
                    assert!(decoded.is_ok(), "cut at {cut}: {:?}", decoded.err());
                }
            }
            assert!(checked > 10, "{checked}");
        }
        // Found by the fuzzer (a mutated Huffman table): our decoder refuses it,
        // and libjpeg-turbo's transform wrote a file its own decoder
        // calls corrupt.
        let bytes = include_bytes!("../../../../fuzz/seeds/lossless_jpeg/16x9_444_bad_huffman.jpg");
        let list = [EditInstruction::Rotate(270)];
        assert!(
            jpeg::transform(
                bytes,
                16,
                9,
                Turn::Rotate270,
                Rect {
                    x: 0,
                    y: 0,
                    width: 9,
                    height: 16
                }
            )
            .is_ok()
        );
        assert!(lossless_transform(bytes, LIMITS, &list).unwrap().is_none());
    }
}
