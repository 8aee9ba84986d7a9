//! AI descriptions of images, run as durable jobs. The image row carries the state
//! (PENDING -> RUNNING -> SUCCEEDED | FAILED); every transition is conditional on the
//! analysis being unfinished, so a job that runs twice changes nothing the second
//! time and the completion event fires exactly once.

use std::time::Instant;

use diesel_async::AsyncConnection as _;
use imagegraph_db::ImageId;

use crate::app::App;
use crate::error::{Error, Result};
use crate::events::{self, Event};
use imagegraph_db::models::ById as _;
use imagegraph_db::models::image::AnalysisStatus;
use imagegraph_db::models::{Image, User};
use imagegraph_jobs::JobError;

/// `analyzeImage`: queues a new analysis (owner or admin). While one is pending or
/// running, it is returned as is: asking twice queues one job.
pub async fn request(app: &App, viewer: &User, image_id: ImageId) -> Result<Image> {
    let max_attempts = app.config.jobs.job_max_attempts;
    let mut conn = app.db.conn().await?;
    let image = conn
        .transaction::<_, Error, _>(async move |conn| {
            let image = Image::find_for_update(conn, image_id)
                .await?
                .ok_or(Error::NotFound("image"))?;
            if !viewer.may_manage(image.owner_id) {
                return Err(Error::forbidden(
                    "only the image's owner or an admin can have it analysed",
                ));
            }
            if matches!(
                image.analysis_status,
                AnalysisStatus::Pending | AnalysisStatus::Running
            ) {
                return Ok(image);
            }
            let image = Image::request_analysis(conn, image_id).await?;
            imagegraph_jobs::enqueue(conn, &AnalyzeImage { image_id }, max_attempts).await?;
            Ok(image)
        })
        .await?;
    Ok(image)
}

super::job!(
    /// The job: describe an image with the vision model.
    AnalyzeImage,
    "analyze_image",
    image_id: ImageId
);

/// The job: describe the image and record the outcome.
pub(crate) async fn run(app: &App, image_id: ImageId) -> Result<(), JobError> {
    let mut conn = app.db.conn().await.map_err(Error::from)?;
    let Some(image) = Image::find(&mut conn, image_id).await? else {
        return Ok(()); // Deleted meanwhile: nothing to describe.
    };
    if !Image::advance_analysis(&mut conn, image_id, AnalysisStatus::Running, None, None).await? {
        return Ok(()); // Already finished by an earlier run.
    }
    Image::set_analysis_model(&mut conn, image_id, app.ai.vision_model()).await?;
    drop(conn);

    let key = crate::use_cases::images::original_key(&image);
    let bytes = match app.storage.get(&key).await {
        Ok(object) => object.bytes().await.map_err(Error::from)?,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(JobError::Permanent("the image's file is missing".into()));
        }
        Err(err) => return Err(Error::from(err).into()),
    };
    let format = crate::use_cases::images::media_format(image.content_type);
    let (bytes, format) = fit_for_vision(app, bytes, format).await?;

    let started = Instant::now();
    let described = app.ai.describe(&bytes, format).await;
    let usage = match &described {
        Ok(description) => description.usage.clone(),
        Err(_) => crate::ai::Usage {
            model: app.ai.vision_model().to_owned(),
            ..Default::default()
        },
    };
    crate::usage::account_ai_call(
        &app.db,
        &app.usage,
        usage.call(
            Some(image.owner_id),
            "ai.describe",
            described.is_ok(),
            started.elapsed(),
        ),
    )
    .await?;
    let description = described?;
    let mut conn = app.db.conn().await.map_err(Error::from)?;

    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        let described = Some((description.text.as_str(), description.tags.as_slice()));
        if Image::advance_analysis(conn, image_id, AnalysisStatus::Succeeded, described, None)
            .await?
        {
            Image::set_analysis_model(conn, image_id, &description.usage.model).await?;
            events::publish(conn, &Event::AnalysisCompleted { image_id }).await?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// Scales the image down for the vision model under the memory budget, so the
/// provider only ever decodes a small image.
async fn fit_for_vision(
    app: &App,
    bytes: bytes::Bytes,
    format: imagegraph_imaging::MediaFormat,
) -> Result<(Vec<u8>, imagegraph_imaging::MediaFormat)> {
    use imagegraph_imaging as imaging;
    let probe = imaging::probe(&bytes, app.config.images.upload_limits())?;
    let needed = imaging::cost::fit_within(&probe, crate::ai::MAX_VISION_SIDE);
    let fitted = app
        .pixels
        .run(needed, move || {
            imaging::fit_within(&bytes, format, crate::ai::MAX_VISION_SIDE)
        })
        .await??;
    Ok(fitted)
}

/// Between attempts the analysis shows as pending again.
pub(crate) async fn retrying(app: &App, image_id: ImageId) -> Result<()> {
    let mut conn = app.db.conn().await?;
    Image::advance_analysis(&mut conn, image_id, AnalysisStatus::Pending, None, None).await?;
    Ok(())
}

/// The job gave up: the analysis fails with a message a user may read.
pub(crate) async fn give_up(app: &App, image_id: ImageId, message: &str) -> Result<()> {
    let mut conn = app.db.conn().await?;
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        if Image::advance_analysis(conn, image_id, AnalysisStatus::Failed, None, Some(message))
            .await?
        {
            events::publish(conn, &Event::AnalysisCompleted { image_id }).await?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_keeps_its_stored_form() {
        let id = ImageId::from_uuid(uuid::Uuid::nil());
        let json = serde_json::to_value(AnalyzeImage { image_id: id }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "imageId": "00000000-0000-0000-0000-000000000000" })
        );
        // Rows queued before jobs were types of their own carry their kind as a tag.
        let old = serde_json::json!({ "kind": "analyze_image", "imageId": id.to_string() });
        assert_eq!(
            serde_json::from_value::<AnalyzeImage>(old).unwrap(),
            AnalyzeImage { image_id: id }
        );
    }
}
