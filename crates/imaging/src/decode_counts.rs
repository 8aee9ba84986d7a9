//! How many JPEG decodes each decoder has begun in this process, and how many
//! rows libjpeg-turbo has given: what tests count to pin what a JPEG
//! libjpeg-turbo warns about costs (at most one libjpeg-turbo decode, stopped at
//! the warning, then zune-jpeg's). Relaxed atomics: a few nanoseconds a decode.
//! Counts are process-wide, so a test that reads them must run alone in its
//! binary.

use std::sync::atomic::{AtomicU64, Ordering};

static TURBO: AtomicU64 = AtomicU64::new(0);
static TURBO_ROWS: AtomicU64 = AtomicU64::new(0);
static ZUNE: AtomicU64 = AtomicU64::new(0);

/// Decodes begun so far, by decoder.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecodeCounts {
    /// libjpeg-turbo decodes begun (streamed or whole-image; header reads and
    /// lossless transforms are not decodes).
    pub turbo: u64,
    /// Rows libjpeg-turbo decoded without an error or a warning.
    pub turbo_rows: u64,
    /// Whole-image JPEG decodes by zune-jpeg begun.
    pub zune: u64,
}

impl DecodeCounts {
    /// What was counted since `before`.
    pub fn since(self, before: DecodeCounts) -> DecodeCounts {
        DecodeCounts {
            turbo: self.turbo - before.turbo,
            turbo_rows: self.turbo_rows - before.turbo_rows,
            zune: self.zune - before.zune,
        }
    }
}

/// The counts so far.
#[doc(hidden)]
pub fn decode_counts() -> DecodeCounts {
    DecodeCounts {
        turbo: TURBO.load(Ordering::Relaxed),
        turbo_rows: TURBO_ROWS.load(Ordering::Relaxed),
        zune: ZUNE.load(Ordering::Relaxed),
    }
}

pub(crate) fn turbo_begun() {
    TURBO.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn turbo_rows(rows: u32) {
    TURBO_ROWS.fetch_add(u64::from(rows), Ordering::Relaxed);
}

pub(crate) fn zune_begun() {
    ZUNE.fetch_add(1, Ordering::Relaxed);
}
