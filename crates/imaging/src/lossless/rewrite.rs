//! Our own lossless transform of baseline JPEGs: the scan is entropy-decoded
//! once into sparse coefficients, and the turned, cropped image is encoded
//! straight from them, one MCU row per restart interval so that the rows are
//! encoded in parallel. The coefficients are the ones libjpeg-turbo's transform
//! gives (tested: both decode to the very same pixels); only the entropy coding
//! differs (restart markers, the standard Huffman tables).
//!
//! libjpeg-turbo's transform reads the whole image into coefficient arrays,
//! copies them turned into a second pair, then encodes on one thread; here
//! nothing is copied, blocks cost what their nonzero coefficients cost, and
//! encoding uses every core.

use rayon::prelude::*;

use super::decode::{self, Coefficients};
use super::encode::{BitWriter, segment};
use super::frame::{self, Frame};
use super::huffman::{EncodeTable, Standard};
use crate::jpeg::{self, Rect, Turn};

/// Zigzag position -> natural (row-major) position in an 8 x 8 block.
#[rustfmt::skip]
const NATURAL: [u8; 64] = [
     0,  1,  8, 16,  9,  2,  3, 10,
    17, 24, 32, 25, 18, 11,  4,  5,
    12, 19, 26, 33, 40, 48, 41, 34,
    27, 20, 13,  6,  7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36,
    29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46,
    53, 60, 61, 54, 47, 55, 62, 63,
];

/// MCU rows of the result encoded side by side (see [`Encoder::rows`]); also the
/// unit of work shared among threads.
const ROWS_TOGETHER: u32 = 16;

/// How a turn moves the coefficients inside a block: a transpose exchanges
/// horizontal and vertical frequencies, and a mirror negates the odd ones along
/// its axis (libjpeg-turbo's transupp.c does the same).
struct BlockTurn {
    /// Source zigzag position -> turned zigzag position.
    position: [u8; 64],
    /// Source zigzag position -> 1 or -1.
    sign: [i32; 64],
    transposes: bool,
}

impl BlockTurn {
    fn new(turn: Turn) -> Self {
        // In the turned block: transposed, then odd columns and/or odd rows negated.
        let (transposes, negate_columns, negate_rows) = match turn {
            Turn::Identity => (false, false, false),
            Turn::FlipHorizontal => (false, true, false),
            Turn::FlipVertical => (false, false, true),
            Turn::Transpose => (true, false, false),
            Turn::Transverse => (true, true, true),
            Turn::Rotate90 => (true, true, false),
            Turn::Rotate180 => (false, true, true),
            Turn::Rotate270 => (true, false, true),
        };
        let mut zigzag = [0u8; 64];
        for (k, &natural) in NATURAL.iter().enumerate() {
            zigzag[usize::from(natural)] = k as u8;
        }
        let mut position = [0u8; 64];
        let mut sign = [1i32; 64];
        for (k, &natural) in NATURAL.iter().enumerate() {
            let (row, column) = (natural / 8, natural % 8);
            let (row, column) = if transposes {
                (column, row)
            } else {
                (row, column)
            };
            position[k] = zigzag[usize::from(row * 8 + column)];
            if (negate_columns && column % 2 == 1) != (negate_rows && row % 2 == 1) {
                sign[k] = -1;
            }
        }
        Self {
            position,
            sign,
            transposes,
        }
    }

    /// A quantisation table (zigzag order) for the turned coefficients.
    fn quant(&self, table: &[u8; 64]) -> [u8; 64] {
        let mut turned = [0u8; 64];
        for (k, &q) in table.iter().enumerate() {
            turned[usize::from(self.position[k])] = q;
        }
        turned
    }
}

/// One component of the result: its blocks and where each comes from.
struct Plane {
    component: usize,
    /// Blocks per MCU of the result, across and down.
    mcu_blocks: (u32, u32),
    /// Blocks holding pixels of the result (the rest of an edge MCU is padding).
    blocks: (u32, u32),
    /// Blocks of the whole turned image, before the crop.
    turned: (u32, u32),
    /// The crop's corner, in blocks.
    offset: (u32, u32),
    /// Where the source stores this component: log2 of its blocks per MCU, the
    /// first of them within an MCU, MCUs across, blocks per MCU in all.
    source_mcu_shifts: (u32, u32),
    source_first: u32,
    source_across: u32,
    source_per_mcu: u32,
}

