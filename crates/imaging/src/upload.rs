use std::io::Cursor;

use image::metadata::Orientation;
use image::{ColorType, DynamicImage, ImageDecoder as _, ImageReader, Limits};

use super::MediaFormat;
use crate::error::{ImageError, Result};
use crate::jpeg::Refusal;

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
    /// Longest side of an upload, in pixels (0: no limit).
    pub max_side: u32,
    /// Most times the long side of an upload may be its short side (0: no limit).
    pub max_aspect_ratio: u32,
}

/// What an image's header declares, read without decoding a pixel: enough to
/// know what decoding it will cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The format the bytes are in.
    pub format: MediaFormat,
    /// Displayed width, after EXIF orientation.
    pub width: u32,
    /// Displayed height, after EXIF orientation.
    pub height: u32,
    /// Bytes per pixel the decoder produces, before the reduction to 8 bits.
    pub bytes_per_pixel: u8,
    /// Whether the image has an alpha channel.
    pub has_alpha: bool,
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
    /// What to store instead of the bytes given, when the image was reduced to 8
    /// bits per sample on decode (a 16-bit PNG becomes an 8-bit one).
    pub reencoded: Option<Vec<u8>>,
}

/// Checks an upload from its header (format, size, pixel count, shape) before any
/// pixel is decoded, then decodes it and renders the thumbnail.
///
/// A large JPEG is decoded only at the DCT scale its thumbnail needs (see
/// [`decode_at_least`]); the whole file is still read and checked.
pub fn prepare_upload(bytes: &[u8], limits: UploadLimits) -> Result<Prepared> {
    let probed = probe(bytes, limits)?;
    check_shape(probed.width, probed.height, limits)?;
    let size = thumbnail_size(probed.width, probed.height);
    let (format, image, reduced) = decode_8bit_at_least(bytes, limits, size, Refusal::Declined)?;
    let shrunk = (image.width(), image.height()) != (probed.width, probed.height);
    let (thumbnail, thumbnail_format) = render_thumbnail_sized(&image, size, shrunk)?;
    let reencoded = if reduced {
        Some(encode(&image, format, 90)?)
    } else {
        None
    };
    Ok(Prepared {
        format,
        width: probed.width,
        height: probed.height,
        thumbnail,
        thumbnail_format,
        reencoded,
    })
}

/// Reads what an image declares (format, size, samples) from its header, checking
/// the byte and pixel limits; no pixel is decoded.
pub fn probe(bytes: &[u8], limits: UploadLimits) -> Result<Probe> {
    let (format, reader) = reader(bytes, limits)?;
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (raw_width, raw_height) = decoder.dimensions();
    check_pixels(raw_width, raw_height, limits)?;
    let color = decoder.color_type();
    let turned = matches!(
        decoder.orientation().map_err(decode_error)?,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    );
    let (width, height) = if turned {
        (raw_height, raw_width)
    } else {
        (raw_width, raw_height)
    };
    Ok(Probe {
        format,
        width,
        height,
        bytes_per_pixel: color.bytes_per_pixel(),
        has_alpha: color.has_alpha(),
    })
}

/// Refuses absurd shapes: a side over `max_side`, or a long side more than
/// `max_aspect_ratio` times the short one. Only uploads are checked, so images
/// stored under looser limits stay usable.
pub fn check_shape(width: u32, height: u32, limits: UploadLimits) -> Result<()> {
    let (long, short) = (width.max(height), width.min(height).max(1));
    if limits.max_side > 0 && long > limits.max_side {
        return Err(ImageError::TooLarge(format!(
            "the image is {width}x{height}; no side may be longer than {} pixels",
            limits.max_side
        )));
    }
    if limits.max_aspect_ratio > 0
        && u64::from(long) > u64::from(short) * u64::from(limits.max_aspect_ratio)
    {
        return Err(ImageError::Invalid(format!(
            "the image is {width}x{height}; its long side may be at most {} times its short side",
            limits.max_aspect_ratio
        )));
    }
    Ok(())
}

fn reader(bytes: &[u8], limits: UploadLimits) -> Result<(MediaFormat, ImageReader<Cursor<&[u8]>>)> {
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
    Ok((format, reader))
}

/// Decodes an image under the limits, with its EXIF orientation applied and
/// samples reduced to 8 bits; sizes are checked from the header before any pixel
/// is decoded. GIFs give their first frame. JPEGs are decoded by libjpeg-turbo
/// (as Pillow decodes them), or by zune-jpeg when libjpeg-turbo does not decode
/// them cleanly, so a JPEG is refused only when zune-jpeg refuses it too.
pub fn decode(bytes: &[u8], limits: UploadLimits) -> Result<(MediaFormat, DynamicImage)> {
    decode_after(bytes, limits, u32::MAX, u32::MAX, Refusal::Declined)
}

