//! The markers of a baseline JPEG, read as far as a coefficient transform needs
//! them: one 8-bit frame, Huffman tables, quantisation tables, the restart
//! interval, and one scan holding every component.
//!
//! Anything else (progressive or arithmetic coding, 12-bit samples, several
//! scans, an Adobe colour transform, unusual sampling) is `None`: the caller
//! hands such a file to libjpeg-turbo's own transform, so refusing here costs
//! speed, never correctness.

use super::huffman::{DecodeTable, HuffmanSpec};

/// One component of the frame, with its scan's table choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Component {
    pub id: u8,
    /// Sampling factors: blocks per MCU across and down.
    pub h: u8,
    pub v: u8,
    /// Quantisation table slot.
    pub tq: u8,
    /// DC and AC Huffman table slots (from the scan header).
    pub td: u8,
    pub ta: u8,
}

/// A baseline JPEG's frame and its single scan.
#[derive(Debug)]
pub(super) struct Frame {
    pub width: u32,
    pub height: u32,
    /// One (grey) or three (Y, Cb, Cr) components, in scan order.
    pub components: Vec<Component>,
    /// Quantisation tables by slot, in zigzag order as stored.
    pub quant: [Option<[u8; 64]>; 4],
    pub dc_tables: [Option<DecodeTable>; 4],
    pub ac_tables: [Option<DecodeTable>; 4],
    /// MCUs between restart markers; 0 when there are none.
    pub restart_interval: u16,
    /// Offset of the first byte of entropy-coded data.
    pub scan_start: usize,
}

impl Frame {
    /// The largest sampling factors: the MCU is `8 * h_max` x `8 * v_max` pixels
    /// (8 x 8 for one component, whose scan is not interleaved).
    pub(super) fn max_sampling(&self) -> (u32, u32) {
        if self.components.len() == 1 {
            return (1, 1);
        }
        let h = self.components.iter().map(|c| c.h).max().unwrap_or(1);
        let v = self.components.iter().map(|c| c.v).max().unwrap_or(1);
        (u32::from(h), u32::from(v))
    }

    /// MCUs across and down.
    pub(super) fn mcus(&self) -> (u32, u32) {
        let (h, v) = self.max_sampling();
        (self.width.div_ceil(8 * h), self.height.div_ceil(8 * v))
    }

    /// Blocks one MCU holds for each component (1 for a lone component).
    pub(super) fn blocks_in_mcu(&self, component: &Component) -> (u32, u32) {
        if self.components.len() == 1 {
            (1, 1)
        } else {
            (u32::from(component.h), u32::from(component.v))
        }
    }
}

/// Reads `bytes` up to the start of its scan's entropy-coded data; `None` unless
/// it is a baseline (or extended sequential, 8-bit, Huffman) JPEG with 8-bit
/// quantisation tables and one interleaved scan of grey or YCbCr with the
/// chroma sampled once per MCU.
pub(super) fn read(bytes: &[u8]) -> Option<Frame> {
    let mut at = 2;
    if bytes.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut frame: Option<(u32, u32, Vec<Component>)> = None;
    let mut quant = [None; 4];
    // As stored: only the tables the scan names are built (a file may define
    // thousands and use four).
    let mut dc_specs: [Option<RawTable>; 4] = Default::default();
    let mut ac_specs: [Option<RawTable>; 4] = Default::default();
    let mut restart_interval = 0;
    loop {
        // A marker, possibly after fill bytes.
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        while *bytes.get(at)? == 0xFF {
            at += 1;
        }
        let marker = *bytes.get(at)?;
        at += 1;
        let length = usize::from(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]));
        let segment = bytes.get(at + 2..at.checked_add(length)?)?;
        if length < 2 {
            return None;
        }
        at += length;
        match marker {
            // APP14 "Adobe" says which colour transform applies; libjpeg-turbo's
            // transform keeps that meaning, a rewrite without the marker might not.
            0xEE if segment.starts_with(b"Adobe") => return None,
            0xE0..=0xEF | 0xFE => {}
            0xDB => read_quant(segment, &mut quant)?,
            0xC4 => read_huffman(segment, &mut dc_specs, &mut ac_specs)?,
            0xDD => restart_interval = u16::from_be_bytes(segment.try_into().ok()?),
            0xC0 | 0xC1 if frame.is_none() => frame = Some(read_frame(segment)?),
            0xDA => {
                let (width, height, mut components) = frame?;
                read_scan(segment, &mut components)?;
                let mut dc_tables: [Option<DecodeTable>; 4] = Default::default();
                let mut ac_tables: [Option<DecodeTable>; 4] = Default::default();
                for c in &components {
                    let (td, ta) = (usize::from(c.td), usize::from(c.ta));
                    if dc_tables[td].is_none() {
                        dc_tables[td] = Some(dc_specs[td].as_ref()?.build(true)?);
                    }
                    if ac_tables[ta].is_none() {
                        ac_tables[ta] = Some(ac_specs[ta].as_ref()?.build(false)?);
                    }
                }
                let frame = Frame {
                    width,
                    height,
                    components,
                    quant,
                    dc_tables,
                    ac_tables,
                    restart_interval,
                    scan_start: at,
                };
                let complete = frame.components.iter().all(|c| {
                    frame.quant[usize::from(c.tq)].is_some()
                        && frame.dc_tables[usize::from(c.td)].is_some()
                        && frame.ac_tables[usize::from(c.ta)].is_some()
                });
                return complete.then_some(frame);
            }
            // Other frame types (progressive, lossless, arithmetic), arithmetic
            // conditioning, DNL, a second frame: not ours.
            _ => return None,
        }
    }
}

