//! Decoding and fast JPEG encoding.

use std::fmt;

use image::{DynamicImage, ImageResult, RgbImage};

/// Decodes any format the `image` crate was built with (JPEG through
/// zune-jpeg).
pub fn decode(bytes: &[u8]) -> ImageResult<DynamicImage> {
    image::load_from_memory(bytes)
}

/// libjpeg-turbo refused to encode.
#[derive(Debug)]
pub struct EncodeError(String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JPEG encoding failed: {}", self.0)
    }
}

impl std::error::Error for EncodeError {}

/// Baseline JPEG with 4:2:0 chroma subsampling, Pillow's default, through
/// libjpeg-turbo. `quality` is 1..=100.
pub fn encode_jpeg(rgb: &RgbImage, quality: u8) -> Result<Vec<u8>, EncodeError> {
    let (width, height) = (rgb.width() as usize, rgb.height() as usize);
    let image = turbojpeg::Image {
        pixels: rgb.as_raw().as_slice(),
        width,
        pitch: width * 3,
        height,
        format: turbojpeg::PixelFormat::RGB,
    };
    let fail = |e: turbojpeg::Error| EncodeError(e.to_string());
    let mut compressor = turbojpeg::Compressor::new().map_err(fail)?;
    compressor
        .set_quality(i32::from(quality.clamp(1, 100)))
        .map_err(fail)?;
    compressor
        .set_subsamp(turbojpeg::Subsamp::Sub2x2)
        .map_err(fail)?;
    compressor.compress_to_vec(image).map_err(fail)
}
