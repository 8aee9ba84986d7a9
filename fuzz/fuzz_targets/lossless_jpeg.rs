//! Lossless JPEG geometry on any bytes: never a crash or a hang, and whenever a
//! turn is made, the result decodes to the planned size; when the file carries
//! no EXIF orientation, to the very pixels libjpeg-turbo's own transform gives
//! (our transform of baseline files must move the same coefficients).
#![no_main]

use imagegraph_imaging::edit::{EditInstruction, FlipAxis};
use imagegraph_imaging::{UploadLimits, lossless_transform, probe};
use libfuzzer_sys::fuzz_target;
use turbojpeg::{PixelFormat, Transform, TransformOp};

const LIMITS: UploadLimits = UploadLimits {
    max_bytes: 1 << 20,
    max_pixels: 1 << 20,
    max_side: 65_535,
    max_aspect_ratio: 1000,
};

fn pixels(bytes: &[u8]) -> Option<(usize, usize, Vec<u8>)> {
    let image = turbojpeg::decompress(bytes, PixelFormat::RGB).ok()?;
    Some((image.width, image.height, image.pixels))
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(probed) = probe(bytes, LIMITS) else {
        return;
    };
    let exif = bytes.windows(6).any(|w| w == b"Exif\0\0");
    for (instruction, op) in [
        (EditInstruction::Rotate(270), TransformOp::Rot270),
        (EditInstruction::Rotate(90), TransformOp::Rot90),
        (EditInstruction::Rotate(180), TransformOp::Rot180),
        (EditInstruction::Flip(FlipAxis::Horizontal), TransformOp::Hflip),
    ] {
        let Ok(Some(out)) = lossless_transform(bytes, LIMITS, &[instruction]) else {
            continue;
        };
        let (w, h) = if matches!(instruction, EditInstruction::Rotate(90 | 270)) {
            (probed.height, probed.width)
        } else {
            (probed.width, probed.height)
        };
        let ours = pixels(&out).expect("a lossless turn decodes");
        assert_eq!((ours.0, ours.1), (w as usize, h as usize), "{instruction:?}");
        if exif {
            continue;
        }
        let mut transform = Transform::op(op);
        transform.perfect = true;
        transform.copy_none = true;
        if let Ok(theirs) = turbojpeg::transform(&transform, bytes) {
            assert!(pixels(&theirs) == Some(ours), "{instruction:?}: not libjpeg-turbo's pixels");
        }
    }
});
