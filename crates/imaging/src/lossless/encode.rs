//! Entropy encoding of quantised blocks with the standard Huffman tables, and the
//! markers around it.

use super::huffman::EncodeTable;

/// Writes bits, first bit highest, stuffing a zero byte after every 0xFF.
pub(super) struct BitWriter {
    pub out: Vec<u8>,
    /// The low `count` bits are pending, oldest highest.
    acc: u64,
    count: u32,
}

impl BitWriter {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        Self {
            out: Vec::with_capacity(capacity),
            acc: 0,
            count: 0,
        }
    }

    /// Appends the low `n` bits of `bits` (`n` at most 32).
    #[inline(always)]
    fn put(&mut self, bits: u32, n: u32) {
        self.acc = (self.acc << n) | u64::from(bits);
        self.count += n;
        if self.count >= 32 {
            self.count -= 32;
            let word = (self.acc >> self.count) as u32;
            let inverted = !word;
            if inverted.wrapping_sub(0x0101_0101) & !inverted & 0x8080_8080 == 0 {
                self.out.extend_from_slice(&word.to_be_bytes());
            } else {
                for byte in word.to_be_bytes() {
                    self.byte(byte);
                }
            }
        }
    }

    #[inline(always)]
    fn byte(&mut self, byte: u8) {
        self.out.push(byte);
        if byte == 0xFF {
            self.out.push(0);
        }
    }

    /// Pads the last byte with one bits and writes out everything pending.
    pub(super) fn flush(&mut self) {
        let pad = (8 - self.count % 8) % 8;
        self.put((1 << pad) - 1, pad);
        while self.count > 0 {
            self.count -= 8;
            self.byte((self.acc >> self.count) as u8);
        }
    }

    /// Ends a restart interval: pads, then writes marker RST`n % 8`.
    pub(super) fn restart(&mut self, n: u32) {
        self.flush();
        self.out.extend_from_slice(&[0xFF, 0xD0 + (n % 8) as u8]);
    }

    /// One block: its DC difference, then its nonzero AC coefficients as
    /// (zigzag position, value) in ascending position. `None` when a value
    /// needs more bits than baseline JPEG allows (11 for DC differences, 10 for
    /// AC), which no 8-bit source produces.
    #[inline(always)]
    pub(super) fn block(
        &mut self,
        dc_difference: i32,
        ac: impl Iterator<Item = (u32, i32)>,
        dc_table: &EncodeTable,
        ac_table: &EncodeTable,
    ) -> Option<()> {
        // The most one block can take, stuffed: no reallocation inside it.
        self.out.reserve(512);
        // Bits pending on locals, which stay in registers.
        let mut sink = BitWriter {
            out: std::mem::take(&mut self.out),
            acc: self.acc,
            count: self.count,
        };
        let done = sink.block_on(dc_difference, ac, dc_table, ac_table);
        *self = sink;
        done
    }

    #[inline(always)]
    fn block_on(
        &mut self,
        dc_difference: i32,
        ac: impl Iterator<Item = (u32, i32)>,
        dc_table: &EncodeTable,
        ac_table: &EncodeTable,
    ) -> Option<()> {
        let (size, extra) = magnitude(dc_difference);
        if size > 11 {
            return None;
        }
        let (code, length) = dc_table.code(size as u8);
        self.put(code << size | extra, length + size);
        let mut last = 0;
        for (k, value) in ac {
            let mut run = k - last - 1;
            if run >= 16 {
                let (code, length) = ac_table.code(0xF0);
                while run >= 16 {
                    self.put(code, length);
                    run -= 16;
                }
            }
            if let Some((bits, length)) = ac_table.small(run, value) {
                self.put(bits, length);
                last = k;
                continue;
            }
            let (size, extra) = magnitude(value);
            if size > 10 {
                return None;
            }
            let (code, length) = ac_table.code((run << 4 | size) as u8);
            self.put(code << size | extra, length + size);
            last = k;
        }
        if last != 63 {
            let (code, length) = ac_table.code(0x00);
            self.put(code, length);
        }
        Some(())
    }
}

/// A value's size category and its extra bits (T.81 F.1.2.1).
#[inline(always)]
fn magnitude(value: i32) -> (u32, u32) {
    let size = 32 - value.unsigned_abs().leading_zeros();
    // Without a branch on the sign (unpredictable in photos): value - 1 when
    // negative.
    let bits = (value + (value >> 31)) as u32;
    (size, bits & ((1u32 << size) - 1))
}

/// Appends a marker segment: the marker, its length, its body.
pub(super) fn segment(out: &mut Vec<u8>, marker: u8, body: &[u8]) {
    let length = u16::try_from(body.len() + 2).expect("segments are small");
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magnitudes_follow_the_specification() {
        assert_eq!(magnitude(0), (0, 0));
        assert_eq!(magnitude(1), (1, 1));
        assert_eq!(magnitude(-1), (1, 0));
        assert_eq!(magnitude(-3), (2, 0));
        assert_eq!(magnitude(5), (3, 5));
        assert_eq!(magnitude(-5), (3, 2));
        assert_eq!(magnitude(2047), (11, 2047));
        assert_eq!(magnitude(-2047), (11, 0));
    }

    #[test]
    fn bytes_0xff_are_stuffed_and_the_end_padded_with_ones() {
        let mut writer = BitWriter::with_capacity(0);
        writer.put(0xFF, 8);
        writer.put(0x0, 4);
        writer.put(0xFFFF_FFFF, 32);
        writer.put(0b1, 1);
        writer.flush();
        // 0xFF | 0x0F 0xFF 0xFF 0xFF | 0xF then 1 then 111 padding.
        assert_eq!(
            writer.out,
            [
                0xFF, 0x00, 0x0F, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00
            ]
        );
    }
}
