//! How many bytes pixel work holds at its peak, computed from declared sizes before
//! any pixel is decoded, so a caller can admit or refuse the work first.
//!
//! Every figure is width x height x channels x bytes per sample of each buffer
//! alive at once, intermediates included, plus the working tables that grow with
//! the image (resampling coefficients, per-row scratch). The figures are upper
//! bounds, not estimates: `tests/cost_model.rs` measures real allocations against
//! them.

use crate::edit::{self, EditInstruction};
use crate::format::MediaFormat;
use crate::upload::Probe;

/// Longest side of a thumbnail, as rendered by `render_thumbnail`.
const THUMBNAIL_SIDE: u64 = 400;
/// A thumbnail, its RGBA copy for encoding and the encoded bytes, with room to spare.
const THUMBNAIL_BYTES: u64 = THUMBNAIL_SIDE * THUMBNAIL_SIDE * 4 * 4;
/// Lookup tables, encoder state and other buffers that do not grow with the image.
const FIXED_BYTES: u64 = 4 << 20;
/// Lanczos3 reaches 3 source pixels either side of a centre, at scale 1.
const LANCZOS_SUPPORT: f64 = 3.0;
/// Bytes per resampling coefficient: the f64 table and its integer copy, alive
/// together while the resizer converts one into the other.
const COEFFICIENT_BYTES: u64 = 8 + 4;

/// Where an edit's result goes, which decides what is rendered after the edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Encoded in full and thumbnailed, to be stored.
    Stored,
    /// Scaled to fit a square of this side (when larger), then encoded.
    Preview {
        /// Longest side of the preview.
        max_side: u32,
    },
}

fn pixels(width: u32, height: u32) -> u64 {
    u64::from(width) * u64::from(height)
}

/// Bytes of one 8-bit buffer.
fn buffer(width: u32, height: u32, channels: u64) -> u64 {
    pixels(width, height).saturating_mul(channels)
}

/// Decoding: the decoder's own working memory (progressive JPEG keeps a 16-bit
/// coefficient per sample; other formats at most a frame), then the decoded image
/// beside its 8-bit or re-oriented copy.
pub fn decode(probe: &Probe) -> u64 {
    let native = u64::from(probe.bytes_per_pixel);
    let scratch = match probe.format {
        MediaFormat::Jpeg => native * 2,
        MediaFormat::Png | MediaFormat::Webp | MediaFormat::Gif => native.max(4),
    };
    pixels(probe.width, probe.height)
        .saturating_mul(native + scratch.max(4))
        .saturating_add(FIXED_BYTES)
}

/// Accepting an upload: decoding, then the 8-bit image with its PNG re-encoding
/// (16-bit sources only) and the thumbnail.
pub fn upload(probe: &Probe) -> u64 {
    let reencoded = if probe.bytes_per_pixel > u8::from(probe.has_alpha) + 3 {
        buffer(probe.width, probe.height, 8)
    } else {
        0
    };
    decode(probe)
        .max(reencoded.saturating_add(FIXED_BYTES))
        .saturating_add(THUMBNAIL_BYTES)
}

/// The 8-bit working channels an image of this probe is edited in.
pub fn working_channels(probe: &Probe) -> u8 {
    if probe.has_alpha { 4 } else { 3 }
}

/// A whole edit: decoding, the instructions in turn, and the output. `instructions`
/// must have passed [`edit::validate`] for the probe's (displayed) size.
pub fn edit_job(probe: &Probe, instructions: &[EditInstruction], output: Output) -> u64 {
    let channels = working_channels(probe);
    let (steps, (width, height)) = edit_steps(probe.width, probe.height, channels, instructions);
    let out = match output {
        Output::Stored => encode(width, height, channels).saturating_add(THUMBNAIL_BYTES),
        Output::Preview { max_side } => preview(width, height, channels, max_side),
    };
    decode(probe).max(steps).max(out)
}

/// The instructions alone on an 8-bit image of `channels` (3 or 4) already
/// decoded: the peak of any step, including turning the decoded image into the
/// working form. `instructions` must have passed [`edit::validate`].
pub fn edit(width: u32, height: u32, channels: u8, instructions: &[EditInstruction]) -> u64 {
    edit_steps(width, height, channels, instructions).0
}

fn edit_steps(
    width: u32,
    height: u32,
    channels: u8,
    instructions: &[EditInstruction],
) -> (u64, (u32, u32)) {
    let ch = u64::from(channels);
    // A grey or palette image is widened to RGB(A) beside itself.
    let mut peak = buffer(width, height, ch * 2);
    let (mut w, mut h) = (width, height);
    for instruction in instructions {
        let (bytes, size) = step(instruction, w, h, ch);
        peak = peak.max(bytes);
        (w, h) = size;
    }
    (peak.saturating_add(FIXED_BYTES), (w, h))
}

