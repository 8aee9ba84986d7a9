//! Base64 and data-URI parsing of uploads: never a panic, and never more bytes out
//! than the limit allows.
#![no_main]

use imagegraph::use_cases::images::decode_base64;
use libfuzzer_sys::fuzz_target;

const MAX_BYTES: usize = 4096;

fuzz_target!(|input: &str| {
    if let Ok(bytes) = decode_base64(input, MAX_BYTES) {
        assert!(
            bytes.len() <= MAX_BYTES,
            "{} bytes past the limit",
            bytes.len()
        );
    }
});
