//! Pixels: recognising formats, decoding under limits, renditions. Pure and blocking:
//! callers run it on blocking threads.

pub mod edit;
mod format;
mod upload;

pub use format::MediaFormat;
pub use upload::{Prepared, UploadLimits, decode, encode, prepare_upload, render_thumbnail};
