//! Decoding and fast JPEG encoding.

use std::fmt;

use image::{DynamicImage, ImageResult, RgbImage};
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

/// Decodes any format the `image` crate was built with (JPEG through
/// zune-jpeg).
pub fn decode(bytes: &[u8]) -> ImageResult<DynamicImage> {
    image::load_from_memory(bytes)
}

#[derive(Debug)]
pub struct EncodeError(String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JPEG encoding failed: {}", self.0)
    }
}

impl std::error::Error for EncodeError {}

/// Baseline JPEG with 4:2:0 chroma subsampling at every quality, matching
/// Pillow's default (jpeg-encoder on its own switches to 4:4:4 from q90 on,
/// which makes files ~30% larger and encoding slower). `quality` is 1..=100.
/// Fails for images wider or taller than 65535 pixels (a JPEG limit).
pub fn encode_jpeg(rgb: &RgbImage, quality: u8) -> Result<Vec<u8>, EncodeError> {
    let (w, h) = rgb.dimensions();
    let (w, h) = match (u16::try_from(w), u16::try_from(h)) {
        (Ok(w), Ok(h)) => (w, h),
        _ => return Err(EncodeError(format!("{w}x{h} exceeds 65535 pixels"))),
    };
    // Compressed size is usually well under a quarter of the raw size.
    let mut out = Vec::with_capacity(rgb.as_raw().len() / 4);
    let mut encoder = Encoder::new(&mut out, quality.clamp(1, 100));
    encoder.set_sampling_factor(SamplingFactor::F_2_2);
    encoder
        .encode(rgb.as_raw(), w, h, ColorType::Rgb)
        .map_err(|e| EncodeError(e.to_string()))?;
    Ok(out)
}
