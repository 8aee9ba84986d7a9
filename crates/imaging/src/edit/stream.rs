//! Streamed point edits: a JPEG whose edit is made only of brightness and
//! saturation, kept as JPEG, is decoded, edited and encoded 32 rows at a time
//! (libjpeg-turbo's scanline API, through [`crate::jpeg_ffi`]) instead of in three
//! passes over the whole image: a few strips in memory instead of the 36 MB of a
//! 12 MP image, and, when rayon's pool has two threads or more, decoding on one of
//! them while the calling thread edits and encodes the strips already decoded.
//!
//! The bytes are exactly those of the whole-image path (libjpeg-turbo decode,
//! [`super::apply`], [`crate::encode`] at the same quality): the same library with
//! the same settings decodes and encodes, and each strip goes through the same
//! kernels and tables. Anything else gives up, with a [`Refusal`], and the caller
//! takes the whole-image path ([`crate::decode_after`], given the refusal), which
//! accepts or refuses the file as before: another format or instruction, a grey
//! or CMYK or 12-bit or arithmetic-coded JPEG, an EXIF orientation other than 1
//! ([`Refusal::Declined`]), and any error or warning from libjpeg-turbo
//! (truncated, corrupt), even on the last row, or too many progressive scans
//! ([`Refusal::Reported`]: the whole-image path then skips libjpeg-turbo, which
//! would only report it again, and goes straight to zune-jpeg).

use std::sync::{OnceLock, mpsc};

use image::metadata::Orientation;

use super::{EditInstruction, codec, enhance, zeroed};
use crate::format::MediaFormat;
use crate::jpeg::{Refusal, SCAN_LIMIT, supported_header};
use crate::jpeg_ffi::{Decoder, Encoder, Refused};
use crate::upload::{
    Prepared, UploadLimits, decode_at_least, render_thumbnail_sized, stored_shape, thumbnail_size,
};

/// Rows per strip: 2 MCU rows of 4:2:0, and 384 KB of a 4000 px wide image.
const STRIP_ROWS: usize = 32;
/// Strip buffers the decoding thread may fill ahead of the encoder, plus the one
/// it fills and the one being encoded.
const STRIP_BUFFERS: usize = 4;
/// Bytes per pixel libjpeg may hold for a multi-scan (progressive) file's
/// coefficients: 2 per sample, up to 3 samples per pixel, with the MCU padding.
/// Within what [`crate::cost::decode`] charges a JPEG decode.
const COEFFICIENT_BYTES_PER_PIXEL: u64 = 8;
/// libjpeg's other buffers, which grow with the row width only.
const FIXED_DECODER_BYTES: u64 = 4 << 20;

/// One step of the edit, on whole strips.
enum Kernel {
    /// Brightness (consecutive ones composed: each is a table of the value).
    Lut(Box<[u8; 256]>),
    /// Saturation, by (luma, value) pairs.
    Pairs(Box<[u8; 65536]>),
}

/// The kernels of a list made only of brightness and saturation (at least one),
/// those that change nothing left out; `None` for any other list.
fn kernels(instructions: &[EditInstruction]) -> Option<Vec<Kernel>> {
    if instructions.is_empty() {
        return None;
    }
    let mut kernels = Vec::new();
    for instruction in instructions {
        match *instruction {
            EditInstruction::Brightness(factor) => {
                let Some(lut) = enhance::brightness_lut(factor) else {
                    continue;
                };
                if let Some(Kernel::Lut(before)) = kernels.last_mut() {
                    **before = before.map(|v| lut[usize::from(v)]);
                } else {
                    kernels.push(Kernel::Lut(Box::new(lut)));
                }
            }
            EditInstruction::Saturation(factor) if factor != 1.0 => {
                kernels.push(Kernel::Pairs(enhance::pair_table(factor)));
            }
            EditInstruction::Saturation(_) => {}
            _ => return None,
        }
    }
    Some(kernels)
}

fn edit_strip(strip: &mut [u8], kernels: &[Kernel]) {
    for kernel in kernels {
        match kernel {
            Kernel::Lut(lut) => enhance::lut_rows(strip, 3, lut),
            Kernel::Pairs(table) => enhance::saturation_rows(strip, 3, table),
        }
    }
}

