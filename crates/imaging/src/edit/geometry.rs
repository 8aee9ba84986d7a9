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
        .for_each(|chunk| {
            for p in chunk.chunks_exact_mut(ch) {
                let l = luma(p[0], p[1], p[2]);
                p[..3].fill(l);
            }
        });
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
            let src = &px.data;
            let mut data = zeroed(src.len())?;
            // Output is h wide and w tall.
            let out_row_len = h * ch;
            data.par_chunks_mut(out_row_len * ROWS_PER_TASK)
                .enumerate()
                .for_each(|(chunk_index, chunk)| {
                    for (i, out_row) in chunk.chunks_exact_mut(out_row_len).enumerate() {
                        let oy = chunk_index * ROWS_PER_TASK + i;
                        for (ox, p) in out_row.chunks_exact_mut(ch).enumerate() {
                            let (sx, sy) = if degrees == 90 {
                                (oy, h - 1 - ox)
                            } else {
                                (w - 1 - oy, ox)
                            };
                            let s = (sy * w + sx) * ch;
                            p.copy_from_slice(&src[s..s + ch]);
                        }
                    }
                });
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
