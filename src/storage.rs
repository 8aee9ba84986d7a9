//! Object storage: one type around `Arc<dyn ObjectStore>`. `StorageKey` owns every
//! object's path and content type, so no path string is built anywhere else.

use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    BackoffConfig, GetResult, ObjectStore, ObjectStoreExt as _, PutPayload, RetryConfig,
};

use imagegraph_db::{ContentId, ImageId};
use imagegraph_imaging::MediaFormat;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKey {
    Original {
        image_id: ImageId,
        content_id: ContentId,
        format: MediaFormat,
    },
    Thumbnail {
        image_id: ImageId,
        content_id: ContentId,
        format: MediaFormat,
    },
}

impl StorageKey {
    /// Appends `path()` to `out`, without the formatting machinery: signed media URLs
    /// write two of these per image of every page.
    pub fn write_path(&self, out: &mut String) {
        let (image_id, content_id, suffix, format) = match self {
            Self::Original {
                image_id,
                content_id,
                format,
            } => (image_id.uuid(), content_id.uuid(), ".", format),
            Self::Thumbnail {
                image_id,
                content_id,
                format,
            } => (image_id.uuid(), content_id.uuid(), "-thumb.", format),
        };
        let mut buffer = uuid::Uuid::encode_buffer();
        out.push_str("images/");
        out.push_str(image_id.hyphenated().encode_lower(&mut buffer));
        out.push('/');
        out.push_str(content_id.hyphenated().encode_lower(&mut buffer));
        out.push_str(suffix);
        out.push_str(format.extension());
    }

    pub fn path(&self) -> String {
        match self {
            Self::Original {
                image_id,
                content_id,
                format,
            } => {
                format!("images/{image_id}/{content_id}.{}", format.extension())
            }
            Self::Thumbnail {
                image_id,
                content_id,
                format,
            } => {
                format!(
                    "images/{image_id}/{content_id}-thumb.{}",
                    format.extension()
                )
            }
        }
    }

    /// The inverse of `path`, for the media route: anything else is not ours to serve.
    pub fn parse(path: &str) -> Option<Self> {
        let rest = path.strip_prefix("images/")?;
        let (image_id, file) = rest.split_once('/')?;
        let image_id: ImageId = image_id.parse().ok()?;
        let (stem, ext) = file.rsplit_once('.')?;
        let format = MediaFormat::from_extension(ext)?;
        let key = match stem.strip_suffix("-thumb") {
            Some(content) => Self::Thumbnail {
                image_id,
                content_id: content.parse().ok()?,
                format,
            },
            None => Self::Original {
                image_id,
                content_id: stem.parse().ok()?,
                format,
            },
        };
        (key.path() == path).then_some(key)
    }

    pub fn format(&self) -> MediaFormat {
        match self {
            Self::Original { format, .. } | Self::Thumbnail { format, .. } => *format,
        }
    }

    pub fn image_id(&self) -> ImageId {
        match self {
            Self::Original { image_id, .. } | Self::Thumbnail { image_id, .. } => *image_id,
        }
    }

    /// Objects never change under a key (new content gets a new key), so clients
    /// may cache them for as long as they like.
    pub fn cache_control(&self) -> &'static str {
        "private, max-age=31536000, immutable"
    }
}

#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    description: String,
}

