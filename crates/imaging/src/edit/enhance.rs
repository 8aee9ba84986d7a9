//! Pillow `ImageEnhance` reproduced bit for bit.
//!
//! Every enhancer is `Image.blend(degenerate, image, factor)`, which Pillow's
//! C code (`libImaging/Blend.c`) evaluates per byte in `float` as
//! `in1 + alpha * (in2 - in1)` and truncates; outside `0..=1` it clips to
//! `0..=255` first. Rust's saturating `f32 as u8` is exactly "clip, then
//! truncate", so [`blend`] covers both branches. The degenerate images carry
//! the original alpha, so alpha blends with itself and stays unchanged.

use rayon::prelude::*;

use super::{Pixels, ROWS_PER_TASK};
use crate::error::Result;

#[inline(always)]
fn blend(degenerate: u8, original: u8, factor: f32) -> u8 {
    // No mul_add: Pillow's wheels compute a separate multiply and add, and
    // fusing them would change the rounding.
    let t = degenerate as f32 + factor * ((original as i32 - degenerate as i32) as f32);
    // Explicit clamp + i32 conversion instead of a saturating `as u8`: same
    // value (t is never NaN), but it vectorises to min/max/cvttps.
    t.clamp(0.0, 255.0) as i32 as u8
}

/// Pillow's `convert("L")`: ITU-R 601-2 luma in 16.16 fixed point with rounding.
#[inline(always)]
pub(crate) fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 19595 + g as u32 * 38470 + b as u32 * 7471 + 0x8000) >> 16) as u8
}

fn apply_lut(px: &mut Pixels, lut: &[u8; 256]) {
    let row_len = px.row_len();
    let channels = px.channels;
    px.data
        .par_chunks_mut(row_len * ROWS_PER_TASK)
        .for_each(|chunk| lut_rows(chunk, channels, lut));
}

/// `lut` on whole pixels of `channels` (alpha, the fourth, kept): one band of
/// [`apply_lut`], or one strip of a streamed edit.
pub(crate) fn lut_rows(chunk: &mut [u8], channels: usize, lut: &[u8; 256]) {
    if channels != 4 {
        for v in chunk.iter_mut() {
            *v = lut[*v as usize];
        }
    } else {
        for p in chunk.chunks_exact_mut(4) {
            p[0] = lut[p[0] as usize];
            p[1] = lut[p[1] as usize];
            p[2] = lut[p[2] as usize];
        }
    }
}

/// `blend(d, v)` for every (degenerate, value) pair at `(d << 8) | v`. 64 KiB
/// fits in L2, and a lookup per byte is cheaper than the float round trip,
/// which the compiler does not vectorise well for baseline x86-64.
pub(crate) fn pair_table(factor: f32) -> Box<[u8; 65536]> {
    let table: Vec<u8> = (0..=u16::MAX)
        .map(|i| blend((i >> 8) as u8, i as u8, factor))
        .collect();
    table.into_boxed_slice().try_into().expect("65536 entries")
}

fn blend_lut(degenerate: u8, factor: f32) -> [u8; 256] {
    std::array::from_fn(|v| blend(degenerate, v as u8, factor))
}

/// Degenerate: black (alpha kept), so the result only depends on the value.
pub(crate) fn brightness(px: &mut Pixels, factor: f32) {
    if let Some(lut) = brightness_lut(factor) {
        apply_lut(px, &lut);
    }
}

/// Brightness's table, `None` when it changes nothing.
pub(crate) fn brightness_lut(factor: f32) -> Option<[u8; 256]> {
    (factor != 1.0).then(|| blend_lut(0, factor))
}

/// Pillow's contrast pivot: `int(ImageStat.Stat(im.convert("L")).mean[0] + 0.5)`.
/// The mean covers every pixel, transparent ones included, as in Pillow.
pub(crate) fn mean_luma(px: &Pixels) -> u8 {
    let channels = px.channels;
    let sum: u64 = px
        .data
        .par_chunks(px.row_len() * ROWS_PER_TASK)
        .map(|chunk| match channels {
            // Grey's luma is itself: Pillow's weights sum to exactly 1.0 (65536).
            1 => chunk.iter().map(|&v| u64::from(v)).sum(),
            3 => luma_sum::<3>(chunk),
            _ => luma_sum::<4>(chunk),
        })
        .sum();
    let count = px.width as u64 * px.height as u64;
    if count == 0 {
        return 0;
    }
    // Python divides the exact integer sum by the count in double precision;
    // both fit in 53 bits, so this is the same correctly rounded quotient.
    (sum as f64 / count as f64 + 0.5) as u8
}

/// Like greyscale's kernel, de-interleaving three-channel pixels needs byte
/// shuffles that baseline x86-64 lacks, hence the versions chosen at run time.
#[multiversion::multiversion(targets("x86_64+avx2+avx512f+avx512bw", "x86_64+avx2"))]
fn luma_sum<const N: usize>(chunk: &[u8]) -> u64 {
    chunk
        .as_chunks::<N>()
        .0
        .iter()
        .map(|p| luma(p[0], p[1], p[2]) as u64)
        .sum()
}

