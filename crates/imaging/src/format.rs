/// The formats the service accepts and stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaFormat {
    /// `image/jpeg`.
    Jpeg,
    /// `image/png`.
    Png,
    /// `image/webp`.
    Webp,
    /// `image/gif` (its first frame).
    Gif,
}

impl MediaFormat {
    /// Every accepted format.
    pub const ALL: [MediaFormat; 4] = [Self::Jpeg, Self::Png, Self::Webp, Self::Gif];

    /// Recognises a format from its magic bytes; file names and declared content
    /// types are never trusted.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [0xFF, 0xD8, 0xFF, ..] => Some(Self::Jpeg),
            [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(Self::Png),
            [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some(Self::Gif),
            [
                b'R',
                b'I',
                b'F',
                b'F',
                _,
                _,
                _,
                _,
                b'W',
                b'E',
                b'B',
                b'P',
                ..,
            ] => Some(Self::Webp),
            _ => None,
        }
    }

    /// The media type, as served.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Gif => "image/gif",
        }
    }

    /// The file extension of stored objects.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Gif => "gif",
        }
    }

    /// The format a stored object's extension names.
    pub fn from_extension(ext: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.extension() == ext)
    }

    /// The format a media type names.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.content_type() == content_type)
    }

    pub(crate) fn to_image_format(self) -> image::ImageFormat {
        match self {
            Self::Jpeg => image::ImageFormat::Jpeg,
            Self::Png => image::ImageFormat::Png,
            Self::Webp => image::ImageFormat::WebP,
            Self::Gif => image::ImageFormat::Gif,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_magic_bytes_not_names() {
        assert_eq!(
            MediaFormat::sniff(b"\xFF\xD8\xFF\xE0rest"),
            Some(MediaFormat::Jpeg)
        );
        assert_eq!(
            MediaFormat::sniff(b"\x89PNG\r\n\x1a\nrest"),
            Some(MediaFormat::Png)
        );
        assert_eq!(MediaFormat::sniff(b"GIF89a...."), Some(MediaFormat::Gif));
        assert_eq!(MediaFormat::sniff(b"GIF87a...."), Some(MediaFormat::Gif));
        assert_eq!(
            MediaFormat::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(MediaFormat::Webp)
        );
        assert_eq!(MediaFormat::sniff(b"RIFF\0\0\0\0WAVEfmt "), None);
        assert_eq!(MediaFormat::sniff(b"hello, world"), None);
        assert_eq!(MediaFormat::sniff(b""), None);
    }

    #[test]
    fn extensions_and_content_types_round_trip() {
        for format in MediaFormat::ALL {
            assert_eq!(
                MediaFormat::from_extension(format.extension()),
                Some(format)
            );
            assert_eq!(
                MediaFormat::from_content_type(format.content_type()),
                Some(format)
            );
        }
    }
}