/// Bytes held while `instruction` runs on a `w` x `h` image, and the size after.
fn step(instruction: &EditInstruction, w: u32, h: u32, ch: u64) -> (u64, (u32, u32)) {
    let image = buffer(w, h, ch);
    let row = u64::from(w) * ch;
    match *instruction {
        EditInstruction::Brightness(_)
        | EditInstruction::Contrast(_)
        | EditInstruction::Saturation(_)
        | EditInstruction::Grayscale
        | EditInstruction::Flip(_) => (image, (w, h)),
        // In place: two rows outside each band of 64, three working rows per task.
        EditInstruction::Sharpness(_) => (
            image.saturating_add((image / 64 + row).saturating_mul(5)),
            (w, h),
        ),
        // Two full buffers, per-band running sums (u32 per sample) and per-task rows.
        EditInstruction::Blur { .. } => (
            image
                .saturating_mul(2)
                .saturating_add(image / 8)
                .saturating_add(row.saturating_mul(5)),
            (w, h),
        ),
        EditInstruction::Rotate(degrees) => {
            let size = if degrees == 180 { (w, h) } else { (h, w) };
            (image.saturating_mul(2), size)
        }
        EditInstruction::Crop { width, height, .. } => (
            image.saturating_add(buffer(width, height, ch)),
            (width, height),
        ),
        EditInstruction::Resize { width, height, fit } => {
            let plan = edit::resize_plan(w, h, width, height, fit);
            (resize(w, h, ch, plan), (plan.width, plan.height))
        }
    }
}

/// A resize: source, intermediate and result, and the coefficient tables of the
/// passes. The intermediate is the one of the pass order the engine picks.
fn resize(w: u32, h: u32, ch: u64, plan: edit::ResizePlan) -> u64 {
    let source = buffer(w, h, ch);
    let result = buffer(plan.width, plan.height, ch);
    let order = edit::pass_order(w, h, plan);
    if order == edit::PassOrder::Single && !plan.cover && (plan.width, plan.height) == (w, h) {
        return source;
    }
    let intermediate = order.intermediate_pixels().saturating_mul(ch);
    // A single call may resample both axes when the crop starts between pixels,
    // through a temporary of about the result's size.
    let temporary = if order == edit::PassOrder::Single {
        buffer(
            plan.width.saturating_add(8),
            plan.height.saturating_add(8),
            ch,
        )
    } else {
        0
    };
    let coefficients = coefficients(w, plan.width).saturating_add(coefficients(h, plan.height));
    source
        .saturating_add(intermediate)
        .saturating_add(result)
        .saturating_add(temporary)
        .saturating_add(coefficients)
}

/// The coefficient table of one Lanczos3 pass from `from` to `to` pixels: a window
/// of `2 * ceil(3 * scale) + 1` weights per output pixel when shrinking.
fn coefficients(from: u32, to: u32) -> u64 {
    if to == 0 {
        return 0;
    }
    let scale = (f64::from(from) / f64::from(to)).max(1.0);
    let window = (LANCZOS_SUPPORT * scale).ceil() as u64 * 2 + 1;
    window
        .saturating_mul(u64::from(to))
        .saturating_mul(COEFFICIENT_BYTES)
        .saturating_add(u64::from(to) * 16)
}

/// Encoding a result: the image, the copies encoders make (RGBA, then RGB for
/// JPEG; RGBA frames for GIF) and the encoded bytes, which are at most about one
/// byte per sample.
pub fn encode(width: u32, height: u32, channels: u8) -> u64 {
    buffer(width, height, u64::from(channels) + 12).saturating_add(FIXED_BYTES)
}

/// A preview: the result scaled to fit `max_side` (when larger), then encoded.
pub fn preview(width: u32, height: u32, channels: u8, max_side: u32) -> u64 {
    let ch = u64::from(channels);
    if width.max(height) <= max_side {
        return encode(width, height, channels);
    }
    let plan = edit::resize_plan(
        width,
        height,
        Some(max_side),
        Some(max_side),
        edit::Fit::Contain,
    );
    resize(width, height, ch, plan)
        .max(encode(plan.width, plan.height, channels))
        .saturating_add(FIXED_BYTES)
}

/// Scaling a stored image down for a consumer with a size cap (`fit_within`):
/// decoding, then the image crate's two-pass resize, whose intermediate holds
/// four f32 samples per pixel.
pub fn fit_within(probe: &Probe, max_side: u32) -> u64 {
    let decoded = decode(probe);
    if probe.width.max(probe.height) <= max_side && probe.format != MediaFormat::Gif {
        return FIXED_BYTES;
    }
    let image = buffer(
        probe.width,
        probe.height,
        u64::from(probe.bytes_per_pixel).max(4),
    );
    let intermediate = buffer(probe.width, max_side.min(probe.height), 16);
    decoded.max(
        image
            .saturating_add(intermediate)
            .saturating_add(encode(max_side, max_side, 4)),
    )
}

/// The intermediate image (width, height) a resize from `width` x `height` holds
/// between its two passes, or `None` when it runs in one pass.
pub fn resize_intermediate(
    width: u32,
    height: u32,
    resize: &EditInstruction,
) -> Option<(u32, u32)> {
    let EditInstruction::Resize {
        width: to_w,
        height: to_h,
        fit,
    } = *resize
    else {
        return None;
    };
    match edit::pass_order(
        width,
        height,
        edit::resize_plan(width, height, to_w, to_h, fit),
    ) {
        edit::PassOrder::Single => None,
        edit::PassOrder::HorizontalFirst { width, height }
        | edit::PassOrder::VerticalFirst { width, height } => Some((width, height)),
    }
}
