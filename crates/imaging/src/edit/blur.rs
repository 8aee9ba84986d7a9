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
            let mut tmp = vec![0u8; row_len];
            for row in chunk.chunks_exact_mut(row_len) {
                for _ in 0..PASSES {
                    blur_line::<C>(row, &mut tmp, weights);
                    row.copy_from_slice(&tmp);
                }
            }
        });
}

/// `ImagingLineBoxBlur32/8`: out[x] = (sum of in[x-r..=x+r] * ww
/// + (in[x-r-1] + in[x+r+1]) * fw + 2^23) >> 24, indices clamped to the line.
fn blur_line<const C: usize>(input: &[u8], out: &mut [u8], weights: BoxWeights) {
    let n = input.len() / C;
    let last = n as isize - 1;
    let r = weights.radius as isize;
    let px = |k: isize, c: usize| input[k.clamp(0, last) as usize * C + c] as u32;
    let mut acc = [0u32; C];
    for (c, a) in acc.iter_mut().enumerate() {
        for k in -r - 1..r {
            *a = a.wrapping_add(px(k, c));
        }
    }
    for x in 0..n as isize {
        for c in 0..C {
            let leaving = px(x - r - 1, c);
            acc[c] = acc[c].wrapping_add(px(x + r, c)).wrapping_sub(leaving);
            let far = leaving + px(x + r + 1, c);
            out[x as usize * C + c] = weights.out(acc[c], far);
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
