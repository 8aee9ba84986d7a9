//! Entropy decoding of a baseline scan into quantised DCT coefficients, kept
//! sparse: a turn only moves them, so they are never dequantised, never
//! transformed, and a block costs what its nonzero coefficients cost.
//!
//! Strict where libjpeg-turbo is lenient: a code no table holds, a coefficient
//! past the 64th, data running into a marker, a missing or misnumbered restart
//! marker, bytes between the last block and the end-of-image marker, all make it
//! give up (`None`), and libjpeg-turbo's own transform decides what the file is.

use super::frame::Frame;
use super::huffman::DecodeTable;

/// Every block of a scan, in scan order (MCU by MCU; within an MCU, component by
/// component, rows of blocks top to bottom).
#[derive(Default)]
pub(super) struct Coefficients {
    pub blocks: Vec<Block>,
    /// The nonzero AC coefficients of every block, in zigzag order.
    pub ac: Vec<i16>,
    /// The blocks a second decoder read, when the scan was decoded in halves:
    /// kept where they are rather than copied.
    rest: Option<Rest>,
}

/// Blocks from `first` on: `blocks[skip..]`, with their coefficients in `ac`.
struct Rest {
    first: usize,
    skip: usize,
    blocks: Vec<Block>,
    ac: Vec<i16>,
}

/// One block, in 16 bytes: a turn reads blocks across the scan order, so all it
/// needs of one comes in one cache line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Block {
    /// Bit `k` is set when the AC coefficient at zigzag position `k` (1..=63) is
    /// not zero.
    pub mask: u64,
    /// Where the block's nonzero AC coefficients start in `ac`.
    pub start: u32,
    /// The DC coefficient (prediction undone).
    pub dc: i16,
}

impl Coefficients {
    /// Block `index`: its DC coefficient, its nonzero AC coefficients in zigzag
    /// order, and their positions as a mask.
    #[inline(always)]
    pub(super) fn block(&self, index: usize) -> Option<(i16, u64, &[i16])> {
        let (blocks, ac, index) = match &self.rest {
            Some(rest) if index >= rest.first => {
                (&rest.blocks, &rest.ac, index - rest.first + rest.skip)
            }
            _ => (&self.blocks, &self.ac, index),
        };
        let Block { mask, start, dc } = *blocks.get(index)?;
        let start = start as usize;
        Some((dc, mask, ac.get(start..start + mask.count_ones() as usize)?))
    }
}

