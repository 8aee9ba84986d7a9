use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::ai::Usage;
use crate::db::schema::ai_calls;

/// Records one call to an AI provider, successful or not: who, what, which model,
/// how many tokens and how long.
pub async fn record(
    conn: &mut AsyncPgConnection,
    user_id: Option<Uuid>,
    operation: &str,
    usage: &Usage,
    succeeded: bool,
    duration: std::time::Duration,
) -> QueryResult<()> {
    diesel::insert_into(ai_calls::table)
        .values((
            ai_calls::id.eq(Uuid::now_v7()),
            ai_calls::user_id.eq(user_id),
            ai_calls::operation.eq(operation),
            ai_calls::model.eq(&usage.model),
            ai_calls::prompt_tokens.eq(usage.prompt_tokens),
            ai_calls::completion_tokens.eq(usage.completion_tokens),
            ai_calls::succeeded.eq(succeeded),
            ai_calls::duration_ms.eq(i32::try_from(duration.as_millis()).unwrap_or(i32::MAX)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