impl Plane {
    /// The scan index of the source block that becomes block (`x`, `y`).
    #[inline(always)]
    fn source(&self, inverse: Turn, x: u32, y: u32) -> usize {
        let (sx, sy) = inverse.map(
            self.turned.0,
            self.turned.1,
            x + self.offset.0,
            y + self.offset.1,
        );
        // Blocks per MCU are 1 or 2 each way: shifts, not divisions.
        let (h, v) = self.source_mcu_shifts;
        let mcu = (sy >> v) as usize * self.source_across as usize + (sx >> h) as usize;
        let within = ((sy & ((1 << v) - 1)) << h) + (sx & ((1 << h) - 1));
        mcu * self.source_per_mcu as usize + (self.source_first + within) as usize
    }
}

/// Blocks holding pixels of a component sampled `h` x `v` of `h_max` x `v_max`
/// in a `width` x `height` image (T.81 A.1.1).
fn component_blocks(
    width: u32,
    height: u32,
    (h, v): (u32, u32),
    (h_max, v_max): (u32, u32),
) -> (u32, u32) {
    (
        (width * h).div_ceil(h_max).div_ceil(8),
        (height * v).div_ceil(v_max).div_ceil(8),
    )
}

/// Turns then crops a baseline JPEG stored `width` x `height` (as
/// [`jpeg::transform`] does, with the same rules for perfect turns and aligned
/// crops); `None` when the file is not one this path reads (see
/// [`frame::read`] and [`decode`]), or the turn or crop is not lossless, and the
/// caller asks libjpeg-turbo.
pub(super) fn transform(
    bytes: &[u8],
    width: u32,
    height: u32,
    turn: Turn,
    crop: Rect,
) -> Option<Vec<u8>> {
    let frame = frame::read(bytes)?;
    if (frame.width, frame.height) != (width, height) {
        return None;
    }
    let max = frame.max_sampling();
    let out_max = if turn.transposes() {
        (max.1, max.0)
    } else {
        max
    };
    let mcu = (8 * max.0, 8 * max.1);
    if !jpeg::perfect(turn, width, height, mcu)
        || !crop.x.is_multiple_of(8 * out_max.0)
        || !crop.y.is_multiple_of(8 * out_max.1)
    {
        return None;
    }
    let coefficients = decode::decode(bytes, &frame)?;
    let planes = planes(&frame, turn, crop, out_max)?;
    let block_turn = BlockTurn::new(turn);

    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 8 + 1024);
    let across = if frame.components.len() == 1 {
        planes[0].blocks.0
    } else {
        crop.width.div_ceil(8 * out_max.0)
    };
    let down = if frame.components.len() == 1 {
        planes[0].blocks.1
    } else {
        crop.height.div_ceil(8 * out_max.1)
    };
    headers(&mut out, &frame, &planes, &block_turn, crop, across)?;

    let tables = [Standard::Luma.tables(), Standard::Chroma.tables()];
    let encoder = Encoder {
        coefficients: &coefficients,
        planes: &planes,
        block_turn: &block_turn,
        inverse: turn.inverse(),
        tables: &tables,
        across,
        down,
    };
    let estimate = bytes.len() / down as usize + 256;
    let parts: Vec<Vec<Vec<u8>>> = (0..down.div_ceil(ROWS_TOGETHER))
        .into_par_iter()
        .map(|group| {
            let first = group * ROWS_TOGETHER;
            encoder.rows(first..(first + ROWS_TOGETHER).min(down), estimate)
        })
        .collect::<Option<_>>()?;
    for row in parts.iter().flatten() {
        out.extend_from_slice(row);
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    Some(out)
}