/// Reads the entropy-coded data from its first byte, undoing byte stuffing and
/// stopping at a marker, after which it yields zero bits and counts them.
/// `Copy`, so that a block is decoded on a copy the compiler keeps in registers.
#[derive(Clone, Copy)]
struct Bits<'a> {
    data: &'a [u8],
    /// Next byte to read.
    at: usize,
    /// Unread bits, the next one highest.
    acc: u64,
    count: u32,
    /// How many of the bits taken into `acc` were made up after a marker.
    padding: u32,
    /// Bytes of data taken into `acc` (a stuffed 0xFF 0x00 counts once).
    taken: u64,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            at: 0,
            acc: 0,
            count: 0,
            padding: 0,
            taken: 0,
        }
    }

    /// Bits of data consumed so far (valid until the data runs out).
    #[inline(always)]
    fn position(&self) -> u64 {
        self.taken * 8 - u64::from(self.count.saturating_sub(self.padding))
    }

    /// Skips to the next byte boundary (a whole byte when already on one).
    fn next_byte(&mut self) {
        self.refill();
        let partial = (self.position() % 8) as u32;
        self.skip(8 - partial);
    }

    /// Tops `acc` up to at least 57 bits.
    #[inline(always)]
    fn refill(&mut self) {
        if self.count > 56 {
            return;
        }
        // Common case: eight bytes ahead, none 0xFF, so none stuffed or a marker.
        if let Some(chunk) = self.data.get(self.at..self.at + 8) {
            let word = u64::from_be_bytes(chunk.try_into().expect("eight bytes"));
            let inverted = !word;
            let has_ff =
                inverted.wrapping_sub(0x0101_0101_0101_0101) & !inverted & 0x8080_8080_8080_8080;
            if has_ff == 0 {
                let room = (64 - self.count) / 8;
                self.acc |= (word >> (64 - 8 * room)) << (64 - self.count - 8 * room);
                self.count += 8 * room;
                self.at += room as usize;
                self.taken += u64::from(room);
                return;
            }
        }
        while self.count <= 56 {
            let byte = match self.data.get(self.at) {
                Some(0xFF) if self.data.get(self.at + 1) == Some(&0) => {
                    self.at += 2;
                    self.taken += 1;
                    0xFF
                }
                Some(0xFF) | None => {
                    self.padding += 8;
                    0
                }
                Some(&byte) => {
                    self.at += 1;
                    self.taken += 1;
                    byte
                }
            };
            self.acc |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
    }

    /// Enough bits for one code and its value (at most 16 + 11): refills only
    /// when fewer are left, so every few codes instead of every one.
    #[inline(always)]
    fn ensure(&mut self) {
        if self.count < 27 {
            self.refill();
        }
    }

    #[inline(always)]
    fn peek(&self) -> u32 {
        (self.acc >> 32) as u32
    }

    #[inline(always)]
    fn skip(&mut self, n: u32) {
        self.acc <<= n;
        self.count -= n;
    }

    /// The next `n` bits (1..=16) as a signed coefficient (T.81 F.2.2.1 EXTEND).
    #[inline(always)]
    fn signed(&mut self, n: u32) -> i32 {
        let raw = (self.acc >> (64 - n)) as i32;
        self.skip(n);
        if raw < 1 << (n - 1) {
            raw - (1 << n) + 1
        } else {
            raw
        }
    }

    /// Whether a bit made up after a marker has been taken: the data ran out.
    #[inline(always)]
    fn overran(&self) -> bool {
        self.count < self.padding
    }

    /// At the end of a restart interval or of the scan: only the last byte's
    /// padding may be left, then the marker `expected` (after fill bytes).
    fn end_at(&mut self, expected: u8) -> Option<()> {
        self.refill();
        if self.padding == 0 || self.count < self.padding || self.count - self.padding >= 8 {
            return None;
        }
        while self.data.get(self.at..self.at + 2)? == [0xFF, 0xFF] {
            self.at += 1;
        }
        if self.data.get(self.at..self.at + 2)? != [0xFF, expected] {
            return None;
        }
        self.at += 2;
        self.acc = 0;
        self.count = 0;
        self.padding = 0;
        Some(())
    }
}

/// Scans with less entropy-coded data than this are decoded on one thread.
const PARALLEL_FROM: usize = 64 << 10;

/// Decodes the scan of `frame` (starting at `bytes[frame.scan_start]`).
///
/// Large scans without restart markers are decoded in two halves at once: the
/// second half from the middle byte, not knowing where a code or a block starts
/// there. Huffman codes resynchronise within a few blocks, so that decoder soon
/// runs in step with the true one; the first half's decoder, on reaching the
/// middle, looks for the first block start both agree on (same bit, same block
/// of the MCU) and takes the second decoder's blocks from there, with their DC
/// values shifted by the difference of the two predictions. When they never
/// agree (a crafted file can prevent it), the first decoder reads on alone: the
/// result is the same either way, only slower.
pub(super) fn decode(bytes: &[u8], frame: &Frame) -> Option<Coefficients> {
    let data = bytes.get(frame.scan_start..)?;
    let split =
        (data.len() >= PARALLEL_FROM && rayon::current_num_threads() > 1).then_some(data.len() / 2);
    decode_split(data, frame, split).0
}

/// [`decode`], splitting at byte `split` of the scan data when it is given; and
/// whether the second half's blocks were taken.
fn decode_split(data: &[u8], frame: &Frame, split: Option<usize>) -> (Option<Coefficients>, bool) {
    let Some(scan) = Scan::new(frame, data.len()) else {
        return (None, false);
    };
    match split {
        None => (alone(data, &scan), false),
        Some(middle) if scan.interval > 0 => at_restart(data, &scan, middle),
        Some(middle) => in_halves(data, &scan, middle),
    }
}

