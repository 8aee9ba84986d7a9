//! AI providers behind one interface: describe an image, generate one from a prompt.
//! `OpenAi` speaks to OpenAI or any OpenAI-compatible server; `Offline` describes
//! images from their pixels when neither a key nor a base URL is configured.

mod offline;
mod openai;

use std::time::Duration;
use tracing::Instrument as _;

pub use offline::Offline;
pub use openai::{MAX_VISION_SIDE, OpenAi, OpenAiSettings};

use imagegraph_imaging::MediaFormat;
use imagegraph_jobs::JobError;

/// The model and tokens a call consumed, recorded for every call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub model: String,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
}

impl Usage {
    /// This usage as an entry of the AI call log.
    pub fn call<'a>(
        &'a self,
        user_id: Option<imagegraph_db::UserId>,
        operation: &'a str,
        succeeded: bool,
        duration: Duration,
    ) -> imagegraph_db::models::ai_call::AiCall<'a> {
        imagegraph_db::models::ai_call::AiCall {
            user_id,
            operation,
            model: &self.model,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            succeeded,
            duration,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Description {
    pub text: String,
    /// Normalised keywords (`text::tags`); empty from a server that answers only in
    /// plain text.
    pub tags: Vec<String>,
    pub usage: Usage,
}

#[derive(Debug, Clone)]
pub struct Generated {
    pub bytes: Vec<u8>,
    pub usage: Usage,
}

/// A function the planner model must call, described by a JSON schema.
#[derive(Debug, Clone)]
pub struct ToolSpec<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub schema: serde_json::Value,
}

/// The arguments the planner passed to the tool, unvalidated.
#[derive(Debug, Clone)]
pub struct Plan {
    pub arguments: serde_json::Value,
    pub usage: Usage,
}

