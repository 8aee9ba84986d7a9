//! Lossless pixel rearrangements and the greyscale conversion.

use rayon::prelude::*;

use super::enhance::luma;
use super::{FlipAxis, Pixels, ROWS_PER_TASK, with_capacity, zeroed};
use crate::error::Result;

/// Pillow `convert("L")` of RGB: one channel of luma, computed in the same buffer
/// (each part of the image writes its luma over the front of its own bytes, then
/// the parts close up), which is shrunk to a third. A fresh third-size buffer
/// would cost more in first-touch page faults than the whole conversion.
pub(crate) fn luma_of_rgb(mut px: Pixels) -> Pixels {
    let (w, h) = (px.width as usize, px.height as usize);
    // One part per thread: on one thread nothing needs closing up.
    let rows_per_part = h.div_ceil(rayon::current_num_threads()).max(1);
    let part_len = (rows_per_part * w * 3).max(3);
    px.data.par_chunks_mut(part_len).for_each(compact_luma);
    let mut to = 0;
    for from in (0..px.data.len()).step_by(part_len) {
        let n = (px.data.len() - from).min(part_len) / 3;
        if from != to {
            px.data.copy_within(from..from + n, to);
        }
        to += n;
    }
    px.data.truncate(w * h);
    px.data.shrink_to_fit();
    px.channels = 1;
    px
}

/// The luma of `part`'s RGB pixels written over its first third, through a small
/// array a block at a time: block `i..i + m` reads bytes from `3 * i` on and
/// writes `i..i + m`, never ahead of what later blocks still read, and the luma
/// loop gets separate input and output slices it can vectorise.
fn compact_luma(part: &mut [u8]) {
    const BLOCK: usize = 4096;
    let mut luma = [0u8; BLOCK];
    let n = part.len() / 3;
    let mut i = 0;
    while i < n {
        let m = BLOCK.min(n - i);
        luma_block(&part[3 * i..3 * (i + m)], &mut luma[..m]);
        part[i..i + m].copy_from_slice(&luma[..m]);
        i += m;
    }
}

/// See [`gray_pixels`] for why there are AVX2 and AVX-512 versions.
#[multiversion::multiversion(targets("x86_64+avx2+avx512f+avx512bw", "x86_64+avx2"))]
fn luma_block(rgb: &[u8], out: &mut [u8]) {
    for (p, o) in rgb.as_chunks::<3>().0.iter().zip(out) {
        *o = luma(p[0], p[1], p[2]);
    }
}

/// Pillow `convert("L")` luma copied into R, G and B of RGBA; alpha untouched.
/// (RGB becomes grey through [`luma_of_rgb`]; grey is its own luma.)
pub(crate) fn grayscale(px: &mut Pixels) {
    if px.channels != 4 {
        return;
    }
    let band = px.row_len() * ROWS_PER_TASK;
    px.data.par_chunks_mut(band).for_each(gray_pixels::<4>);
}

/// Pixels of a compile-time width, so the loop compiles to fixed-stride code
/// rather than a call per pixel. The baseline x86-64 target (SSE2) has no byte
/// shuffle, so LLVM leaves de-interleaving loops scalar there; with AVX2 it
/// de-interleaves and multiplies 8 or 16 pixels at a time, hence the versions
/// chosen at run time.
#[multiversion::multiversion(targets("x86_64+avx2+avx512f+avx512bw", "x86_64+avx2"))]
fn gray_pixels<const N: usize>(data: &mut [u8]) {
    for p in data.as_chunks_mut::<N>().0 {
        let l = luma(p[0], p[1], p[2]);
        p[0] = l;
        p[1] = l;
        p[2] = l;
    }
}

/// Clockwise rotation by 90, 180 or 270 degrees (anything else is rejected by
/// validation and left unchanged here).
pub(crate) fn rotate(px: Pixels, degrees: u16) -> Result<Pixels> {
    let (w, h, ch) = (px.width as usize, px.height as usize, px.channels);
    match degrees {
        180 => {
            // Reversing pixel order is a 180-degree turn; done in place, it needs
            // no second buffer, whose fresh pages would cost more than the swaps.
            let mut px = px;
            match ch {
                1 => px.data.reverse(),
                3 => reverse_pixels::<3>(&mut px.data),
                4 => reverse_pixels::<4>(&mut px.data),
                _ => unreachable!("pixels are grey, RGB or RGBA"),
            }
            Ok(px)
        }
        90 | 270 => {
            let mut data = zeroed(px.data.len())?;
            let clockwise = degrees == 90;
            match ch {
                1 => quarter_turn::<1>(&px.data, &mut data, w, h, clockwise),
                3 => quarter_turn::<3>(&px.data, &mut data, w, h, clockwise),
                4 => quarter_turn::<4>(&px.data, &mut data, w, h, clockwise),
                _ => unreachable!("pixels are grey, RGB or RGBA"),
            }
            Ok(Pixels {
                width: px.height,
                height: px.width,
                channels: ch,
                data,
            })
        }
        _ => Ok(px),
    }
}

