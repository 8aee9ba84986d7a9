//! Decoding and fast JPEG encoding.

use std::fmt;

use image::{DynamicImage, GrayImage, ImageResult, RgbImage};

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

/// A one-component (greyscale) baseline JPEG through libjpeg-turbo, as Pillow
/// saves an `L` image. It decodes to the same grey as an RGB JPEG of R = G = B at
/// the same quality: the luma quantisation is the same, and grey's chroma is
/// exactly neutral. `quality` is 1..=100.
pub fn encode_jpeg_gray(grey: &GrayImage, quality: u8) -> Result<Vec<u8>, EncodeError> {
    compress(
        grey.as_raw(),
        grey.width(),
        grey.height(),
        turbojpeg::PixelFormat::GRAY,
        turbojpeg::Subsamp::Gray,
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
    let (mut compressor, mut out) = compressor_and_buffer(width, height, subsamp, quality)?;
    let len = compressor
        .compress_to_slice(image, &mut out)
        .map_err(|e| EncodeError(e.to_string()))?;
    out.truncate(len);
    out.shrink_to_fit();
    Ok(out)
}

/// A compressor set to `subsamp` and `quality` (clamped to 1..=100), and an
/// output buffer of the most bytes it can write for a `width` x `height` image,
/// zeroed by calloc so its pages are only mapped as they are written. The
/// streamed encoder (`stream.rs`) writes into the same worst case.
pub(super) fn compressor_and_buffer(
    width: usize,
    height: usize,
    subsamp: turbojpeg::Subsamp,
    quality: u8,
) -> Result<(turbojpeg::Compressor, Vec<u8>), EncodeError> {
    let fail = |e: turbojpeg::Error| EncodeError(e.to_string());
    let mut compressor = turbojpeg::Compressor::new().map_err(fail)?;
    compressor
        .set_quality(i32::from(quality.clamp(1, 100)))
        .map_err(fail)?;
    compressor.set_subsamp(subsamp).map_err(fail)?;
    let worst = compressor.buf_len(width, height).map_err(fail)?;
    let out = super::zeroed(worst).map_err(|e| EncodeError(e.to_string()))?;
    Ok((compressor, out))
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

    /// A grey result saved as a one-component JPEG reads back, through the
    /// decoder the service uses, as exactly the grey an RGB JPEG of R = G = B at
    /// the same quality reads back as, at sizes 1 px wide or high and off the MCU.
    #[test]
    fn grey_jpeg_decodes_like_an_rgb_jpeg_of_grey() {
        for (w, h) in [(1, 1), (1, 37), (37, 1), (7, 9), (17, 33), (100, 61)] {
            let grey = GrayImage::from_fn(w, h, |x, y| image::Luma([(x * 37 + y * 101) as u8]));
            let rgb = DynamicImage::ImageLuma8(grey.clone()).to_rgb8();
            let one = decode(&encode_jpeg_gray(&grey, 90).unwrap()).unwrap();
            let three = decode(&encode_jpeg(&rgb, 90).unwrap()).unwrap();
            assert!(matches!(one, DynamicImage::ImageLuma8(_)), "{w}x{h}");
            assert_eq!(one.to_rgb8(), three.to_rgb8(), "{w}x{h}");
        }
    }
}
