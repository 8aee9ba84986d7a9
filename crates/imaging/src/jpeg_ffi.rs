//! The only `unsafe` in the crate: safe handles over `csrc/jpeg_stream.c`, which
//! decodes and encodes JPEG strip by strip through libjpeg-turbo's scanline API
//! (the TurboJPEG API the `turbojpeg` crate wraps works on whole images only, and
//! that crate cannot make it stop at the first warning). Streamed edits use both
//! handles; whole-image decodes ([`crate::jpeg`]) read every strip of a
//! [`Decoder`] into one buffer.
//!
//! What the C side guarantees (see its header comment): every libjpeg error or
//! warning comes back as a non-zero code, never as a jump through Rust frames;
//! after one, a handle only answers "failed"; it never writes outside the buffer
//! and length it is given. What this side guarantees: each handle borrows the
//! memory the C side keeps a pointer to for as long as the handle lives, every
//! buffer passed is a live slice with its true length, and each handle is freed
//! exactly once. Handles are neither `Send` nor `Sync` (raw pointers), so each
//! stays on the thread that made it.
#![allow(unsafe_code)]

use std::marker::PhantomData;
use std::ptr::{NonNull, null_mut};

/// Most rows one call reads or writes (`IG_JS_MAX_ROWS` in the C file).
pub(crate) const MAX_ROWS: usize = 64;

#[repr(C)]
struct RawDecoder {
    _private: [u8; 0],
}

#[repr(C)]
struct RawEncoder {
    _private: [u8; 0],
}

unsafe extern "C" {
    fn ig_js_decoder_open(
        data: *const u8,
        len: usize,
        scan_limit: u32,
        max_memory: usize,
        scale_denom: u32,
        out: *mut *mut RawDecoder,
        width: *mut u32,
        height: *mut u32,
        components: *mut u32,
    ) -> i32;
    fn ig_js_decoder_read(
        decoder: *mut RawDecoder,
        buf: *mut u8,
        buf_len: usize,
        max_rows: u32,
        rows: *mut u32,
    ) -> i32;
    fn ig_js_decoder_free(decoder: *mut RawDecoder);
    fn ig_js_encoder_new(
        out: *mut u8,
        cap: usize,
        width: u32,
        height: u32,
        quality: i32,
        encoder: *mut *mut RawEncoder,
    ) -> i32;
    fn ig_js_encoder_write(
        encoder: *mut RawEncoder,
        rows: *const u8,
        len: usize,
        nrows: u32,
    ) -> i32;
    fn ig_js_encoder_finish(encoder: *mut RawEncoder, written: *mut usize) -> i32;
    fn ig_js_encoder_free(encoder: *mut RawEncoder);
}

/// libjpeg-turbo refused (the C file's non-zero code): an error, a warning, an
/// unsupported file, or an argument out of range. Callers give up on
/// libjpeg-turbo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused(pub i32);

impl Refused {
    /// Whether a [`Decoder`] refused because libjpeg-turbo reported an error or
    /// a warning about the file, or it has more progressive scans than the limit
    /// (`IG_JS_ERROR`, `IG_JS_WARNING`, `IG_JS_SCANS`): what any decode of the
    /// same bytes by libjpeg-turbo would report again. Not running out of
    /// memory (`IG_JS_MEMORY`: the caller's cap, or the allocator), an
    /// unsupported file or a bad argument.
    pub(crate) fn reported(self) -> bool {
        matches!(self.0, 1 | 2 | 7)
    }
}

fn check(code: i32) -> Result<(), Refused> {
    if code == 0 {
        Ok(())
    } else {
        Err(Refused(code))
    }
}

/// A JPEG being decoded to 8-bit RGB (or grey, for a one-component file), strip
/// by strip.
pub(crate) struct Decoder<'a> {
    raw: NonNull<RawDecoder>,
    /// The C side reads these bytes until it is freed.
    _bytes: PhantomData<&'a [u8]>,
    /// The output's width, after scaling.
    pub width: u32,
    /// The output's height, after scaling.
    pub height: u32,
    /// Bytes per output pixel: 3 (RGB) or 1 (grey).
    pub channels: usize,
}