fn alone(data: &[u8], scan: &Scan<'_>) -> Option<Coefficients> {
    let mut decoder = Decoder::new(data, scan, scan.blocks);
    while !decoder.done() {
        decoder.step()?;
    }
    decoder.finish()
}

/// With restart markers, the halves split at the first one from `middle` on:
/// there the DC predictions start again from 0, and which MCU follows is the
/// number of markers before it times the interval.
fn at_restart(data: &[u8], scan: &Scan<'_>, middle: usize) -> (Option<Coefficients>, bool) {
    let is_restart = |at: usize| data[at] == 0xFF && (0xD0..=0xD7).contains(&data[at + 1]);
    let Some(marker) = (middle..data.len().saturating_sub(1)).find(|&at| is_restart(at)) else {
        return (alone(data, scan), false);
    };
    let before = (0..marker).filter(|&at| is_restart(at)).count() as u64;
    let mcu = (before + 1) * scan.interval;
    if mcu >= scan.mcus {
        return (alone(data, scan), false);
    }
    let (first, second) = rayon::join(
        || {
            let mut first = Decoder::new(data, scan, scan.blocks);
            while first.mcu < mcu {
                first.step()?;
            }
            // As one pass would go on: this very marker next, after the padding.
            let restart = (before % 8) as u8;
            first.bits.end_at(0xD0 + restart)?;
            (first.bits.at == marker + 2).then_some(first)
        },
        || {
            let mut second = Decoder::new(&data[marker..], scan, scan.blocks);
            second.mcu = mcu;
            while !second.done() {
                second.step()?;
            }
            second.finish()
        },
    );
    match (first, second) {
        (Some(mut first), Some(second)) => {
            first.out.rest = Some(Rest {
                first: first.out.blocks.len(),
                skip: 0,
                blocks: second.blocks,
                ac: second.ac,
            });
            (Some(first.out), true)
        }
        // One pass would have met the same trouble, or (the first half not ending
        // at that marker) may not: it decides.
        (Some(_), None) | (None, _) => (alone(data, scan), false),
    }
}

fn in_halves(data: &[u8], scan: &Scan<'_>, mut middle: usize) -> (Option<Coefficients>, bool) {
    let mut first = Decoder::new(data, scan, scan.blocks);
    // Not inside a stuffed 0xFF 0x00.
    while middle > 0 && middle < data.len() && data[middle - 1] == 0xFF {
        middle += 1;
    }
    let (first, mut second) = rayon::join(
        move || {
            // Up to the middle, give or take the bytes read ahead: where the
            // blocks are compared, a little early does no harm.
            while !first.done() && first.bits.at < middle {
                first.step()?;
            }
            Some(first)
        },
        || {
            // Counted here, beside the first decoder, not before it starts.
            let stuffed = data[..middle]
                .windows(2)
                .filter(|pair| *pair == [0xFF, 0x00])
                .count();
            Speculation::run(&data[middle..], scan, 8 * (middle - stuffed) as u64)
        },
    );
    let Some(mut first) = first else {
        return (None, false);
    };
    let mut cursor = 0;
    while !first.done() {
        let key = first.bits.position() << 3 | first.phase as u64;
        while second.starts.get(cursor).is_some_and(|&start| start < key) {
            cursor += 1;
        }
        if second.starts.get(cursor) == Some(&key) {
            if let Some(done) = first.adopt(&mut second, cursor) {
                return (done, true);
            }
            // The second decoder's run ends before the scan does: read on alone.
            cursor = usize::MAX;
        }
        if first.step().is_none() {
            return (None, false);
        }
    }
    (first.finish(), false)
}

/// The blocks of one MCU: for each, its component and tables.
struct Scan<'f> {
    layout: Vec<(usize, &'f DecodeTable, &'f DecodeTable)>,
    mcus: u64,
    blocks: usize,
    interval: u64,
}

