//! Pixels: recognising formats, decoding under limits, renditions and the edit
//! engine. Pure and blocking: no runtime, no database, no service types; callers
//! run it on blocking threads.

#![warn(missing_docs)]

pub mod cost;
pub mod edit;
mod error;
mod format;
mod upload;

pub use error::{ImageError, Result};
pub use format::MediaFormat;
pub use upload::{
    Prepared, Probe, UploadLimits, check_shape, decode, encode, fit_within, prepare_upload, probe,
    render_thumbnail,
};