impl<'a> Decoder<'a> {
    /// Reads the header and starts decoding at 1/`scale_denom` (1, 2, 4 or 8) of
    /// the stored size (for a progressive file, the whole entropy-coded stream is
    /// read here). `max_memory` caps libjpeg's whole-image buffers (0: no cap,
    /// as TurboJPEG's default); `scan_limit` the progressive scans.
    pub(crate) fn new(
        bytes: &'a [u8],
        scan_limit: u32,
        max_memory: usize,
        scale_denom: u32,
    ) -> Result<Self, Refused> {
        crate::decode_counts::turbo_begun();
        let mut raw = null_mut();
        let (mut width, mut height, mut components) = (0, 0, 0);
        // SAFETY: `bytes` is a live slice of `bytes.len()` bytes, borrowed for 'a,
        // as long as the returned handle; the out-pointers are to locals.
        check(unsafe {
            ig_js_decoder_open(
                bytes.as_ptr(),
                bytes.len(),
                scan_limit,
                max_memory,
                scale_denom,
                &mut raw,
                &mut width,
                &mut height,
                &mut components,
            )
        })?;
        let raw = NonNull::new(raw).ok_or(Refused(-1))?;
        Ok(Decoder {
            raw,
            _bytes: PhantomData,
            width,
            height,
            channels: components as usize,
        })
    }

    /// Decodes the next rows (at most `buf.len() / (width * channels)` and
    /// [`MAX_ROWS`]) into `buf`, tightly packed; returns how many (0 once every
    /// row is out). A successful call that returns the last row has also read
    /// the file to its end without a warning.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<usize, Refused> {
        let row_len = (self.width as usize)
            .checked_mul(self.channels)
            .ok_or(Refused(-1))?;
        let max_rows = (buf.len() / row_len.max(1)).min(MAX_ROWS) as u32;
        let mut rows = 0;
        // SAFETY: the handle is live (freed only in Drop); `buf` is a live,
        // exclusively borrowed slice of `buf.len()` bytes for the call.
        check(unsafe {
            ig_js_decoder_read(
                self.raw.as_ptr(),
                buf.as_mut_ptr(),
                buf.len(),
                max_rows,
                &mut rows,
            )
        })?;
        crate::decode_counts::turbo_rows(rows);
        Ok(rows as usize)
    }
}

impl Drop for Decoder<'_> {
    fn drop(&mut self) {
        // SAFETY: made by ig_js_decoder_open, freed only here, once.
        unsafe { ig_js_decoder_free(self.raw.as_ptr()) }
    }
}

/// A JPEG being encoded from 8-bit RGB rows into a caller's buffer.
pub(crate) struct Encoder<'a> {
    raw: NonNull<RawEncoder>,
    /// The C side writes into this buffer until it is freed.
    _out: PhantomData<&'a mut [u8]>,
}

impl<'a> Encoder<'a> {
    /// Starts a `width` x `height` JPEG at `quality` (1..=100) with the settings
    /// of the whole-image encoder (4:2:0, baseline); `out` must hold the worst
    /// case (libjpeg-turbo's `buf_len`), or encoding fails.
    pub(crate) fn new(
        out: &'a mut [u8],
        width: u32,
        height: u32,
        quality: u8,
    ) -> Result<Self, Refused> {
        let mut raw = null_mut();
        // SAFETY: `out` is a live slice of `out.len()` bytes, exclusively borrowed
        // for 'a, as long as the returned handle; the out-pointer is to a local.
        check(unsafe {
            ig_js_encoder_new(
                out.as_mut_ptr(),
                out.len(),
                width,
                height,
                i32::from(quality),
                &mut raw,
            )
        })?;
        let raw = NonNull::new(raw).ok_or(Refused(-1))?;
        Ok(Encoder {
            raw,
            _out: PhantomData,
        })
    }

    /// Compresses the next `rows.len() / (width * 3)` rows (at most
    /// [`MAX_ROWS`]).
    pub(crate) fn write(&mut self, rows: &[u8], nrows: usize) -> Result<(), Refused> {
        let nrows = u32::try_from(nrows).map_err(|_| Refused(-1))?;
        // SAFETY: the handle is live; `rows` is a live slice of `rows.len()`
        // bytes, only read during the call (the C side checks the length).
        check(unsafe { ig_js_encoder_write(self.raw.as_ptr(), rows.as_ptr(), rows.len(), nrows) })
    }

    /// Ends the file; the JPEG is the first returned bytes of the buffer.
    pub(crate) fn finish(self) -> Result<usize, Refused> {
        let mut written = 0;
        // SAFETY: the handle is live; the out-pointer is to a local.
        check(unsafe { ig_js_encoder_finish(self.raw.as_ptr(), &mut written) })?;
        Ok(written)
    }
}