/// [`decode`], but a JPEG that is at least twice `min_width` x `min_height`
/// (displayed, after EXIF orientation) is decoded through libjpeg-turbo's DCT
/// scaling at the smallest of 1/2, 1/4 and 1/8 still at least that size
/// (shrink-on-load); callers finish with a resize to their exact target. The size
/// limits apply to the declared full size before anything is decoded, the whole
/// entropy-coded stream is still read, and a file libjpeg-turbo does not decode
/// cleanly (truncated, corrupt, or of a kind it handles differently) is decoded in
/// full instead, so what is refused is exactly what [`decode`] refuses. Other
/// formats are always decoded in full.
pub fn decode_at_least(
    bytes: &[u8],
    limits: UploadLimits,
    min_width: u32,
    min_height: u32,
) -> Result<(MediaFormat, DynamicImage)> {
    decode_after(bytes, limits, min_width, min_height, Refusal::Declined)
}

/// [`decode_at_least`] (with `u32::MAX` sides: [`decode`]) of bytes libjpeg-turbo
/// has already refused, as a streamed edit reports it ([`crate::stream_edit`]):
/// after a [`Refusal::Reported`] a JPEG goes straight to zune-jpeg, which decides
/// as it would have after libjpeg-turbo reported the same thing again.
pub fn decode_after(
    bytes: &[u8],
    limits: UploadLimits,
    min_width: u32,
    min_height: u32,
    refusal: Refusal,
) -> Result<(MediaFormat, DynamicImage)> {
    let (format, image, _) = decode_8bit_at_least(bytes, limits, (min_width, min_height), refusal)?;
    Ok((format, image))
}