fn planes(frame: &Frame, turn: Turn, crop: Rect, out_max: (u32, u32)) -> Option<Vec<Plane>> {
    let max = frame.max_sampling();
    let mut first = 0;
    let per_mcu: u32 = frame
        .components
        .iter()
        .map(|c| {
            let (h, v) = frame.blocks_in_mcu(c);
            h * v
        })
        .sum();
    let (source_across, _) = frame.mcus();
    let mut planes = Vec::with_capacity(frame.components.len());
    for (index, component) in frame.components.iter().enumerate() {
        let source_mcu_blocks = frame.blocks_in_mcu(component);
        let (h, v) = source_mcu_blocks;
        debug_assert!(h.is_power_of_two() && v.is_power_of_two());
        let mcu_blocks = if turn.transposes() { (v, h) } else { (h, v) };
        let sampling = if frame.components.len() == 1 {
            (1, 1)
        } else {
            (u32::from(component.h), u32::from(component.v))
        };
        let source_blocks = component_blocks(frame.width, frame.height, sampling, max);
        let out_sampling = if turn.transposes() {
            (sampling.1, sampling.0)
        } else {
            sampling
        };
        let blocks = component_blocks(crop.width, crop.height, out_sampling, out_max);
        let offset = (
            crop.x / (8 * out_max.0) * mcu_blocks.0,
            crop.y / (8 * out_max.1) * mcu_blocks.1,
        );
        let turned = turn.size(source_blocks.0, source_blocks.1);
        // The crop lies inside the turned image, so its blocks do too.
        if offset.0 + blocks.0 > turned.0 || offset.1 + blocks.1 > turned.1 {
            return None;
        }
        planes.push(Plane {
            component: index,
            mcu_blocks,
            blocks,
            turned,
            offset,
            source_mcu_shifts: (h.trailing_zeros(), v.trailing_zeros()),
            source_first: first,
            source_across: if frame.components.len() == 1 {
                source_blocks.0
            } else {
                source_across
            },
            source_per_mcu: per_mcu,
        });
        first += h * v;
    }
    Some(planes)
}

/// Start of image to start of scan: JFIF, the turned quantisation tables, the
/// frame, the standard Huffman tables, one MCU row per restart interval.
fn headers(
    out: &mut Vec<u8>,
    frame: &Frame,
    planes: &[Plane],
    block_turn: &BlockTurn,
    crop: Rect,
    across: u32,
) -> Option<()> {
    out.extend_from_slice(&[0xFF, 0xD8]);
    segment(out, 0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    let mut written = [false; 4];
    for component in &frame.components {
        let slot = usize::from(component.tq);
        if !std::mem::replace(&mut written[slot], true) {
            let mut body = vec![component.tq];
            body.extend_from_slice(&block_turn.quant(frame.quant[slot].as_ref()?));
            segment(out, 0xDB, &body);
        }
    }
    let mut body = vec![8];
    body.extend_from_slice(&u16::try_from(crop.height).ok()?.to_be_bytes());
    body.extend_from_slice(&u16::try_from(crop.width).ok()?.to_be_bytes());
    body.push(frame.components.len() as u8);
    for (component, plane) in frame.components.iter().zip(planes) {
        let (h, v) = if frame.components.len() == 1 {
            (1, 1)
        } else {
            plane.mcu_blocks
        };
        body.extend_from_slice(&[component.id, (h << 4 | v) as u8, component.tq]);
    }
    segment(out, 0xC0, &body);
    let standards: &[Standard] = if frame.components.len() == 1 {
        &[Standard::Luma]
    } else {
        &[Standard::Luma, Standard::Chroma]
    };
    for standard in standards {
        for (class_slot, counts, symbols) in standard.specs() {
            let mut body = vec![class_slot];
            body.extend_from_slice(counts);
            body.extend_from_slice(symbols);
            segment(out, 0xC4, &body);
        }
    }
    segment(out, 0xDD, &u16::try_from(across).ok()?.to_be_bytes());
    let mut body = vec![frame.components.len() as u8];
    for (index, component) in frame.components.iter().enumerate() {
        body.extend_from_slice(&[component.id, if index == 0 { 0x00 } else { 0x11 }]);
    }
    body.extend_from_slice(&[0, 63, 0]);
    segment(out, 0xDA, &body);
    Some(())
}

/// Everything needed to encode any MCU row of the result.
struct Encoder<'a> {
    coefficients: &'a Coefficients,
    planes: &'a [Plane],
    block_turn: &'a BlockTurn,
    inverse: Turn,
    /// (DC, AC) tables: luma, chroma.
    tables: &'a [(EncodeTable, EncodeTable); 2],
    across: u32,
    down: u32,
}

