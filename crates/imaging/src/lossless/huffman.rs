//! Huffman tables: a file's, for decoding, and the standard ones of the JPEG
//! specification (Annex K.3), which every rewritten file is encoded with, as
//! libjpeg-turbo's transform does without `-optimize`: they hold a code for every
//! symbol, and a turned image's symbols are not the source's.

/// A table as a JPEG stores it: how many codes of each length 1..=16, then the
/// symbols in code order.
pub(super) struct HuffmanSpec<'a> {
    counts: [u8; 16],
    symbols: &'a [u8],
}

impl<'a> HuffmanSpec<'a> {
    /// `None` when the counts do not match the symbols.
    pub(super) fn new(counts: [u8; 16], symbols: &'a [u8]) -> Option<Self> {
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        (total == symbols.len() && total <= 256).then_some(Self { counts, symbols })
    }

    /// Every (code, length, symbol), in code order; `None` when the lengths do not
    /// describe a prefix code (libjpeg-turbo's "Bogus Huffman table definition").
    fn codes(&self) -> Option<Vec<(u16, u8, u8)>> {
        let mut out = Vec::with_capacity(self.symbols.len());
        let mut code: u32 = 0;
        let mut next = self.symbols.iter();
        for (index, &count) in self.counts.iter().enumerate() {
            let length = index as u8 + 1;
            for _ in 0..count {
                out.push((code as u16, length, *next.next()?));
                code += 1;
            }
            // No code may be all ones (libjpeg-turbo's jdhuff.c).
            if code >= 1 << length {
                return None;
            }
            code <<= 1;
        }
        Some(out)
    }
}

/// Bits looked up at once; longer codes take the slow path (rare in photos).
pub(super) const LOOKAHEAD: u32 = 10;

/// A decoding table: a direct lookup for codes up to [`LOOKAHEAD`] bits, then
/// libjpeg's canonical-code search.
#[derive(Debug, Clone)]
pub(super) struct DecodeTable {
    /// Indexed by the next `LOOKAHEAD` bits: `length << 8 | symbol`, or 0.
    fast: Box<[u16; 1 << LOOKAHEAD]>,
    /// For AC tables, indexed the same way, when a nonzero coefficient's code
    /// and value bits both fit: `value << 16 | run << 8 | bits`, or 0.
    fast_ac: Box<[u32; 1 << LOOKAHEAD]>,
    /// For each length, the largest code of that length (-1 when none).
    max_code: [i32; 18],
    /// For each length, what to add to a code to index `symbols`.
    offset: [i32; 17],
    symbols: Vec<u8>,
}

impl DecodeTable {
    /// `None` for a table that is not a prefix code, or a DC table with a symbol
    /// above 15 (libjpeg-turbo refuses both).
    pub(super) fn new(spec: &HuffmanSpec<'_>, dc: bool) -> Option<Self> {
        let codes = spec.codes()?;
        if dc && codes.iter().any(|&(_, _, symbol)| symbol > 15) {
            return None;
        }
        let mut fast = Box::new([0u16; 1 << LOOKAHEAD]);
        let mut fast_ac = Box::new([0u32; 1 << LOOKAHEAD]);
        let mut max_code = [-1i32; 18];
        let mut offset = [0i32; 17];
        let mut index = 0usize;
        for length in 1..=16u8 {
            let of_length: Vec<_> = codes.iter().filter(|c| c.1 == length).collect();
            if let (Some(first), Some(last)) = (of_length.first(), of_length.last()) {
                offset[usize::from(length)] = index as i32 - i32::from(first.0);
                max_code[usize::from(length)] = i32::from(last.0);
                index += of_length.len();
            }
        }
        // Sentinel: every code is at most 16 bits.
        max_code[17] = i32::MAX;
        for &(code, length, symbol) in &codes {
            if u32::from(length) <= LOOKAHEAD {
                let shift = LOOKAHEAD - u32::from(length);
                let first = usize::from(code) << shift;
                let entry = u16::from(length) << 8 | u16::from(symbol);
                fast[first..first + (1 << shift)].fill(entry);
                let (run, size) = (u32::from(symbol >> 4), u32::from(symbol & 15));
                if !dc && size > 0 && u32::from(length) + size <= LOOKAHEAD {
                    let total = u32::from(length) + size;
                    for (index, slot) in fast_ac[first..first + (1 << shift)].iter_mut().enumerate()
                    {
                        let raw = (index >> (LOOKAHEAD - total)) as i32 & ((1 << size) - 1);
                        let value = if raw < 1 << (size - 1) {
                            raw - (1 << size) + 1
                        } else {
                            raw
                        };
                        *slot = (value as u32) << 16 | run << 8 | total;
                    }
                }
            }
        }
        Some(Self {
            fast,
            fast_ac,
            max_code,
            offset,
            symbols: codes.iter().map(|c| c.2).collect(),
        })
    }

