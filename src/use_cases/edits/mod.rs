//! Editing images with instructions. One engine for every path: decode once (EXIF
//! orientation applied), run the instructions on a blocking thread (admitted by the
//! memory budget for the peak bytes the whole job declares), encode once. The save mode
//! diverts the result: a new version, the image replaced in place (its previous
//! content kept as a version), or a preview that stores nothing.

use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use chrono::Utc;
use diesel_async::AsyncConnection as _;
use image::DynamicImage;
use imagegraph_db::{ContentId, ImageId};

use crate::ai::ToolSpec;
use crate::app::App;
use crate::error::{Error, Result};
use crate::storage::StorageKey;
use crate::usage::{Kind, Use};
use crate::use_cases::analysis::AnalyzeImage;
use crate::use_cases::images::{self, NewImage, original_key, thumbnail_key};
use crate::use_cases::quota;
use imagegraph_db::models::ById as _;
use imagegraph_db::models::image::{AnalysisStatus, ImageSource};
use imagegraph_db::models::{Image, User};
use imagegraph_imaging::edit::{self, EditInstruction, Fit, wire};
use imagegraph_imaging::{self as imaging, MediaFormat, Prepared, Refusal, cost};

/// Previews are at most this many pixels on their long side.
const PREVIEW_SIDE: u32 = 1024;
const JPEG_QUALITY: u8 = 90;
const PREVIEW_JPEG_QUALITY: u8 = 85;
/// Longest plain-language edit request.
pub const MAX_PROMPT_CHARS: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveMode {
    NewVersion,
    Replace,
    Preview,
}

pub struct EditRequest {
    pub image_id: ImageId,
    pub instructions: Vec<EditInstruction>,
    pub save: SaveMode,
    /// Output format; the original's when unset.
    pub format: Option<MediaFormat>,
    /// Have the result described (not for previews).
    pub analyze: bool,
}

pub struct Edited {
    /// The stored result: the new version, or the replaced image.
    pub image: Option<Image>,
    /// A `data:` URL of a bounded rendering, for PREVIEW.
    pub preview: Option<String>,
    pub instructions: Vec<EditInstruction>,
}

enum Rendered {
    Preview(String),
    Stored { bytes: Bytes, prepared: Prepared },
}

