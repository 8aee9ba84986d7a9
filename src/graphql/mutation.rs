use std::io::Read as _;

use async_graphql::{Context, Object};

use super::types::*;
use super::{ContextExt as _, parse_id};
use crate::error::{Error, Result};
use crate::use_cases::{analysis, benchmark, comments, edits, generation, images};

#[derive(Default)]
pub struct Mutation;

#[Object(name = "CoreMutation")]
impl Mutation {
    /// Stores an image sent as a multipart file or as base64. JPEG, PNG, WebP and GIF
    /// are accepted; the format is recognised from the bytes.
    async fn upload_image(
        &self,
        ctx: &Context<'_>,
        input: UploadImageInput,
    ) -> Result<UploadImagePayload> {
        let viewer = ctx.viewer()?;
        ctx.app().limits.uploads.take(viewer.id)?;
        if input.analyze {
            charge_costly(ctx, viewer)?;
        }
        let app = ctx.app();
        let max_bytes = app.config.images.max_upload_bytes;
        let bytes = match (input.file, input.base64) {
            (Some(file), None) => {
                let upload = file
                    .value(ctx)
                    .map_err(|_| Error::bad_input("the file part of the upload is missing"))?;
                if upload.size().unwrap_or(0) as usize > max_bytes {
                    return Err(Error::PayloadTooLarge(format!(
                        "the image is larger than {max_bytes} bytes"
                    )));
                }
                tokio::task::spawn_blocking(move || {
                    let mut bytes = Vec::new();
                    upload
                        .into_read()
                        .take(max_bytes as u64 + 1)
                        .read_to_end(&mut bytes)
                        .map(|_| bytes)
                })
                .await?
                .map_err(Error::internal)?
            }
            (None, Some(base64)) => images::decode_base64(&base64, max_bytes)?,
            (Some(_), Some(_)) => {
                return Err(Error::bad_input("pass either `file` or `base64`, not both"));
            }
            (None, None) => {
                return Err(Error::bad_input("pass the image as `file` or `base64`"));
            }
        };
        let image = app
            .usage
            .function(
                "image.upload",
                Some(viewer.id),
                images::upload(app, viewer, bytes, input.analyze),
            )
            .await?;
        Ok(UploadImagePayload {
            image: image.into(),
        })
    }

    /// Queues a new AI description of an image (owner or admin). While one is pending
    /// or running this changes nothing and returns the image as it is.
    async fn analyze_image(
        &self,
        ctx: &Context<'_>,
        input: AnalyzeImageInput,
    ) -> Result<AnalyzeImagePayload> {
        let viewer = ctx.viewer()?;
        charge_costly(ctx, viewer)?;
        let image = ctx
            .app()
            .usage
            .function(
                "image.analyze",
                Some(viewer.id),
                analysis::request(ctx.app(), viewer, parse_id(&input.image_id)?),
            )
            .await?;
        Ok(AnalyzeImagePayload {
            image: image.into(),
        })
    }

    /// Queues the generation of an image from a prompt and returns at once; the
    /// generation's status follows the job.
    async fn generate_image(
        &self,
        ctx: &Context<'_>,
        input: GenerateImageInput,
    ) -> Result<GenerateImagePayload> {
        let viewer = ctx.viewer()?;
        charge_costly(ctx, viewer)?;
        let request = generation::request(
            ctx.app(),
            viewer,
            &input.prompt,
            input.size.into(),
            input.analyze,
        );
        let generation = ctx
            .app()
            .usage
            .function("image.generate", Some(viewer.id), request)
            .await?;
        Ok(GenerateImagePayload {
            generation: generation.into(),
        })
    }

