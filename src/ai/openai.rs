//! OpenAI and OpenAI-compatible servers. Requests and responses use openai-api-rs's
//! types; they travel over one shared reqwest client of ours, because the crate's own
//! client is rebuilt per call, drops status codes and headers (so no Retry-After), and
//! cannot parse `b64_json` image answers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openai_api_rs::v1::chat_completion::chat_completion::{
    ChatCompletionRequest, ChatCompletionResponse,
};
use openai_api_rs::v1::chat_completion::{
    ChatCompletionMessage, Content, ContentType, ImageUrl, ImageUrlType, MessageRole,
};
use reqwest::{Response, StatusCode, header};
use serde::Deserialize;

use super::{AiError, Description, Generated, Plan, Shape, ToolSpec, Usage};
use imagegraph_imaging::MediaFormat;

/// Images larger than this on their long side are scaled down before sending.
/// Longest side of an image sent to the vision model.
pub const MAX_VISION_SIDE: u32 = 2048;
/// Provider error bodies are quoted to users only up to this length.
const MAX_ERROR_CHARS: usize = 500;

#[derive(Clone)]
pub struct OpenAiSettings {
    pub api_key: Option<String>,
    pub base_url: String,
    pub vision_model: String,
    pub describe_prompt: String,
    pub max_tokens: u32,
    pub image_model: String,
    /// Model that plans structured output by tool calling (edit plans).
    pub planner_model: String,
    pub timeout: Duration,
}

impl OpenAiSettings {
    /// The OpenAI-compatible provider configured, or `None` for the offline describer.
    pub fn from_config(config: &crate::config::AiConfig) -> Option<Self> {
        if config.openai_api_key.is_none() && config.openai_base_url.is_none() {
            return None;
        }
        Some(Self {
            api_key: config.openai_api_key.clone(),
            base_url: config
                .openai_base_url
                .clone()
                .unwrap_or_else(|| "https://api.openai.com/v1".to_owned()),
            vision_model: config.openai_vision_model.clone(),
            describe_prompt: config.openai_describe_prompt.clone(),
            max_tokens: config.openai_max_tokens,
            image_model: config.openai_image_model.clone(),
            planner_model: config.openai_planner_model.clone(),
            timeout: Duration::from_millis(config.ai_timeout_ms),
        })
    }
}

/// The key stays out of logs.
impl std::fmt::Debug for OpenAiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiSettings")
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("base_url", &self.base_url)
            .field("vision_model", &self.vision_model)
            .field("image_model", &self.image_model)
            .field("planner_model", &self.planner_model)
            .finish_non_exhaustive()
    }
}

pub struct OpenAi {
    settings: OpenAiSettings,
    http: reqwest::Client,
    /// Set once the vision model has refused `response_format` and accepted the same
    /// request without it: later descriptions are asked in plain text at once.
    plain_only: AtomicBool,
}

