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
    secret: Vec<u8>,
    ttl_secs: u64,
    base: url::Url,
}

impl MediaSigner {
    pub fn new(secret: Vec<u8>, ttl_secs: u64, public_url: &url::Url) -> Self {
        let mut base = public_url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Self {
            secret,
            ttl_secs,
            base,
        }
    }

    /// Expiry is rounded up to a window boundary, so a URL stays identical for a
    /// whole window and browsers can cache it; it is valid for ttl to 2 x ttl.
    pub fn url(&self, key: &StorageKey) -> String {
        let now = unix_now();
        let exp = (now / self.ttl_secs + 2) * self.ttl_secs;
        let path = key.path();
        let sig = self.signature(&path, exp);
        let mut url = self
            .base
            .join(&format!("media/{path}"))
            .expect("storage paths are URL-safe");
        url.query_pairs_mut()
            .append_pair("exp", &exp.to_string())
            .append_pair("sig", &sig);
        url.into()
    }

    pub fn verify(&self, path: &str, exp: u64, sig: &str) -> Result<(), MediaUrlError> {
        let Ok(given) = URL_SAFE_NO_PAD.decode(sig) else {
            return Err(MediaUrlError::BadSignature);
        };
        let mac = self.mac(path, exp);
        mac.verify_slice(&given)
            .map_err(|_| MediaUrlError::BadSignature)?;
        if exp < unix_now() {
            return Err(MediaUrlError::Expired);
        }
        Ok(())
    }

    fn signature(&self, path: &str, exp: u64) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(path, exp).finalize().into_bytes())
    }

    fn mac(&self, path: &str, exp: u64) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(exp.to_string().as_bytes());
        mac
    }
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
        let stale = 1_000;
        let sig = signer.signature(&key.path(), stale);
        assert_eq!(
            signer.verify(&key.path(), stale, &sig),
            Err(MediaUrlError::Expired)
        );
    }
}