    /// Queues an HPL benchmark run on the node (one run at a time per node).
    async fn run_benchmark(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] input: RunBenchmarkInput,
    ) -> Result<RunBenchmarkPayload> {
        let viewer = ctx.viewer()?;
        charge_costly(ctx, viewer)?;
        let request = benchmark::RunRequest {
            n: input.n,
            block_size: input.block_size,
            threads: input.threads,
            seed: input.seed,
        };
        let run = ctx
            .app()
            .usage
            .function(
                "benchmark.request",
                Some(viewer.id),
                benchmark::request(ctx.app(), viewer, request),
            )
            .await?;
        Ok(RunBenchmarkPayload { run: run.into() })
    }

    /// Edits an image with instructions, saved as a new version, in place, or previewed.
    async fn edit_image(
        &self,
        ctx: &Context<'_>,
        input: EditImageInput,
    ) -> Result<EditImagePayload> {
        let viewer = ctx.viewer()?;
        if input
            .instructions
            .iter()
            .any(|i| matches!(i, EditInstructionInput::Grayscale(false)))
        {
            return Err(Error::bad_input("`grayscale` takes `true`"));
        }
        ctx.app().limits.edits.take(viewer.id)?;
        let save: edits::SaveMode = input.save.into();
        if input.analyze && save != edits::SaveMode::Preview {
            charge_costly(ctx, viewer)?;
        }
        let request = edits::EditRequest {
            image_id: parse_id(&input.image_id)?,
            instructions: input.instructions.into_iter().map(instruction).collect(),
            save,
            format: input.format.map(Into::into),
            analyze: input.analyze,
        };
        let edited = ctx
            .app()
            .usage
            .function(
                "image.edit",
                Some(viewer.id),
                edits::edit(ctx.app(), viewer, request),
            )
            .await?;
        Ok(payload(edited))
    }

    /// Edits an image as a plain-language prompt asks: a GPT model plans the
    /// instructions (returned in the payload), which are checked before they run.
    async fn edit_image_with_prompt(
        &self,
        ctx: &Context<'_>,
        input: EditImageWithPromptInput,
    ) -> Result<EditImagePayload> {
        let viewer = ctx.viewer()?;
        ctx.app().limits.edits.take(viewer.id)?;
        charge_costly(ctx, viewer)?;
        let work = edits::edit_with_prompt(
            ctx.app(),
            viewer,
            parse_id(&input.image_id)?,
            &input.prompt,
            input.save.into(),
            input.format.map(Into::into),
            input.analyze,
        );
        let edited = ctx
            .app()
            .usage
            .function("image.edit_with_prompt", Some(viewer.id), work)
            .await?;
        Ok(payload(edited))
    }

    /// Deletes an image, its comments and its files (owner or admin).
    async fn delete_image(
        &self,
        ctx: &Context<'_>,
        input: DeleteImageInput,
    ) -> Result<DeleteImagePayload> {
        let viewer = ctx.viewer()?;
        let id = ctx
            .app()
            .usage
            .function(
                "image.delete",
                Some(viewer.id),
                images::delete(ctx.app(), viewer, parse_id(&input.id)?),
            )
            .await?;
        Ok(DeleteImagePayload {
            deleted_image_id: id,
        })
    }

    async fn add_comment(
        &self,
        ctx: &Context<'_>,
        input: AddCommentInput,
    ) -> Result<AddCommentPayload> {
        let viewer = ctx.viewer()?;
        ctx.app().limits.comments.take(viewer.id)?;
        let image_id = parse_id(&input.image_id)?;
        let comment = ctx
            .app()
            .usage
            .function(
                "comment.add",
                Some(viewer.id),
                comments::add(&ctx.app().db, viewer, image_id, &input.text),
            )
            .await?;
        Ok(AddCommentPayload {
            comment: comment.into(),
        })
    }

    /// Changes a comment's text (author or admin).
    async fn update_comment(
        &self,
        ctx: &Context<'_>,
        input: UpdateCommentInput,
    ) -> Result<UpdateCommentPayload> {
        let viewer = ctx.viewer()?;
        ctx.app().limits.comments.take(viewer.id)?;
        let comment = ctx
            .app()
            .usage
            .function(
                "comment.update",
                Some(viewer.id),
                comments::update(&ctx.app().db, viewer, parse_id(&input.id)?, &input.text),
            )
            .await?;
        Ok(UpdateCommentPayload {
            comment: comment.into(),
        })
    }

    /// Deletes a comment (author or admin).
    async fn delete_comment(
        &self,
        ctx: &Context<'_>,
        input: DeleteCommentInput,
    ) -> Result<DeleteCommentPayload> {
        let viewer = ctx.viewer()?;
        let id = ctx
            .app()
            .usage
            .function(
                "comment.delete",
                Some(viewer.id),
                comments::delete(&ctx.app().db, viewer, parse_id(&input.id)?),
            )
            .await?;
        Ok(DeleteCommentPayload {
            deleted_comment_id: id,
        })
    }
}

fn payload(edited: edits::Edited) -> EditImagePayload {
    EditImagePayload {
        image: edited.image.map(Image::from),
        preview: edited.preview,
        instructions: async_graphql::Json(imagegraph_imaging::edit::wire::to_json(
            &edited.instructions,
        )),
    }
}

/// Takes one of the viewer's tokens for mutations that call the AI provider or run the
/// benchmark: those cost money or the node's cores, so a user gets a burst and a rate.
fn charge_costly(ctx: &Context<'_>, viewer: &imagegraph_db::models::User) -> Result<(), Error> {
    ctx.app().limits.costly.take(viewer.id)
}