fn read_quant(mut segment: &[u8], quant: &mut [Option<[u8; 64]>; 4]) -> Option<()> {
    while let Some((&pq_tq, rest)) = segment.split_first() {
        // 16-bit tables are not baseline; libjpeg-turbo keeps them.
        if pq_tq >> 4 != 0 || pq_tq & 15 > 3 {
            return None;
        }
        let table: [u8; 64] = rest.get(..64)?.try_into().ok()?;
        // A zero divisor is invalid; libjpeg-turbo decides what to make of it.
        if table.contains(&0) {
            return None;
        }
        quant[usize::from(pq_tq & 15)] = Some(table);
        segment = &rest[64..];
    }
    Some(())
}

/// A Huffman table as a DHT segment stores it.
#[derive(Debug)]
struct RawTable {
    counts: [u8; 16],
    symbols: Vec<u8>,
}

impl RawTable {
    /// `None` for a table libjpeg-turbo would refuse.
    fn build(&self, dc: bool) -> Option<DecodeTable> {
        DecodeTable::new(&HuffmanSpec::new(self.counts, &self.symbols)?, dc)
    }
}

fn read_huffman(
    mut segment: &[u8],
    dc: &mut [Option<RawTable>; 4],
    ac: &mut [Option<RawTable>; 4],
) -> Option<()> {
    while let Some((&tc_th, rest)) = segment.split_first() {
        let counts: [u8; 16] = rest.get(..16)?.try_into().ok()?;
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let symbols = rest.get(16..16 + total)?.to_vec();
        let slot = usize::from(tc_th & 15);
        match (tc_th >> 4, slot) {
            (0, 0..=3) => dc[slot] = Some(RawTable { counts, symbols }),
            (1, 0..=3) => ac[slot] = Some(RawTable { counts, symbols }),
            _ => return None,
        }
        segment = &rest[16 + total..];
    }
    Some(())
}

fn read_frame(segment: &[u8]) -> Option<(u32, u32, Vec<Component>)> {
    let [precision, h1, h0, w1, w0, count, rest @ ..] = segment else {
        return None;
    };
    let height = u32::from(u16::from_be_bytes([*h1, *h0]));
    let width = u32::from(u16::from_be_bytes([*w1, *w0]));
    // A height of 0 is declared later by a DNL marker: not ours. Nor are sides
    // above libjpeg-turbo's JPEG_MAX_DIMENSION: what we wrote, it could not read.
    if *precision != 8 || width == 0 || height == 0 || width > 65_500 || height > 65_500 {
        return None;
    }
    let count = usize::from(*count);
    if rest.len() != 3 * count {
        return None;
    }
    let components: Vec<Component> = rest
        .chunks_exact(3)
        .map(|c| Component {
            id: c[0],
            h: c[1] >> 4,
            v: c[1] & 15,
            tq: c[2],
            td: 0,
            ta: 0,
        })
        .collect();
    let sampling_ok = match components.as_slice() {
        [grey] => (1..=4).contains(&grey.h) && (1..=4).contains(&grey.v),
        // YCbCr with one chroma block per MCU (4:4:4, 4:2:2, 4:4:0, 4:2:0),
        // libjpeg-turbo's own component ids, no Adobe marker (checked above):
        // read as YCbCr by every decoder.
        [y, cb, cr] => {
            [y.id, cb.id, cr.id] == [1, 2, 3]
                && (1..=2).contains(&y.h)
                && (1..=2).contains(&y.v)
                && [cb.h, cb.v, cr.h, cr.v] == [1, 1, 1, 1]
        }
        _ => false,
    };
    let tables_ok = components.iter().all(|c| c.tq <= 3);
    (sampling_ok && tables_ok).then_some((width, height, components))
}

fn read_scan(segment: &[u8], components: &mut [Component]) -> Option<()> {
    let [count, rest @ ..] = segment else {
        return None;
    };
    let count = usize::from(*count);
    // One scan with every component, in frame order, with full spectral range.
    if count != components.len() || rest.len() != 2 * count + 3 {
        return None;
    }
    for (component, selector) in components.iter_mut().zip(rest.chunks_exact(2)) {
        let (td, ta) = (selector[1] >> 4, selector[1] & 15);
        if selector[0] != component.id || td > 3 || ta > 3 {
            return None;
        }
        component.td = td;
        component.ta = ta;
    }
    (rest[2 * count..] == [0, 63, 0]).then_some(())
}
