//! `imagegraph gc`: removes objects no image row points at. Uploads write the object
//! before the row, so an object younger than the grace period may belong to an upload
//! still in flight and is left alone.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use futures::TryStreamExt as _;
use imagegraph_db::ImageId;
use imagegraph_db::models::ById as _;

use crate::error::Result;
use crate::storage::{Storage, StorageKey};
use crate::use_cases::images::{original_key, thumbnail_key};
use imagegraph_db::Db;
use imagegraph_db::models::Image;

const BATCH: usize = 500;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    pub scanned: usize,
    pub deleted: usize,
}

pub async fn sweep(db: &Db, storage: &Storage, grace: Duration) -> Result<GcReport> {
    let cutoff = Utc::now() - chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    let mut report = GcReport::default();
    let mut objects = storage.list_images();
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let next = objects.try_next().await?;
        let done = next.is_none();
        if let Some(meta) = next {
            report.scanned += 1;
            // Only objects old enough, and named like ours, are candidates.
            if meta.last_modified < cutoff
                && let Some(key) = StorageKey::parse(meta.location.as_ref())
            {
                batch.push(key);
            }
        }
        if batch.len() >= BATCH || (done && !batch.is_empty()) {
            report.deleted += delete_orphans(db, storage, std::mem::take(&mut batch)).await?;
        }
        if done {
            return Ok(report);
        }
    }
}

async fn delete_orphans(db: &Db, storage: &Storage, keys: Vec<StorageKey>) -> Result<usize> {
    let ids: Vec<ImageId> = keys.iter().map(StorageKey::image_id).collect();
    let mut conn = db.conn().await?;
    let images: HashMap<ImageId, Image> = Image::load_many(&mut conn, &ids)
        .await?
        .into_iter()
        .map(|i| (i.id, i))
        .collect();
    drop(conn);
    let mut deleted = 0;
    for key in keys {
        let live = images
            .get(&key.image_id())
            .is_some_and(|image| key == original_key(image) || key == thumbnail_key(image));
        if !live {
            storage.delete(&key).await?;
            tracing::info!(key = %key.path(), "gc: deleted an orphaned object");
            deleted += 1;
        }
    }
    Ok(deleted)
}
