//! The log of calls to AI providers: who, what, which model, how many tokens.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::ids::{AiCallId, UserId};
use crate::schema::ai_calls;

/// One call to an AI provider, successful or not.
#[derive(Debug, Clone, Copy)]
pub struct AiCall<'a> {
    /// Who caused it; `None` for the service's own work.
    pub user_id: Option<UserId>,
    /// What it was for: `describe`, `generate`, `plan_edit`.
    pub operation: &'a str,
    /// The model that answered.
    pub model: &'a str,
    /// Tokens in the request, as the provider counted them.
    pub prompt_tokens: i32,
    /// Tokens in the answer.
    pub completion_tokens: i32,
    /// Whether the provider answered usefully.
    pub succeeded: bool,
    /// How long the call took.
    pub duration: std::time::Duration,
}

/// Records one call.
pub async fn record(conn: &mut AsyncPgConnection, call: AiCall<'_>) -> QueryResult<()> {
    diesel::insert_into(ai_calls::table)
        .values((
            ai_calls::id.eq(AiCallId::new()),
            ai_calls::user_id.eq(call.user_id),
            ai_calls::operation.eq(call.operation),
            ai_calls::model.eq(call.model),
            ai_calls::prompt_tokens.eq(call.prompt_tokens),
            ai_calls::completion_tokens.eq(call.completion_tokens),
            ai_calls::succeeded.eq(call.succeeded),
            ai_calls::duration_ms.eq(i32::try_from(call.duration.as_millis()).unwrap_or(i32::MAX)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