/// Reverses the order of `N`-byte pixels in place: pixel `i` from the front swaps
/// with pixel `i` from the back, the two halves split into matching chunks for rayon.
fn reverse_pixels<const N: usize>(data: &mut [u8]) {
    let pixels = data.as_chunks_mut::<N>().0;
    let half = pixels.len() / 2;
    let (front, rest) = pixels.split_at_mut(half);
    // An odd count leaves the middle pixel where it is.
    let skip = rest.len() - half;
    let back = &mut rest[skip..];
    let per_task = 4096;
    front
        .par_chunks_mut(per_task)
        .zip(back.par_rchunks_mut(per_task))
        .for_each(|(a, b)| {
            for (p, q) in a.iter_mut().zip(b.iter_mut().rev()) {
                std::mem::swap(p, q);
            }
        });
}

/// Output rows per rayon task, and the side of the square of the source a task
/// walks before moving on: `BAND` rows of `BAND` pixels stay in L1/L2 while the
/// output band's columns are filled.
const BAND: usize = 64;

/// Side of the blocks copied through a small array: `BLOCK` pixels read along
/// each of `BLOCK` source rows, then written along each of `BLOCK` output rows,
/// so both sides touch whole runs of bytes instead of one pixel per row. 32
/// measured best against 8, 16 and 64 (and tiles of 32 to 256) on 12 MP.
const BLOCK: usize = 32;

/// `src` (`w` x `h`) turned a quarter clockwise or anticlockwise into `out`
/// (`h` x `w`), one band of `BAND` output rows per rayon task.
fn quarter_turn<const N: usize>(src: &[u8], out: &mut [u8], w: usize, h: usize, clockwise: bool) {
    let src = src.as_chunks::<N>().0;
    out.par_chunks_mut(h * N * BAND)
        .enumerate()
        .for_each(|(band, chunk)| {
            let out = chunk.as_chunks_mut::<N>().0;
            if clockwise {
                turn_band::<N, true>(src, out, w, h, band * BAND);
            } else {
                turn_band::<N, false>(src, out, w, h, band * BAND);
            }
        });
}

/// Output rows `y0..` (as many as `out` holds) of the quarter turn. Output pixel
/// (`ox`, `oy`) is source (`oy`, `h - 1 - ox`) clockwise and (`w - 1 - oy`, `ox`)
/// anticlockwise: an output column is (part of) one source row.
#[multiversion::multiversion(targets("x86_64+avx2+avx512f+avx512bw", "x86_64+avx2"))]
fn turn_band<const N: usize, const CLOCKWISE: bool>(
    src: &[[u8; N]],
    out: &mut [[u8; N]],
    w: usize,
    h: usize,
    y0: usize,
) {
    let rows = out.len() / h;
    // Source row of output column `ox`, and the first source column of output
    // rows `y0 + r0 .. y0 + r0 + n` (in reverse order anticlockwise).
    let src_row = |ox: usize| if CLOCKWISE { h - 1 - ox } else { ox };
    let src_col = |r0: usize, n: usize| {
        if CLOCKWISE {
            y0 + r0
        } else {
            w - (y0 + r0 + n)
        }
    };
    for ox0 in (0..h).step_by(BAND) {
        let ox1 = (ox0 + BAND).min(h);
        let mut r0 = 0;
        while r0 < rows {
            let n = BLOCK.min(rows - r0);
            let sx = src_col(r0, n);
            let mut ox = ox0;
            if n == BLOCK {
                while ox + BLOCK <= ox1 {
                    let mut block = [[[0u8; N]; BLOCK]; BLOCK];
                    for (k, line) in block.iter_mut().enumerate() {
                        let start = src_row(ox + k) * w + sx;
                        *line = src[start..start + BLOCK].try_into().expect("BLOCK pixels");
                    }
                    for r in 0..BLOCK {
                        let start = (r0 + r) * h + ox;
                        let dst: &mut [[u8; N]; BLOCK] = (&mut out[start..start + BLOCK])
                            .try_into()
                            .expect("BLOCK pixels");
                        let j = if CLOCKWISE { r } else { BLOCK - 1 - r };
                        for (p, line) in dst.iter_mut().zip(&block) {
                            *p = line[j];
                        }
                    }
                    ox += BLOCK;
                }
            }
            // The ragged right and bottom edges, a pixel at a time.
            for ox in ox..ox1 {
                let start = src_row(ox) * w + sx;
                for (j, p) in src[start..start + n].iter().enumerate() {
                    let r = if CLOCKWISE { j } else { n - 1 - j };
                    out[(r0 + r) * h + ox] = *p;
                }
            }
            r0 += n;
        }
    }
}