impl OpenAi {
    pub fn new(settings: OpenAiSettings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("imagegraph/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            settings,
            http,
            plain_only: AtomicBool::new(false),
        })
    }

    pub fn vision_model(&self) -> &str {
        &self.settings.vision_model
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.settings.base_url.trim_end_matches('/'))
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.post(self.url(path));
        match &self.settings.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    pub async fn describe(
        &self,
        image: &[u8],
        format: MediaFormat,
    ) -> Result<Description, AiError> {
        let (bytes, sent_format) = fit_for_vision(image, format)?;
        let content_type = sent_format.content_type();
        let data_url = format!("data:{content_type};base64,{}", STANDARD.encode(&bytes));
        let message = ChatCompletionMessage {
            role: MessageRole::user,
            content: Content::ImageUrl(vec![
                ImageUrl {
                    r#type: ContentType::text,
                    text: Some(self.settings.describe_prompt.clone()),
                    image_url: None,
                },
                ImageUrl {
                    r#type: ContentType::image_url,
                    text: None,
                    image_url: Some(ImageUrlType { url: data_url }),
                },
            ]),
            name: None,
            tool_calls: None,
            tool_call_id: None,
        };
        let request = ChatCompletionRequest::new(self.settings.vision_model.clone(), vec![message])
            .max_tokens(i64::from(self.settings.max_tokens));
        let plain =
            serde_json::to_value(&request).map_err(|e| AiError::BadResponse(e.to_string()))?;
        let structured = !self.plain_only.load(Ordering::Relaxed);
        let response = if structured {
            let mut body = plain.clone();
            body["response_format"] = description_format();
            match send_checked(self.post("chat/completions").json(&body)).await {
                Ok(response) => response,
                // A server that cannot do structured output refuses the request (400,
                // or 422 from some OpenAI-compatible servers). Asked again without
                // `response_format`, once; if that is accepted, this server is asked
                // in plain text from now on (a refusal for another reason, such as the
                // image, fails again and is reported as before).
                Err((Some(StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY), err)) => {
                    tracing::info!(error = ?err, "structured description refused; asking again in plain text");
                    let response = send(self.post("chat/completions").json(&plain)).await?;
                    if !self.plain_only.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            model = %self.settings.vision_model,
                            "the vision model refuses structured output (response_format): descriptions are asked in plain text and carry no tags"
                        );
                    }
                    response
                }
                Err((_, err)) => return Err(err),
            }
        } else {
            send(self.post("chat/completions").json(&plain)).await?
        };
        let body: ChatCompletionResponse = parse(response).await?;
        let content = body
            .choices
            .into_iter()
            .find_map(|choice| choice.message.content)
            .unwrap_or_default();
        let (text, tags) = read_description(&content)?;
        let usage = Usage {
            model: body.model,
            prompt_tokens: body.usage.prompt_tokens,
            completion_tokens: body.usage.completion_tokens,
        };
        Ok(Description { text, tags, usage })
    }

    /// Asks the planner model to call `tool` with arguments matching `schema`, and
    /// returns those arguments. They are the model's words: callers validate them
    /// like user input before acting on them.
    pub async fn plan(
        &self,
        instructions: &str,
        prompt: &str,
        tool: &ToolSpec<'_>,
    ) -> Result<Plan, AiError> {
        let messages = vec![
            ChatCompletionMessage {
                role: MessageRole::system,
                content: Content::Text(instructions.to_owned()),
                name: None,
                tool_calls: None,
                tool_call_id: None,
            },
            ChatCompletionMessage {
                role: MessageRole::user,
                content: Content::Text(prompt.to_owned()),
                name: None,
                tool_calls: None,
                tool_call_id: None,
            },
        ];
        let request = ChatCompletionRequest::new(self.settings.planner_model.clone(), messages)
            .max_tokens(i64::from(self.settings.max_tokens.max(1000)));
        // Tools are written as plain JSON: openai-api-rs's schema types cannot express
        // `enum` or nested one-of objects faithfully.
        let mut body =
            serde_json::to_value(&request).map_err(|e| AiError::BadResponse(e.to_string()))?;
        body["tools"] = serde_json::json!([{
            "type": "function",
            "function": { "name": tool.name, "description": tool.description, "parameters": tool.schema }
        }]);
        body["tool_choice"] =
            serde_json::json!({ "type": "function", "function": { "name": tool.name } });
        let response = send(self.post("chat/completions").json(&body)).await?;
        let answer: ChatCompletionResponse = parse(response).await?;
        let usage = Usage {
            model: answer.model,
            prompt_tokens: answer.usage.prompt_tokens,
            completion_tokens: answer.usage.completion_tokens,
        };
        let arguments = answer
            .choices
            .into_iter()
            .flat_map(|choice| choice.message.tool_calls.unwrap_or_default())
            .find(|call| call.function.name.as_deref() == Some(tool.name))
            .and_then(|call| call.function.arguments)
            .ok_or_else(|| {
                AiError::BadResponse(format!("the model did not call `{}`", tool.name))
            })?;
        let arguments = serde_json::from_str(&arguments).map_err(|e| {
            AiError::BadResponse(format!("the model's arguments are not JSON: {e}"))
        })?;
        Ok(Plan { arguments, usage })
    }

    pub async fn generate(&self, prompt: &str, shape: Shape) -> Result<Generated, AiError> {
        let model = &self.settings.image_model;
        let request = serde_json::json!({ "model": model, "prompt": prompt, "n": 1, "size": size_for(model, shape) });
        let response = send(self.post("images/generations").json(&request)).await?;
        let body: ImagesResponse = parse(response).await?;
        let usage = Usage {
            model: model.clone(),
            prompt_tokens: body.usage.as_ref().map_or(0, |u| u.input_tokens),
            completion_tokens: body.usage.as_ref().map_or(0, |u| u.output_tokens),
        };
        let image = body
            .data
            .into_iter()
            .next()
            .ok_or_else(|| AiError::BadResponse("no image in the answer".into()))?;
        let bytes = match (image.b64_json, image.url) {
            (Some(b64), _) => STANDARD
                .decode(b64.trim())
                .map_err(|_| AiError::BadResponse("b64_json is not base64".into()))?,
            (None, Some(url)) => {
                let response = send(self.http.get(url)).await?;
                response
                    .bytes()
                    .await
                    .map_err(|e| transport_error(&e))?
                    .to_vec()
            }
            (None, None) => {
                return Err(AiError::BadResponse(
                    "the image has neither b64_json nor url".into(),
                ));
            }
        };
        Ok(Generated { bytes, usage })
    }
}

