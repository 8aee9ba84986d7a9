use std::io::Cursor;

use image::{DynamicImage, ImageDecoder as _, ImageReader, Limits};

use super::MediaFormat;
use crate::error::{ImageError, Result};

/// Longest side of the thumbnail rendition, in pixels.
const THUMBNAIL_SIZE: u32 = 400;
const THUMBNAIL_JPEG_QUALITY: u8 = 82;

/// What an image may be: checked before any pixel is decoded.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    /// Largest file.
    pub max_bytes: usize,
    /// Most pixels (width x height).
    pub max_pixels: u64,
}

/// What an accepted upload becomes: its facts and its thumbnail.
#[derive(Debug)]
pub struct Prepared {
    /// The format the bytes are in.
    pub format: MediaFormat,
    /// Displayed width, after EXIF orientation.
    pub width: u32,
    /// Displayed height, after EXIF orientation.
    pub height: u32,
    /// The thumbnail's bytes.
    pub thumbnail: Vec<u8>,
    /// The thumbnail's format.
    pub thumbnail_format: MediaFormat,
}

/// Checks an upload from its header (format, size, pixel count) before any pixel is
/// decoded, then decodes it and renders the thumbnail.
pub fn prepare_upload(bytes: &[u8], limits: UploadLimits) -> Result<Prepared> {
    let (format, image) = decode(bytes, limits)?;
    let (thumbnail, thumbnail_format) = render_thumbnail(&image)?;
    Ok(Prepared {
        format,
        width: image.width(),
        height: image.height(),
        thumbnail,
        thumbnail_format,
    })
}

/// Decodes an image under the limits, with its EXIF orientation applied; sizes are
/// checked from the header before any pixel is decoded. GIFs give their first frame.
pub fn decode(bytes: &[u8], limits: UploadLimits) -> Result<(MediaFormat, DynamicImage)> {
    if bytes.len() > limits.max_bytes {
        return Err(ImageError::TooLarge(format!(
            "the image is {} bytes; the limit is {} bytes",
            bytes.len(),
            limits.max_bytes
        )));
    }
    let format = MediaFormat::sniff(bytes).ok_or_else(|| {
        ImageError::Unsupported("not a supported image: send JPEG, PNG, WebP or GIF".to_owned())
    })?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.to_image_format());
    reader.limits(decode_limits(limits));
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (raw_width, raw_height) = decoder.dimensions();
    check_pixels(raw_width, raw_height, limits)?;
    let orientation = decoder.orientation().map_err(decode_error)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    image.apply_orientation(orientation);
    Ok((format, image))
}

/// Encodes in `format`; JPEG through a fast SIMD encoder, dropping any alpha onto
/// white (JPEG has none).
pub fn encode(image: &DynamicImage, format: MediaFormat, jpeg_quality: u8) -> Result<Vec<u8>> {
    if format == MediaFormat::Jpeg {
        let rgb = if image.color().has_alpha() {
            flatten_on_white(image)
        } else {
            image.to_rgb8()
        };
        return crate::edit::encode_jpeg(&rgb, jpeg_quality)
            .map_err(|err| ImageError::Encode(err.to_string()));
    }
    let mut out = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut out), format.to_image_format())
        .map_err(|err| ImageError::Encode(err.to_string()))?;
    Ok(out)
}

fn flatten_on_white(image: &DynamicImage) -> image::RgbImage {
    let rgba = image.to_rgba8();
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over =
            |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a)) + 127) / 255) as u8;
        image::Rgb([over(r), over(g), over(b)])
    })
}

fn decode_limits(limits: UploadLimits) -> Limits {
    let mut decode = Limits::default();
    // Room for the largest allowed image at 16 bits per channel with alpha.
    decode.max_alloc = Some(limits.max_pixels.saturating_mul(8).max(64 << 20));
    decode
}

fn check_pixels(width: u32, height: u32, limits: UploadLimits) -> Result<()> {
    let pixels = u64::from(width) * u64::from(height);
    if width == 0 || height == 0 {
        return Err(ImageError::Invalid("the image has no pixels".to_owned()));
    }
    if pixels > limits.max_pixels {
        return Err(ImageError::TooLarge(format!(
            "the image is {width}x{height} ({pixels} pixels); the limit is {} pixels",
            limits.max_pixels
        )));
    }
    Ok(())
}

