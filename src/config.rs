//! Typed configuration: every setting is a flag and an environment variable.
//! `.env.example` documents the same names.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context as _, bail};

use crate::imaging::UploadLimits;

#[derive(Clone, clap::Args)]
pub struct Config {
    /// Where the private PostgreSQL cluster, local objects and secrets live.
    #[arg(long, env = "DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,

    /// Address the HTTP server listens on.
    #[arg(
        long,
        env = "LISTEN_ADDR",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen_addr: SocketAddr,

    /// Base of absolute media URLs (default: http://LISTEN_ADDR).
    #[arg(long, env = "PUBLIC_URL", global = true)]
    pub public_url: Option<url::Url>,

    /// PostgreSQL URL; without it a private cluster runs under DATA_DIR.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// Maximum connections in the database pool.
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 16, global = true)]
    pub database_pool_size: u32,

    /// file:///path, s3://bucket/prefix or memory:// (default: DATA_DIR/objects).
    #[arg(long, env = "STORAGE_URL", global = true)]
    pub storage_url: Option<String>,

    /// Secret for signing media URLs; replicas must share it (default: generated
    /// once into DATA_DIR/media-secret).
    #[arg(long, env = "MEDIA_SECRET", hide_env_values = true, global = true)]
    pub media_secret: Option<String>,

    /// How long a signed media URL stays valid, at least (it is valid for up to twice this).
    #[arg(
        long,
        env = "MEDIA_URL_TTL_SECS",
        default_value_t = 3600,
        global = true
    )]
    pub media_url_ttl_secs: u64,

    /// Largest accepted image file, in bytes.
    #[arg(long, env = "MAX_UPLOAD_BYTES", default_value_t = 25 * 1024 * 1024, global = true)]
    pub max_upload_bytes: usize,

    /// Largest accepted image, in pixels (width x height), checked from the header.
    #[arg(
        long,
        env = "MAX_IMAGE_PIXELS",
        default_value_t = 50_000_000,
        global = true
    )]
    pub max_image_pixels: u64,
}

impl Config {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.database_pool_size == 0 {
            bail!("DATABASE_POOL_SIZE must be at least 1");
        }
        if self.media_url_ttl_secs < 60 {
            bail!("MEDIA_URL_TTL_SECS must be at least 60");
        }
        if self.max_upload_bytes == 0 || self.max_image_pixels == 0 {
            bail!("MAX_UPLOAD_BYTES and MAX_IMAGE_PIXELS must be positive");
        }
        if let Some(secret) = &self.media_secret
            && secret.len() < 32
        {
            bail!("MEDIA_SECRET must be at least 32 characters");
        }
        Ok(())
    }

    pub fn public_url(&self) -> url::Url {
        self.public_url.clone().unwrap_or_else(|| {
            url::Url::parse(&format!("http://{}", self.listen_addr))
                .expect("a socket address makes a valid URL")
        })
    }

    pub fn upload_limits(&self) -> UploadLimits {
        UploadLimits {
            max_bytes: self.max_upload_bytes,
            max_pixels: self.max_image_pixels,
        }
    }

    /// The configured secret, or the one kept in the data directory (created once).
    pub fn load_media_secret(&self) -> anyhow::Result<Vec<u8>> {
        if let Some(secret) = &self.media_secret {
            return Ok(secret.as_bytes().to_vec());
        }
        let path = self.data_dir.join("media-secret");
        match std::fs::read_to_string(&path) {
            Ok(secret) => {
                return hex::decode(secret.trim()).context("DATA_DIR/media-secret is not hex");
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
        }
        let secret: [u8; 32] = rand::random();
        std::fs::create_dir_all(&self.data_dir)?;
        crate::fsutil::write_private(&path, hex::encode(secret).as_bytes())?;
        Ok(secret.to_vec())
    }
}

/// Secrets and credentials stay out of logs.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen_addr", &self.listen_addr)
            .field("public_url", &self.public_url)
            .field("database_url", &self.database_url.as_ref().map(|_| "<set>"))
            .field("database_pool_size", &self.database_pool_size)
            .field("storage_url", &self.storage_url)
            .field("media_secret", &self.media_secret.as_ref().map(|_| "<set>"))
            .field("media_url_ttl_secs", &self.media_url_ttl_secs)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("max_image_pixels", &self.max_image_pixels)
            .finish()
    }
}
