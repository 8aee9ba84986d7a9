//! Analysis and generation through durable jobs, with wiremock standing in for OpenAI
//! at its HTTP boundary.

use std::time::{Duration, Instant};

use imagegraph::config::Config;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::harness::{TestApp, base64_of, error_code, eventually, png};

const KEY: &str = "sk-test-0123456789";
const ANALYSIS: &str = "query($id: ID!) { image(id: $id) { description analysis { status model error requestedAt completedAt } } }";

pub(crate) fn chat_completion(text: &str) -> Value {
    json!({
        "id": "chatcmpl-B8xY2kLmNoPqRsTuVw",
        "object": "chat.completion",
        "created": 1_763_750_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": text, "refusal": null, "annotations": [] },
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": 8512, "completion_tokens": 23, "total_tokens": 8535,
            "prompt_tokens_details": { "cached_tokens": 0, "audio_tokens": 0 },
            "completion_tokens_details": { "reasoning_tokens": 0, "audio_tokens": 0 }
        },
        "service_tier": "default",
        "system_fingerprint": "fp_560af6e559"
    })
}

fn openai_error(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({ "error": { "message": message, "type": kind, "param": null, "code": code } })
}

pub(crate) async fn ai_app(server: &MockServer, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let uri = server.uri();
    TestApp::start_with(move |config| {
        config.ai.openai_base_url = Some(uri);
        config.ai.openai_api_key = Some(KEY.into());
        config.jobs.workers = 1;
        config.jobs.job_max_attempts = 3;
        adjust(config);
    })
    .await
}

async fn finished_analysis(t: &TestApp, id: &str) -> Value {
    let body = eventually(
        t,
        &t.alice.token,
        ANALYSIS,
        json!({ "id": id }),
        Duration::from_secs(15),
        |b| {
            matches!(
                b["data"]["image"]["analysis"]["status"].as_str(),
                Some("SUCCEEDED" | "FAILED")
            )
        },
    )
    .await;
    body["data"]["image"].clone()
}