/// Runs `instructions` on a JPEG and encodes the result as JPEG at `quality`,
/// strip by strip, when the edit is one this path takes (see the module docs):
/// the bytes [`crate::decode`], [`super::apply`] and [`crate::encode`] give, or
/// why not, and the caller takes that path ([`crate::decode_after`]). Uses two
/// threads when rayon's pool has two or more. `instructions` must have passed
/// [`super::validate`].
pub fn stream_jpeg(
    bytes: &[u8],
    limits: UploadLimits,
    instructions: &[EditInstruction],
    quality: u8,
) -> Result<Vec<u8>, Refusal> {
    streamed(bytes, limits, instructions, quality).map(|(out, _)| out)
}

/// [`stream_jpeg`], with the result's facts and thumbnail as an upload would
/// have them. The thumbnail is rendered from the result's bytes (decoded at the
/// DCT scale it needs), not from the full pixels, which never exist here.
pub fn stream_edit(
    bytes: &[u8],
    limits: UploadLimits,
    instructions: &[EditInstruction],
    quality: u8,
) -> crate::Result<Result<(Vec<u8>, Prepared), Refusal>> {
    let (out, (width, height)) = match streamed(bytes, limits, instructions, quality) {
        Ok(streamed) => streamed,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let size = thumbnail_size(width, height);
    // The result's own length: the caller decides whether it may be stored.
    let own = UploadLimits {
        max_bytes: out.len(),
        ..limits
    };
    let (_, small) = decode_at_least(&out, own, size.0, size.1)?;
    let shrunk = (small.width(), small.height()) != (width, height);
    let (thumbnail, thumbnail_format) = render_thumbnail_sized(&small, size, shrunk)?;
    let prepared = Prepared {
        format: MediaFormat::Jpeg,
        width,
        height,
        thumbnail,
        thumbnail_format,
        reencoded: None,
    };
    Ok(Ok((out, prepared)))
}

fn streamed(
    bytes: &[u8],
    limits: UploadLimits,
    instructions: &[EditInstruction],
    quality: u8,
) -> Result<(Vec<u8>, (u32, u32)), Refusal> {
    let kernels = kernels(instructions).ok_or(Refusal::Declined)?;
    if MediaFormat::sniff(bytes) != Some(MediaFormat::Jpeg) {
        return Err(Refusal::Declined);
    }
    // Errors (over the limits, an unreadable header) are the whole-image path's
    // to report.
    let (_, (width, height), orientation) =
        stored_shape(bytes, limits).map_err(|_| Refusal::Declined)?;
    if orientation != Orientation::NoTransforms {
        return Err(Refusal::Declined);
    }
    // Only files the whole-image path decodes with libjpeg-turbo too: the others
    // would decode to other pixels there.
    let mut decompressor = turbojpeg::Decompressor::new().map_err(|_| Refusal::Declined)?;
    let header =
        supported_header(&mut decompressor, bytes, width, height).ok_or(Refusal::Declined)?;
    if header.colorspace == turbojpeg::Colorspace::Gray {
        return Err(Refusal::Declined);
    }
    drop(decompressor);
    let out = run(bytes, width, height, &kernels, quality.clamp(1, 100))?;
    Ok((out, (width, height)))
}

/// What a refusal of the encoder, or of this side, says about the file:
/// nothing.
fn declined<T>(_: T) -> Refusal {
    Refusal::Declined
}

fn run(
    bytes: &[u8],
    width: u32,
    height: u32,
    kernels: &[Kernel],
    quality: u8,
) -> Result<Vec<u8>, Refusal> {
    let row_len = width as usize * 3;
    let strip_len = row_len * STRIP_ROWS;
    let max_memory = (u64::from(width) * u64::from(height))
        .saturating_mul(COEFFICIENT_BYTES_PER_PIXEL)
        .saturating_add(FIXED_DECODER_BYTES);
    let max_memory = usize::try_from(max_memory).unwrap_or(usize::MAX);
    // The whole-image encoder's worst case: written once, pages mapped as written.
    let (_, mut out) = codec::compressor_and_buffer(
        width as usize,
        height as usize,
        turbojpeg::Subsamp::Sub2x2,
        quality,
    )
    .map_err(declined)?;
    let mut encoder = Encoder::new(&mut out, width, height, quality).map_err(declined)?;
    if rayon::current_num_threads() < 2 {
        let mut decoder = Decoder::new(bytes, SCAN_LIMIT, max_memory, 1).map_err(Refusal::of)?;
        if (decoder.width, decoder.height, decoder.channels) != (width, height, 3) {
            return Err(Refusal::Declined);
        }
        let mut strip = zeroed(strip_len).map_err(declined)?;
        loop {
            let rows = decoder.read(&mut strip).map_err(Refusal::of)?;
            if rows == 0 {
                break;
            }
            let part = &mut strip[..rows * row_len];
            edit_strip(part, kernels);
            encoder.write(part, rows).map_err(declined)?;
        }
    } else {
        let (full_tx, full_rx) = mpsc::sync_channel(STRIP_BUFFERS);
        let (empty_tx, empty_rx) = mpsc::channel();
        let decode = move || {
            decode_strips(
                bytes,
                (width, height),
                max_memory,
                strip_len,
                full_tx,
                empty_rx,
            );
        };
        // Ends when the decoding side is done and drops its sender. Leaving early
        // drops this side's channels, which ends the decoding side too.
        let consume = move |encoder: &mut Encoder<'_>| {
            for message in full_rx {
                let (mut strip, rows): (Vec<u8>, usize) = message.map_err(Refusal::of)?;
                let part = &mut strip[..rows * row_len];
                edit_strip(part, kernels);
                encoder.write(part, rows).map_err(declined)?;
                // The decoding side may be gone already (it is done).
                let _ = empty_tx.send(strip);
            }
            Ok::<(), Refusal>(())
        };
        // Decoding runs on a pool of its own, never on rayon's global one: it
        // spends most of its time waiting for the encoder to take a strip, and a
        // global worker held that way would stall every other request's pixel
        // work. The calling thread edits and encodes. No deadlock: a decoding
        // task only ever waits for its own caller, which is not one of this
        // pool's threads.
        decode_pool().in_place_scope(|scope| {
            scope.spawn(move |_| decode());
            consume(&mut encoder)
        })?;
    }
    // Fails unless every row was written, so a decoding thread that stopped
    // early cannot pass for a finished image.
    let written = encoder.finish().map_err(declined)?;
    out.truncate(written);
    out.shrink_to_fit();
    Ok(out)
}

