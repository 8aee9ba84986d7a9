//! Cursor decoding: any text is a cursor or an error, and a decoded cursor survives
//! a round trip through encoding.
#![no_main]

use imagegraph::graphql::pagination::{decode_cursor, encode_cursor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(cursor) = decode_cursor(text) {
        let again = decode_cursor(&encode_cursor(cursor)).expect("an encoded cursor decodes");
        assert_eq!(again, cursor);
    }
});