    /// The symbol at the front of `bits` (the next 32 bits of the stream, first
    /// bit highest) and its code length; `None` for a bit pattern no code starts.
    #[inline(always)]
    pub(super) fn decode(&self, bits: u32) -> Option<(u8, u32)> {
        let entry = self.fast[(bits >> (32 - LOOKAHEAD)) as usize];
        if entry != 0 {
            return Some(((entry & 0xFF) as u8, u32::from(entry >> 8)));
        }
        self.decode_long(bits)
    }

    /// For an AC table: the run of zeros, the bits taken and the value of the
    /// nonzero coefficient at the front of `bits`, when they fit the lookup.
    #[inline(always)]
    pub(super) fn decode_ac(&self, bits: u32) -> Option<(u32, u32, i16)> {
        let entry = self.fast_ac[(bits >> (32 - LOOKAHEAD)) as usize];
        (entry != 0).then_some(((entry >> 8) & 0xFF, entry & 0xFF, (entry >> 16) as i16))
    }

    #[cold]
    fn decode_long(&self, bits: u32) -> Option<(u8, u32)> {
        for length in LOOKAHEAD + 1..=16 {
            let code = (bits >> (32 - length)) as i32;
            if code <= self.max_code[length as usize] {
                let index = code + self.offset[length as usize];
                return Some((*self.symbols.get(usize::try_from(index).ok()?)?, length));
            }
        }
        None
    }
}

/// An encoding table: code and length by symbol.
pub(super) struct EncodeTable {
    codes: [(u16, u8); 256],
    /// For AC tables, by run (0..16) and value (-15..=15, offset by 16): the
    /// symbol's code followed by the value's bits, `bits << 5 | length`.
    /// Photos' AC coefficients are mostly this small.
    small: [[u32; 32]; 16],
}

impl EncodeTable {
    fn new(spec: &HuffmanSpec<'_>) -> Self {
        let mut codes = [(0, 0); 256];
        for (code, length, symbol) in spec.codes().expect("the standard tables are prefix codes") {
            codes[usize::from(symbol)] = (code, length);
        }
        let mut small = [[0u32; 32]; 16];
        for (run, row) in small.iter_mut().enumerate() {
            for value in -15i32..=15 {
                let size = 32 - value.unsigned_abs().leading_zeros();
                let (code, length) = codes[run << 4 | size as usize];
                if value == 0 || length == 0 {
                    continue;
                }
                let extra = (value + (value >> 31)) as u32 & ((1 << size) - 1);
                let bits = u32::from(code) << size | extra;
                row[(value + 16) as usize] = bits << 5 | (u32::from(length) + size);
            }
        }
        Self { codes, small }
    }

    /// For an AC table: a nonzero `value` after `run` zeros (`run` < 16), as
    /// (bits, length), when it is small enough for the combined table.
    #[inline(always)]
    pub(super) fn small(&self, run: u32, value: i32) -> Option<(u32, u32)> {
        let index = (value + 16) as u32;
        if index >= 32 {
            return None;
        }
        // Masked indexes: no bounds checks (`run` is below 16 here).
        let entry = self.small[(run & 15) as usize][(index & 31) as usize];
        (entry != 0).then_some((entry >> 5, entry & 31))
    }

    /// The code and its length for `symbol` (a length of 0 means the table has
    /// no code for it; the standard tables have one for every valid symbol).
    #[inline(always)]
    pub(super) fn code(&self, symbol: u8) -> (u32, u32) {
        let (code, length) = self.codes[usize::from(symbol)];
        (u32::from(code), u32::from(length))
    }
}

/// Which standard table: luminance (slot 0) or chrominance (slot 1).
#[derive(Clone, Copy)]
pub(super) enum Standard {
    Luma,
    Chroma,
}

