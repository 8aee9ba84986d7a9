//! The allocator: jemalloc, unprefixed, so the Rust heap and C's `malloc`
//! (libjpeg-turbo, aws-lc) share one allocator and one set of knobs.
//!
//! Why not glibc's: the feed spent about 31% of its instructions in glibc's
//! malloc/free (callgrind, `scripts/feed_instructions.py`); jemalloc's thread caches
//! cut that. Memory was the reason to be careful (issue 14): glibc gave a thread that
//! allocated under contention an arena of its own and kept what pixel work freed there,
//! so RSS settled far above what was in use until the arenas were capped at two. jemalloc
//! serves buffers over 8 MiB (decoded images, thumbnails of large ones) from one
//! dedicated arena and returns them to the system, and the background threads turned on
//! below purge what the other arenas freed about ten seconds after it was freed, without
//! waiting for the next allocation on that arena. Against glibc with two arenas
//! (callgrind, per request): feed 3.21M -> 2.71M instructions, `image(id)` 1.36M -> 1.15M,
//! `node(id)` 279k -> 251k. Two back-to-back pairs of `scripts/soak.py --minutes 2
//! --clients 20 --hostile 4`: peak RSS 950 and 888 MB -> 917 and 904 MB; RSS 30 s after
//! the traffic 158 and 247 MB -> 37 and 37 MB.
//!
//! Operators tune it with `MALLOC_CONF` in the environment (read after the defaults
//! here), e.g. `MALLOC_CONF=narenas:2,dirty_decay_ms:1000`; `MALLOC_ARENA_MAX` no
//! longer means anything.

#[global_allocator]
static JEMALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's built-in defaults for this process, read at its first allocation:
/// purging by background threads rather than only when an arena is next used.
// SAFETY: jemalloc reads `malloc_conf` as a `const char *` to a NUL-terminated string;
// a reference to a byte array is exactly that pointer, and the bytes end in NUL. jemalloc
// defines the symbol weakly, so this definition replaces its empty default.
#[allow(unsafe_code)]
#[unsafe(export_name = "malloc_conf")]
static MALLOC_CONF: &[u8; 23] = b"background_thread:true\0";
