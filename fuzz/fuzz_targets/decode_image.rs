//! Format sniffing and decoding under limits: any bytes give an image within the
//! limits or an error, never a panic, a hang or an allocation past the limits.
#![no_main]

use imagegraph_imaging::{MediaFormat, UploadLimits, decode};
use libfuzzer_sys::fuzz_target;

const LIMITS: UploadLimits = UploadLimits {
    max_bytes: 1 << 20,
    max_pixels: 1 << 20,
    max_side: 65_535,
    max_aspect_ratio: 1000,
};

fuzz_target!(|bytes: &[u8]| {
    let sniffed = MediaFormat::sniff(bytes);
    if let Ok((format, image)) = decode(bytes, LIMITS) {
        assert_eq!(
            Some(format),
            sniffed,
            "decoded as a format the sniffer did not see"
        );
        assert!(u64::from(image.width()) * u64::from(image.height()) <= LIMITS.max_pixels);
    }
});
