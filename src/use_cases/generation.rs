//! Image generation from a prompt, as a durable job. `generateImage` returns at once
//! with a `Generation` (PENDING); the client follows it by id or with the
//! `generationCompleted` subscription, as it follows an image's analysis.

use std::time::Instant;

use bytes::Bytes;
use chrono::Utc;
use diesel_async::AsyncConnection as _;
use imagegraph_db::GenerationId;

use crate::ai::Shape;
use crate::app::App;
use crate::error::{Error, Result};
use crate::events::{self, Event};
use crate::use_cases::images::{self, NewImage};
use crate::use_cases::quota;
use imagegraph_db::models::ById as _;
use imagegraph_db::models::generation::{GenerationShape, GenerationStatus};
use imagegraph_db::models::image::ImageSource;
use imagegraph_db::models::{Generation, User};
use imagegraph_jobs::JobError;

pub const MAX_PROMPT_CHARS: usize = 4000;

pub async fn request(
    app: &App,
    viewer: &User,
    prompt: &str,
    shape: GenerationShape,
    analyze: bool,
) -> Result<Generation> {
    let prompt = crate::text::clean(prompt, "the prompt", MAX_PROMPT_CHARS)?;
    // Refused before the provider is paid when the image could not be kept anyway.
    if !viewer.is_admin() {
        quota::check_early(app, viewer.id, quota::Addition::IMAGE).await?;
    }
    app.ai.check_can_generate()?;
    let generation = Generation {
        id: GenerationId::new(),
        owner_id: viewer.id,
        prompt: prompt.to_owned(),
        size: shape,
        with_analysis: analyze,
        status: GenerationStatus::Pending,
        model: None,
        error: None,
        image_id: None,
        created_at: Utc::now(),
        completed_at: None,
    };
    let max_attempts = app.config.jobs.job_max_attempts;
    let mut conn = app.db.conn().await?;
    let generation = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            let generation = Generation::insert(conn, &generation).await?;
            imagegraph_jobs::enqueue(
                conn,
                &GenerateImage {
                    generation_id: generation.id,
                },
                max_attempts,
            )
            .await?;
            Ok(generation)
        })
        .await?;
    Ok(generation)
}

fn ai_shape(shape: GenerationShape) -> Shape {
    match shape {
        GenerationShape::Square => Shape::Square,
        GenerationShape::Portrait => Shape::Portrait,
        GenerationShape::Landscape => Shape::Landscape,
    }
}

super::job!(
    /// The job: generate an image from a prompt.
    GenerateImage,
    "generate_image",
    generation_id: GenerationId
);

pub(crate) async fn run(app: &App, generation_id: GenerationId) -> Result<(), JobError> {
    let mut conn = app.db.conn().await.map_err(Error::from)?;
    let Some(generation) = Generation::find(&mut conn, generation_id).await? else {
        return Ok(());
    };
    if !Generation::advance(
        &mut conn,
        generation_id,
        GenerationStatus::Running,
        None,
        None,
    )
    .await?
    {
        return Ok(());
    }
    drop(conn);

    let started = Instant::now();
    let generated = app
        .ai
        .generate(&generation.prompt, ai_shape(generation.size))
        .await;
    let usage = match &generated {
        Ok(g) => g.usage.clone(),
        Err(_) => crate::ai::Usage {
            model: app.config.ai.openai_image_model.clone(),
            ..Default::default()
        },
    };
    crate::usage::account_ai_call(
        &app.db,
        &app.usage,
        usage.call(
            Some(generation.owner_id),
            "ai.generate",
            generated.is_ok(),
            started.elapsed(),
        ),
    )
    .await?;
    let mut conn = app.db.conn().await.map_err(Error::from)?;
    Generation::set_model(&mut conn, generation_id, &usage.model).await?;
    drop(conn);
    let generated = generated?;

    // An unusable image from the provider will not improve on retry.
    let owner = User {
        id: generation.owner_id,
        name: String::new(),
        role: imagegraph_db::models::Role::Member,
        created_at: Utc::now(),
        disabled_at: None,
    };
    let new_image = NewImage {
        source: ImageSource::Generation,
        prompt: Some(generation.prompt.clone()),
        parent_id: None,
        analyze: generation.with_analysis,
        edits: None,
    };
    let finish: images::AfterInsert = Box::new(move |conn, image_id| {
        Box::pin(async move {
            if Generation::advance(
                conn,
                generation_id,
                GenerationStatus::Succeeded,
                None,
                Some(image_id),
            )
            .await?
            {
                events::publish(conn, &Event::GenerationCompleted { generation_id }).await?;
            }
            Ok(())
        })
    });
    match images::store(
        app,
        &owner,
        Bytes::from(generated.bytes),
        new_image,
        Some(finish),
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(
            Error::BadInput(msg) | Error::UnsupportedMediaType(msg) | Error::PayloadTooLarge(msg),
        ) => Err(JobError::Permanent(format!(
            "the AI provider returned an unusable image: {msg}"
        ))),
        Err(err) => Err(err.into()),
    }
}

pub(crate) async fn retrying(app: &App, generation_id: GenerationId) -> Result<()> {
    let mut conn = app.db.conn().await?;
    Generation::advance(
        &mut conn,
        generation_id,
        GenerationStatus::Pending,
        None,
        None,
    )
    .await?;
    Ok(())
}

pub(crate) async fn give_up(app: &App, generation_id: GenerationId, message: &str) -> Result<()> {
    let mut conn = app.db.conn().await?;
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        if Generation::advance(
            conn,
            generation_id,
            GenerationStatus::Failed,
            Some(message),
            None,
        )
        .await?
        {
            events::publish(conn, &Event::GenerationCompleted { generation_id }).await?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}
