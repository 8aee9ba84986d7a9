//! Pure validation of an instruction list against an image size.

use std::fmt;

use super::{EditInstruction, resize};

/// Longest accepted instruction list.
pub const MAX_INSTRUCTIONS: usize = 20;
const MAX_FACTOR: f32 = 10.0;
const MAX_SIGMA: f32 = 100.0;

/// Why an instruction list was rejected. `index` is the 0-based position of
/// the offending instruction (for a too-long list, the first one past the cap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidInstruction {
    /// The offending instruction's position, 0-based.
    pub index: usize,
    /// What is wrong with it, safe to show.
    pub message: String,
}

impl fmt::Display for InvalidInstruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "instruction {}: {}", self.index, self.message)
    }
}

impl std::error::Error for InvalidInstruction {}

/// Checks every instruction for an image of `width` x `height`, tracking the
/// size through the pipeline (so a crop after a resize is checked against the
/// resized image). No step may produce more than `max_pixels` pixels.
pub fn validate(
    instructions: &[EditInstruction],
    width: u32,
    height: u32,
    max_pixels: u64,
) -> Result<(), InvalidInstruction> {
    if instructions.is_empty() {
        return Err(InvalidInstruction {
            index: 0,
            message: "give at least one instruction".to_owned(),
        });
    }
    if instructions.len() > MAX_INSTRUCTIONS {
        return Err(InvalidInstruction {
            index: MAX_INSTRUCTIONS,
            message: format!("at most {MAX_INSTRUCTIONS} instructions are allowed"),
        });
    }
    let (mut w, mut h) = (width, height);
    for (index, instruction) in instructions.iter().enumerate() {
        let fail = |message: String| InvalidInstruction { index, message };
        (w, h) = step(instruction, w, h, max_pixels).map_err(fail)?;
    }
    Ok(())
}

/// The size `instructions` make of a `width` x `height` image (as far as they are
/// valid for it: an invalid step leaves the size unchanged).
pub fn output_size(width: u32, height: u32, instructions: &[EditInstruction]) -> (u32, u32) {
    instructions
        .iter()
        .fold((width, height), |(w, h), instruction| {
            step(instruction, w, h, u64::MAX).unwrap_or((w, h))
        })
}

fn check_factor(name: &str, factor: f32) -> Result<(), String> {
    if factor.is_finite() && (0.0..=MAX_FACTOR).contains(&factor) {
        Ok(())
    } else {
        Err(format!(
            "{name} factor must be between 0 and {MAX_FACTOR}, got {factor}"
        ))
    }
}

fn check_pixels(w: u32, h: u32, max_pixels: u64) -> Result<(), String> {
    let pixels = w as u64 * h as u64;
    if pixels > max_pixels {
        Err(format!(
            "result of {w}x{h} = {pixels} pixels exceeds the limit of {max_pixels}"
        ))
    } else {
        Ok(())
    }
}

/// Size after `instruction`, or why it cannot run on a `w` x `h` image.
fn step(
    instruction: &EditInstruction,
    w: u32,
    h: u32,
    max_pixels: u64,
) -> Result<(u32, u32), String> {
    match *instruction {
        EditInstruction::Brightness(f) => check_factor("brightness", f)?,
        EditInstruction::Contrast(f) => check_factor("contrast", f)?,
        EditInstruction::Saturation(f) => check_factor("saturation", f)?,
        EditInstruction::Sharpness(f) => check_factor("sharpness", f)?,
        EditInstruction::Blur { sigma } => {
            if !(sigma > 0.0 && sigma <= MAX_SIGMA) {
                return Err(format!(
                    "blur sigma must be > 0 and <= {MAX_SIGMA}, got {sigma}"
                ));
            }
        }
        EditInstruction::Grayscale | EditInstruction::Flip(_) => {}
        EditInstruction::Rotate(degrees) => {
            return match degrees {
                90 | 270 => Ok((h, w)),
                180 => Ok((w, h)),
                _ => Err(format!(
                    "rotate must be 90, 180 or 270 degrees, got {degrees}"
                )),
            };
        }
        EditInstruction::Crop {
            x,
            y,
            width,
            height,
        } => {
            if width == 0 || height == 0 {
                return Err("crop width and height must be at least 1".into());
            }
            if x as u64 + width as u64 > w as u64 || y as u64 + height as u64 > h as u64 {
                return Err(format!(
                    "crop {width}x{height} at ({x}, {y}) is outside the {w}x{h} image"
                ));
            }
            return Ok((width, height));
        }
        EditInstruction::Resize { width, height, fit } => {
            if width.is_none() && height.is_none() {
                return Err("resize needs a width, a height or both".into());
            }
            if width == Some(0) || height == Some(0) {
                return Err("resize width and height must be at least 1".into());
            }
            // Bound each given side first: the aspect-derived side is computed
            // in f64 and must not be asked for from an absurd request.
            for side in [width, height].into_iter().flatten() {
                check_pixels(side, 1, max_pixels)?;
            }
            let plan = resize::plan(w, h, width, height, fit);
            check_pixels(plan.width, plan.height, max_pixels)?;
            // The image between the two passes is bounded too, not only the result.
            if let resize::PassOrder::HorizontalFirst { width, height }
            | resize::PassOrder::VerticalFirst { width, height } = resize::pass_order(w, h, plan)
            {
                check_pixels(width, height, max_pixels)
                    .map_err(|e| format!("the resize's intermediate image: {e}"))?;
            }
            return Ok((plan.width, plan.height));
        }
    }
    Ok((w, h))
}
