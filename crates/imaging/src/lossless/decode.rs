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
pub(super) struct Coefficients {
    pub blocks: Vec<Block>,
    /// The nonzero AC coefficients of every block, in zigzag order.
    pub ac: Vec<i16>,
}

/// One block, in 16 bytes: a turn reads blocks across the scan order, so all it
/// needs of one comes in one cache line.
#[derive(Clone, Copy)]
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
        let Block { mask, start, dc } = *self.blocks.get(index)?;
        let start = start as usize;
        Some((
            dc,
            mask,
            self.ac.get(start..start + mask.count_ones() as usize)?,
        ))
    }
}

/// Reads the entropy-coded data from its first byte, undoing byte stuffing and
/// stopping at a marker, after which it yields zero bits and counts them.
struct Bits<'a> {
    data: &'a [u8],
    /// Next byte to read.
    at: usize,
    /// Unread bits, the next one highest.
    acc: u64,
    count: u32,
    /// How many of the bits taken into `acc` were made up after a marker.
    padding: u32,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            at: 0,
            acc: 0,
            count: 0,
            padding: 0,
        }
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
                return;
            }
        }
        while self.count <= 56 {
            let byte = match self.data.get(self.at) {
                Some(0xFF) if self.data.get(self.at + 1) == Some(&0) => {
                    self.at += 2;
                    0xFF
                }
                Some(0xFF) | None => {
                    self.padding += 8;
                    0
                }
                Some(&byte) => {
                    self.at += 1;
                    byte
                }
            };
            self.acc |= u64::from(byte) << (56 - self.count);
            self.count += 8;
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

/// Decodes the scan of `frame` (starting at `bytes[frame.scan_start]`).
pub(super) fn decode(bytes: &[u8], frame: &Frame) -> Option<Coefficients> {
    let data = bytes.get(frame.scan_start..)?;
    // The tables and DC predictor of each block of an MCU.
    let mut layout: Vec<(usize, &DecodeTable, &DecodeTable)> = Vec::new();
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
    // and decoding stops after the first MCU that ran past the data: indexes
    // into `ac` fit in 32 bits.
    u32::try_from(data.len() * 4 + 6 * 64).ok()?;
    let mut out = Coefficients {
        blocks: Vec::with_capacity(blocks),
        // Reserved, not touched: no reallocation whatever the file holds.
        ac: Vec::with_capacity((data.len() * 4 + 6 * 64).min(blocks.saturating_mul(63))),
    };
    let interval = u64::from(frame.restart_interval);
    let mut bits = Bits::new(data);
    let mut predictions = [0i32; 3];
    for mcu in 0..mcus {
        if interval > 0 && mcu > 0 && mcu % interval == 0 {
            let restart = (mcu / interval - 1) % 8;
            bits.end_at(0xD0 + restart as u8)?;
            predictions = [0; 3];
        }
        for &(component, dc_table, ac_table) in &layout {
            block(
                &mut bits,
                dc_table,
                ac_table,
                &mut predictions[component],
                &mut out,
            )?;
        }
        if bits.overran() {
            return None;
        }
    }
    bits.end_at(0xD9)?;
    Some(out)
}

#[inline(always)]
fn block(
    bits: &mut Bits<'_>,
    dc_table: &DecodeTable,
    ac_table: &DecodeTable,
    prediction: &mut i32,
    out: &mut Coefficients,
) -> Option<()> {
    bits.refill();
    let (size, length) = dc_table.decode(bits.peek())?;
    bits.skip(length);
    // Larger differences cannot come from 8-bit samples, and the standard tables
    // the rewrite encodes with have no code for them.
    if size > 11 {
        return None;
    }
    if size > 0 {
        *prediction += bits.signed(u32::from(size));
    }
    let dc = i16::try_from(*prediction).ok()?;
    let start = out.ac.len() as u32;
    let mut mask = 0u64;
    let mut k = 1u32;
    while k < 64 {
        bits.refill();
        let peek = bits.peek();
        // Most coefficients: code and value in one lookup.
        if let Some((run, length, value)) = ac_table.decode_ac(peek) {
            bits.skip(length);
            k += run;
            if k > 63 {
                return None;
            }
            out.ac.push(value);
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
        out.ac.push(bits.signed(size) as i16);
        mask |= 1 << k;
        k += 1;
    }
    out.blocks.push(Block { mask, start, dc });
    Some(())
}