/// Degenerate: solid grey at the mean luma (alpha kept).
pub(crate) fn contrast(px: &mut Pixels, factor: f32) {
    if factor == 1.0 {
        return;
    }
    let mean = mean_luma(px);
    apply_lut(px, &blend_lut(mean, factor));
}

/// Degenerate: `convert("L").convert(mode)` (via `LA` for RGBA), i.e. the
/// pixel's own luma in all three colour channels.
pub(crate) fn saturation(px: &mut Pixels, factor: f32) {
    // Grey is its own degenerate (its luma is itself), and blending a value with
    // itself gives it back for any finite factor.
    if factor == 1.0 || px.channels == 1 {
        return;
    }
    let table = pair_table(factor);
    let table = &*table;
    let row_len = px.row_len();
    let channels = px.channels;
    px.data
        .par_chunks_mut(row_len * ROWS_PER_TASK)
        .for_each(|chunk| saturation_rows(chunk, channels, table));
}

/// Saturation on whole RGB or RGBA pixels with `table` ([`pair_table`] of the
/// factor): one band of [`saturation`], or one strip of a streamed edit.
pub(crate) fn saturation_rows(chunk: &mut [u8], channels: usize, table: &[u8; 65536]) {
    for p in chunk.chunks_exact_mut(channels) {
        let l = (luma(p[0], p[1], p[2]) as usize) << 8;
        p[0] = table[l | p[0] as usize];
        p[1] = table[l | p[1] as usize];
        p[2] = table[l | p[2] as usize];
    }
}

/// Degenerate: `filter(ImageFilter.SMOOTH)` (3x3 kernel 1 1 1 / 1 5 1 / 1 1 1
/// over 13, border pixels copied), alpha replaced by the original's.
///
/// Pillow sums the kernel in `float` with weights `1/13` and `5/13` plus 0.5
/// and truncates. The exact value `S/13 + 0.5` (S = weighted integer sum) is
/// never closer than `0.5/13` to an integer, far more than the float error
/// (< 1e-3 for sums up to 13 * 255), so the integer form `(2S + 13) / 26`
/// gives the same byte — checked against the Pillow fixtures.
///
/// The result is written over the source: each band of rows first copies the
/// originals it still needs (the row above and the row being rewritten), and
/// the rows just outside every band are copied before any band starts. A second
/// full-size buffer would cost more in page faults than the kernel itself.
pub(crate) fn sharpness(mut px: Pixels, factor: f32) -> Result<Pixels> {
    let (w, h, ch) = (px.width as usize, px.height as usize, px.channels);
    // Pillow's ImagingFilter copies images smaller than the kernel unchanged,
    // and the copied border blends with itself, so both cases are identity.
    if factor == 1.0 || w < 3 || h < 3 {
        return Ok(px);
    }
    let row_len = w * ch;
    let table = pair_table(factor);
    let table = &*table;
    // Rows 1..h-1 change, in bands of ROWS_PER_TASK; the first and last row
    // are copied unchanged by Pillow, so they stay as they are.
    let bands = (h - 2).div_ceil(ROWS_PER_TASK);
    let mut outside = super::with_capacity(bands * 2 * row_len)?;
    for band in 0..bands {
        let first = 1 + band * ROWS_PER_TASK;
        let last = (first + ROWS_PER_TASK - 1).min(h - 2);
        outside.extend_from_slice(&px.data[(first - 1) * row_len..first * row_len]);
        outside.extend_from_slice(&px.data[(last + 1) * row_len..(last + 2) * row_len]);
    }
    px.data[row_len..(h - 1) * row_len]
        .par_chunks_mut(row_len * ROWS_PER_TASK)
        .zip(outside.par_chunks(2 * row_len))
        .for_each(|(chunk, outside)| {
            let (above, below) = outside.split_at(row_len);
            let mut up = above.to_vec();
            let mut mid = vec![0u8; row_len];
            let mut smooth = vec![0u8; row_len];
            let rows = chunk.len() / row_len;
            for i in 0..rows {
                let (out_row, rest) = chunk[i * row_len..].split_at_mut(row_len);
                mid.copy_from_slice(out_row);
                let down = if i + 1 < rows {
                    &rest[..row_len]
                } else {
                    below
                };
                smooth_row(&up, &mid, down, ch, &mut smooth);
                blend_row(&smooth, &mid, table, out_row);
                // Edge pixels and alpha are blended with themselves in Pillow.
                out_row[..ch].copy_from_slice(&mid[..ch]);
                out_row[row_len - ch..].copy_from_slice(&mid[row_len - ch..]);
                if ch == 4 {
                    for (o, m) in out_row.chunks_exact_mut(4).zip(mid.chunks_exact(4)) {
                        o[3] = m[3];
                    }
                }
                std::mem::swap(&mut up, &mut mid);
            }
        });
    Ok(px)
}

