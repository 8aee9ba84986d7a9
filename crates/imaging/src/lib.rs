//! Pixels: recognising formats, decoding under limits, renditions and the edit
//! engine. Pure and blocking: no runtime, no database, no service types; callers
//! run it on blocking threads.

#![warn(missing_docs)]

pub mod cost;
mod decode_counts;
pub mod edit;
mod error;
mod format;
mod jpeg;
mod jpeg_ffi;
mod lossless;
mod upload;

#[doc(hidden)]
pub use decode_counts::{DecodeCounts, decode_counts};
pub use edit::{stream_edit, stream_jpeg};
pub use error::{ImageError, Result};
pub use format::MediaFormat;
pub use jpeg::Refusal;
pub use lossless::{lossless_edit, lossless_transform};
pub use upload::{
    Prepared, Probe, UploadLimits, check_shape, decode, decode_after, decode_at_least, encode,
    fit_within, prepare_upload, probe, render_thumbnail, thumbnail_size,
};
