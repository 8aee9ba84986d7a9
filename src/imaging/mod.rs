//! Pixels: recognising formats, decoding under limits, renditions. Pure and blocking:
//! callers run it on blocking threads.

mod format;
mod upload;

pub use format::MediaFormat;
pub use upload::{Prepared, UploadLimits, prepare_upload};