async fn requests_to(server: &MockServer, route: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == route)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_is_described_in_the_background() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(chat_completion("A soft gradient from teal to magenta.")),
        )
        .mount(&server)
        .await;
    let t = ai_app(&server, |_| {}).await;
    let id = t.upload_png_analyzed(&t.alice.token, true).await;
    let image = finished_analysis(&t, &id).await;
    assert_eq!(image["analysis"]["status"], "SUCCEEDED");
    assert_eq!(
        image["description"],
        "A soft gradient from teal to magenta."
    );
    assert_eq!(image["analysis"]["model"], "gpt-4o-mini-2024-07-18");
    assert!(image["analysis"]["completedAt"].as_str() >= image["analysis"]["requestedAt"].as_str());

    let requests = requests_to(&server, "/chat/completions").await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        request.headers["authorization"],
        format!("Bearer {KEY}").as_str()
    );
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["max_tokens"], 300);
    let parts = body["messages"][0]["content"].as_array().unwrap();
    assert_eq!(parts[0]["text"], "Give a description of this image.");
    let url = parts[1]["image_url"]["url"].as_str().unwrap();
    assert_eq!(
        url,
        format!("data:image/png;base64,{}", base64_of(&png(8, 6))),
        "exactly one data: prefix, the image as stored"
    );
    assert_eq!(
        String::from_utf8_lossy(&request.body)
            .matches("data:")
            .count(),
        1
    );

    // Cost is recorded for the metrics.
    #[derive(diesel::QueryableByName)]
    struct Call {
        #[diesel(sql_type = diesel::sql_types::Text)]
        model: String,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        prompt_tokens: i32,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        completion_tokens: i32,
    }
    let mut conn = t.app.db.conn().await.unwrap();
    let calls: Vec<Call> = diesel_async::RunQueryDsl::load(
        diesel::sql_query("SELECT model, prompt_tokens, completion_tokens FROM ai_calls"),
        &mut conn,
    )
    .await
    .unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (
            calls[0].model.as_str(),
            calls[0].prompt_tokens,
            calls[0].completion_tokens
        ),
        ("gpt-4o-mini-2024-07-18", 8512, 23)
    );
    assert_eq!(
        t.count_rows("jobs").await,
        0,
        "a finished job leaves the queue"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_is_retried_after_retry_after() {
    let server = MockServer::start().await;
    Mock::given(path("/chat/completions"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(openai_error("Rate limit reached for gpt-4o-mini in organization org-x on requests per min (RPM): Limit 3, Used 3, Requested 1.", "requests", Some("rate_limit_exceeded"))),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_completion("After waiting.")))
        .mount(&server)
        .await;
    let t = ai_app(&server, |_| {}).await;
    let started = Instant::now();
    let id = t.upload_png_analyzed(&t.alice.token, true).await;
    let image = finished_analysis(&t, &id).await;
    assert_eq!(image["description"], "After waiting.");
    assert_eq!(requests_to(&server, "/chat/completions").await.len(), 2);
    // The configured backoff is 20 ms: only Retry-After explains a second's wait.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried after {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_are_retried_up_to_the_cap_then_fail() {
    let server = MockServer::start().await;
    Mock::given(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(500).set_body_json(openai_error(
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
        )))
        .mount(&server)
        .await;
    let t = ai_app(&server, |c| c.jobs.job_max_attempts = 3).await;
    let id = t.upload_png_analyzed(&t.alice.token, true).await;
    let image = finished_analysis(&t, &id).await;
    assert_eq!(image["analysis"]["status"], "FAILED");
    assert_eq!(
        image["analysis"]["error"],
        "the AI provider is unavailable (HTTP 500)"
    );
    assert!(image["description"].is_null());
    assert_eq!(requests_to(&server, "/chat/completions").await.len(), 3);
    #[derive(diesel::QueryableByName)]
    struct Job {
        #[diesel(sql_type = diesel::sql_types::Text)]
        status: String,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        attempts: i32,
    }
    let mut conn = t.app.db.conn().await.unwrap();
    let jobs: Vec<Job> = diesel_async::RunQueryDsl::load(
        diesel::sql_query("SELECT status, attempts FROM jobs"),
        &mut conn,
    )
    .await
    .unwrap();
    assert_eq!(
        (jobs.len(), jobs[0].status.as_str(), jobs[0].attempts),
        (1, "FAILED", 3),
        "kept, with its error, for operators"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_400_fails_at_once_with_the_providers_message() {
    let server = MockServer::start().await;
    Mock::given(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(400).set_body_json(openai_error(
            "Invalid image: the image data you provided does not represent a valid image.",
            "invalid_request_error",
            Some("invalid_image"),
        )))
        .mount(&server)
        .await;
    let t = ai_app(&server, |_| {}).await;
    let id = t.upload_png_analyzed(&t.alice.token, true).await;
    let image = finished_analysis(&t, &id).await;
    assert_eq!(image["analysis"]["status"], "FAILED");
    assert_eq!(
        image["analysis"]["error"],
        "the AI provider refused the request: Invalid image: the image data you provided does not represent a valid image."
    );
    // Asked once more without `response_format` (a server without structured output
    // would refuse that with a 400 too), then failed at once: no retry of the job.
    let requests = requests_to(&server, "/chat/completions").await;
    assert_eq!(requests.len(), 2, "no retry");
    let sent: Vec<Value> = requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert!(sent[0]["response_format"].is_object());
    assert!(sent[1]["response_format"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_answer_times_out_and_is_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(chat_completion("too late"))
                .set_delay(Duration::from_secs(5)),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_completion("On time.")))
        .mount(&server)
        .await;
    let t = ai_app(&server, |c| c.ai.ai_timeout_ms = 500).await;
    let id = t.upload_png_analyzed(&t.alice.token, true).await;
    let image = finished_analysis(&t, &id).await;
    assert_eq!(image["description"], "On time.");
    assert_eq!(requests_to(&server, "/chat/completions").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn offline_analysis_describes_pixels_and_names_its_model() {
    let t = TestApp::start_with(|c| c.jobs.workers = 1).await;
    let id = t.upload_png_analyzed(&t.alice.token, true).await;
    let image = finished_analysis(&t, &id).await;
    assert_eq!(image["analysis"]["status"], "SUCCEEDED");
    assert_eq!(image["analysis"]["model"], "imagegraph-offline-1");
    let description = image["description"].as_str().unwrap();
    assert!(
        description.starts_with("A 8x6 landscape image"),
        "{description}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn analyze_image_is_idempotent_while_pending_and_owner_only() {
    let t = TestApp::start().await; // no workers: the job stays queued
    let analyze = "mutation($id: ID!) { analyzeImage(input: { imageId: $id }) { image { analysis { status requestedAt } } } }";
    let id = t.upload_png(&t.alice.token).await;
    let body = t.gql(&t.bob.token, analyze, json!({ "id": id })).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
    let first = t.gql(&t.alice.token, analyze, json!({ "id": id })).await;
    assert_eq!(
        first["data"]["analyzeImage"]["image"]["analysis"]["status"], "PENDING",
        "{first}"
    );
    let second = t.gql(&t.admin.token, analyze, json!({ "id": id })).await;
    assert_eq!(
        second["data"]["analyzeImage"]["image"]["analysis"],
        first["data"]["analyzeImage"]["image"]["analysis"]
    );
    assert_eq!(
        t.count_rows("jobs").await,
        1,
        "one job however often it is asked"
    );
    let body = t
        .gql(
            &t.alice.token,
            analyze,
            json!({ "id": imagegraph_db::GlobalId::global_id(imagegraph_db::ImageId::new()) }),
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_finished_analysis_can_be_asked_for_again() {
    let server = MockServer::start().await;
    Mock::given(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_completion("Again.")))
        .mount(&server)
        .await;
    let t = ai_app(&server, |_| {}).await;
    let id = t.upload_png_analyzed(&t.alice.token, true).await;
    finished_analysis(&t, &id).await;
    let analyze = "mutation($id: ID!) { analyzeImage(input: { imageId: $id }) { image { analysis { status } } } }";
    let body = t.gql(&t.alice.token, analyze, json!({ "id": id })).await;
    assert_eq!(
        body["data"]["analyzeImage"]["image"]["analysis"]["status"],
        "PENDING"
    );
    finished_analysis(&t, &id).await;
    assert_eq!(requests_to(&server, "/chat/completions").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_whose_worker_died_runs_again_after_its_lease() {
    let server = MockServer::start().await;
    Mock::given(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_completion("Recovered.")))
        .mount(&server)
        .await;
    let t = ai_app(&server, |c| c.jobs.workers = 0).await;
    let id = t.upload_png_analyzed(&t.alice.token, true).await;
    // A worker claims the job and dies without a word: its lease is all that is left.
    let mut conn = t.app.db.conn().await.unwrap();
    let lease = Duration::from_millis(500);
    let kinds = ["analyze_image"];
    let claimed = imagegraph_jobs::queue::claim(&mut conn, &kinds, "doomed-worker", lease)
        .await
        .unwrap();
    assert!(claimed.is_some());
    drop(conn);

    // While the lease holds, nobody else may take the job.
    assert_eq!(t.run_jobs().await, 0);
    tokio::time::sleep(lease + Duration::from_millis(100)).await;
    assert_eq!(t.run_jobs().await, 1);
    let image = finished_analysis(&t, &id).await;
    assert_eq!(image["description"], "Recovered.");
    assert_eq!(t.count_rows("jobs").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn generation_with_b64_json_stores_an_image_with_its_prompt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/images/generations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "created": 1_763_750_000,
            "background": "opaque", "output_format": "png", "quality": "medium", "size": "1024x1024",
            "data": [{ "b64_json": base64_of(&png(64, 64)) }],
            "usage": { "input_tokens": 14, "output_tokens": 1056, "total_tokens": 1070,
                       "input_tokens_details": { "image_tokens": 0, "text_tokens": 14 } }
        })))
        .mount(&server)
        .await;
    let t = ai_app(&server, |_| {}).await;
    let generated = generate(&t, "a lighthouse at dusk, watercolour").await;
    assert_eq!(generated["status"], "SUCCEEDED", "{generated}");
    assert_eq!(generated["model"], "gpt-image-1");
    let image = &generated["image"];
    assert_eq!(image["source"], "GENERATION");
    assert_eq!(image["prompt"], "a lighthouse at dusk, watercolour");
    assert_eq!(
        (image["width"].as_i64(), image["height"].as_i64()),
        (Some(64), Some(64))
    );
    assert_eq!(image["analysis"]["status"], "NOT_REQUESTED");
    let served = t
        .client
        .get(image["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(served.as_ref(), png(64, 64).as_slice());

    let request: Value =
        serde_json::from_slice(&requests_to(&server, "/images/generations").await[0].body).unwrap();
    assert_eq!(
        request,
        json!({ "model": "gpt-image-1", "prompt": "a lighthouse at dusk, watercolour", "n": 1, "size": "1536x1024" })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn generation_with_a_url_answer_downloads_the_image() {
    let server = MockServer::start().await;
    let image_url = format!("{}/files/img-Xy12.png", server.uri());
    Mock::given(path("/images/generations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "created": 1_763_750_000,
            "data": [{ "url": image_url, "revised_prompt": "A tall lighthouse at dusk painted in watercolour." }]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/img-Xy12.png"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_bytes(png(40, 30))
                .insert_header("content-type", "image/png"),
        )
        .mount(&server)
        .await;
    let t = ai_app(&server, |c| c.ai.openai_image_model = "dall-e-3".into()).await;
    let generated = generate(&t, "a lighthouse").await;
    assert_eq!(generated["status"], "SUCCEEDED", "{generated}");
    assert_eq!(
        (
            generated["image"]["width"].as_i64(),
            generated["image"]["height"].as_i64()
        ),
        (Some(40), Some(30))
    );
    let request: Value =
        serde_json::from_slice(&requests_to(&server, "/images/generations").await[0].body).unwrap();
    assert_eq!(request["size"], "1792x1024");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_generation_fails_with_the_providers_message() {
    let server = MockServer::start().await;
    Mock::given(path("/images/generations"))
        .respond_with(ResponseTemplate::new(400).set_body_json(openai_error(
            "Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.",
            "image_generation_user_error",
            Some("content_policy_violation"),
        )))
        .mount(&server)
        .await;
    let t = ai_app(&server, |_| {}).await;
    let generated = generate(&t, "something not allowed").await;
    assert_eq!(generated["status"], "FAILED");
    assert_eq!(generated["errorCode"], "AI_PROVIDER_ERROR");
    assert!(
        generated["error"]
            .as_str()
            .unwrap()
            .contains("rejected as a result of our safety system"),
        "{generated}"
    );
    assert!(generated["image"].is_null());
    assert_eq!(requests_to(&server, "/images/generations").await.len(), 1);
    assert_eq!(t.count_rows("images").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn generation_checks_prompts_and_needs_a_provider() {
    let t = TestApp::start().await;
    let mutation =
        "mutation($p: String!) { generateImage(input: { prompt: $p }) { generation { id } } }";
    let body = t
        .gql(&t.alice.token, mutation, json!({ "p": "a cat" }))
        .await;
    assert_eq!(error_code(&body), Some("AI_PROVIDER_ERROR"), "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("OPENAI_API_KEY")
    );
    // Told apart from a provider failure, which retrying might fix.
    let extensions = &body["errors"][0]["extensions"];
    assert_eq!(extensions["reason"], "NOT_CONFIGURED", "{body}");
    assert_eq!(extensions["feature"], "image generation", "{body}");
    for prompt in ["   ".to_owned(), "x".repeat(4001)] {
        let body = t
            .gql(&t.alice.token, mutation, json!({ "p": prompt }))
            .await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    }
    assert_eq!(t.count_rows("generations").await, 0);
    assert_eq!(t.count_rows("jobs").await, 0);
}

const GENERATION: &str =
    "query($id: ID!) { generation(id: $id) { id status model error errorCode prompt size
    image { source prompt width height url analysis { status } } } }";

async fn generate(t: &TestApp, prompt: &str) -> Value {
    let body = t
        .gql(
            &t.alice.token,
            "mutation($p: String!) { generateImage(input: { prompt: $p, size: LANDSCAPE, analyze: false }) { generation { id status prompt } } }",
            json!({ "p": prompt }),
        )
        .await;
    let generation = &body["data"]["generateImage"]["generation"];
    assert_eq!(generation["status"], "PENDING", "returns at once: {body}");
    let id = generation["id"].as_str().unwrap().to_owned();
    let body = eventually(
        t,
        &t.alice.token,
        GENERATION,
        json!({ "id": id }),
        Duration::from_secs(15),
        |b| {
            matches!(
                b["data"]["generation"]["status"].as_str(),
                Some("SUCCEEDED" | "FAILED")
            )
        },
    )
    .await;
    body["data"]["generation"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_planner_returns_the_tool_call_arguments_unvalidated() {
    let server = MockServer::start().await;
    Mock::given(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-C1aB2cD3eF4gH5", "object": "chat.completion", "created": 1_763_750_100,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{
                "index": 0,
                "message": {
                    "role": "assistant", "content": null, "refusal": null, "annotations": [],
                    "tool_calls": [{ "id": "call_Qx7", "type": "function",
                        "function": { "name": "apply_edits", "arguments": "{\"instructions\":[{\"brightness\":1.3},{\"grayscale\":true}]}" } }]
                },
                "logprobs": null, "finish_reason": "tool_calls"
            }],
            "usage": { "prompt_tokens": 412, "completion_tokens": 31, "total_tokens": 443 },
            "system_fingerprint": "fp_560af6e559"
        })))
        .mount(&server)
        .await;
    let t = ai_app(&server, |c| {
        c.ai.openai_planner_model = "gpt-4o-mini".into();
    })
    .await;
    let schema = json!({ "type": "object", "properties": { "instructions": { "type": "array" } }, "required": ["instructions"] });
    let tool = imagegraph::ai::ToolSpec {
        name: "apply_edits",
        description: "Apply edits to the image.",
        schema: schema.clone(),
    };
    let plan = t
        .app
        .ai
        .plan(
            "You plan image edits.",
            "make it brighter and black and white",
            &tool,
        )
        .await
        .unwrap();
    assert_eq!(
        plan.arguments,
        json!({ "instructions": [{ "brightness": 1.3 }, { "grayscale": true }] })
    );
    assert_eq!(
        (plan.usage.prompt_tokens, plan.usage.completion_tokens),
        (412, 31)
    );

    let request: Value =
        serde_json::from_slice(&requests_to(&server, "/chat/completions").await[0].body).unwrap();
    assert_eq!(request["model"], "gpt-4o-mini");
    assert_eq!(request["tools"][0]["function"]["parameters"], schema);
    assert_eq!(
        request["tool_choice"],
        json!({ "type": "function", "function": { "name": "apply_edits" } })
    );
    assert_eq!(
        request["messages"][1]["content"],
        "make it brighter and black and white"
    );

    let offline = TestApp::start().await;
    let err = offline.app.ai.plan("x", "y", &tool).await.unwrap_err();
    assert!(err.user_message().contains("OPENAI_API_KEY"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn large_images_are_scaled_down_before_they_are_sent() {
    let server = MockServer::start().await;
    Mock::given(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_completion("Wide.")))
        .mount(&server)
        .await;
    let t = ai_app(&server, |_| {}).await;
    let (_, body) = t
        .upload_file(&t.alice.token, png(3000, 600), "wide.png", "image/png")
        .await;
    let id = body["data"]["uploadImage"]["image"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    finished_analysis(&t, &id).await;
    let request: Value =
        serde_json::from_slice(&requests_to(&server, "/chat/completions").await[0].body).unwrap();
    let url = request["messages"][0]["content"][1]["image_url"]["url"]
        .as_str()
        .unwrap();
    let jpeg = url
        .strip_prefix("data:image/jpeg;base64,")
        .expect("sent as JPEG");
    use base64::Engine as _;
    let sent = image::load_from_memory(
        &base64::engine::general_purpose::STANDARD
            .decode(jpeg)
            .unwrap(),
    )
    .unwrap();
    assert_eq!((sent.width(), sent.height()), (2048, 410));
}

/// What OpenAI answers to a wrong key: its message quotes the key, masked.
fn wrong_key() -> ResponseTemplate {
    ResponseTemplate::new(401).set_body_json(openai_error(
        "Incorrect API key provided: sk-test-****6789. You can find your API key at https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        Some("invalid_api_key"),
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_generation_and_the_providers_words_are_seen_by_its_owner_and_admins_only() {
    use crate::subscriptions::{Client, subscription_error_code};

    let server = MockServer::start().await;
    Mock::given(path("/images/generations"))
        .respond_with(wrong_key())
        .mount(&server)
        .await;
    // No workers: the job runs when the test says, after everyone has subscribed.
    let t = ai_app(&server, |config| config.jobs.workers = 0).await;
    let body = t
        .gql(
            &t.alice.token,
            "mutation { generateImage(input: { prompt: \"a cat\", analyze: false }) { generation { id } } }",
            json!({}),
        )
        .await;
    let id = body["data"]["generateImage"]["generation"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();

    let completed = "subscription($id: ID!) { generationCompleted(id: $id) { id status error } }";
    let mut subscribers = Vec::new();
    for token in [&t.alice.token, &t.admin.token] {
        let mut client = Client::connect(t.addr, Some(token), false).await.unwrap();
        client.subscribe("g", completed, json!({ "id": id })).await;
        subscribers.push(client);
    }
    let mut bob = Client::connect(t.addr, Some(&t.bob.token), false)
        .await
        .unwrap();
    bob.subscribe("g", completed, json!({ "id": id })).await;
    let refused = bob.next_message(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        subscription_error_code(&refused),
        Some("NOT_FOUND"),
        "as if it did not exist: {refused}"
    );

    assert_eq!(t.run_jobs().await, 1);
    for client in &mut subscribers {
        let event = client.next_event(Duration::from_secs(10)).await.unwrap();
        let generation = &event["data"]["generationCompleted"];
        assert_eq!(generation["status"], "FAILED", "{event}");
        assert!(
            generation["error"]
                .as_str()
                .unwrap()
                .contains("sk-test-****6789"),
            "{event}"
        );
    }

    for token in [&t.alice.token, &t.admin.token] {
        let body = t.gql(token, GENERATION, json!({ "id": id })).await;
        assert!(
            body["data"]["generation"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("Incorrect API key")),
            "{body}"
        );
    }
    let node = "query($id: ID!) { node(id: $id) { __typename ... on ImageGeneration { error } } }";
    let body = t.gql(&t.admin.token, node, json!({ "id": id })).await;
    assert_eq!(
        body["data"]["node"]["__typename"], "ImageGeneration",
        "{body}"
    );

    let body = t.gql(&t.bob.token, GENERATION, json!({ "id": id })).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    assert!(!body.to_string().contains("API key"), "{body}");
    // Relay: another's generation is, through `node`, as if there were none.
    let body = t.gql(&t.bob.token, node, json!({ "id": id })).await;
    assert_eq!(body, json!({ "data": { "node": null } }));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_analysis_shows_the_providers_words_to_the_owner_and_admins_only() {
    use crate::subscriptions::Client;

    let server = MockServer::start().await;
    Mock::given(path("/chat/completions"))
        .respond_with(wrong_key())
        .mount(&server)
        .await;
    let t = ai_app(&server, |config| config.jobs.workers = 0).await;
    let id = t.upload_png_analyzed(&t.alice.token, true).await;
    let completed = "subscription { analysisCompleted { id analysis { status error } } }";
    let mut watchers = Vec::new();
    for (token, sees) in [
        (&t.alice.token, true),
        (&t.admin.token, true),
        (&t.bob.token, false),
    ] {
        let mut client = Client::connect(t.addr, Some(token), false).await.unwrap();
        client.subscribe("a", completed, json!({})).await;
        watchers.push((client, sees));
    }
    assert_eq!(t.run_jobs().await, 1);

    for (client, sees) in &mut watchers {
        let event = client.next_event(Duration::from_secs(10)).await.unwrap();
        let analysis = &event["data"]["analysisCompleted"]["analysis"];
        assert_eq!(analysis["status"], "FAILED", "{event}");
        assert_eq!(analysis["error"].is_string(), *sees, "{event}");
    }
    for (token, sees) in [
        (&t.alice.token, true),
        (&t.admin.token, true),
        (&t.bob.token, false),
    ] {
        let body = t.gql(token, ANALYSIS, json!({ "id": id })).await;
        let analysis = &body["data"]["image"]["analysis"];
        assert_eq!(
            analysis["status"], "FAILED",
            "everyone sees that it failed: {body}"
        );
        if sees {
            assert!(
                analysis["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("sk-test-****6789")),
                "{body}"
            );
        } else {
            assert!(analysis["error"].is_null(), "{body}");
            assert!(!body.to_string().contains("API key"), "{body}");
        }
    }
}