/// The structured answer asked of the vision model: a description and at most 10
/// short tags (OpenAI's structured outputs; OpenAI-compatible servers such as vLLM
/// and Ollama accept the same `response_format`).
fn description_format() -> serde_json::Value {
    serde_json::json!({
        "type": "json_schema",
        "json_schema": {
            "name": "image_description",
            "strict": true,
            "schema": {
                "type": "object",
                "properties": {
                    "description": {
                        "type": "string",
                        "description": "What the image shows, in one or a few sentences."
                    },
                    "tags": {
                        "type": "array",
                        "items": { "type": "string" },
                        "maxItems": crate::text::MAX_TAGS,
                        "description": "Up to 10 short lower-case keywords (one or two words each): subjects, setting, colours, style."
                    }
                },
                "required": ["description", "tags"],
                "additionalProperties": false
            }
        }
    })
}

#[derive(Deserialize)]
struct StructuredDescription {
    description: String,
    #[serde(default)]
    tags: Vec<serde_json::Value>,
}

/// The description and tags in a vision model's answer: the JSON object asked for
/// (also inside a Markdown code fence, as some servers send it), or, from a server
/// that answered in plain text, the whole text with no tags. Tags are normalised
/// (`text::tags`); anything but strings among them is ignored.
fn read_description(content: &str) -> Result<(String, Vec<String>), AiError> {
    let content = content.trim();
    let unfenced = content
        .strip_prefix("```json")
        .or_else(|| content.strip_prefix("```"))
        .and_then(|rest| rest.strip_suffix("```"))
        .map_or(content, str::trim);
    let (text, tags) = if unfenced.starts_with('{') {
        let answer: StructuredDescription = serde_json::from_str(unfenced).map_err(|_| {
            AiError::BadResponse(
                "the answer is not the JSON asked for (cut short? raise OPENAI_MAX_TOKENS)".into(),
            )
        })?;
        let tags = crate::text::tags(answer.tags.iter().filter_map(serde_json::Value::as_str));
        (answer.description.trim().to_owned(), tags)
    } else {
        (content.to_owned(), Vec::new())
    };
    if text.is_empty() {
        return Err(AiError::BadResponse("no description in the answer".into()));
    }
    Ok((text, tags))
}

/// The size string each model family accepts for a shape.
pub(super) fn size_for(model: &str, shape: Shape) -> &'static str {
    let dalle = model.starts_with("dall-e");
    match shape {
        Shape::Square => "1024x1024",
        Shape::Portrait if dalle => "1024x1792",
        Shape::Landscape if dalle => "1792x1024",
        Shape::Portrait => "1024x1536",
        Shape::Landscape => "1536x1024",
    }
}

#[derive(Deserialize)]
struct ImagesResponse {
    data: Vec<ImageData>,
    usage: Option<ImagesUsage>,
}

