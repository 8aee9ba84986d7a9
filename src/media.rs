//! Signed media URLs: `GET /media/<key>?exp=<unix seconds>&sig=<hmac>` works in an
//! `<img>` tag without an Authorization header, on any replica sharing the secret.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::storage::StorageKey;

#[derive(Clone)]
pub struct MediaSigner {
    ttl_secs: u64,
    /// `<public URL>/media/`: every signed URL is this, a storage path (URL-safe by
    /// construction: `StorageKey`), then the query. Kept as text so building a URL
    /// neither formats nor parses one.
    prefix: String,
    /// The HMAC with the secret already absorbed (two SHA-256 blocks each time
    /// otherwise); cloned for each signature.
    keyed: Hmac<Sha256>,
}

impl MediaSigner {
    pub fn new(secret: Vec<u8>, ttl_secs: u64, public_url: &url::Url) -> Self {
        let mut base = public_url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let prefix = base
            .join("media/")
            .expect("a relative path joins any base")
            .into();
        Self {
            ttl_secs,
            prefix,
            keyed: Hmac::<Sha256>::new_from_slice(&secret).expect("HMAC takes any key length"),
        }
    }

    /// Expiry is rounded up to a window boundary, so a URL stays identical for a
    /// whole window and browsers can cache it; it is valid for ttl to 2 x ttl.
    pub fn url(&self, key: &StorageKey) -> String {
        let now = unix_now();
        let exp = (now / self.ttl_secs + 2) * self.ttl_secs;
        let mut url = String::with_capacity(self.prefix.len() + 160);
        url.push_str(&self.prefix);
        let path_start = url.len();
        key.write_path(&mut url);
        let mut digits = [0u8; 20];
        let exp_text = decimal(exp, &mut digits);
        let mac = self
            .mac(&url[path_start..], exp_text)
            .finalize()
            .into_bytes();
        url.push_str("?exp=");
        url.push_str(exp_text);
        url.push_str("&sig=");
        URL_SAFE_NO_PAD.encode_string(mac, &mut url);
        url
    }

    pub fn verify(&self, path: &str, exp: u64, sig: &str) -> Result<(), MediaUrlError> {
        let Ok(given) = URL_SAFE_NO_PAD.decode(sig) else {
            return Err(MediaUrlError::BadSignature);
        };
        let mut digits = [0u8; 20];
        let mac = self.mac(path, decimal(exp, &mut digits));
        mac.verify_slice(&given)
            .map_err(|_| MediaUrlError::BadSignature)?;
        if exp < unix_now() {
            return Err(MediaUrlError::Expired);
        }
        Ok(())
    }

    #[cfg(test)]
    fn signature(&self, path: &str, exp: u64) -> String {
        let mut digits = [0u8; 20];
        URL_SAFE_NO_PAD.encode(
            self.mac(path, decimal(exp, &mut digits))
                .finalize()
                .into_bytes(),
        )
    }

    fn mac(&self, path: &str, exp: &str) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(exp.as_bytes());
        mac
    }
}

/// `n` in decimal, written into `buffer` (20 digits hold any u64).
fn decimal(mut n: u64, buffer: &mut [u8; 20]) -> &str {
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buffer[start..]).expect("ASCII digits")
}

#[derive(Debug, PartialEq, Eq)]
pub enum MediaUrlError {
    BadSignature,
    Expired,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use imagegraph_imaging::MediaFormat;

    #[test]
    fn signed_urls_verify_and_tampering_fails() {
        let signer = MediaSigner::new(
            b"0123456789abcdef0123456789abcdef".to_vec(),
            3600,
            &"http://x:1/base".parse().unwrap(),
        );
        let key = StorageKey::Original {
            image_id: imagegraph_db::ImageId::new(),
            content_id: imagegraph_db::ContentId::new(),
            format: MediaFormat::Png,
        };
        let url = url::Url::parse(&signer.url(&key)).unwrap();
        assert!(url.path().starts_with("/base/media/images/"));
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        let exp: u64 = q["exp"].parse().unwrap();
        assert_eq!(signer.verify(&key.path(), exp, &q["sig"]), Ok(()));
        assert_eq!(
            signer.verify(&key.path(), exp + 1, &q["sig"]),
            Err(MediaUrlError::BadSignature)
        );
        assert_eq!(
            signer.verify("images/other", exp, &q["sig"]),
            Err(MediaUrlError::BadSignature)
        );
        let other = MediaSigner::new(
            b"another-secret-another-secret-xx".to_vec(),
            3600,
            &"http://x:1".parse().unwrap(),
        );
        assert_eq!(
            other.verify(&key.path(), exp, &q["sig"]),
            Err(MediaUrlError::BadSignature)
        );
        // The same URL the `url` crate builds from the parts, for bases with and
        // without a path or trailing slash.
        for base in [
            "http://x:1",
            "http://x:1/",
            "https://h.example/a/b",
            "http://x/a/b/",
        ] {
            let signer = MediaSigner::new(b"k".to_vec(), 3600, &base.parse().unwrap());
            let built = signer.url(&key);
            let mut expected = url::Url::parse(base).unwrap();
            if !expected.path().ends_with('/') {
                expected.set_path(&format!("{}/", expected.path()));
            }
            let mut expected = expected.join(&format!("media/{}", key.path())).unwrap();
            let parsed = url::Url::parse(&built).unwrap();
            let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
            expected
                .query_pairs_mut()
                .append_pair("exp", &q["exp"])
                .append_pair(
                    "sig",
                    &signer.signature(&key.path(), q["exp"].parse().unwrap()),
                );
            assert_eq!(built, expected.as_str());
        }
        for n in [0, 7, 10, 1_764_000_000, u64::MAX] {
            assert_eq!(decimal(n, &mut [0; 20]), n.to_string());
        }
        let mut written = String::from("x");
        key.write_path(&mut written);
        assert_eq!(written, format!("x{}", key.path()));
        let thumbnail = StorageKey::Thumbnail {
            image_id: imagegraph_db::ImageId::new(),
            content_id: imagegraph_db::ContentId::new(),
            format: MediaFormat::Webp,
        };
        let mut written = String::new();
        thumbnail.write_path(&mut written);
        assert_eq!(written, thumbnail.path());
        let stale = 1_000;
        let sig = signer.signature(&key.path(), stale);
        assert_eq!(
            signer.verify(&key.path(), stale, &sig),
            Err(MediaUrlError::Expired)
        );
    }
}