impl<'f> Scan<'f> {
    fn new(frame: &'f Frame, data_len: usize) -> Option<Self> {
        let mut layout = Vec::new();
        for (index, component) in frame.components.iter().enumerate() {
            let (h, v) = frame.blocks_in_mcu(component);
            let dc = frame.dc_tables[usize::from(component.td)].as_ref()?;
            let ac = frame.ac_tables[usize::from(component.ta)].as_ref()?;
            layout.extend(std::iter::repeat_n((index, dc, ac), (h * v) as usize));
        }
        let (across, down) = frame.mcus();
        let mcus = u64::from(across) * u64::from(down);
        let blocks = usize::try_from(mcus * layout.len() as u64).ok()?;
        // Each nonzero AC coefficient takes at least two bits (a code and a sign),
        // and decoding stops within an MCU of running past the data: indexes into
        // `ac` fit in 32 bits.
        u32::try_from(data_len * 4 + 6 * 64).ok()?;
        Some(Self {
            layout,
            mcus,
            blocks,
            interval: u64::from(frame.restart_interval),
        })
    }
}

/// Room for `blocks` blocks from `data_len` bytes, reserved, not touched: no
/// reallocation for what a file can hold (the last block's constant-size copy
/// may still grow it once).
fn coefficients(blocks: usize, data_len: usize) -> Coefficients {
    Coefficients {
        blocks: Vec::with_capacity(blocks),
        ac: Vec::with_capacity((data_len * 4 + 6 * 64).min(blocks.saturating_mul(63))),
        rest: None,
    }
}

/// Decodes the scan from its first block, block by block.
struct Decoder<'a, 'f> {
    scan: &'f Scan<'f>,
    bits: Bits<'a>,
    predictions: [i32; 3],
    mcu: u64,
    /// The next block's index within its MCU.
    phase: usize,
    out: Coefficients,
}

impl<'a, 'f> Decoder<'a, 'f> {
    fn new(data: &'a [u8], scan: &'f Scan<'f>, blocks: usize) -> Self {
        Self {
            scan,
            bits: Bits::new(data),
            predictions: [0; 3],
            mcu: 0,
            phase: 0,
            out: coefficients(blocks, data.len()),
        }
    }

    fn done(&self) -> bool {
        self.mcu == self.scan.mcus
    }

    /// Decodes the next block, reading the restart marker before it if one is due.
    #[inline(always)]
    fn step(&mut self) -> Option<()> {
        let interval = self.scan.interval;
        if self.phase == 0 && interval > 0 && self.mcu > 0 && self.mcu.is_multiple_of(interval) {
            let restart = (self.mcu / interval - 1) % 8;
            self.bits.end_at(0xD0 + restart as u8)?;
            self.predictions = [0; 3];
        }
        let (component, dc_table, ac_table) = self.scan.layout[self.phase];
        block(
            &mut self.bits,
            dc_table,
            ac_table,
            &mut self.predictions[component],
            &mut self.out,
        )?;
        self.phase += 1;
        if self.phase == self.scan.layout.len() {
            self.phase = 0;
            self.mcu += 1;
            if self.bits.overran() {
                return None;
            }
        }
        Some(())
    }

    /// After the last block: only padding, then the end-of-image marker.
    fn finish(mut self) -> Option<Coefficients> {
        self.bits.end_at(0xD9)?;
        Some(self.out)
    }