impl Drop for Encoder<'_> {
    fn drop(&mut self) {
        // SAFETY: made by ig_js_encoder_new, freed only here, once.
        unsafe { ig_js_encoder_free(self.raw.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgb_jpeg(w: u32, h: u32) -> Vec<u8> {
        let rgb = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]));
        crate::edit::encode_jpeg(&rgb, 90).unwrap()
    }

    /// The C side's own checks, each of which keeps libjpeg from being called
    /// with a size it would read or write past.
    #[test]
    fn the_shim_refuses_what_it_cannot_do_safely() {
        assert!(Decoder::new(b"not a jpeg at all", 500, 1 << 20, 1).is_err());
        assert!(Decoder::new(&[], 500, 1 << 20, 1).is_err());
        let bytes = rgb_jpeg(40, 20);
        for denom in [0, 3, 16] {
            assert_eq!(
                Decoder::new(&bytes, 500, 1 << 20, denom).err(),
                Some(Refused(4)),
                "1/{denom}"
            );
        }
        let grey = crate::edit::encode_jpeg_gray(&image::GrayImage::new(9, 8), 90).unwrap();
        let mut decoder = Decoder::new(&grey, 500, 1 << 20, 2).unwrap();
        assert_eq!((decoder.width, decoder.height, decoder.channels), (5, 4, 1));
        assert_eq!(decoder.read(&mut [0; 4]), Err(Refused(4)));
        assert_eq!(decoder.read(&mut [0; 20]), Ok(4));

        let mut decoder = Decoder::new(&bytes, 500, 1 << 20, 1).unwrap();
        assert_eq!(
            (decoder.width, decoder.height, decoder.channels),
            (40, 20, 3)
        );
        // Less than a row of room: refused, and the decoder stays usable.
        assert_eq!(decoder.read(&mut [0; 119]), Err(Refused(4)));
        let mut strip = vec![0; 120 * 8];
        assert_eq!(decoder.read(&mut strip), Ok(8));
        assert_eq!(decoder.read(&mut strip), Ok(8));
        assert_eq!(decoder.read(&mut strip), Ok(4));
        assert_eq!(decoder.read(&mut strip), Ok(0));

        // A truncated file fails on a read, and every read after it.
        let tall = rgb_jpeg(40, 400);
        let cut = &tall[..tall.len() / 2];
        let mut decoder = Decoder::new(cut, 500, 1 << 20, 1).unwrap();
        let mut failed = None;
        for _ in 0..50 {
            if let Err(refused) = decoder.read(&mut strip) {
                failed = Some(refused);
                break;
            }
        }
        assert_eq!(failed, Some(Refused(2)), "a warning, as an error");
        assert!(failed.is_some_and(Refused::reported));
        assert_eq!(decoder.read(&mut strip), Err(Refused(6)));

        // A progressive file whose coefficients need more than `max_memory`:
        // out of memory, which says nothing about the file.
        let mut compressor = turbojpeg::Compressor::new().unwrap();
        compressor.set_progressive(true).unwrap();
        let rgb = image::RgbImage::from_fn(400, 400, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let progressive = compressor
            .compress_to_vec(turbojpeg::Image {
                pixels: rgb.as_raw().as_slice(),
                width: 400,
                pitch: 1200,
                height: 400,
                format: turbojpeg::PixelFormat::RGB,
            })
            .unwrap();
        let refused = Decoder::new(&progressive, 500, 1 << 16, 1).err();
        assert_eq!(refused, Some(Refused(8)));
        assert!(!refused.unwrap().reported());
        assert!(Decoder::new(&progressive, 500, 0, 1).is_ok(), "no cap");

        // The output buffer is never overrun: too small is an error.
        let rows = vec![128; 120 * 20];
        let encode_into = |out: &mut [u8]| -> Result<usize, Refused> {
            let mut encoder = Encoder::new(out, 40, 20, 90)?;
            encoder.write(&rows, 20)?;
            encoder.finish()
        };
        let mut out = vec![0; 1 << 16];
        let len = encode_into(&mut out).unwrap();
        assert!(out[..2] == [0xFF, 0xD8] && out[len - 2..len] == [0xFF, 0xD9]);
        assert_eq!(encode_into(&mut [0; 16]), Err(Refused(1)), "headers");
        assert_eq!(encode_into(&mut vec![0; len - 1]), Err(Refused(1)), "data");
        // libjpeg asks for more room as soon as the buffer is full, even after
        // the last byte (as TurboJPEG's fixed buffer does): one byte to spare.
        assert_eq!(encode_into(&mut vec![0; len]), Err(Refused(1)));
        assert_eq!(encode_into(&mut vec![0; len + 1]), Ok(len));

        // Rows beyond the image, short row data, or finishing early: refused.
        let mut out = vec![0; 1 << 16];
        let mut encoder = Encoder::new(&mut out, 40, 20, 90).unwrap();
        assert_eq!(encoder.write(&rows, 21), Err(Refused(4)));
        assert_eq!(encoder.write(&rows[..119], 1), Err(Refused(4)));
        assert_eq!(encoder.write(&rows[..120 * 10], 10), Ok(()));
        assert_eq!(encoder.finish(), Err(Refused(4)));
        assert!(Encoder::new(&mut out, 0, 20, 90).is_err());
        assert!(Encoder::new(&mut out, 40, 20, 0).is_err());
    }
}
