//! Image use cases: upload, delete. Resolvers call these; these call db and storage.

use base64::Engine as _;
use bytes::Bytes;
use chrono::Utc;

use diesel::QueryResult;
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use futures::future::BoxFuture;

use crate::app::App;
use crate::error::{Error, Result};
use crate::storage::StorageKey;
use crate::use_cases::analysis::AnalyzeImage;
use crate::use_cases::quota;
use imagegraph_db::models::ById as _;
use imagegraph_db::models::image::{AnalysisStatus, ContentType, ImageSource};
use imagegraph_db::models::{Image, User};
use imagegraph_db::{ContentId, ImageId};
use imagegraph_imaging::{self as imaging, MediaFormat};

/// Decodes a bare base64 string or a `data:image/<type>;base64,` URI. The declared type
/// is not trusted: the bytes are sniffed later like any upload.
pub fn decode_base64(input: &str, max_bytes: usize) -> Result<Vec<u8>> {
    let payload = match input.strip_prefix("data:") {
        Some(rest) => {
            let (meta, data) = rest
                .split_once(',')
                .ok_or_else(|| Error::bad_input("a data URI needs a `,` before its data"))?;
            if !meta.ends_with(";base64") {
                return Err(Error::bad_input(
                    "a data URI must be base64-encoded (`data:image/png;base64,...`)",
                ));
            }
            if !meta.starts_with("image/") {
                return Err(Error::UnsupportedMediaType(format!(
                    "a data URI of type `{}` is not an image",
                    meta.trim_end_matches(";base64")
                )));
            }
            data
        }
        None => input,
    };
    let payload = payload.trim();
    // Refuse before allocating: 4 base64 characters carry 3 bytes.
    if payload.len() / 4 * 3 > max_bytes + 3 {
        return Err(Error::PayloadTooLarge(format!(
            "the image is larger than {max_bytes} bytes"
        )));
    }
    let engine = base64::engine::general_purpose::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine
        .decode(payload)
        .map_err(|_| Error::bad_input("`base64` is not valid base64 or a base64 data URI"))?;
    if bytes.is_empty() {
        return Err(Error::bad_input("the image is empty"));
    }
    Ok(bytes)
}

pub fn original_key(image: &Image) -> StorageKey {
    StorageKey::Original {
        image_id: image.id,
        content_id: image.content_id,
        format: media_format(image.content_type),
    }
}

pub fn thumbnail_key(image: &Image) -> StorageKey {
    StorageKey::Thumbnail {
        image_id: image.id,
        content_id: image.content_id,
        format: media_format(image.thumbnail_content_type),
    }
}

/// The stored content type of bytes in `format`.
pub fn content_type(format: MediaFormat) -> ContentType {
    match format {
        MediaFormat::Jpeg => ContentType::Jpeg,
        MediaFormat::Png => ContentType::Png,
        MediaFormat::Webp => ContentType::Webp,
        MediaFormat::Gif => ContentType::Gif,
    }
}

/// The format of stored bytes of `content_type`.
pub fn media_format(content_type: ContentType) -> MediaFormat {
    match content_type {
        ContentType::Jpeg => MediaFormat::Jpeg,
        ContentType::Png => MediaFormat::Png,
        ContentType::Webp => MediaFormat::Webp,
        ContentType::Gif => MediaFormat::Gif,
    }
}

/// How a stored image came to be.
pub struct NewImage {
    pub source: ImageSource,
    pub prompt: Option<String>,
    pub parent_id: Option<ImageId>,
    /// Queue an AI description in the same transaction as the row.
    pub analyze: bool,
    /// The edit instructions that produced it, as JSON.
    pub edits: Option<serde_json::Value>,
}

/// More work to commit with the new image's row (its id is passed in).
pub type AfterInsert = Box<
    dyn for<'c> FnOnce(&'c mut AsyncPgConnection, ImageId) -> BoxFuture<'c, QueryResult<()>> + Send,
>;

pub async fn upload(app: &App, owner: &User, bytes: Vec<u8>, analyze: bool) -> Result<Image> {
    let new = NewImage {
        source: ImageSource::Upload,
        prompt: None,
        parent_id: None,
        analyze,
        edits: None,
    };
    store(app, owner, Bytes::from(bytes), new, None).await
}

/// Stores an image: checked and thumbnailed off the async runtime, objects written
/// first, then the row with its analysis job in one transaction; if the transaction
/// fails the objects are removed again.
pub async fn store(
    app: &App,
    owner: &User,
    bytes: Bytes,
    new: NewImage,
    after_insert: Option<AfterInsert>,
) -> Result<Image> {
    // Refused before any pixel work or storage when already over.
    let addition = quota::Addition {
        images: 1,
        bytes: bytes.len() as u64,
    };
    quota::check_early(app, owner.id, addition).await?;
    let limits = app.config.pixels.upload_limits(&app.config.images);
    // The header alone says what decoding will hold; absurd shapes are refused
    // before any of the memory budget is asked for.
    let probe = imaging::probe(&bytes, limits)?;
    imaging::check_shape(probe.width, probe.height, limits)?;
    let input = bytes.clone();
    let mut prepared = app
        .pixels
        .run(imaging::cost::upload(&probe), move || {
            imaging::prepare_upload(&input, limits)
        })
        .await??;
    // A 16-bit image is kept as the 8-bit one every later decode would make.
    let bytes = prepared.reencoded.take().map_or(bytes, Bytes::from);
    store_prepared(app, owner, bytes, prepared, new, after_insert).await
}

