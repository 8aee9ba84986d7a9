//! Streamed point edits (`csrc/jpeg_stream.c` through `jpeg_ffi.rs`) on any
//! bytes: never a crash or a hang, and whenever a file streams, its bytes are
//! exactly the decode path's (decode, apply, encode), so a file the shim reads
//! differently from the whole-image decoder cannot slip through; and when it
//! does not, the decode path told why (`decode_after`) decides exactly as the
//! decode path on its own, so a refusal can never turn libjpeg-turbo's pixels
//! into zune-jpeg's.
#![no_main]

use imagegraph_imaging::edit::{EditInstruction, apply};
use imagegraph_imaging::{MediaFormat, UploadLimits, decode, decode_after, encode, stream_jpeg};
use libfuzzer_sys::fuzz_target;

const LIMITS: UploadLimits = UploadLimits {
    max_bytes: 1 << 20,
    max_pixels: 1 << 20,
    max_side: 65_535,
    max_aspect_ratio: 1000,
};

const EDIT: [EditInstruction; 2] = [
    EditInstruction::Brightness(1.3),
    EditInstruction::Saturation(0.6),
];

fuzz_target!(|bytes: &[u8]| {
    match stream_jpeg(bytes, LIMITS, &EDIT, 90) {
        Ok(streamed) => {
            let (_, image) = decode(bytes, LIMITS).expect("a file that streamed decodes");
            let edited = apply(image, &EDIT).expect("a point edit fits");
            let whole = encode(&edited, MediaFormat::Jpeg, 90).expect("encodes");
            assert!(streamed == whole, "the streamed bytes differ from the decode path's");
        }
        Err(refusal) => {
            let after = decode_after(bytes, LIMITS, u32::MAX, u32::MAX, refusal);
            let alone = decode(bytes, LIMITS);
            match (after, alone) {
                (Ok((_, a)), Ok((_, b))) => assert!(a == b, "the refusal changed the pixels"),
                (Err(a), Err(b)) => assert_eq!(a, b, "the refusal changed the error"),
                _ => panic!("the refusal changed whether the file decodes"),
            }
        }
    }
});