impl Storage {
    /// `file:///path`, `s3://bucket/prefix` (AWS_* variables; `AWS_ENDPOINT` for
    /// S3-compatible servers) or `memory://`. Without a URL: `<data dir>/objects`.
    pub fn from_url(url: Option<&str>, data_dir: &FsPath) -> anyhow::Result<Self> {
        let Some(url) = url else {
            let root = data_dir.join("objects");
            return Self::local(&root);
        };
        let parsed =
            url::Url::parse(url).with_context(|| format!("STORAGE_URL `{url}` is not a URL"))?;
        match parsed.scheme() {
            "file" => {
                let path = parsed
                    .to_file_path()
                    .map_err(|()| anyhow::anyhow!("STORAGE_URL `{url}` is not a local path"))?;
                Self::local(&path)
            }
            "s3" => {
                let bucket = parsed
                    .host_str()
                    .context("STORAGE_URL s3://BUCKET/prefix needs a bucket")?;
                // A few quick retries: an unreachable store should fail a request in
                // seconds, not hold it for object_store's default three minutes.
                let retry = RetryConfig {
                    backoff: BackoffConfig {
                        init_backoff: Duration::from_millis(100),
                        max_backoff: Duration::from_secs(2),
                        base: 2.0,
                    },
                    max_retries: 3,
                    retry_timeout: Duration::from_secs(15),
                };
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_retry(retry);
                let endpoint = std::env::var("AWS_ENDPOINT_URL")
                    .or_else(|_| std::env::var("AWS_ENDPOINT"))
                    .ok();
                if let Some(endpoint) = endpoint {
                    builder = builder
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_endpoint(endpoint);
                }
                let s3 = builder.build().context("configuring S3 storage")?;
                let prefix = parsed.path().trim_matches('/');
                let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(PrefixStore::new(s3, prefix))
                };
                Ok(Self {
                    store,
                    description: format!("s3://{bucket}/{prefix}"),
                })
            }
            "memory" => Ok(Self {
                store: Arc::new(InMemory::new()),
                description: "memory://".into(),
            }),
            other => bail!(
                "STORAGE_URL scheme `{other}` is not supported: use file://, s3:// or memory://"
            ),
        }
    }

    fn local(root: &FsPath) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        let store = LocalFileSystem::new_with_prefix(root)?.with_automatic_cleanup(true);
        Ok(Self {
            store: Arc::new(store),
            description: format!("file://{}", root.display()),
        })
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    #[tracing::instrument(level = "debug", name = "storage.put", skip_all, fields(key = %key.path(), bytes = bytes.len()))]
    pub async fn put(&self, key: &StorageKey, bytes: Bytes) -> object_store::Result<()> {
        self.store
            .put(&Path::from(key.path()), PutPayload::from_bytes(bytes))
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "storage.get", skip_all, fields(key = %key.path()))]
    pub async fn get(&self, key: &StorageKey) -> object_store::Result<GetResult> {
        self.store.get(&Path::from(key.path())).await
    }

    /// Copies an object to another key (within the same store).
    #[tracing::instrument(level = "debug", name = "storage.copy", skip_all, fields(from = %from.path(), to = %to.path()))]
    pub async fn copy(&self, from: &StorageKey, to: &StorageKey) -> object_store::Result<()> {
        self.store
            .copy(&Path::from(from.path()), &Path::from(to.path()))
            .await
    }

    /// Deletes an object; one already gone is not an error.
    #[tracing::instrument(level = "debug", name = "storage.delete", skip_all, fields(key = %key.path()))]
    pub async fn delete(&self, key: &StorageKey) -> object_store::Result<()> {
        match self.store.delete(&Path::from(key.path())).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Every object under `images/`, for the sweeper.
    pub fn list_images(
        &self,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
        self.store.list(Some(&Path::from("images")))
    }

    /// Proves the store answers: a lookup of a key that never exists.
    pub async fn ping(&self) -> object_store::Result<()> {
        match self.store.head(&Path::from("readyz-probe")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_their_paths() {
        let (image_id, content_id) = (ImageId::new(), ContentId::new());
        for key in [
            StorageKey::Original {
                image_id,
                content_id,
                format: MediaFormat::Webp,
            },
            StorageKey::Thumbnail {
                image_id,
                content_id,
                format: MediaFormat::Jpeg,
            },
        ] {
            assert_eq!(StorageKey::parse(&key.path()), Some(key));
        }
        assert_eq!(StorageKey::parse("images/../etc/passwd"), None);
        assert_eq!(
            StorageKey::parse(&format!("images/{image_id}/{content_id}.bmp")),
            None
        );
        assert_eq!(
            StorageKey::parse(&format!("other/{image_id}/{content_id}.png")),
            None
        );
    }

    #[tokio::test]
    async fn stores_reads_and_deletes() {
        let storage = Storage::from_url(Some("memory://"), FsPath::new("/nonexistent")).unwrap();
        let key = StorageKey::Original {
            image_id: ImageId::new(),
            content_id: ContentId::new(),
            format: MediaFormat::Png,
        };
        storage.put(&key, Bytes::from_static(b"abc")).await.unwrap();
        assert_eq!(
            storage.get(&key).await.unwrap().bytes().await.unwrap(),
            Bytes::from_static(b"abc")
        );
        storage.delete(&key).await.unwrap();
        storage.delete(&key).await.unwrap();
        assert!(matches!(
            storage.get(&key).await,
            Err(object_store::Error::NotFound { .. })
        ));
    }
}
