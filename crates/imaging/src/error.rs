//! Why an image was refused or could not be made.

use std::fmt;

/// Why an image was refused or could not be made. The service maps each kind to
/// one client error code; the messages are safe to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageError {
    /// Over a limit: bytes, pixels, or a decoder's allocation budget.
    TooLarge(String),
    /// Not a format that is accepted.
    Unsupported(String),
    /// Not a valid image of its format: truncated, corrupt, or without pixels.
    Invalid(String),
    /// Encoding the result failed; not the caller's doing.
    Encode(String),
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge(msg) | Self::Unsupported(msg) | Self::Invalid(msg) => f.write_str(msg),
            Self::Encode(msg) => write!(f, "encoding the image failed: {msg}"),
        }
    }
}

impl std::error::Error for ImageError {}

/// The result of image work.
pub type Result<T, E = ImageError> = std::result::Result<T, E>;