#[derive(Deserialize)]
struct ImageData {
    b64_json: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
struct ImagesUsage {
    #[serde(default)]
    input_tokens: i32,
    #[serde(default)]
    output_tokens: i32,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: String,
}

async fn send(request: reqwest::RequestBuilder) -> Result<Response, AiError> {
    send_checked(request).await.map_err(|(_, err)| err)
}

/// `send`, also telling the HTTP status of a refusal (`None`: no answer).
async fn send_checked(
    request: reqwest::RequestBuilder,
) -> Result<Response, (Option<StatusCode>, AiError)> {
    let response = request
        .send()
        .await
        .map_err(|e| (None, transport_error(&e)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = retry_after(response.headers());
    let body = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<ErrorBody>(&body)
        .map(|b| b.error.message)
        .unwrap_or_else(|_| body.chars().take(MAX_ERROR_CHARS).collect());
    Err((
        Some(status),
        match status {
            StatusCode::TOO_MANY_REQUESTS => AiError::RateLimited { retry_after },
            s if s.is_server_error() => AiError::Unavailable(format!("HTTP {}", s.as_u16())),
            StatusCode::REQUEST_TIMEOUT => AiError::Timeout,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                AiError::Rejected(format!("the API key was not accepted: {message}"))
            }
            _ => AiError::Rejected(message.chars().take(MAX_ERROR_CHARS).collect()),
        },
    ))
}

async fn parse<T: serde::de::DeserializeOwned>(response: Response) -> Result<T, AiError> {
    let bytes = response.bytes().await.map_err(|e| transport_error(&e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| AiError::BadResponse(format!("unexpected JSON: {e}")))
}

fn transport_error(err: &reqwest::Error) -> AiError {
    if err.is_timeout() {
        AiError::Timeout
    } else {
        AiError::Unavailable("could not reach it".into())
    }
}

/// `Retry-After` in seconds (OpenAI also sends `retry-after-ms`).
fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Duration::try_from_secs_f64(ms / 1000.0).ok();
    }
    text("retry-after")
        .and_then(|v| v.parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
}

/// Sends images as they are when small enough; larger ones scaled to fit, and GIFs
/// (their first frame), as JPEG.
fn fit_for_vision(image: &[u8], format: MediaFormat) -> Result<(Vec<u8>, MediaFormat), AiError> {
    imagegraph_imaging::fit_within(image, format, MAX_VISION_SIDE).map_err(|err| {
        AiError::BadResponse(format!("the stored image could not be prepared: {err}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_prefers_milliseconds() {
        let mut headers = header::HeaderMap::new();
        headers.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", "150".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(150)));
        assert_eq!(retry_after(&header::HeaderMap::new()), None);
    }

    #[test]
    fn descriptions_are_read_from_json_or_plain_text() {
        let (text, tags) = read_description(
            r#"{"description": " A red kite. ", "tags": ["Kite", "red", "kite", 3, "sky"]}"#,
        )
        .unwrap();
        assert_eq!(text, "A red kite.");
        assert_eq!(tags, ["kite", "red", "sky"]);
        let (text, tags) =
            read_description("```json\n{\"description\": \"Fenced.\", \"tags\": [\"a\"]}\n```")
                .unwrap();
        assert_eq!((text.as_str(), tags), ("Fenced.", vec!["a".to_owned()]));
        let (text, tags) = read_description("  Just words about a dog.  ").unwrap();
        assert_eq!((text.as_str(), tags.len()), ("Just words about a dog.", 0));
        for bad in [
            "",
            "   ",
            r#"{"description": "cut sh"#,
            r#"{"tags": []}"#,
            r#"{"description": " "}"#,
        ] {
            assert!(
                matches!(read_description(bad), Err(AiError::BadResponse(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn sizes_follow_the_model_family() {
        assert_eq!(size_for("dall-e-3", Shape::Landscape), "1792x1024");
        assert_eq!(size_for("gpt-image-1", Shape::Landscape), "1536x1024");
        assert_eq!(size_for("gpt-image-1", Shape::Square), "1024x1024");
    }
}