    /// Takes the rest of the scan from `second`, whose block `from` starts where
    /// this decoder's next block does: `Some` with the whole scan's result when
    /// that block's run reaches the end of the scan, `None` when it stops short
    /// (this decoder then reads on).
    fn adopt(&mut self, second: &mut Speculation, from: usize) -> Option<Option<Coefficients>> {
        let needed = self.scan.blocks - self.out.blocks.len();
        let end = from + needed;
        let next_break = second.breaks.iter().find(|&&(start, _)| start > from);
        let run_ends = next_break.map_or(second.out.blocks.len(), |&(start, _)| start);
        if end > run_ends {
            return None;
        }
        // Where the last block ends must be the end of the data, as `finish`
        // would check it.
        let last_end = match next_break {
            Some(&(start, ended)) if start == end => ended,
            _ => second
                .starts
                .get(end)
                .map_or(second.end, |&start| start >> 3),
        };
        let ends = second
            .scan_end
            .is_some_and(|bits| bits >= last_end && bits - last_end < 8);
        if !ends {
            // Not the end one pass would find, or the second decoder stopped
            // short of the data's end: one pass decides.
            return None;
        }
        // The second decoder's DC predictions started from 0: find what they were
        // at block `from`, per component, from the blocks before it in its run.
        let run_start = second
            .breaks
            .iter()
            .rev()
            .find(|&&(start, _)| start <= from)
            .map_or(0, |&(start, _)| start);
        let per_mcu = self.scan.layout.len();
        let mut shift = [None; 3];
        for (back, index) in (run_start..from).rev().take(per_mcu).enumerate() {
            let phase = (self.phase + per_mcu * 2 - 1 - back) % per_mcu;
            let component = self.scan.layout[phase].0;
            if shift[component].is_none() {
                shift[component] = Some(i32::from(second.out.blocks[index].dc));
            }
        }
        let shift: Vec<i32> = (0..3)
            .map(|c| self.predictions[c] - shift[c].unwrap_or(0))
            .collect();
        let blocks = &mut second.out.blocks[from..end];
        for (offset, block) in blocks.iter_mut().enumerate() {
            let component = self.scan.layout[(self.phase + offset) % per_mcu].0;
            let Ok(dc) = i16::try_from(i32::from(block.dc) + shift[component]) else {
                return Some(None);
            };
            block.dc = dc;
        }
        // Blocks past the scan's last (read from the last byte's padding bits)
        // are not the scan's.
        second.out.blocks.truncate(end);
        self.out.rest = Some(Rest {
            first: self.out.blocks.len(),
            skip: from,
            blocks: std::mem::take(&mut second.out.blocks),
            ac: std::mem::take(&mut second.out.ac),
        });
        Some(Some(std::mem::take(&mut self.out)))
    }
}

/// The second half's decoder: from a byte in the middle of the scan, not knowing
/// which block of an MCU comes next nor the DC predictions, it decodes as if an
/// MCU started there, and starts again at the next byte whenever the bits make
/// no sense (no code, too many coefficients).
struct Speculation {
    /// Each block's start, as `bit position << 3 | index within its MCU`,
    /// ascending; the bit position counts from the start of the scan's data.
    starts: Vec<u64>,
    /// The blocks where the decoder started again, with where the block before
    /// ended.
    breaks: Vec<(usize, u64)>,
    /// Where the last block ends.
    end: u64,
    /// Where the entropy-coded data ends (stuffing undone), when the marker
    /// there (after fill bytes) is the end of image.
    scan_end: Option<u64>,
    out: Coefficients,
}

impl Speculation {
    fn run(data: &[u8], scan: &Scan<'_>, from: u64) -> Speculation {
        let mut bits = Bits::new(data);
        // The blocks after the middle, and room for those decoded before it fell
        // in step; beyond that it gives up and the first decoder reads on.
        let most = scan.blocks + scan.blocks / 2 + 1024;
        let mut this = Speculation {
            starts: Vec::with_capacity(most),
            breaks: vec![(0, from)],
            end: from,
            scan_end: None,
            out: coefficients(most, data.len()),
        };
        let mut phase = 0;
        let mut predictions = [0i32; 3];
        while this.out.blocks.len() < most {
            bits.refill();
            if bits.overran() {
                break;
            }
            let start = from + bits.position();
            let (component, dc_table, ac_table) = scan.layout[phase];
            let decoded = block(
                &mut bits,
                dc_table,
                ac_table,
                &mut predictions[component],
                &mut this.out,
            );
            if bits.overran() {
                // Ran into the end of the data: that block is not whole.
                if decoded.is_some() {
                    this.out.blocks.pop();
                }
                break;
            }
            if decoded.is_some() {
                this.starts.push(start << 3 | phase as u64);
                this.end = from + bits.position();
                phase = (phase + 1) % scan.layout.len();
            } else {
                bits.next_byte();
                phase = 0;
                predictions = [0; 3];
                this.breaks.push((this.out.blocks.len(), this.end));
            }
        }
        if bits.padding > 0 {
            // The reader stopped at a marker, every byte before it taken.
            let mut marker = bits.at;
            while data.get(marker..marker + 2) == Some(&[0xFF, 0xFF][..]) {
                marker += 1;
            }
            if data.get(marker..marker + 2) == Some(&[0xFF, 0xD9][..]) {
                this.scan_end = Some(from + 8 * bits.taken);
            }
        }
        this
    }
}