/// Interior bytes of one SMOOTH-filtered row, channel-interleaved; the first
/// and last pixel are left for the caller.
#[multiversion::multiversion(targets("x86_64+avx2+avx512f+avx512bw", "x86_64+avx2"))]
fn smooth_row(up: &[u8], mid: &[u8], down: &[u8], ch: usize, out: &mut [u8]) {
    let n = mid.len() - 2 * ch;
    // Slices of equal length let the compiler drop bounds checks and
    // vectorise the loop.
    let (ul, uc, ur) = (&up[..n], &up[ch..ch + n], &up[2 * ch..2 * ch + n]);
    let (ml, mc, mr) = (&mid[..n], &mid[ch..ch + n], &mid[2 * ch..2 * ch + n]);
    let (dl, dc, dr) = (&down[..n], &down[ch..ch + n], &down[2 * ch..2 * ch + n]);
    let out = &mut out[ch..ch + n];
    for i in 0..n {
        // At most 2 * 13 * 255 + 13 = 6643: u16 lanes hold it and are twice
        // as many per vector as u32.
        let s = ul[i] as u16
            + uc[i] as u16
            + ur[i] as u16
            + ml[i] as u16
            + 5 * mc[i] as u16
            + mr[i] as u16
            + dl[i] as u16
            + dc[i] as u16
            + dr[i] as u16;
        out[i] = ((2 * s + 13) / 26) as u8;
    }
}

fn blend_row(degenerate: &[u8], original: &[u8], table: &[u8; 65536], out: &mut [u8]) {
    let n = out.len();
    let (d, o) = (&degenerate[..n], &original[..n]);
    for i in 0..n {
        out[i] = table[(d[i] as usize) << 8 | o[i] as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blend_matches_pillow_branches() {
        // Interpolation truncates; extrapolation clips first.
        assert_eq!(blend(0, 255, 0.5), 127);
        assert_eq!(blend(100, 200, 2.0), 255);
        assert_eq!(blend(200, 100, 3.0), 0);
        assert_eq!(blend(7, 9, 1.0), 9);
        assert_eq!(blend(7, 9, 0.0), 7);
    }

    #[test]
    fn luma_matches_pillow_examples() {
        assert_eq!(luma(255, 255, 255), 255);
        assert_eq!(luma(255, 0, 0), 76);
        assert_eq!(luma(0, 255, 0), 150);
        assert_eq!(luma(0, 0, 255), 29);
    }

    /// The in-place bands against Pillow's definition read from a separate
    /// source, at heights around the band size and down to 3 x 3.
    #[test]
    fn sharpness_in_place_matches_a_separate_source() {
        for (w, h) in [(3, 3), (4, 66), (17, 65), (5, 67), (3, 130), (9, 131)] {
            for ch in [3, 4] {
                let src: Vec<u8> = (0..w * h * ch).map(|i| (i * 131 % 253) as u8).collect();
                let px = Pixels {
                    width: w as u32,
                    height: h as u32,
                    channels: ch,
                    data: src.clone(),
                };
                let ours = sharpness(px, 2.0).unwrap().data;
                let at = |x: usize, y: usize, c: usize| src[(y * w + x) * ch + c] as u16;
                for y in 0..h {
                    for x in 0..w {
                        for c in 0..ch {
                            let original = at(x, y, c) as u8;
                            let border = x == 0 || y == 0 || x == w - 1 || y == h - 1;
                            let expected = if border || c == 3 {
                                original
                            } else {
                                let mut s = 4 * at(x, y, c);
                                for (dx, dy) in (0..3).flat_map(|dy| (0..3).map(move |dx| (dx, dy)))
                                {
                                    s += at(x + dx - 1, y + dy - 1, c);
                                }
                                blend(((2 * s + 13) / 26) as u8, original, 2.0)
                            };
                            assert_eq!(
                                ours[(y * w + x) * ch + c],
                                expected,
                                "{w}x{h}x{ch} ({x}, {y}, {c})"
                            );
                        }
                    }
                }
            }
        }
    }

    /// The vectorised sum against a plain one, at sizes off every vector width.
    #[test]
    fn mean_luma_matches_a_plain_sum_at_odd_sizes() {
        for (w, h) in [(1, 1), (1, 130), (33, 7), (67, 65)] {
            for ch in [3, 4] {
                let data: Vec<u8> = (0..w * h * ch).map(|i| (i * 211 % 256) as u8).collect();
                let sum: u64 = data.chunks(ch).map(|p| luma(p[0], p[1], p[2]) as u64).sum();
                let expected = (sum as f64 / (w * h) as f64 + 0.5) as u8;
                let px = Pixels {
                    width: w as u32,
                    height: h as u32,
                    channels: ch,
                    data,
                };
                assert_eq!(mean_luma(&px), expected, "{w}x{h}x{ch}");
            }
        }
    }
}