/// `store` for content already checked and thumbnailed (edits render their own).
pub async fn store_prepared(
    app: &App,
    owner: &User,
    bytes: Bytes,
    prepared: imaging::Prepared,
    new: NewImage,
    after_insert: Option<AfterInsert>,
) -> Result<Image> {
    let now = Utc::now();
    let id = ImageId::new();
    let image = Image {
        id,
        owner_id: owner.id,
        content_id: ContentId::new(),
        content_type: content_type(prepared.format),
        width: prepared.width as i32,
        height: prepared.height as i32,
        byte_size: bytes.len() as i64,
        thumbnail_content_type: content_type(prepared.thumbnail_format),
        description: None,
        analysis_status: if new.analyze {
            AnalysisStatus::Pending
        } else {
            AnalysisStatus::NotRequested
        },
        analysis_model: None,
        analysis_error: None,
        analysis_requested_at: new.analyze.then_some(now),
        analysis_completed_at: None,
        source: new.source,
        prompt: new.prompt,
        parent_id: new.parent_id,
        created_at: now,
        edited_at: now,
        edits: new.edits,
        comment_count: 0,
        kept_from: None,
        tags: Vec::new(),
    };
    let keys = [original_key(&image), thumbnail_key(&image)];
    let written = futures::future::try_join(
        app.storage.put(&keys[0], bytes),
        app.storage.put(&keys[1], Bytes::from(prepared.thumbnail)),
    )
    .await;
    if let Err(err) = written {
        remove_objects(app, &keys).await;
        return Err(err.into());
    }

    let max_attempts = app.config.jobs.job_max_attempts;
    let quotas = &app.config.quotas;
    let inserted = async {
        let mut conn = app.db.conn().await?;
        let image = conn
            .transaction::<_, Error, _>(async move |conn| {
                let addition = quota::Addition {
                    images: 1,
                    bytes: image.byte_size as u64,
                };
                quota::check(conn, quotas, image.owner_id, addition, true).await?;
                let image = Image::insert(conn, &image).await?;
                if new.analyze {
                    imagegraph_jobs::enqueue(
                        conn,
                        &AnalyzeImage { image_id: image.id },
                        max_attempts,
                    )
                    .await?;
                }
                if let Some(after_insert) = after_insert {
                    after_insert(conn, image.id).await?;
                }
                Ok(image)
            })
            .await?;
        Ok::<_, Error>(image)
    }
    .await;
    if inserted.is_err() {
        remove_objects(app, &keys).await;
    }
    inserted
}

/// Deletes an image (owner or admin) with the content REPLACE kept from it: the rows
/// first, so they disappear at once, then their objects; an object left behind by a
/// failure is swept by `imagegraph gc`.
pub async fn delete(app: &App, viewer: &User, id: ImageId) -> Result<ImageId> {
    let mut conn = app.db.conn().await?;
    let image = Image::find(&mut conn, id)
        .await?
        .ok_or(Error::NotFound("image"))?;
    if !viewer.may_manage(image.owner_id) {
        return Err(Error::forbidden(
            "only the image's owner or an admin can delete it",
        ));
    }
    let deleted = Image::delete(&mut conn, id).await?;
    drop(conn);
    if deleted.is_empty() {
        return Err(Error::NotFound("image"));
    }
    let keys: Vec<StorageKey> = deleted
        .iter()
        .flat_map(|image| [original_key(image), thumbnail_key(image)])
        .collect();
    remove_objects(app, &keys).await;
    Ok(id)
}

pub(crate) async fn remove_objects(app: &App, keys: &[StorageKey]) {
    for key in keys {
        if let Err(err) = app.storage.delete(key).await {
            tracing::warn!(key = %key.path(), error = %err, "could not delete object; gc will sweep it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_bare_base64_and_data_uris() {
        assert_eq!(decode_base64("aGVsbG8=", 100).unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8", 100).unwrap(), b"hello");
        assert_eq!(
            decode_base64("data:image/png;base64,aGVsbG8=", 100).unwrap(),
            b"hello"
        );
        assert_eq!(decode_base64("  aGVsbG8=\n", 100).unwrap(), b"hello");
    }

    #[test]
    fn refuses_bad_base64_with_codes() {
        assert_eq!(
            decode_base64("not_an_image", 100).unwrap_err().code(),
            crate::error::ErrorCode::BadUserInput
        );
        assert_eq!(
            decode_base64("", 100).unwrap_err().code(),
            crate::error::ErrorCode::BadUserInput
        );
        assert_eq!(
            decode_base64("data:image/png,aGVsbG8=", 100)
                .unwrap_err()
                .code(),
            crate::error::ErrorCode::BadUserInput
        );
        assert_eq!(
            decode_base64("data:text/plain;base64,aGVsbG8=", 100)
                .unwrap_err()
                .code(),
            crate::error::ErrorCode::UnsupportedMediaType
        );
        assert_eq!(
            decode_base64(&"A".repeat(400), 100).unwrap_err().code(),
            crate::error::ErrorCode::PayloadTooLarge
        );
    }
}
