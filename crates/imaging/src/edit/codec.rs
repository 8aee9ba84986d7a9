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
    compress(
        rgb.as_raw(),
        rgb.width(),
        rgb.height(),
        turbojpeg::PixelFormat::RGB,
        turbojpeg::Subsamp::Sub2x2,
        quality,
    )
}

/// `pixels` (tightly packed rows of `format`) compressed straight into the Vec
/// returned. libjpeg-turbo's own output buffer would start at 4 KiB and double,
/// copying at each step into freshly faulted memory, then be copied once more into
/// a Vec; here it writes once into a buffer of its worst-case size, whose pages
/// the kernel only maps as they are written (calloc), and the Vec is shrunk in
/// place to what was written.
fn compress(
    pixels: &[u8],
    width: u32,
    height: u32,
    format: turbojpeg::PixelFormat,
    subsamp: turbojpeg::Subsamp,
    quality: u8,
) -> Result<Vec<u8>, EncodeError> {
    let (width, height) = (width as usize, height as usize);
    let image = turbojpeg::Image {
        pixels,
        width,
        pitch: width * format.size(),
        height,
        format,
    };
    let fail = |e: turbojpeg::Error| EncodeError(e.to_string());
    let mut compressor = turbojpeg::Compressor::new().map_err(fail)?;
    compressor
        .set_quality(i32::from(quality.clamp(1, 100)))
        .map_err(fail)?;
    compressor.set_subsamp(subsamp).map_err(fail)?;
    let worst = compressor.buf_len(width, height).map_err(fail)?;
    let mut out = super::zeroed(worst).map_err(|e| EncodeError(e.to_string()))?;
    let len = compressor
        .compress_to_slice(image, &mut out)
        .map_err(fail)?;
    out.truncate(len);
    out.shrink_to_fit();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compressing into the worst-case buffer gives the bytes libjpeg-turbo's own
    /// growing buffer gives, at sizes 1 px wide or high and off the 8 and 16 pixel
    /// MCU sides.
    #[test]
    fn jpeg_bytes_match_libjpeg_turbos_own_buffer_at_odd_sizes() {
        for (w, h) in [(1, 1), (1, 37), (37, 1), (7, 9), (17, 33), (100, 61)] {
            let rgb = RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([(x * 37 + y) as u8, (y * 11) as u8, (x ^ y) as u8])
            });
            let ours = encode_jpeg(&rgb, 90).unwrap();
            let mut compressor = turbojpeg::Compressor::new().unwrap();
            compressor.set_quality(90).unwrap();
            compressor.set_subsamp(turbojpeg::Subsamp::Sub2x2).unwrap();
            let image = turbojpeg::Image {
                pixels: rgb.as_raw().as_slice(),
                width: w as usize,
                pitch: w as usize * 3,
                height: h as usize,
                format: turbojpeg::PixelFormat::RGB,
            };
            assert_eq!(ours, compressor.compress_to_vec(image).unwrap(), "{w}x{h}");
            assert_eq!(ours.capacity(), ours.len(), "{w}x{h} shrunk to its bytes");
        }
    }
}
