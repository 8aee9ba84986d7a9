//! Pillow's `GaussianBlur` (`libImaging/BoxBlur.c`) reproduced bit for bit:
//! three passes of an "extended" box blur (fractional radius, 8.24 fixed-point
//! weights, edge pixels repeated) horizontally, then three vertically. All
//! channels are blurred, alpha included and not premultiplied, as Pillow does.
//!
//! Pillow blurs columns by transposing and reusing the row code. Each column
//! is independent and the sums are exact integers, so blurring whole rows at
//! a time (vertical pass below) yields the same bytes without transposing,
//! and lets rayon split the image into row bands that start their running
//! sums afresh.

use rayon::prelude::*;

use super::{Pixels, ROWS_PER_TASK};
use crate::error::Result;

const PASSES: i32 = 3;

/// `_gaussian_blur_radius` with C's float/double mix kept: the doubles come
/// from the `12.0`, `1.0` and `2.0` literals in `sqrt` and `floor`.
fn box_radius(sigma: f32) -> f32 {
    let sigma2 = sigma * sigma / PASSES as f32;
    let big_l = (12.0f64 * sigma2 as f64 + 1.0).sqrt() as f32;
    let l = ((big_l as f64 - 1.0) / 2.0).floor() as f32;
    let mut a = (2.0 * l + 1.0) * (l * (l + 1.0) - 3.0 * sigma2);
    a /= 6.0 * (sigma2 - (l + 1.0) * (l + 1.0));
    l + a
}

/// Integer radius and the 8.24 weights of the inner box and of the two
/// partially covered pixels at its ends, computed with C's u32 wrap-around.
#[derive(Clone, Copy)]
struct BoxWeights {
    radius: usize,
    ww: u32,
    fw: u32,
}

impl BoxWeights {
    fn new(float_radius: f32) -> Self {
        let radius = float_radius as i32;
        let ww = ((1u32 << 24) as f32 / (float_radius * 2.0 + 1.0)) as u32;
        let fw = (1u32 << 24).wrapping_sub(((radius * 2 + 1) as u32).wrapping_mul(ww)) / 2;
        BoxWeights {
            radius: radius as usize,
            ww,
            fw,
        }
    }

    #[inline(always)]
    fn out(&self, acc: u32, far: u32) -> u8 {
        (acc.wrapping_mul(self.ww)
            .wrapping_add(far.wrapping_mul(self.fw))
            .wrapping_add(1 << 23)
            >> 24) as u8
    }
}

pub(crate) fn gaussian_blur(px: &mut Pixels, sigma: f32) -> Result<()> {
    if px.width == 0 || px.height == 0 {
        return Ok(());
    }
    let float_radius = box_radius(sigma);
    // Pillow skips a zero radius; NaN (unvalidated input) is skipped too.
    if float_radius.is_nan() || float_radius <= 0.0 {
        return Ok(());
    }
    let weights = BoxWeights::new(float_radius);
    match px.channels {
        3 => horizontal::<3>(px, weights),
        _ => horizontal::<4>(px, weights),
    }
    vertical(px, weights)
}

fn horizontal<const C: usize>(px: &mut Pixels, weights: BoxWeights) {
    let row_len = px.row_len();
    px.data
        .par_chunks_mut(row_len * ROWS_PER_TASK)
        .for_each(|chunk| {
            let mut padded = Vec::with_capacity(row_len + (2 * weights.radius + 2) * C);
            for row in chunk.chunks_exact_mut(row_len) {
                for _ in 0..PASSES {
                    pad::<C>(row, weights.radius + 1, &mut padded);
                    blur_line::<C>(&padded, row, weights);
                }
            }
        });
}

/// `row` with its first and last pixels repeated `edge` times before and after:
/// Pillow's clamped reads become plain indexing.
fn pad<const C: usize>(row: &[u8], edge: usize, padded: &mut Vec<u8>) {
    padded.clear();
    for _ in 0..edge {
        padded.extend_from_slice(&row[..C]);
    }
    padded.extend_from_slice(row);
    for _ in 0..edge {
        padded.extend_from_slice(&row[row.len() - C..]);
    }
}

/// Pixels per block of running sums: the sums are a serial chain, so they are
/// taken first into a small buffer and the weighting, which vectorises, runs
/// over the whole block after.
const BLOCK: usize = 64;

/// `ImagingLineBoxBlur32/8`: out[x] = (sum of in[x-r..=x+r] * ww
/// + (in[x-r-1] + in[x+r+1]) * fw + 2^23) >> 24, indices clamped to the line.
/// `padded` is the line with r + 1 edge pixels on each side ([`pad`]).
/// The weighting multiplies u32 lanes, which SSE2 lacks (`pmulld` is SSE4.1),
/// hence the versions chosen at run time.
#[multiversion::multiversion(targets("x86_64+avx2+avx512f+avx512bw", "x86_64+avx2"))]
fn blur_line<const C: usize>(padded: &[u8], out: &mut [u8], weights: BoxWeights) {
    let span = (2 * weights.radius + 1) * C;
    let mut acc = [0u32; C];
    for px in padded[..span].chunks_exact(C) {
        for c in 0..C {
            acc[c] = acc[c].wrapping_add(px[c] as u32);
        }
    }
    let mut sums = [0u32; BLOCK * 4];
    for (block, out) in out.chunks_mut(BLOCK * C).enumerate() {
        let len = out.len();
        let base = block * BLOCK * C;
        let sums = &mut sums[..len];
        let leaving = &padded[base..base + len];
        let entering = &padded[base + span..base + span + len];
        for ((s, l), e) in sums
            .chunks_exact_mut(C)
            .zip(leaving.chunks_exact(C))
            .zip(entering.chunks_exact(C))
        {
            for c in 0..C {
                acc[c] = acc[c].wrapping_add(e[c] as u32).wrapping_sub(l[c] as u32);
                s[c] = acc[c];
            }
        }
        let far = &padded[base + span + C..base + span + C + len];
        for (((o, &s), &l), &f) in out.iter_mut().zip(sums.iter()).zip(leaving).zip(far) {
            *o = weights.out(s, l as u32 + f as u32);
        }
    }
}