/// Decodes one block into `out`; on `None` (a code no table holds, a value
/// this path does not take) `bits` is left where the block started.
#[inline(always)]
fn block(
    bits: &mut Bits<'_>,
    dc_table: &DecodeTable,
    ac_table: &DecodeTable,
    prediction: &mut i32,
    out: &mut Coefficients,
) -> Option<()> {
    // On locals: nothing else can see them, so they stay in registers.
    let mut local = *bits;
    let mut values = [0i16; 64];
    let (dc, mask, count) = block_on(&mut local, dc_table, ac_table, *prediction, &mut values)?;
    *bits = local;
    *prediction = i32::from(dc);
    out.blocks.push(Block {
        mask,
        start: out.ac.len() as u32,
        dc,
    });
    // A constant-size copy (inlined), then cut: no call per block.
    let start = out.ac.len();
    out.ac.extend_from_slice(&values);
    out.ac.truncate(start + count);
    Some(())
}

/// The DC value, the mask of nonzero AC positions and how many there are (their
/// values in `values`).
#[inline(always)]
fn block_on(
    bits: &mut Bits<'_>,
    dc_table: &DecodeTable,
    ac_table: &DecodeTable,
    prediction: i32,
    values: &mut [i16; 64],
) -> Option<(i16, u64, usize)> {
    bits.ensure();
    let (size, length) = dc_table.decode(bits.peek())?;
    bits.skip(length);
    // Larger differences cannot come from 8-bit samples, and the standard tables
    // the rewrite encodes with have no code for them.
    if size > 11 {
        return None;
    }
    let difference = if size > 0 {
        bits.signed(u32::from(size))
    } else {
        0
    };
    let dc = i16::try_from(prediction + difference).ok()?;
    let mut count = 0;
    let mut mask = 0u64;
    let mut k = 1u32;
    while k < 64 {
        bits.ensure();
        let peek = bits.peek();
        // Most coefficients: code and value in one lookup.
        if let Some((run, length, value)) = ac_table.decode_ac(peek) {
            bits.skip(length);
            k += run;
            if k > 63 {
                return None;
            }
            values[count] = value;
            count += 1;
            mask |= 1 << k;
            k += 1;
            continue;
        }
        let (symbol, length) = ac_table.decode(peek)?;
        bits.skip(length);
        let (run, size) = (u32::from(symbol >> 4), u32::from(symbol & 15));
        if size == 0 {
            if run != 15 {
                break;
            }
            k += 16;
            continue;
        }
        k += run;
        if k > 63 || size > 10 {
            return None;
        }
        values[count] = bits.signed(size) as i16;
        count += 1;
        mask |= 1 << k;
        k += 1;
    }
    Some((dc, mask, count))
}

#[cfg(test)]
mod tests {
    use turbojpeg::Subsamp;

    use super::*;
    use crate::lossless::{frame, test_jpeg as source};

    /// Decodes in one pass and in halves split at several bytes, checks they
    /// agree, and says how many of the splits ran in parallel to the end.
    fn both_ways(bytes: &[u8]) -> (Option<Coefficients>, usize) {
        let Some(frame) = frame::read(bytes) else {
            return (None, 0);
        };
        let data = &bytes[frame.scan_start..];
        let (whole, _) = decode_split(data, &frame, None);
        let mut joined = 0;
        for split in [1, 7, data.len() / 3, data.len() / 2, data.len() - 9] {
            let (halves, took) = decode_split(data, &frame, Some(split));
            joined += usize::from(took);
            match (&whole, &halves) {
                (Some(a), Some(b)) => {
                    for index in 0..a.blocks.len() + 1 {
                        assert_eq!(a.block(index), b.block(index), "split at {split}");
                    }
                }
                (None, None) => {}
                _ => panic!(
                    "split at {split}: {} alone, {} in halves",
                    whole.is_some(),
                    halves.is_some()
                ),
            }
        }
        (whole, joined)
    }