/// Shapes a generated image can take; the pixel size depends on the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Square,
    Portrait,
    Landscape,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AiError {
    /// 429: retry, no sooner than the provider asked.
    RateLimited { retry_after: Option<Duration> },
    /// 5xx or a network failure: retry.
    Unavailable(String),
    /// No answer within the timeout: retry.
    Timeout,
    /// 4xx, including content policy refusals: retrying would not help. The message
    /// is the provider's own.
    Rejected(String),
    /// An answer we cannot use (malformed body, no content).
    BadResponse(String),
    /// This deployment has no provider able to do it.
    NotConfigured(&'static str),
}

impl AiError {
    /// Words safe to show a user.
    pub fn user_message(&self) -> String {
        match self {
            Self::RateLimited { .. } => "the AI provider is rate limiting requests".to_owned(),
            Self::Unavailable(detail) => format!("the AI provider is unavailable ({detail})"),
            Self::Timeout => "the AI provider did not answer in time".to_owned(),
            Self::Rejected(message) => format!("the AI provider refused the request: {message}"),
            Self::BadResponse(detail) => {
                format!("the AI provider sent an unusable answer ({detail})")
            }
            Self::NotConfigured(feature) => {
                crate::error::Error::AiNotConfigured { feature }.public_message()
            }
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Unavailable(_) | Self::Timeout
        )
    }
}

impl From<AiError> for crate::error::Error {
    fn from(err: AiError) -> Self {
        match err {
            AiError::NotConfigured(feature) => Self::AiNotConfigured { feature },
            err => Self::AiProvider(err.user_message()),
        }
    }
}

impl From<AiError> for JobError {
    fn from(err: AiError) -> Self {
        let message = err.user_message();
        match err {
            AiError::RateLimited { retry_after } => JobError::Retry {
                message,
                after: retry_after,
            },
            AiError::Unavailable(_) | AiError::Timeout => JobError::Retry {
                message,
                after: None,
            },
            AiError::Rejected(_) | AiError::BadResponse(_) | AiError::NotConfigured(_) => {
                JobError::Permanent(message)
            }
        }
    }
}

#[derive(Clone)]
pub enum Provider {
    OpenAi(std::sync::Arc<OpenAi>),
    Offline(Offline),
}

impl Provider {
    pub fn from_settings(settings: Option<OpenAiSettings>) -> anyhow::Result<Self> {
        Ok(match settings {
            Some(settings) => Self::OpenAi(std::sync::Arc::new(OpenAi::new(settings)?)),
            None => Self::Offline(Offline),
        })
    }

    /// The model that describes images, as recorded on them.
    pub fn vision_model(&self) -> &str {
        match self {
            Self::OpenAi(p) => p.vision_model(),
            Self::Offline(_) => offline::MODEL,
        }
    }

    pub async fn describe(
        &self,
        image: &[u8],
        format: MediaFormat,
    ) -> Result<Description, AiError> {
        let span = call_span("ai.describe", self.vision_model());
        let described = match self {
            Self::OpenAi(p) => p.describe(image, format).instrument(span.clone()).await,
            Self::Offline(p) => p.describe(image).instrument(span.clone()).await,
        };
        record_outcome(&span, described.as_ref().map(|d| &d.usage));
        described
    }

    /// Fails at once when generation cannot work here, so a request is refused
    /// rather than queued to fail.
    pub fn check_can_generate(&self) -> Result<(), AiError> {
        match self {
            Self::OpenAi(_) => Ok(()),
            Self::Offline(_) => Err(AiError::NotConfigured("image generation")),
        }
    }

    /// Structured planning by tool calling (the offline provider cannot plan).
    pub async fn plan(
        &self,
        instructions: &str,
        prompt: &str,
        tool: &ToolSpec<'_>,
    ) -> Result<Plan, AiError> {
        let span = call_span("ai.plan", "");
        let planned = match self {
            Self::OpenAi(p) => {
                p.plan(instructions, prompt, tool)
                    .instrument(span.clone())
                    .await
            }
            Self::Offline(_) => Err(AiError::NotConfigured("planning edits from a prompt")),
        };
        record_outcome(&span, planned.as_ref().map(|p| &p.usage));
        planned
    }

    pub async fn generate(&self, prompt: &str, shape: Shape) -> Result<Generated, AiError> {
        let span = call_span("ai.generate", "");
        let generated = match self {
            Self::OpenAi(p) => p.generate(prompt, shape).instrument(span.clone()).await,
            Self::Offline(_) => Err(AiError::NotConfigured("image generation")),
        };
        record_outcome(&span, generated.as_ref().map(|g| &g.usage));
        generated
    }
}

/// A span for one call to the provider: the model (when known before the answer),
/// then the model that answered, its tokens and the outcome. Never the prompt.
fn call_span(name: &'static str, model: &str) -> tracing::Span {
    let span = match name {
        "ai.describe" => tracing::info_span!(
            "ai.describe",
            gen_ai.request.model = tracing::field::Empty,
            gen_ai.response.model = tracing::field::Empty,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
            outcome = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        ),
        "ai.plan" => tracing::info_span!(
            "ai.plan",
            gen_ai.request.model = tracing::field::Empty,
            gen_ai.response.model = tracing::field::Empty,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
            outcome = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        ),
        _ => tracing::info_span!(
            "ai.generate",
            gen_ai.request.model = tracing::field::Empty,
            gen_ai.response.model = tracing::field::Empty,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
            outcome = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        ),
    };
    if !model.is_empty() {
        span.record("gen_ai.request.model", model);
    }
    span
}

fn record_outcome(span: &tracing::Span, result: Result<&Usage, &AiError>) {
    match result {
        Ok(usage) => {
            span.record("gen_ai.response.model", usage.model.as_str());
            span.record("gen_ai.usage.input_tokens", usage.prompt_tokens);
            span.record("gen_ai.usage.output_tokens", usage.completion_tokens);
            span.record("outcome", "ok");
        }
        Err(_) => {
            span.record("outcome", "error");
            span.record("otel.status_code", "ERROR");
        }
    }
}