pub(crate) fn flip(px: &mut Pixels, axis: FlipAxis) {
    let (ch, row_len, h) = (px.channels, px.row_len(), px.height as usize);
    match axis {
        FlipAxis::Horizontal => px.data.par_chunks_mut(row_len).for_each(|row| {
            let w = row.len() / ch;
            for x in 0..w / 2 {
                for c in 0..ch {
                    row.swap(x * ch + c, (w - 1 - x) * ch + c);
                }
            }
        }),
        FlipAxis::Vertical => {
            for y in 0..h / 2 {
                let (top, bottom) = px.data.split_at_mut((h - 1 - y) * row_len);
                top[y * row_len..(y + 1) * row_len].swap_with_slice(&mut bottom[..row_len]);
            }
        }
    }
}

/// Panics if the rectangle is not inside the image (validation prevents it).
pub(crate) fn crop(px: &Pixels, x: u32, y: u32, width: u32, height: u32) -> Result<Pixels> {
    assert!(
        x as u64 + width as u64 <= px.width as u64 && y as u64 + height as u64 <= px.height as u64,
        "crop outside the image; validate() first"
    );
    let ch = px.channels;
    let row_len = px.row_len();
    let (x, y, w, h) = (x as usize, y as usize, width as usize, height as usize);
    let mut data = with_capacity(w * h * ch)?;
    for row in px.data.chunks_exact(row_len).skip(y).take(h) {
        data.extend_from_slice(&row[x * ch..(x + w) * ch]);
    }
    Ok(Pixels {
        width,
        height,
        channels: ch,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whichever kernel the CPU gets, every pixel (at sizes off every vector
    /// width, 1 px wide included) is Pillow's luma: one channel for RGB, however
    /// many parts (threads) the image is split into, and R = G = B with alpha kept
    /// for RGBA.
    #[test]
    fn grayscale_is_luma_per_pixel_at_odd_sizes() {
        for (width, height) in [(1, 1), (1, 33), (17, 3), (31, 65), (67, 5), (1500, 7)] {
            for channels in [3, 4] {
                let data: Vec<u8> = (0..width * height * channels)
                    .map(|i| (i * 97 % 256) as u8)
                    .collect();
                let lumas: Vec<u8> = data
                    .chunks(channels)
                    .map(|p| luma(p[0], p[1], p[2]))
                    .collect();
                let px = Pixels {
                    width: width as u32,
                    height: height as u32,
                    channels,
                    data: data.clone(),
                };
                if channels == 3 {
                    for threads in [1, 2, 3] {
                        let pool = rayon::ThreadPoolBuilder::new()
                            .num_threads(threads)
                            .build()
                            .unwrap();
                        let out = pool.install(|| luma_of_rgb(px.clone()));
                        assert_eq!(out.channels, 1);
                        assert_eq!(out.data, lumas, "{width}x{height} on {threads} threads");
                    }
                    continue;
                }
                let mut px = px;
                grayscale(&mut px);
                for ((out, src), l) in px.data.chunks(4).zip(data.chunks(4)).zip(&lumas) {
                    assert_eq!(&out[..3], &[*l, *l, *l], "{width}x{height}x{channels}");
                    assert_eq!(out[3], src[3], "alpha {width}x{height}");
                }
            }
        }
    }

    /// The blocked quarter turns and the in-place half turn against the plain
    /// per-pixel definition, at sizes around and off the block and band sides
    /// (1 px wide and high included).
    #[test]
    fn turns_match_the_per_pixel_definition_at_odd_sizes() {
        let sizes = [
            (1, 1),
            (1, 33),
            (33, 1),
            (2, 3),
            (17, 3),
            (31, 65),
            (32, 32),
            (64, 64),
            (67, 5),
            (65, 97),
            (130, 33),
        ];
        for (w, h) in sizes {
            for ch in [1, 3, 4] {
                let data: Vec<u8> = (0..w * h * ch).map(|i| (i * 89 % 251) as u8).collect();
                let at = |x: usize, y: usize| &data[(y * w + x) * ch..(y * w + x + 1) * ch];
                for degrees in [90, 180, 270] {
                    let px = Pixels {
                        width: w as u32,
                        height: h as u32,
                        channels: ch,
                        data: data.clone(),
                    };
                    let out = rotate(px, degrees).unwrap();
                    let (ow, oh) = if degrees == 180 { (w, h) } else { (h, w) };
                    assert_eq!((out.width, out.height), (ow as u32, oh as u32));
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let (sx, sy) = match degrees {
                                90 => (oy, h - 1 - ox),
                                180 => (w - 1 - ox, h - 1 - oy),
                                _ => (w - 1 - oy, ox),
                            };
                            let i = (oy * ow + ox) * ch;
                            assert_eq!(
                                &out.data[i..i + ch],
                                at(sx, sy),
                                "{w}x{h}x{ch} by {degrees} at ({ox}, {oy})"
                            );
                        }
                    }
                }
            }
        }
    }
}