fn vertical(px: &mut Pixels, weights: BoxWeights) -> Result<()> {
    let row_len = px.row_len();
    let h = px.height as usize;
    // Each band re-primes its running sums over ~2r rows, so bands are kept
    // large relative to the radius.
    let band_rows = (h.div_ceil(rayon::current_num_threads() * 4))
        .max(4 * weights.radius + ROWS_PER_TASK)
        .min(h);
    let mut b = super::zeroed(px.data.len())?;
    let mut a = std::mem::take(&mut px.data);
    for _ in 0..PASSES {
        let src = &a;
        b.par_chunks_mut(row_len * band_rows)
            .enumerate()
            .for_each(|(band, out)| vertical_band(src, out, row_len, h, band * band_rows, weights));
        std::mem::swap(&mut a, &mut b);
    }
    px.data = a;
    Ok(())
}

#[multiversion::multiversion(targets("x86_64+avx2+avx512f+avx512bw", "x86_64+avx2"))]
fn vertical_band(
    src: &[u8],
    out: &mut [u8],
    row_len: usize,
    h: usize,
    y0: usize,
    weights: BoxWeights,
) {
    let last = h as isize - 1;
    let r = weights.radius as isize;
    let row = |k: isize| {
        let y = k.clamp(0, last) as usize;
        &src[y * row_len..(y + 1) * row_len]
    };
    let mut acc = vec![0u32; row_len];
    for k in y0 as isize - r - 1..y0 as isize + r {
        for (a, &v) in acc.iter_mut().zip(row(k)) {
            *a = a.wrapping_add(v as u32);
        }
    }
    for (i, out_row) in out.chunks_exact_mut(row_len).enumerate() {
        let y = (y0 + i) as isize;
        let (leaving, entering, far) = (row(y - r - 1), row(y + r), row(y + r + 1));
        for j in 0..row_len {
            acc[j] = acc[j]
                .wrapping_add(entering[j] as u32)
                .wrapping_sub(leaving[j] as u32);
            out_row[j] = weights.out(acc[j], leaving[j] as u32 + far[j] as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pillow's own order, read straight from `BoxBlur.c`: three clamped line
    /// passes over rows, a transpose, three over columns, transposed back.
    fn reference(px: &Pixels, sigma: f32) -> Vec<u8> {
        let float_radius = box_radius(sigma);
        let w = BoxWeights::new(float_radius);
        let (width, height, ch) = (px.width as usize, px.height as usize, px.channels);
        let line = |input: &[u8]| -> Vec<u8> {
            let n = input.len() / ch;
            let last = n as isize - 1;
            let r = w.radius as isize;
            let at = |k: isize, c: usize| input[k.clamp(0, last) as usize * ch + c] as u32;
            let mut out = vec![0; input.len()];
            for c in 0..ch {
                let mut acc = 0u32;
                for k in -r - 1..r {
                    acc = acc.wrapping_add(at(k, c));
                }
                for x in 0..n as isize {
                    let leaving = at(x - r - 1, c);
                    acc = acc.wrapping_add(at(x + r, c)).wrapping_sub(leaving);
                    out[x as usize * ch + c] = w.out(acc, leaving + at(x + r + 1, c));
                }
            }
            out
        };
        let rows = |data: &[u8], n: usize| -> Vec<u8> {
            data.chunks(n * ch)
                .flat_map(|row| {
                    let mut row = row.to_vec();
                    for _ in 0..PASSES {
                        row = line(&row);
                    }
                    row
                })
                .collect()
        };
        let transpose = |data: &[u8], w: usize, h: usize| -> Vec<u8> {
            let mut out = vec![0; data.len()];
            for y in 0..h {
                for x in 0..w {
                    let (s, d) = ((y * w + x) * ch, (x * h + y) * ch);
                    out[d..d + ch].copy_from_slice(&data[s..s + ch]);
                }
            }
            out
        };
        let data = rows(&px.data, width);
        let data = rows(&transpose(&data, width, height), height);
        transpose(&data, height, width)
    }

    fn noise(width: u32, height: u32, channels: usize, seed: u32) -> Pixels {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        let data = (0..width as usize * height as usize * channels)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                // Smooth ramps plus noise, so blurring changes most bytes.
                ((i / channels % 251) as u32 + (state & 63)) as u8
            })
            .collect();
        Pixels {
            width,
            height,
            channels,
            data,
        }
    }

    /// Odd sizes (1 px wide or tall, sides off every block size, radii wider
    /// than the image) and both layouts, against Pillow's order of work.
    #[test]
    fn matches_pillows_order_of_work_at_odd_sizes() {
        let sizes = [
            (1, 1),
            (1, 37),
            (37, 1),
            (2, 3),
            (63, 65),
            (65, 129),
            (130, 70),
        ];
        for (i, &(w, h)) in sizes.iter().enumerate() {
            for channels in [3, 4] {
                for sigma in [0.5, 2.0, 5.0, 40.0] {
                    let px = noise(w, h, channels, i as u32 * 7 + channels as u32);
                    let mut ours = px.clone();
                    gaussian_blur(&mut ours, sigma).unwrap();
                    assert!(
                        ours.data == reference(&px, sigma),
                        "{w}x{h}x{channels} sigma {sigma}"
                    );
                }
            }
        }
    }
}