/// Whether an EXIF orientation swaps width and height.
pub(crate) fn transposes(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// What a decode of these bytes would start from: the format, the stored size
/// (checked against the limits) and the EXIF orientation; no pixel decoded.
pub(crate) fn stored_shape(
    bytes: &[u8],
    limits: UploadLimits,
) -> Result<(MediaFormat, (u32, u32), Orientation)> {
    let (format, reader) = reader(bytes, limits)?;
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (raw_width, raw_height) = decoder.dimensions();
    check_pixels(raw_width, raw_height, limits)?;
    let orientation = decoder.orientation().map_err(decode_error)?;
    Ok((format, (raw_width, raw_height), orientation))
}

/// `decode_after`, and whether samples were reduced to 8 bits.
fn decode_8bit_at_least(
    bytes: &[u8],
    limits: UploadLimits,
    (min_width, min_height): (u32, u32),
    refusal: Refusal,
) -> Result<(MediaFormat, DynamicImage, bool)> {
    let (format, reader) = reader(bytes, limits)?;
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (raw_width, raw_height) = decoder.dimensions();
    check_pixels(raw_width, raw_height, limits)?;
    let orientation = decoder.orientation().map_err(decode_error)?;
    if format == MediaFormat::Jpeg && refusal == Refusal::Declined {
        // The target is displayed; the decoder works on the stored image.
        let (need_w, need_h) = if transposes(orientation) {
            (min_height, min_width)
        } else {
            (min_width, min_height)
        };
        if let Ok(mut image) =
            crate::jpeg::decode_at_least(bytes, raw_width, raw_height, need_w, need_h)
        {
            image.apply_orientation(orientation);
            return Ok((format, image, false));
        }
    }
    if format == MediaFormat::Jpeg {
        crate::decode_counts::zune_begun();
    }
    let image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    // Reduced before turning, so the turn moves half the bytes; everything after
    // decoding (edits, encoders, the cost model) works in 8 bits.
    let (mut image, reduced) = to_8bit(image);
    image.apply_orientation(orientation);
    Ok((format, image, reduced))
}

fn to_8bit(image: DynamicImage) -> (DynamicImage, bool) {
    let reduced = match image.color() {
        ColorType::L8 | ColorType::La8 | ColorType::Rgb8 | ColorType::Rgba8 => {
            return (image, false);
        }
        ColorType::L16 => DynamicImage::ImageLuma8(image.to_luma8()),
        ColorType::La16 => DynamicImage::ImageLumaA8(image.to_luma_alpha8()),
        color if color.has_alpha() => DynamicImage::ImageRgba8(image.to_rgba8()),
        _ => DynamicImage::ImageRgb8(image.to_rgb8()),
    };
    (reduced, true)
}

/// Encodes in `format`; JPEG through a fast SIMD encoder, dropping any alpha onto
/// white (JPEG has none).
pub fn encode(image: &DynamicImage, format: MediaFormat, jpeg_quality: u8) -> Result<Vec<u8>> {
    if format == MediaFormat::Jpeg {
        let encoded = match image {
            // Borrowed: a copy of the pixels (36 MB at 12 MP) would cost more
            // in fresh pages than it does in bytes moved.
            DynamicImage::ImageRgb8(rgb) => crate::edit::encode_jpeg(rgb, jpeg_quality),
            DynamicImage::ImageLuma8(grey) => crate::edit::encode_jpeg_gray(grey, jpeg_quality),
            _ if image.color().has_alpha() => {
                crate::edit::encode_jpeg(&flatten_on_white(image), jpeg_quality)
            }
            _ => crate::edit::encode_jpeg(&image.to_rgb8(), jpeg_quality),
        };
        return encoded.map_err(|err| ImageError::Encode(err.to_string()));
    }
    let mut out = Vec::new();
    let write = |image: &DynamicImage, out: &mut Vec<u8>| {
        image
            .write_to(&mut Cursor::new(out), format.to_image_format())
            .map_err(|err| ImageError::Encode(err.to_string()))
    };
    match image {
        // The GIF encoder takes 8-bit RGB(A) only; a grey result, or a grey or 16-bit
        // source, is widened for it.
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => write(image, &mut out)?,
        _ if format == MediaFormat::Gif && image.color().has_alpha() => {
            write(&DynamicImage::ImageRgba8(image.to_rgba8()), &mut out)?;
        }
        _ if format == MediaFormat::Gif => {
            write(&DynamicImage::ImageRgb8(image.to_rgb8()), &mut out)?;
        }
        _ => write(image, &mut out)?,
    }
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
/// GIF); otherwise scaled to fit (a GIF's first frame) and sent as JPEG, upright
/// (EXIF orientation applied). For consumers with a size cap of their own, such as
/// vision models. A large JPEG is decoded at the DCT scale the result needs (see
/// [`decode_at_least`]).
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
    // The stored image's own size sets the limits: it was accepted under them.
    let limits = UploadLimits {
        max_bytes: bytes.len(),
        max_pixels: u64::from(width) * u64::from(height),
        max_side: 0,
        max_aspect_ratio: 0,
    };
    let (displayed_w, displayed_h) = match stored_shape(bytes, limits)? {
        (_, _, orientation) if transposes(orientation) => (height, width),
        _ => (width, height),
    };
    let target = if displayed_w.max(displayed_h) > max_side {
        resize_dimensions(displayed_w, displayed_h, max_side, max_side)
    } else {
        (displayed_w, displayed_h)
    };
    let (_, mut decoded) = decode_at_least(bytes, limits, target.0, target.1)?;
    if (decoded.width(), decoded.height()) != target {
        decoded = decoded.resize_exact(target.0, target.1, image::imageops::FilterType::Triangle);
    }
    Ok((encode(&decoded, MediaFormat::Jpeg, 85)?, MediaFormat::Jpeg))
}

/// The image crate's `resize_dimensions` without fill: the largest size with the
/// aspect of `width` x `height` inside `box_w` x `box_h` (at least 1 x 1).
fn resize_dimensions(width: u32, height: u32, box_w: u32, box_h: u32) -> (u32, u32) {
    let ratio = (f64::from(box_w) / f64::from(width)).min(f64::from(box_h) / f64::from(height));
    let side = |s: u32| ((f64::from(s) * ratio).round() as u32).max(1);
    (side(width), side(height))
}

/// The size of the thumbnail of a `width` x `height` image.
pub fn thumbnail_size(width: u32, height: u32) -> (u32, u32) {
    if width.max(height) > THUMBNAIL_SIZE {
        resize_dimensions(width, height, THUMBNAIL_SIZE, THUMBNAIL_SIZE)
    } else {
        (width, height)
    }
}

/// Thumbnails keep transparency as PNG; everything else becomes a compact JPEG.
pub fn render_thumbnail(image: &DynamicImage) -> Result<(Vec<u8>, MediaFormat)> {
    render_thumbnail_sized(image, thumbnail_size(image.width(), image.height()), false)
}

/// `render_thumbnail` of an image that may have been decoded smaller than its
/// full size: the thumbnail is `size`, as computed from the full size.
/// An image decoded smaller (`shrunk`) is finished with the engine's Lanczos
/// resize: the box sampling of full-size thumbnails aliases when the ratio left
/// is small, as it is after DCT scaling.
pub(crate) fn render_thumbnail_sized(
    image: &DynamicImage,
    (width, height): (u32, u32),
    shrunk: bool,
) -> Result<(Vec<u8>, MediaFormat)> {
    let small = if (image.width(), image.height()) == (width, height) {
        image.clone()
    } else if shrunk {
        let exact = crate::edit::EditInstruction::Resize {
            width: Some(width),
            height: Some(height),
            fit: crate::edit::Fit::Fill,
        };
        crate::edit::apply(image.clone(), &[exact])?
    } else {
        image.thumbnail_exact(width, height)
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
        max_side: 65_535,
        max_aspect_ratio: 1000,
    };

    fn encode(image: &DynamicImage, format: image::ImageFormat) -> Vec<u8> {
        let mut out = Vec::new();
        image.write_to(&mut Cursor::new(&mut out), format).unwrap();
        out
    }

    /// Every output format takes every colour type an edit can leave: one grey
    /// channel since grayscale keeps one, grey with alpha, and 16-bit from PNG.
    #[test]
    fn every_format_encodes_every_colour_type() {
        let grey = image::GrayImage::from_fn(3, 2, |x, y| image::Luma([(x * 80 + y * 20) as u8]));
        let sources = [
            DynamicImage::ImageLuma8(grey.clone()),
            DynamicImage::ImageLumaA8(DynamicImage::ImageLuma8(grey.clone()).to_luma_alpha8()),
            DynamicImage::ImageRgb8(DynamicImage::ImageLuma8(grey.clone()).to_rgb8()),
            DynamicImage::ImageRgba8(DynamicImage::ImageLuma8(grey.clone()).to_rgba8()),
            DynamicImage::ImageRgb16(DynamicImage::ImageLuma8(grey).to_rgb16()),
        ];
        for source in &sources {
            for format in MediaFormat::ALL {
                let bytes = super::encode(source, format, 90)
                    .unwrap_or_else(|err| panic!("{:?} as {format:?}: {err}", source.color()));
                let back = image::load_from_memory(&bytes).unwrap();
                assert_eq!((back.width(), back.height()), (3, 2), "{format:?}");
                if matches!(format, MediaFormat::Png | MediaFormat::Webp) {
                    // Lossless formats give the grey back exactly (GIF's palette is
                    // quantised).
                    assert_eq!(
                        back.to_luma8().as_raw(),
                        &[0, 80, 160, 20, 100, 180],
                        "{format:?}"
                    );
                }
            }
        }
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

    #[test]
    fn refuses_absurd_shapes_but_only_on_upload() {
        let long = encode(&DynamicImage::new_luma8(70_000, 1), image::ImageFormat::Png);
        assert!(matches!(
            prepare_upload(&long, LIMITS),
            Err(ImageError::TooLarge(msg)) if msg.contains("65535")
        ));
        let thin = encode(&DynamicImage::new_luma8(1, 2000), image::ImageFormat::Png);
        assert!(matches!(
            prepare_upload(&thin, LIMITS),
            Err(ImageError::Invalid(msg)) if msg.contains("1000 times")
        ));
        // Stored images are still decoded under looser rules.
        assert_eq!(decode(&thin, LIMITS).unwrap().1.height(), 2000);
    }

    #[test]
    fn sixteen_bit_images_are_reduced_to_eight() {
        let deep = encode(
            &DynamicImage::ImageRgb16(image::ImageBuffer::from_pixel(
                30,
                20,
                image::Rgb([65535, 32768, 0]),
            )),
            image::ImageFormat::Png,
        );
        let probed = probe(&deep, LIMITS).unwrap();
        assert_eq!(
            (probed.width, probed.height, probed.bytes_per_pixel),
            (30, 20, 6)
        );
        let prepared = prepare_upload(&deep, LIMITS).unwrap();
        let stored = image::load_from_memory(&prepared.reencoded.unwrap()).unwrap();
        assert_eq!(stored.color(), image::ColorType::Rgb8);
        assert_eq!(stored.to_rgb8().get_pixel(0, 0).0, [255, 128, 0]);
        assert_eq!(
            decode(&deep, LIMITS).unwrap().1.color(),
            image::ColorType::Rgb8
        );
        // 8-bit uploads are stored as sent.
        let png = encode(&DynamicImage::new_rgb8(10, 10), image::ImageFormat::Png);
        assert!(prepare_upload(&png, LIMITS).unwrap().reencoded.is_none());
    }
}