impl Encoder<'_> {
    /// The entropy-coded data of MCU rows `rows`, each row ending with a restart
    /// marker but the image's last. The rows are encoded side by side, MCU column
    /// by MCU column, each into its own buffer: after a quarter turn, the sources
    /// of a column of rows are neighbours in the scan, where one row alone would
    /// read one block per source MCU row (a cache miss each).
    fn rows(&self, rows: std::ops::Range<u32>, capacity: usize) -> Option<Vec<Vec<u8>>> {
        let mut writers: Vec<_> = rows
            .clone()
            .map(|_| BitWriter::with_capacity(capacity))
            .collect();
        let mut predictions = vec![[0i32; 3]; writers.len()];
        // Only the positions a block sets are read back: never cleared.
        let mut turned = [0i32; 64];
        for x in 0..self.across {
            for ((y, writer), prediction) in rows.clone().zip(&mut writers).zip(&mut predictions) {
                self.mcu(x, y, writer, prediction, &mut turned)?;
            }
        }
        Some(
            rows.zip(writers)
                .map(|(y, mut writer)| {
                    if y + 1 < self.down {
                        writer.restart(y);
                    } else {
                        writer.flush();
                    }
                    writer.out
                })
                .collect(),
        )
    }

    /// MCU (`x`, `y`) of the result.
    #[inline(always)]
    fn mcu(
        &self,
        x: u32,
        y: u32,
        writer: &mut BitWriter,
        predictions: &mut [i32; 3],
        turned: &mut [i32; 64],
    ) -> Option<()> {
        for plane in self.planes {
            let (dc_table, ac_table) = &self.tables[usize::from(plane.component > 0)];
            let prediction = &mut predictions[plane.component];
            for by in y * plane.mcu_blocks.1..(y + 1) * plane.mcu_blocks.1 {
                for bx in x * plane.mcu_blocks.0..(x + 1) * plane.mcu_blocks.0 {
                    if bx >= plane.blocks.0 || by >= plane.blocks.1 {
                        // Padding of an edge MCU: never shown, so the cheapest
                        // block there is (the previous DC, no AC).
                        writer.block(0, std::iter::empty(), dc_table, ac_table)?;
                        continue;
                    }
                    let index = plane.source(self.inverse, bx, by);
                    let (dc, mask, values) = self.coefficients.block(index)?;
                    let dc = i32::from(dc);
                    let difference = dc - std::mem::replace(prediction, dc);
                    // Positions are below 64: `& 63` spares the bounds checks.
                    if self.block_turn.transposes {
                        let mut turned_mask = 0u64;
                        for (k, &value) in Positions(mask).zip(values) {
                            let k = (k & 63) as usize;
                            let to = self.block_turn.position[k] & 63;
                            turned[usize::from(to)] = i32::from(value) * self.block_turn.sign[k];
                            turned_mask |= 1 << to;
                        }
                        let ac = Positions(turned_mask).map(|k| (k, turned[(k & 63) as usize]));
                        writer.block(difference, ac, dc_table, ac_table)?;
                    } else {
                        let ac = Positions(mask).zip(values).map(|(k, &value)| {
                            (
                                k,
                                i32::from(value) * self.block_turn.sign[(k & 63) as usize],
                            )
                        });
                        writer.block(difference, ac, dc_table, ac_table)?;
                    }
                }
            }
        }
        Some(())
    }
}

/// The set bits of a mask, lowest first.
struct Positions(u64);

impl Iterator for Positions {
    type Item = u32;

    #[inline(always)]
    fn next(&mut self) -> Option<u32> {
        if self.0 == 0 {
            return None;
        }
        let k = self.0.trailing_zeros();
        self.0 &= self.0 - 1;
        Some(k)
    }
}

#[cfg(test)]
mod tests {
    use turbojpeg::{Compressor, Image, PixelFormat, Subsamp};

    use super::*;
    use crate::lossless::test_jpeg as source;

    fn pixels(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
        let image = turbojpeg::decompress(bytes, PixelFormat::RGB).unwrap();
        (image.width, image.height, image.pixels)
    }

    fn whole(turn: Turn, w: u32, h: u32) -> Rect {
        let (width, height) = turn.size(w, h);
        Rect {
            x: 0,
            y: 0,
            width,
            height,
        }
    }

    /// Ours where it runs, and libjpeg-turbo's, must decode to the very same
    /// pixels: the same coefficients, the same quantisation.
    fn same_as_libjpeg_turbo(bytes: &[u8], w: u32, h: u32, turn: Turn, crop: Rect) -> bool {
        let Some(ours) = transform(bytes, w, h, turn, crop) else {
            return false;
        };
        let theirs = jpeg::transform(bytes, w, h, turn, crop).expect("libjpeg-turbo agrees");
        assert_eq!(pixels(&ours), pixels(&theirs), "{w}x{h} {turn:?} {crop:?}");
        true
    }