fn decode_error(err: image::ImageError) -> ImageError {
    match err {
        image::ImageError::Limits(limit) => {
            ImageError::TooLarge(format!("the image exceeds a decoding limit: {limit}"))
        }
        other => ImageError::Invalid(format!("the image could not be decoded: {other}")),
    }
}

/// The image as it is when its longer side is at most `max_side` (and it is not a
/// GIF); otherwise scaled to fit (a GIF's first frame) and sent as JPEG. For
/// consumers with a size cap of their own, such as vision models.
pub fn fit_within(
    bytes: &[u8],
    format: MediaFormat,
    max_side: u32,
) -> Result<(Vec<u8>, MediaFormat)> {
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format.to_image_format())
        .into_dimensions()
        .map_err(decode_error)?;
    if width.max(height) <= max_side && format != MediaFormat::Gif {
        return Ok((bytes.to_vec(), format));
    }
    let mut decoded = image::load_from_memory_with_format(bytes, format.to_image_format())
        .map_err(decode_error)?;
    if decoded.width().max(decoded.height()) > max_side {
        decoded = decoded.resize(max_side, max_side, image::imageops::FilterType::Triangle);
    }
    Ok((encode(&decoded, MediaFormat::Jpeg, 85)?, MediaFormat::Jpeg))
}

/// Thumbnails keep transparency as PNG; everything else becomes a compact JPEG.
pub fn render_thumbnail(image: &DynamicImage) -> Result<(Vec<u8>, MediaFormat)> {
    let small = if image.width().max(image.height()) > THUMBNAIL_SIZE {
        image.thumbnail(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
    } else {
        image.clone()
    };
    let format = if small.color().has_alpha() {
        MediaFormat::Png
    } else {
        MediaFormat::Jpeg
    };
    Ok((encode(&small, format, THUMBNAIL_JPEG_QUALITY)?, format))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: UploadLimits = UploadLimits {
        max_bytes: 1 << 20,
        max_pixels: 1_000_000,
    };

    fn encode(image: &DynamicImage, format: image::ImageFormat) -> Vec<u8> {
        let mut out = Vec::new();
        image.write_to(&mut Cursor::new(&mut out), format).unwrap();
        out
    }

    #[test]
    fn renders_a_bounded_thumbnail_keeping_aspect() {
        let png = encode(&DynamicImage::new_rgb8(1000, 500), image::ImageFormat::Png);
        let prepared = prepare_upload(&png, LIMITS).unwrap();
        assert_eq!(
            (prepared.format, prepared.width, prepared.height),
            (MediaFormat::Png, 1000, 500)
        );
        assert_eq!(prepared.thumbnail_format, MediaFormat::Jpeg);
        let thumb = image::load_from_memory(&prepared.thumbnail).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (400, 200));
    }

    #[test]
    fn keeps_alpha_in_thumbnails() {
        let png = encode(&DynamicImage::new_rgba8(10, 10), image::ImageFormat::Png);
        let prepared = prepare_upload(&png, LIMITS).unwrap();
        assert_eq!(prepared.thumbnail_format, MediaFormat::Png);
    }

    #[test]
    fn refuses_too_many_pixels_from_the_header() {
        // 2000 x 1000 = 2 MP > 1 MP: refused before decoding (the PNG is tiny).
        let png = encode(
            &DynamicImage::new_luma8(2000, 1000),
            image::ImageFormat::Png,
        );
        let err = prepare_upload(&png, LIMITS).unwrap_err();
        assert!(matches!(err, ImageError::TooLarge(_)), "{err:?}");
    }

    #[test]
    fn refuses_text_and_truncated_images() {
        assert!(matches!(
            prepare_upload(b"just some text", LIMITS),
            Err(ImageError::Unsupported(_))
        ));
        let png = encode(&DynamicImage::new_rgb8(50, 50), image::ImageFormat::Png);
        assert!(matches!(
            prepare_upload(&png[..40], LIMITS),
            Err(ImageError::Invalid(_))
        ));
    }
}
