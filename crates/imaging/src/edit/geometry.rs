//! Lossless pixel rearrangements and the greyscale conversion.

use rayon::prelude::*;

use super::enhance::luma;
use super::{FlipAxis, Pixels, ROWS_PER_TASK, with_capacity, zeroed};
use crate::error::Result;

/// Pillow `convert("L")` luma copied into R, G and B; alpha untouched.
pub(crate) fn grayscale(px: &mut Pixels) {
    let ch = px.channels;
    let row_len = px.row_len();
    px.data
        .par_chunks_mut(row_len * ROWS_PER_TASK)
        .for_each(|chunk| match ch {
            3 => gray_pixels::<3>(chunk),
            4 => gray_pixels::<4>(chunk),
            _ => chunk.chunks_exact_mut(ch).for_each(|p| {
                let l = luma(p[0], p[1], p[2]);
                p[..3].fill(l);
            }),
        });
}

/// Pixels of a compile-time width, so the loop compiles to fixed-stride code
/// rather than a call per pixel. The baseline x86-64 target (SSE2) has no byte
/// shuffle, so LLVM leaves the three-channel loop scalar there; with AVX2 it
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
            let mut px = px;
            // Reversing pixel order is a 180-degree turn.
            let mut data = with_capacity(px.data.len())?;
            for p in px.data.chunks_exact(ch).rev() {
                data.extend_from_slice(p);
            }
            px.data = data;
            Ok(px)
        }
        90 | 270 => {
            let mut data = zeroed(px.data.len())?;
            let clockwise = degrees == 90;
            match ch {
                3 => quarter_turn::<3>(&px.data, &mut data, w, h, clockwise),
                4 => quarter_turn::<4>(&px.data, &mut data, w, h, clockwise),
                _ => unreachable!("pixels are RGB or RGBA"),
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

/// Square tiles of the quarter turn: a tile's source rows (`TILE` x `TILE` x 4
/// bytes at most) stay in L1 while its output columns are written, where walking
/// whole output rows would touch a new source row, and miss the cache, per pixel.
const TILE: usize = 64;

/// `src` (`w` x `h`) turned a quarter clockwise or anticlockwise into `out`
/// (`h` x `w`), one band of `TILE` output rows per rayon task.
fn quarter_turn<const N: usize>(src: &[u8], out: &mut [u8], w: usize, h: usize, clockwise: bool) {
    let src = src.as_chunks::<N>().0;
    out.par_chunks_mut(h * N * TILE)
        .enumerate()
        .for_each(|(band, chunk)| {
            let out = chunk.as_chunks_mut::<N>().0;
            let rows = out.len() / h;
            for ox0 in (0..h).step_by(TILE) {
                for r in 0..rows {
                    let oy = band * TILE + r;
                    let tile = &mut out[r * h + ox0..r * h + (ox0 + TILE).min(h)];
                    for (ox, p) in (ox0..).zip(tile) {
                        let (sx, sy) = if clockwise {
                            (oy, h - 1 - ox)
                        } else {
                            (w - 1 - oy, ox)
                        };
                        *p = src[sy * w + sx];
                    }
                }
            }
        });
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
    /// width, 1 px wide included) is Pillow's luma, and alpha is kept.
    #[test]
    fn grayscale_is_luma_per_pixel_at_odd_sizes() {
        for (width, height) in [(1, 1), (1, 33), (17, 3), (31, 65), (67, 5)] {
            for channels in [3, 4] {
                let data: Vec<u8> = (0..width * height * channels)
                    .map(|i| (i * 97 % 256) as u8)
                    .collect();
                let mut px = Pixels {
                    width: width as u32,
                    height: height as u32,
                    channels,
                    data: data.clone(),
                };
                grayscale(&mut px);
                for (out, src) in px.data.chunks(channels).zip(data.chunks(channels)) {
                    let l = luma(src[0], src[1], src[2]);
                    assert_eq!(&out[..3], &[l, l, l], "{width}x{height}x{channels}");
                    assert_eq!(out[3..], src[3..], "alpha {width}x{height}");
                }
            }
        }
    }
}