    #[test]
    fn halves_decode_to_the_very_coefficients_of_one_pass() {
        for (subsamp, w, h) in [
            (Subsamp::Sub2x2, 400, 301),
            (Subsamp::None, 123, 250),
            (Subsamp::Sub2x1, 640, 48),
            (Subsamp::Sub1x2, 64, 400),
            (Subsamp::Gray, 333, 222),
        ] {
            for (quality, optimize) in [(95, false), (75, true), (20, false)] {
                let bytes = source(w, h, subsamp, quality, optimize);
                let (whole, joined) = both_ways(&bytes);
                assert!(whole.is_some(), "{subsamp:?} {w}x{h} q{quality}");
                // The last split leaves too little to find a common block in.
                assert!(joined >= 4, "{subsamp:?} {w}x{h} q{quality}: {joined} of 5");
            }
        }
    }

    #[test]
    fn halves_split_at_a_restart_marker_when_there_are_some() {
        use crate::jpeg::{Rect, Turn};
        let source = source(640, 480, Subsamp::Sub2x2, 90, false);
        let whole = Rect {
            x: 0,
            y: 0,
            width: 640,
            height: 480,
        };
        // Our own output has a restart marker after every MCU row.
        let bytes =
            crate::lossless::rewrite::transform(&source, 640, 480, Turn::Identity, whole).unwrap();
        let (coefficients, joined) = both_ways(&bytes);
        assert!(coefficients.is_some());
        assert!(joined >= 4, "{joined} of 5");
        // A marker out of sequence is refused either way.
        let data = frame::read(&bytes).unwrap().scan_start;
        let mut renumbered = bytes.clone();
        let at = (data + (bytes.len() - data) / 2..bytes.len())
            .find(|&at| bytes[at] == 0xFF && (0xD0..=0xD7).contains(&bytes[at + 1]))
            .unwrap();
        renumbered[at + 1] = 0xD0 + (renumbered[at + 1] - 0xD0 + 1) % 8;
        assert!(both_ways(&renumbered).0.is_none());
    }

    #[test]
    fn the_last_bytes_padding_decides_the_same_in_halves() {
        // Whatever the last byte of the scan holds (its padding bits can even
        // read as one more block), both ways give the same blocks, and none
        // past the scan's last.
        for subsamp in [Subsamp::Gray, Subsamp::Sub2x2] {
            let bytes = source(400, 300, subsamp, 90, false);
            let last = bytes.len() - 3;
            let mut seen_some = false;
            for value in 0..=0xFEu8 {
                let mut changed = bytes.clone();
                changed[last] = value;
                let (whole, _) = both_ways(&changed);
                if let Some(whole) = whole {
                    seen_some = true;
                    assert!(whole.block(whole.blocks.len()).is_none());
                }
            }
            assert!(seen_some, "{subsamp:?}");
        }
    }

    #[test]
    fn halves_refuse_what_one_pass_refuses() {
        let bytes = source(400, 300, Subsamp::Sub2x2, 90, false);
        for cut in [bytes.len() - 1, bytes.len() - 3, bytes.len() * 3 / 4] {
            let mut cut = bytes[..cut].to_vec();
            assert!(both_ways(&cut).0.is_none());
            cut.extend_from_slice(&[0xFF, 0xD9]);
            both_ways(&cut);
        }
        let mut extra = bytes[..bytes.len() - 2].to_vec();
        extra.extend_from_slice(&[0x55, 0xFF, 0xD9]);
        assert!(both_ways(&extra).0.is_none());
        let scan = frame::read(&bytes).unwrap().scan_start;
        let mut state = 0x2545_F491u32;
        for _ in 0..300 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let mut flipped = bytes.clone();
            let at = scan + state as usize % (bytes.len() - scan - 2);
            flipped[at] ^= 1 << (state >> 29);
            both_ways(&flipped);
        }
    }
}
