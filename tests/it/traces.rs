//! Traces: a real `serve` exporting over OTLP/HTTP (JSON) to a receiver in the test,
//! which checks the spans of a feed request and of an upload-to-analysis chain, and
//! who is whose parent.

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::routing::post;
use serde_json::{Value, json};

use crate::harness::{Killed, TestDatabase, base64_of, free_port, png, wait_for_http};

const FEED_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const FEED_PARENT: &str = "b7ad6b7169203331";
const UPLOAD_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const UPLOAD_PARENT: &str = "00f067aa0ba902b7";

/// The spans received, flattened out of OTLP's resource and scope layers.
type Received = Arc<Mutex<Vec<Value>>>;

async fn receiver() -> (u16, Received) {
    let received: Received = Arc::default();
    let store = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let store = store.clone();
            async move {
                let request: Value = serde_json::from_slice(&body).expect("OTLP JSON");
                let mut spans = store.lock().unwrap();
                for resource in request["resourceSpans"].as_array().into_iter().flatten() {
                    for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                        spans.extend(scope["spans"].as_array().into_iter().flatten().cloned());
                    }
                }
                axum::Json(json!({}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, received)
}

fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

fn text_attribute<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    attribute(span, key)?["stringValue"].as_str()
}

/// One trace's spans, by id, with the questions the test asks of them.
struct Trace<'a> {
    spans: HashMap<&'a str, &'a Value>,
}

impl<'a> Trace<'a> {
    fn of(all: &'a [Value], trace_id: &str) -> Self {
        let spans = all
            .iter()
            .filter(|s| s["traceId"] == trace_id)
            .map(|s| (s["spanId"].as_str().unwrap(), s))
            .collect();
        Self { spans }
    }