impl Standard {
    /// The DC and AC specifications, as a DHT segment stores them.
    pub(super) fn specs(self) -> [(u8, &'static [u8; 16], &'static [u8]); 2] {
        match self {
            Standard::Luma => [
                (0x00, &LUMA_DC_COUNTS, &DC_SYMBOLS),
                (0x10, &LUMA_AC_COUNTS, &LUMA_AC_SYMBOLS),
            ],
            Standard::Chroma => [
                (0x01, &CHROMA_DC_COUNTS, &DC_SYMBOLS),
                (0x11, &CHROMA_AC_COUNTS, &CHROMA_AC_SYMBOLS),
            ],
        }
    }

    /// The DC and AC encoding tables.
    pub(super) fn tables(self) -> (EncodeTable, EncodeTable) {
        let [(_, dc_counts, dc), (_, ac_counts, ac)] = self.specs();
        let spec = |counts: &[u8; 16], symbols| {
            HuffmanSpec::new(*counts, symbols).expect("the standard tables are consistent")
        };
        (
            EncodeTable::new(&spec(dc_counts, dc)),
            EncodeTable::new(&spec(ac_counts, ac)),
        )
    }
}

// Tables K.3 to K.6 of ITU-T T.81.
const LUMA_DC_COUNTS: [u8; 16] = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const CHROMA_DC_COUNTS: [u8; 16] = [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
const DC_SYMBOLS: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const LUMA_AC_COUNTS: [u8; 16] = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D];
#[rustfmt::skip]
const LUMA_AC_SYMBOLS: [u8; 162] = [
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
    0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xA1, 0x08, 0x23, 0x42, 0xB1, 0xC1, 0x15, 0x52, 0xD1, 0xF0,
    0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0A, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2A, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
    0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
    0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
    0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7,
    0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3, 0xC4, 0xC5,
    0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA, 0xE1, 0xE2,
    0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8,
    0xF9, 0xFA,
];
const CHROMA_AC_COUNTS: [u8; 16] = [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
#[rustfmt::skip]
const CHROMA_AC_SYMBOLS: [u8; 162] = [
    0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
    0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xA1, 0xB1, 0xC1, 0x09, 0x23, 0x33, 0x52, 0xF0,
    0x15, 0x62, 0x72, 0xD1, 0x0A, 0x16, 0x24, 0x34, 0xE1, 0x25, 0xF1, 0x17, 0x18, 0x19, 0x1A, 0x26,
    0x27, 0x28, 0x29, 0x2A, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
    0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
    0x69, 0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
    0x88, 0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5,
    0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3,
    0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA,
    0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8,
    0xF9, 0xFA,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_tables_decode_what_they_encode() {
        for standard in [Standard::Luma, Standard::Chroma] {
            let [(_, dc_counts, dc), (_, ac_counts, ac)] = standard.specs();
            let (dc_enc, ac_enc) = standard.tables();
            for (counts, symbols, enc, is_dc) in [
                (dc_counts, dc, &dc_enc, true),
                (ac_counts, ac, &ac_enc, false),
            ] {
                let dec =
                    DecodeTable::new(&HuffmanSpec::new(*counts, symbols).unwrap(), is_dc).unwrap();
                for &symbol in symbols {
                    let (code, length) = enc.code(symbol);
                    assert!(length > 0);
                    // Followed by ones, as padding would be.
                    let bits = (code << (32 - length)) | ((1 << (32 - length)) - 1);
                    assert_eq!(dec.decode(bits), Some((symbol, length)), "{symbol:#x}");
                }
            }
        }
    }

    #[test]
    fn overfull_tables_are_refused() {
        // Three codes of length 1 cannot exist.
        let mut counts = [0u8; 16];
        counts[0] = 3;
        let spec = HuffmanSpec::new(counts, &[1, 2, 3]).unwrap();
        assert!(DecodeTable::new(&spec, false).is_none());
        // Two codes of length 1 would make "1" a code: all ones, refused.
        let mut counts = [0u8; 16];
        counts[0] = 2;
        assert!(DecodeTable::new(&HuffmanSpec::new(counts, &[0, 1]).unwrap(), true).is_none());
        // DC categories above 15 do not exist.
        let mut counts = [0u8; 16];
        counts[1] = 1;
        assert!(DecodeTable::new(&HuffmanSpec::new(counts, &[16]).unwrap(), true).is_none());
    }
}
