use async_graphql::{ID, InputObject, SimpleObject, Upload};
use imagegraph_db::{CommentId, ImageId};

use super::GenerationShape;
use super::{Comment, Generation, Image};

#[derive(InputObject)]
pub(crate) struct UploadImageInput {
    /// A file sent with the GraphQL multipart request spec.
    pub file: Option<Upload>,
    /// The image as base64, bare or as a `data:image/<type>;base64,` URI.
    pub base64: Option<String>,
    /// Have an AI model describe the image in the background.
    #[graphql(default = true)]
    pub analyze: bool,
}

#[derive(SimpleObject)]
pub(crate) struct UploadImagePayload {
    pub image: Image,
}

#[derive(InputObject)]
pub(crate) struct DeleteImageInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub(crate) struct DeleteImagePayload {
    pub deleted_image_id: ImageId,
}

#[derive(InputObject)]
pub(crate) struct AddCommentInput {
    pub image_id: ID,
    /// 1 to 5000 characters after trimming.
    pub text: String,
}

#[derive(SimpleObject)]
pub(crate) struct AddCommentPayload {
    pub comment: Comment,
}

#[derive(InputObject)]
pub(crate) struct UpdateCommentInput {
    pub id: ID,
    pub text: String,
}

#[derive(SimpleObject)]
pub(crate) struct UpdateCommentPayload {
    pub comment: Comment,
}

#[derive(InputObject)]
pub(crate) struct DeleteCommentInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub(crate) struct DeleteCommentPayload {
    pub deleted_comment_id: CommentId,
}

#[derive(InputObject)]
pub(crate) struct AnalyzeImageInput {
    pub image_id: ID,
}

#[derive(SimpleObject)]
pub(crate) struct AnalyzeImagePayload {
    /// The image, its analysis pending (or already under way).
    pub image: Image,
}

#[derive(InputObject)]
pub(crate) struct GenerateImageInput {
    /// What to draw; 1 to 4000 characters.
    pub prompt: String,
    #[graphql(default_with = "GenerationShape::Square")]
    pub size: GenerationShape,
    /// Have the generated image described, as uploads are.
    #[graphql(default = true)]
    pub analyze: bool,
}

#[derive(SimpleObject)]
pub(crate) struct GenerateImagePayload {
    /// Follow it with `generation(id:)` or the `generationCompleted` subscription.
    pub generation: Generation,
}
