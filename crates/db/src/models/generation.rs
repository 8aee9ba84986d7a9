use crate::ids::{GenerationId, ImageId, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::schema::generations;
use crate::text_enum::text_enum;

text_enum! {
    /// The shape asked for; the pixel size depends on the model.
    pub enum GenerationShape { Square => "SQUARE", Portrait => "PORTRAIT", Landscape => "LANDSCAPE" }
}

text_enum! {
    pub enum GenerationStatus { Pending => "PENDING", Running => "RUNNING", Succeeded => "SUCCEEDED", Failed => "FAILED" }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = generations)]
pub struct Generation {
    pub id: GenerationId,
    pub owner_id: UserId,
    pub prompt: String,
    pub size: GenerationShape,
    pub with_analysis: bool,
    pub status: GenerationStatus,
    pub model: Option<String>,
    pub error: Option<String>,
    pub image_id: Option<ImageId>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl Generation {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        generation: &Generation,
    ) -> QueryResult<Generation> {
        diesel::insert_into(generations::table)
            .values(generation)
            .returning(Generation::as_returning())
            .get_result(conn)
            .await
    }

    /// Moves an unfinished generation to `status`; false when it had already finished,
    /// which makes the job that calls this idempotent.
    pub async fn advance(
        conn: &mut AsyncPgConnection,
        id: GenerationId,
        status: GenerationStatus,
        error: Option<&str>,
        image_id: Option<ImageId>,
    ) -> QueryResult<bool> {
        let finished = matches!(
            status,
            GenerationStatus::Succeeded | GenerationStatus::Failed
        );
        let n = diesel::update(generations::table.find(id).filter(
            generations::status.eq_any([GenerationStatus::Pending, GenerationStatus::Running]),
        ))
        .set((
            generations::status.eq(status),
            generations::error.eq(error),
            generations::image_id.eq(image_id),
            generations::completed_at.eq(finished.then(Utc::now)),
        ))
        .execute(conn)
        .await?;
        Ok(n == 1)
    }

    pub async fn set_model(
        conn: &mut AsyncPgConnection,
        id: GenerationId,
        model: &str,
    ) -> QueryResult<()> {
        diesel::update(generations::table.find(id))
            .set(generations::model.eq(model))
            .execute(conn)
            .await?;
        Ok(())
    }
}

super::by_id!(Generation, generations, GenerationId);