#[tracing::instrument(name = "edit", skip_all, fields(image = %request.image_id, instructions = request.instructions.len()))]
pub async fn edit(app: &App, viewer: &User, request: EditRequest) -> Result<Edited> {
    let mut conn = app.db.conn().await?;
    let image = Image::find(&mut conn, request.image_id)
        .await?
        .ok_or(Error::NotFound("image"))?;
    drop(conn);
    if request.save == SaveMode::Replace && !viewer.may_manage(image.owner_id) {
        return Err(Error::forbidden(
            "only the image's owner or an admin can replace it",
        ));
    }
    edit::validate(
        &request.instructions,
        image.width as u32,
        image.height as u32,
        app.config.images.max_image_pixels,
    )
    .map_err(|invalid| Error::bad_input(invalid.to_string()))?;
    // A saved edit adds one image to the owner's holdings (a replace keeps the old
    // content as a version); refused before any pixel work when already over.
    if request.save != SaveMode::Preview && !viewer.is_admin() {
        let owner = match request.save {
            SaveMode::Replace => image.owner_id,
            _ => viewer.id,
        };
        quota::check_early(app, owner, quota::Addition::IMAGE).await?;
    }

    let original = match app.storage.get(&original_key(&image)).await {
        Ok(object) => object.bytes().await?,
        Err(object_store::Error::NotFound { .. }) => return Err(Error::NotFound("image file")),
        Err(err) => return Err(err.into()),
    };
    let source_format = images::media_format(image.content_type);
    let format = request.format.unwrap_or(source_format);
    let limits = app.config.images.upload_limits();
    let max_bytes = limits.max_bytes;
    let instructions = request.instructions.clone();
    let save = request.save;
    let output = if save == SaveMode::Preview {
        cost::Output::Preview {
            max_side: PREVIEW_SIDE,
        }
    } else {
        cost::Output::Stored
    };
    let probe = imaging::probe(&original, limits)?;
    let needed =
        cost::edit_job(&probe, &instructions, output).saturating_add(original.len() as u64);
    // Shrink-on-load: a JPEG decoded only as large as the edit's result needs.
    let preview_side = (save == SaveMode::Preview).then_some(PREVIEW_SIDE);
    let shrink = edit::shrink_on_load(probe.width, probe.height, &instructions, preview_side);
    let full_size = edit::output_size(probe.width, probe.height, &instructions);
    // Rotations, flips and crops of a JPEG kept as JPEG: tried losslessly first;
    // brightness and saturation of one: streamed in strips (the same bytes as the
    // decode path, a few strips in memory, decoding beside encoding).
    let jpeg_to_jpeg = save != SaveMode::Preview
        && source_format == MediaFormat::Jpeg
        && format == MediaFormat::Jpeg;

    let (rendered, timings) = app
        .pixels
        .run(
            needed,
            move || -> Result<(Rendered, Vec<(&'static str, Duration)>)> {
                // What libjpeg-turbo already said of the original, so the decode
                // path does not have it report a warning a second time.
                let mut refusal = Refusal::Declined;
                if jpeg_to_jpeg {
                    let started = Instant::now();
                    let done = match imaging::lossless_edit(&original, limits, &instructions)? {
                        Some(done) => Some(done),
                        None => match imaging::stream_edit(
                            &original,
                            limits,
                            &instructions,
                            JPEG_QUALITY,
                        )? {
                            Ok(done) => Some(done),
                            Err(why) => {
                                refusal = why;
                                None
                            }
                        },
                    };
                    if let Some((bytes, prepared)) = done {
                        check_size(bytes.len(), max_bytes)?;
                        // One pass did every instruction: each is charged its share.
                        let share = started.elapsed() / instructions.len().max(1) as u32;
                        let timings = instructions
                            .iter()
                            .map(|instruction| (wire::operation_name(instruction), share))
                            .collect();
                        let bytes = Bytes::from(bytes);
                        return Ok((Rendered::Stored { bytes, prepared }, timings));
                    }
                }
                let (run, (min_width, min_height)) = match shrink {
                    Some(plan) => (plan.instructions, (plan.min_width, plan.min_height)),
                    None => (instructions.clone(), (u32::MAX, u32::MAX)),
                };
                let (_, mut pixels) =
                    imaging::decode_after(&original, limits, min_width, min_height, refusal)?;
                drop(original);
                let mut timings = Vec::with_capacity(instructions.len());
                for (instruction, asked) in run.iter().zip(&instructions) {
                    let started = Instant::now();
                    pixels = edit::apply(pixels, std::slice::from_ref(instruction))?;
                    timings.push((wire::operation_name(asked), started.elapsed()));
                }
                let rendered = if save == SaveMode::Preview {
                    Rendered::Preview(preview(pixels, full_size)?)
                } else {
                    stored(&pixels, format, max_bytes)?
                };
                Ok((rendered, timings))
            },
        )
        .await??;
    for (operation, duration) in timings {
        app.usage.record(Use::new(
            Kind::Function,
            format!("image.edit.{operation}"),
            Some(viewer.id),
            duration,
            false,
        ));
    }

    let json = wire::to_json(&request.instructions);
    let image = match rendered {
        Rendered::Preview(data_url) => {
            return Ok(Edited {
                image: None,
                preview: Some(data_url),
                instructions: request.instructions,
            });
        }
        Rendered::Stored { bytes, prepared } => match request.save {
            SaveMode::Replace => {
                let exempt = viewer.is_admin();
                replace(app, &image, bytes, prepared, json, request.analyze, exempt).await?
            }
            _ => {
                let new = NewImage {
                    source: ImageSource::Edit,
                    prompt: None,
                    parent_id: Some(image.id),
                    analyze: request.analyze,
                    edits: Some(json),
                };
                images::store_prepared(app, viewer, bytes, prepared, new, None).await?
            }
        },
    };
    Ok(Edited {
        image: Some(image),
        preview: None,
        instructions: request.instructions,
    })
}

/// Plans instructions from a plain-language prompt with the planner model, checks
/// them like user input, then edits as `edit` does.
#[tracing::instrument(name = "edit_with_prompt", skip_all, fields(image = %image_id))]
pub async fn edit_with_prompt(
    app: &App,
    viewer: &User,
    image_id: ImageId,
    prompt: &str,
    save: SaveMode,
    format: Option<MediaFormat>,
    analyze: bool,
) -> Result<Edited> {
    let prompt = crate::text::clean(prompt, "the prompt", MAX_PROMPT_CHARS)?;
    let mut conn = app.db.conn().await?;
    let image = Image::find(&mut conn, image_id)
        .await?
        .ok_or(Error::NotFound("image"))?;
    drop(conn);
    let instructions_text = format!(
        "You edit images by calling apply_edits. The image is {}x{} pixels ({}). Use as few instructions as the request \
         needs; factors are multipliers where 1 leaves the image unchanged. Crops must stay inside the image.",
        image.width, image.height, image.content_type
    );
    let tool = ToolSpec {
        name: "apply_edits",
        description: "Apply these edits to the image, in order.",
        schema: wire::planner_schema(),
    };
    let started = Instant::now();
    let planned = app.ai.plan(&instructions_text, prompt, &tool).await;
    let usage = match &planned {
        Ok(plan) => plan.usage.clone(),
        Err(_) => crate::ai::Usage {
            model: app.config.ai.openai_planner_model.clone(),
            ..Default::default()
        },
    };
    crate::usage::account_ai_call(
        &app.db,
        &app.usage,
        usage.call(
            Some(viewer.id),
            "ai.plan_edits",
            planned.is_ok(),
            started.elapsed(),
        ),
    )
    .await?;
    let plan = planned?;
    let instructions = wire::from_json(&plan.arguments["instructions"])
        .map_err(|e| Error::AiProvider(format!("the model planned unusable instructions: {e}")))?;
    if instructions.is_empty() {
        return Err(Error::AiProvider(
            "the model planned no edits for this prompt".into(),
        ));
    }
    edit::validate(
        &instructions,
        image.width as u32,
        image.height as u32,
        app.config.images.max_image_pixels,
    )
    .map_err(|invalid| {
        Error::AiProvider(format!("the model planned invalid instructions: {invalid}"))
    })?;
    edit(
        app,
        viewer,
        EditRequest {
            image_id,
            instructions,
            save,
            format,
            analyze,
        },
    )
    .await
}

/// The result encoded and thumbnailed; refused when larger than an upload may be,
/// as it would be stored like one.
fn stored(pixels: &DynamicImage, format: MediaFormat, max_bytes: usize) -> Result<Rendered> {
    let bytes = imaging::encode(pixels, format, JPEG_QUALITY)?;
    check_size(bytes.len(), max_bytes)?;
    let (thumbnail, thumbnail_format) = imaging::render_thumbnail(pixels)?;
    let prepared = Prepared {
        format,
        width: pixels.width(),
        height: pixels.height(),
        thumbnail,
        thumbnail_format,
        reencoded: None,
    };
    Ok(Rendered::Stored {
        bytes: Bytes::from(bytes),
        prepared,
    })
}

/// A result stored like an upload may be no larger than one.
fn check_size(len: usize, max_bytes: usize) -> Result<()> {
    if len > max_bytes {
        return Err(Error::PayloadTooLarge(format!(
            "the edited image would be {len} bytes; the limit is {max_bytes} bytes"
        )));
    }
    Ok(())
}

/// The preview of a result the full decode would make `full_size`: fitted in
/// `PREVIEW_SIDE`, sized from `full_size` even when the edit started from a smaller
/// decode (shrink-on-load), so the preview's size never depends on it.
fn preview(pixels: DynamicImage, (full_w, full_h): (u32, u32)) -> Result<String> {
    let (width, height) = if full_w.max(full_h) > PREVIEW_SIDE {
        // The engine's own Contain plan: the size fitting the box has always had.
        let fit = EditInstruction::Resize {
            width: Some(PREVIEW_SIDE),
            height: Some(PREVIEW_SIDE),
            fit: Fit::Contain,
        };
        edit::output_size(full_w, full_h, &[fit])
    } else {
        (full_w, full_h)
    };
    let small = if (pixels.width(), pixels.height()) == (width, height) {
        pixels
    } else {
        let exact = EditInstruction::Resize {
            width: Some(width),
            height: Some(height),
            fit: Fit::Fill,
        };
        edit::apply(pixels, &[exact])?
    };
    let format = if small.color().has_alpha() {
        MediaFormat::Png
    } else {
        MediaFormat::Jpeg
    };
    let bytes = imaging::encode(&small, format, PREVIEW_JPEG_QUALITY)?;
    Ok(format!(
        "data:{};base64,{}",
        format.content_type(),
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// Replaces an image's content in place, keeping the previous content as a version:
/// objects are written (and the old ones copied) first; one transaction then adds the
/// version row and points the image at its new content, provided nobody else replaced
/// it meanwhile; the old objects go last.
async fn replace(
    app: &App,
    image: &Image,
    bytes: Bytes,
    prepared: Prepared,
    edits: serde_json::Value,
    analyze: bool,
    quota_exempt: bool,
) -> Result<Image> {
    let now = Utc::now();
    let mut updated = image.clone();
    updated.content_id = ContentId::new();
    updated.content_type = images::content_type(prepared.format);
    updated.width = prepared.width as i32;
    updated.height = prepared.height as i32;
    updated.byte_size = bytes.len() as i64;
    updated.thumbnail_content_type = images::content_type(prepared.thumbnail_format);
    updated.edited_at = now;
    updated.edits = Some(edits);
    updated.description = None;
    updated.tags = Vec::new();
    updated.analysis_model = None;
    updated.analysis_error = None;
    updated.analysis_completed_at = None;
    updated.analysis_status = if analyze {
        AnalysisStatus::Pending
    } else {
        AnalysisStatus::NotRequested
    };
    updated.analysis_requested_at = analyze.then_some(now);

    // The previous content, as it was, under a version of its own.
    let version = Image {
        id: ImageId::new(),
        content_id: ContentId::new(),
        parent_id: Some(image.id),
        kept_from: Some(image.id),
        created_at: now,
        ..image.clone()
    };

    let new_keys = [original_key(&updated), thumbnail_key(&updated)];
    let copies = [
        (original_key(image), original_key(&version)),
        (thumbnail_key(image), thumbnail_key(&version)),
    ];
    let written = async {
        app.storage.put(&new_keys[0], bytes).await?;
        app.storage
            .put(&new_keys[1], Bytes::from(prepared.thumbnail))
            .await?;
        for (from, to) in &copies {
            app.storage.copy(from, to).await?;
        }
        Ok::<_, object_store::Error>(())
    }
    .await;
    let written_keys: Vec<StorageKey> = new_keys
        .iter()
        .copied()
        .chain(copies.iter().map(|(_, to)| *to))
        .collect();
    if let Err(err) = written {
        images::remove_objects(app, &written_keys).await;
        return Err(err.into());
    }

    let max_attempts = app.config.jobs.job_max_attempts;
    let previous_content = image.content_id;
    let quotas = &app.config.quotas;
    let committed = async {
        let mut conn = app.db.conn().await?;
        let (version, updated) = (version, updated);
        conn.transaction::<_, Error, _>(async move |conn| {
            if !quota_exempt {
                // The kept version stays; the new content comes on top of it.
                let addition = quota::Addition {
                    images: 1,
                    bytes: updated.byte_size as u64,
                };
                quota::check(conn, quotas, updated.owner_id, addition, true).await?;
            }
            Image::insert(conn, &version).await?;
            let replaced = Image::replace_content(conn, &updated, previous_content).await?.ok_or_else(|| {
                Error::bad_input("the image was changed by someone else while it was being edited; try again")
            })?;
            if analyze {
                imagegraph_jobs::enqueue(conn, &AnalyzeImage { image_id: replaced.id }, max_attempts).await?;
            }
            Ok(replaced)
        })
        .await
    }
    .await;
    match committed {
        Ok(replaced) => {
            images::remove_objects(app, &[original_key(image), thumbnail_key(image)]).await;
            Ok(replaced)
        }
        Err(err) => {
            images::remove_objects(app, &written_keys).await;
            Err(err)
        }
    }
}
