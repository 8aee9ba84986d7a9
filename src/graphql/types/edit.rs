use async_graphql::{Enum, ID, InputObject, Json, OneofObject, SimpleObject};

use super::Image;
use crate::use_cases::edits::SaveMode;
use imagegraph_imaging::MediaFormat;
use imagegraph_imaging::edit::{EditInstruction, Fit, FlipAxis};

/// One edit. Enhance factors mean what Pillow's ImageEnhance means: 1.0 leaves the
/// image unchanged (0 to 10).
#[derive(OneofObject)]
#[graphql(name = "EditInstruction")]
pub(crate) enum EditInstructionInput {
    /// Blend with black: 0 black, 1 unchanged, 2 twice as bright.
    Brightness(f32),
    /// Blend with the mean grey level.
    Contrast(f32),
    /// Blend with the greyscale image (Pillow's Color).
    Saturation(f32),
    /// Blend with a 3x3 smoothed image: below 1 softer, above 1 sharper.
    Sharpness(f32),
    /// Gaussian blur of this radius (sigma), above 0, at most 100.
    Blur(f32),
    /// `true`: to greyscale, alpha kept.
    Grayscale(bool),
    /// Clockwise: 90, 180 or 270.
    Rotate(i32),
    Flip(FlipAxisGql),
    Crop(CropInput),
    Resize(ResizeInput),
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "FlipAxis")]
pub enum FlipAxisGql {
    Horizontal,
    Vertical,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
#[graphql(name = "ResizeFit")]
pub enum FitGql {
    /// Fit inside the box, keeping the aspect ratio.
    #[default]
    Contain,
    /// Fill the box keeping the aspect ratio, cropping the overflow (centred).
    Cover,
    /// Stretch to exactly the box.
    Fill,
}

#[derive(InputObject)]
pub(crate) struct CropInput {
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
}

/// Give `width`, `height` or both; with one, the other follows the aspect ratio.
#[derive(InputObject)]
pub(crate) struct ResizeInput {
    pub width: Option<i32>,
    pub height: Option<i32>,
    #[graphql(default)]
    pub fit: FitGql,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
#[graphql(name = "SaveMode")]
pub enum SaveModeGql {
    /// Store the result as a new image (source EDIT, `parent` set); the original stays.
    #[default]
    NewVersion,
    /// Change the image in place (owner or admin); its previous content becomes a version.
    Replace,
    /// Store nothing; return a rendering at most 1024 px on its long side as a data URL.
    Preview,
}

impl From<SaveModeGql> for SaveMode {
    fn from(mode: SaveModeGql) -> Self {
        match mode {
            SaveModeGql::NewVersion => SaveMode::NewVersion,
            SaveModeGql::Replace => SaveMode::Replace,
            SaveModeGql::Preview => SaveMode::Preview,
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ImageFormat")]
pub enum ImageFormatGql {
    Jpeg,
    Png,
    Webp,
    Gif,
}

impl From<ImageFormatGql> for MediaFormat {
    fn from(format: ImageFormatGql) -> Self {
        match format {
            ImageFormatGql::Jpeg => MediaFormat::Jpeg,
            ImageFormatGql::Png => MediaFormat::Png,
            ImageFormatGql::Webp => MediaFormat::Webp,
            ImageFormatGql::Gif => MediaFormat::Gif,
        }
    }
}

#[derive(InputObject)]
pub(crate) struct EditImageInput {
    pub image_id: ID,
    /// Applied in order; at most 20.
    pub instructions: Vec<EditInstructionInput>,
    #[graphql(default)]
    pub save: SaveModeGql,
    /// Output format; the original's when unset (alpha kept unless JPEG).
    pub format: Option<ImageFormatGql>,
    /// Have the stored result described by the AI model.
    #[graphql(default)]
    pub analyze: bool,
}

#[derive(InputObject)]
pub(crate) struct EditImageWithPromptInput {
    pub image_id: ID,
    /// What to do, in plain language: "brighter, a little more contrast, square crop".
    pub prompt: String,
    #[graphql(default)]
    pub save: SaveModeGql,
    pub format: Option<ImageFormatGql>,
    #[graphql(default)]
    pub analyze: bool,
}

#[derive(SimpleObject)]
pub(crate) struct EditImagePayload {
    /// The new version, or the replaced image; null for PREVIEW.
    pub image: Option<Image>,
    /// For PREVIEW: a `data:` URL of the result.
    pub preview: Option<String>,
    /// The instructions applied, in the form of `Image.edits`.
    pub instructions: Json<serde_json::Value>,
}

/// Converts the input; out-of-range values are left for validation to name.
pub(crate) fn instruction(input: EditInstructionInput) -> EditInstruction {
    let pixels = |n: i32| u32::try_from(n).unwrap_or(u32::MAX);
    match input {
        EditInstructionInput::Brightness(f) => EditInstruction::Brightness(f),
        EditInstructionInput::Contrast(f) => EditInstruction::Contrast(f),
        EditInstructionInput::Saturation(f) => EditInstruction::Saturation(f),
        EditInstructionInput::Sharpness(f) => EditInstruction::Sharpness(f),
        EditInstructionInput::Blur(sigma) => EditInstruction::Blur { sigma },
        EditInstructionInput::Grayscale(_) => EditInstruction::Grayscale,
        EditInstructionInput::Rotate(degrees) => {
            EditInstruction::Rotate(u16::try_from(degrees).unwrap_or(u16::MAX))
        }
        EditInstructionInput::Flip(axis) => EditInstruction::Flip(match axis {
            FlipAxisGql::Horizontal => FlipAxis::Horizontal,
            FlipAxisGql::Vertical => FlipAxis::Vertical,
        }),
        EditInstructionInput::Crop(c) => EditInstruction::Crop {
            x: pixels(c.x),
            y: pixels(c.y),
            width: pixels(c.width),
            height: pixels(c.height),
        },
        EditInstructionInput::Resize(r) => EditInstruction::Resize {
            width: r.width.map(pixels),
            height: r.height.map(pixels),
            fit: match r.fit {
                FitGql::Contain => Fit::Contain,
                FitGql::Cover => Fit::Cover,
                FitGql::Fill => Fit::Fill,
            },
        },
    }
}