    fn named(&self, name: &str) -> Vec<&'a Value> {
        self.spans
            .values()
            .filter(|s| s["name"] == name)
            .copied()
            .collect()
    }

    fn one(&self, name: &str) -> &'a Value {
        let found = self.named(name);
        assert_eq!(found.len(), 1, "one `{name}` span: {:#?}", self.names());
        found[0]
    }

    fn names(&self) -> Vec<&str> {
        self.spans
            .values()
            .map(|s| s["name"].as_str().unwrap())
            .collect()
    }

    fn parent(&self, span: &Value) -> Option<&'a Value> {
        self.spans
            .get(span["parentSpanId"].as_str().unwrap_or_default())
            .copied()
    }

    /// Whether `ancestor` is `span`'s parent, or its parent's, and so on.
    fn descends(&self, span: &Value, ancestor: &Value) -> bool {
        let mut at = self.parent(span);
        while let Some(parent) = at {
            if parent["spanId"] == ancestor["spanId"] {
                return true;
            }
            at = self.parent(parent);
        }
        false
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn spans_of_a_feed_request_and_an_analysed_upload_arrive_with_their_parents() {
    let (otlp_port, received) = receiver().await;
    let database = TestDatabase::new();
    let data_dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let env = |command: &mut Command| {
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &database.url)
            .env("DATA_DIR", data_dir.path())
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("WORKERS", "1")
            .env("JOB_POLL_INTERVAL_MS", "100")
            .env(
                "WEB_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/web"),
            );
    };
    let mut create = Command::new(env!("CARGO_BIN_EXE_imagegraph"));
    env(&mut create);
    let out = create.args(["users", "create", "alice"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    let mut serve = Command::new(env!("CARGO_BIN_EXE_imagegraph"));
    env(&mut serve);
    serve
        .arg("serve")
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{otlp_port}"),
        )
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut server = Killed(serve.spawn().unwrap());
    let base = format!("http://127.0.0.1:{port}");
    wait_for_http(&format!("{base}/readyz"), Duration::from_secs(60)).await;
    let client = reqwest::Client::new();
    let send = |traceparent: Option<String>, body: Value| {
        let mut request = client
            .post(format!("{base}/graphql"))
            .bearer_auth(&token)
            .json(&body);
        if let Some(traceparent) = traceparent {
            request = request.header("traceparent", traceparent);
        }
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };

    let upload_base64 = base64_of(&png(24, 16));
    let body = send(
        Some(format!("00-{UPLOAD_TRACE}-{UPLOAD_PARENT}-01")),
        json!({
            "query": "mutation upload($b: String!) { uploadImage(input: {base64: $b}) { image { id } } }",
            "variables": { "b": upload_base64 },
        }),
    )
    .await;
    let image_id = body["data"]["uploadImage"]["image"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = send(
            None,
            json!({ "query": "query($id: ID!) { image(id: $id) { analysis { status } } }", "variables": { "id": image_id } }),
        )
        .await;
        if body["data"]["image"]["analysis"]["status"] == "SUCCEEDED" {
            break;
        }
        assert!(Instant::now() < deadline, "not analysed: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = send(
        Some(format!("00-{FEED_TRACE}-{FEED_PARENT}-01")),
        json!({
            "query": "query feed($n: Int!) { images(first: $n) { edges { node { id owner { name } comments(first: 5) { nodes { text } } } } } }",
            "variables": { "n": 10 },
        }),
    )
    .await;
    assert_eq!(
        body["data"]["images"]["edges"].as_array().unwrap().len(),
        1,
        "{body}"
    );

    // SIGTERM: the exporter sends what it still holds before the process exits.
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "serve did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let spans = received.lock().unwrap().clone();
    assert!(!spans.is_empty(), "no span arrived");

    // The feed: request <- operation <- statements, under the caller's span.
    let feed = Trace::of(&spans, FEED_TRACE);
    let request = feed.one("http_request");
    assert_eq!(request["parentSpanId"], FEED_PARENT, "{request:#}");
    let operation = feed.one("graphql_operation");
    assert_eq!(operation["parentSpanId"], request["spanId"]);
    assert_eq!(
        text_attribute(operation, "graphql.operation.name"),
        Some("feed")
    );
    assert_eq!(
        text_attribute(operation, "graphql.operation.type"),
        Some("query")
    );
    let statements = feed.named("db.statement");
    assert!(statements.len() >= 2, "{:?}", feed.names());
    for statement in &statements {
        assert!(feed.descends(statement, request), "{statement:#}");
        let sql = text_attribute(statement, "db.statement").unwrap();
        assert!(!sql.contains("binds"), "{sql}");
    }
    assert!(
        statements.iter().any(|s| feed.descends(s, operation)
            && text_attribute(s, "db.statement")
                .unwrap()
                .contains("images")),
        "the feed's own statements run under the operation"
    );

    // The upload: request <- operation <- storage; the analysis job continues the
    // request's trace, with the AI call and its statements under it.
    let upload = Trace::of(&spans, UPLOAD_TRACE);
    let request = upload.one("http_request");
    assert_eq!(request["parentSpanId"], UPLOAD_PARENT);
    let operation = upload.one("graphql_operation");
    assert_eq!(operation["parentSpanId"], request["spanId"]);
    assert_eq!(
        text_attribute(operation, "graphql.operation.type"),
        Some("mutation")
    );
    let puts = upload.named("storage.put");
    assert!(
        puts.len() >= 2,
        "original and thumbnail: {:?}",
        upload.names()
    );
    assert!(puts.iter().all(|p| upload.descends(p, operation)));
    let job = upload.one("job");
    assert_eq!(job["parentSpanId"], request["spanId"], "{job:#}");
    let ai = upload.one("ai.describe");
    assert!(upload.descends(ai, job));
    assert_eq!(text_attribute(ai, "outcome"), Some("ok"));
    assert_eq!(
        text_attribute(ai, "gen_ai.response.model"),
        Some("imagegraph-offline-1")
    );
    assert!(attribute(ai, "gen_ai.usage.input_tokens").is_some());
    assert!(
        upload
            .named("db.statement")
            .iter()
            .any(|s| upload.descends(s, job)),
        "the job's statements are in the trace"
    );
    assert!(
        upload
            .named("storage.get")
            .iter()
            .any(|s| upload.descends(s, job))
    );

    // Never a variable's value, nor the token.
    let everything = serde_json::to_string(&spans).unwrap();
    assert!(!everything.contains(&upload_base64[..64]));
    assert!(!everything.contains(&token));
}