    #[test]
    fn every_turn_and_crop_gives_libjpeg_turbos_pixels() {
        let layouts = [
            Subsamp::Sub2x2,
            Subsamp::Sub2x1,
            Subsamp::Sub1x2,
            Subsamp::None,
            Subsamp::Gray,
        ];
        let sizes = [
            (64, 48),
            (1, 64),
            (64, 1),
            (33, 17),
            (48, 80),
            (129, 97),
            (640, 481),
        ];
        for (index, subsamp) in layouts.into_iter().enumerate() {
            let (mcu_w, mcu_h) = subsamp.mcu_size();
            let mcu = (mcu_w as u32, mcu_h as u32);
            for (w, h) in sizes {
                let bytes = source(w, h, subsamp, 50 + 10 * index as i32, index % 2 == 1);
                for turn in Turn::ALL {
                    let full = whole(turn, w, h);
                    let ran = same_as_libjpeg_turbo(&bytes, w, h, turn, full);
                    assert_eq!(ran, jpeg::perfect(turn, w, h, mcu), "{w}x{h} {turn:?}");
                    // A crop with its corner one MCU in and odd sides.
                    let (tw, th) = turn.size(mcu.0, mcu.1);
                    if ran && full.width > tw + 1 && full.height > th + 1 {
                        let crop = Rect {
                            x: tw,
                            y: th,
                            width: full.width - tw - 1,
                            height: full.height - th - 1,
                        };
                        assert!(same_as_libjpeg_turbo(&bytes, w, h, turn, crop));
                    }
                }
            }
        }
    }

    #[test]
    fn its_own_restart_markers_read_back() {
        let bytes = source(96, 64, Subsamp::Sub2x2, 90, false);
        let mut turned = bytes.clone();
        for _ in 0..4 {
            let (w, h) = (pixels(&turned).0 as u32, pixels(&turned).1 as u32);
            turned = transform(&turned, w, h, Turn::Rotate90, whole(Turn::Rotate90, w, h))
                .expect("a baseline file with restart markers is ours");
        }
        assert_eq!(pixels(&turned), pixels(&bytes));
        assert!(turned.windows(2).any(|pair| pair == [0xFF, 0xDD]));
    }

    #[test]
    fn anything_but_a_clean_baseline_scan_is_left_to_libjpeg_turbo() {
        let bytes = source(64, 48, Subsamp::Sub2x2, 85, false);
        let full = whole(Turn::Rotate90, 64, 48);
        let turn = |bytes: &[u8]| transform(bytes, 64, 48, Turn::Rotate90, full);
        assert!(turn(&bytes).is_some());
        // Cut anywhere: the scan runs out, or a marker is missing.
        for cut in [
            bytes.len() - 1,
            bytes.len() - 2,
            bytes.len() - 50,
            bytes.len() / 2,
            200,
        ] {
            assert!(turn(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        // Bytes between the scan and the end-of-image marker.
        let mut extra = bytes[..bytes.len() - 2].to_vec();
        extra.extend_from_slice(&[0x12, 0x34, 0xFF, 0xD9]);
        assert!(turn(&extra).is_none());
        // Progressive: several scans.
        let mut compressor = Compressor::new().unwrap();
        compressor.set_progressive(true).unwrap();
        let progressive = compressor
            .compress_to_vec(Image {
                pixels: &[128u8; 64 * 48 * 3][..],
                width: 64,
                pitch: 64 * 3,
                height: 48,
                format: PixelFormat::RGB,
            })
            .unwrap();
        assert!(turn(&progressive).is_none());
        // The declared size must be the caller's.
        assert!(transform(&bytes, 48, 64, Turn::Rotate90, full).is_none());
        // Whatever a flipped bit makes of the scan, when it is ours it is
        // libjpeg-turbo's too.
        let scan = frame::read(&bytes).unwrap().scan_start;
        let mut state = 0x9E37_79B9u32;
        for _ in 0..400 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let mut flipped = bytes.clone();
            let at = scan + state as usize % (bytes.len() - scan);
            flipped[at] ^= 1 << (state >> 29);
            if let Some(ours) = turn(&flipped) {
                let theirs = jpeg::transform(&flipped, 64, 48, Turn::Rotate90, full)
                    .unwrap_or_else(|e| panic!("bit flip at {at}: ours, not theirs: {e:?}"));
                assert_eq!(pixels(&ours), pixels(&theirs), "bit flip at {at}");
            }
        }
    }
}
