//! The C allocator's arenas. glibc gives a thread that allocates under contention an
//! arena of its own, up to eight per core, and gives little of a freed arena back to
//! the system. Pixel work runs on many blocking threads, each freeing hundreds of
//! megabytes, so RSS settled far above what was in use. Three minutes of
//! `scripts/soak.py` on one binary: 1,557 MB peak with glibc's 16 arenas on 2 cores,
//! 1,129 MB with two, members served within 5% of each other.

/// Caps glibc's arenas at two unless `MALLOC_ARENA_MAX` already says how many. Call
/// first thing in `main`, before any thread starts.
pub fn cap_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: `mallopt` only sets an allocator tunable; no other thread exists yet.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}