/// The threads streamed edits decode on, one per core, started on first use and
/// kept: a few threads that sleep between edits, instead of a thread started per
/// edit. Edits beyond that many at once queue their decoding here while their
/// callers wait for its first strip.
fn decode_pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
            .thread_name(|i| format!("jpeg-stream-{i}"))
            .build()
            .expect("a thread pool for streamed decoding")
    })
}

/// The decoding thread: fills strips (at most [`STRIP_BUFFERS`], recycled through
/// `empty`) and sends them, or the first refusal, in order (`Refused(-1)`, which
/// is not [`Refused::reported`], for a refusal of this side's own).
fn decode_strips(
    bytes: &[u8],
    size: (u32, u32),
    max_memory: usize,
    strip_len: usize,
    full: mpsc::SyncSender<Result<(Vec<u8>, usize), Refused>>,
    empty: mpsc::Receiver<Vec<u8>>,
) {
    let mut decoder = match Decoder::new(bytes, SCAN_LIMIT, max_memory, 1) {
        Ok(decoder) if (decoder.width, decoder.height) == size && decoder.channels == 3 => decoder,
        Ok(_) => {
            let _ = full.send(Err(Refused(-1)));
            return;
        }
        Err(refused) => {
            let _ = full.send(Err(refused));
            return;
        }
    };
    let mut made = 0;
    loop {
        let mut strip = match empty.try_recv() {
            Ok(strip) => strip,
            Err(_) if made < STRIP_BUFFERS => {
                made += 1;
                match zeroed(strip_len) {
                    Ok(strip) => strip,
                    Err(_) => {
                        let _ = full.send(Err(Refused(-1)));
                        return;
                    }
                }
            }
            Err(_) => match empty.recv() {
                Ok(strip) => strip,
                Err(_) => return,
            },
        };
        match decoder.read(&mut strip) {
            Ok(0) => return,
            Ok(rows) => {
                if full.send(Ok((strip, rows))).is_err() {
                    return;
                }
            }
            Err(refused) => {
                let _ = full.send(Err(refused));
                return;
            }
        }
    }
}
