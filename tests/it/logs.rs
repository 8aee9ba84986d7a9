//! The log of real processes: no secret in it whatever happens, no escape sequences
//! when it is not a terminal, and one JSON object per line when asked for JSON.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::harness::{Killed, TestDatabase, base64_of, free_port, png, wait_for_http};
use crate::subscriptions::Client;

const DB_PASSWORD: &str = "pw-Secret-4f9a1c77";
const API_KEY: &str = "sk-live-Secret-7d3e5b21";
const MEDIA_SECRET: &str = "media-Secret-0123456789abcdef0123456789";
const METRICS_TOKEN: &str = "metrics-Secret-b2c4e6";
const USER_PASSWORD: &str = "user-Secret-93ab17c2";
const WRONG_PASSWORD: &str = "wrong-Secret-5e7d0c44";
const NEW_PASSWORD: &str = "new-Secret-a1f3b5d7";

/// A process environment whose whole log (stderr) goes to one file.
struct Run {
    env: Vec<(&'static str, String)>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Run {
    fn new(env: Vec<(&'static str, String)>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut env = env;
        env.push(("DATA_DIR", dir.path().join("data").display().to_string()));
        Self {
            env,
            log: dir.path().join("log"),
            _dir: dir,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_imagegraph"));
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (*k, v)))
            .stdin(Stdio::null())
            .stderr(Stdio::from(log));
        command
    }

    /// Runs a command to its end; its stdout is returned, its stderr logged.
    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn spawn(&self, args: &[&str]) -> Killed {
        Killed(self.command(args).stdout(Stdio::null()).spawn().unwrap())
    }

    fn log(&self) -> String {
        String::from_utf8(std::fs::read(&self.log).unwrap()).expect("the log is UTF-8")
    }
}

/// Stops a server as an orchestrator would, and waits for it to exit.
fn terminate(mut server: Killed) {
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
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The database URL with a password in it: the test server trusts local clients, so
/// the password is never checked, but it is in every process's `DATABASE_URL`.
fn with_password(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}password={DB_PASSWORD}")
}

async fn gql(
    client: &reqwest::Client,
    base: &str,
    auth: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut request = client.post(format!("{base}/graphql")).json(&body);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn common_env(database_url: &str, port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", with_password(database_url)),
        ("LISTEN_ADDR", format!("127.0.0.1:{port}")),
        (
            "WEB_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/web").to_owned(),
        ),
    ]
}

/// Everything a client and an operator might do, failures included, at the most
/// talkative log level: not one secret reaches the log.
#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_the_log_of_a_whole_run() {
    let ai = MockServer::start().await;
    Mock::given(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(500).set_body_string("the model is away"))
        .mount(&ai)
        .await;
    let database = TestDatabase::new();
    let port = free_port();
    let mut env = common_env(&database.url, port);
    env.extend([
        ("RUST_LOG", "debug".to_owned()),
        ("MEDIA_SECRET", MEDIA_SECRET.to_owned()),
        ("OPENAI_API_KEY", API_KEY.to_owned()),
        ("OPENAI_BASE_URL", ai.uri()),
        ("METRICS_TOKEN", METRICS_TOKEN.to_owned()),
        ("WORKERS", "1".to_owned()),
        ("JOB_MAX_ATTEMPTS", "2".to_owned()),
        ("JOB_BACKOFF_MS", "10".to_owned()),
        ("JOB_POLL_INTERVAL_MS", "100".to_owned()),
    ]);
    let run = Run::new(env);

    let created = run.run(&["users", "create", "alice"]);
    assert!(created.status.success(), "{}", run.log());
    let token = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("igt_"), "{token}");
    let mut set_password = run.command(&["users", "password", "alice"]);
    set_password.stdin(Stdio::piped()).stdout(Stdio::null());
    let mut child = set_password.spawn().unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        format!("{USER_PASSWORD}\n").as_bytes(),
    )
    .unwrap();
    assert!(child.wait().unwrap().success(), "{}", run.log());
    let server = run.spawn(&["serve"]);
    let base = format!("http://127.0.0.1:{port}");
    wait_for_http(&format!("{base}/readyz"), Duration::from_secs(60)).await;
    let client = reqwest::Client::new();
    let bearer = format!("Bearer {token}");
    let wrong = format!("igt_{}", "Z".repeat(43));

    let (status, body) = gql(
        &client,
        &base,
        Some(&bearer),
        json!({ "query": "{ viewer { name } }" }),
    )
    .await;
    assert_eq!(
        (status, &body["data"]["viewer"]["name"]),
        (200, &json!("alice"))
    );
    let (status, _) = gql(
        &client,
        &base,
        Some(&format!("Bearer {wrong}")),
        json!({ "query": "{ viewer { name } }" }),
    )
    .await;
    assert_eq!(status, 401);

    // Signing in, rightly and wrongly, a new password, a new API token.
    let login =
        "mutation($n: String!, $p: String!) { login(input: {name: $n, password: $p}) { token } }";
    let (_, body) = gql(
        &client,
        &base,
        None,
        json!({ "query": login, "variables": { "n": "alice", "p": WRONG_PASSWORD } }),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{body}"
    );
    let (_, body) = gql(
        &client,
        &base,
        None,
        json!({ "query": login, "variables": { "n": "alice", "p": USER_PASSWORD } }),
    )
    .await;
    let session = body["data"]["login"]["token"].as_str().unwrap().to_owned();
    let (_, body) = gql(
        &client,
        &base,
        Some(&format!("Bearer {session}")),
        json!({
            "query": "mutation($c: String!, $n: String!) { changePassword(input: {currentPassword: $c, newPassword: $n}) { revokedTokenCount } }",
            "variables": { "c": USER_PASSWORD, "n": NEW_PASSWORD },
        }),
    )
    .await;
    assert_eq!(
        body["data"]["changePassword"]["revokedTokenCount"], 1,
        "{body}"
    );
    let (_, body) = gql(
        &client,
        &base,
        Some(&format!("Bearer {session}")),
        json!({ "query": "mutation { createApiToken(input: {name: \"ci\"}) { token } }" }),
    )
    .await;
    let api_token = body["data"]["createApiToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The CLI token was revoked by the password change: the rest of the run uses the
    // session's.
    let cli_token = token;
    let token = session;
    let bearer = format!("Bearer {token}");

    let (status, _) = gql(
        &client,
        &base,
        Some(&format!("Token {token}")),
        json!({ "query": "{ viewer { name } }" }),
    )
    .await;
    assert_eq!(status, 401);
    let (_, body) = gql(
        &client,
        &base,
        Some(&bearer),
        json!({ "query": "{ viewer { name " }),
    )
    .await;
    assert!(body["errors"].is_array(), "{body}");

    // An upload whose analysis fails at the provider, retried, then given up.
    let (_, body) = gql(
        &client,
        &base,
        Some(&bearer),
        json!({
            "query": "mutation($b: String!) { uploadImage(input: {base64: $b}) { image { id url } } }",
            "variables": { "b": base64_of(&png(32, 24)) },
        }),
    )
    .await;
    let image = &body["data"]["uploadImage"]["image"];
    let (id, url) = (
        image["id"].as_str().unwrap(),
        image["url"].as_str().unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = gql(
            &client,
            &base,
            Some(&bearer),
            json!({ "query": "query($id: ID!) { image(id: $id) { analysis { status } } }", "variables": { "id": id } }),
        )
        .await;
        if body["data"]["image"]["analysis"]["status"] == "FAILED" {
            break;
        }
        assert!(Instant::now() < deadline, "analysis not given up: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ai.received_requests().await.unwrap().len() >= 2);

    // Media: signed, then tampered with.
    assert_eq!(client.get(url).send().await.unwrap().status(), 200);
    let tampered = url.replacen("sig=", "sig=A", 1);
    assert_eq!(client.get(&tampered).send().await.unwrap().status(), 403);

    // Metrics with no, a wrong and the right token.
    let metrics = format!("{base}/metrics");
    assert_eq!(client.get(&metrics).send().await.unwrap().status(), 401);
    let status = client
        .get(&metrics)
        .bearer_auth("not-it")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    let status = client
        .get(&metrics)
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);

    // WebSockets with a wrong and a good token.
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    assert!(Client::connect(addr, Some(&wrong), false).await.is_err());
    let socket = Client::connect(addr, Some(&token), false).await.unwrap();
    drop(socket);

    // Revoked by another process: refused once this one hears of it.
    assert!(run.run(&["users", "revoke", "alice"]).status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _) = gql(
            &client,
            &base,
            Some(&bearer),
            json!({ "query": "{ viewer { name } }" }),
        )
        .await;
        if status == 401 {
            break;
        }
        assert!(Instant::now() < deadline, "the revoked token still works");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    terminate(server);

    // A process that cannot reach its database says so, without the URL's password.
    let mut unreachable = run.command(&["migrate"]);
    unreachable.env(
        "DATABASE_URL",
        format!(
            "postgres://imagegraph:{DB_PASSWORD}@127.0.0.1:{}/x",
            free_port()
        ),
    );
    assert!(!unreachable.output().unwrap().status.success());

    let log = run.log();
    // The run was logged at debug level, failures included: the check below had
    // something to look at.
    for expected in ["DEBUG", "job failed; giving up", "GraphiQL on", "migrate"] {
        assert!(
            log.contains(expected),
            "`{expected}` is not in the log:\n{log}"
        );
    }
    for secret in [
        token.as_str(),
        &token["igt_".len()..],
        wrong.as_str(),
        api_token.as_str(),
        cli_token.as_str(),
        USER_PASSWORD,
        WRONG_PASSWORD,
        NEW_PASSWORD,
        API_KEY,
        MEDIA_SECRET,
        METRICS_TOKEN,
        DB_PASSWORD,
    ] {
        if let Some(at) = log.find(secret) {
            let line_start = log[..at].rfind('\n').map_or(0, |n| n + 1);
            let line_end = log[at..].find('\n').map_or(log.len(), |n| at + n);
            panic!("a secret is in the log: {}", &log[line_start..line_end]);
        }
    }
    assert!(
        !log.contains('\u{1b}'),
        "a log that is not a terminal has no escape sequences"
    );
}

/// `LOG_FORMAT=json`: every line one object with the fields a log pipeline indexes,
/// and the lines of one request, and of the job it enqueued, carry its id.
#[tokio::test(flavor = "multi_thread")]
async fn json_logs_are_one_object_per_line_with_the_request_id() {
    let database = TestDatabase::new();
    let port = free_port();
    let mut env = common_env(&database.url, port);
    env.extend([
        ("LOG_FORMAT", "json".to_owned()),
        ("RUST_LOG", "info,tower_http=debug".to_owned()),
        ("WORKERS", "1".to_owned()),
        ("JOB_POLL_INTERVAL_MS", "100".to_owned()),
    ]);
    let run = Run::new(env);
    let created = run.run(&["users", "create", "alice"]);
    assert!(created.status.success(), "{}", run.log());
    let token = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    let server = run.spawn(&["serve"]);
    let base = format!("http://127.0.0.1:{port}");
    wait_for_http(&format!("{base}/readyz"), Duration::from_secs(60)).await;
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .header("x-request-id", "json-upload-1")
        .json(&json!({
            "query": "mutation($b: String!) { uploadImage(input: {base64: $b}) { image { id } } }",
            "variables": { "b": base64_of(&png(16, 12)) },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "json-upload-1");
    let body: Value = response.json().await.unwrap();
    let id = body["data"]["uploadImage"]["image"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = gql(
            &client,
            &base,
            Some(&format!("Bearer {token}")),
            json!({ "query": "query($id: ID!) { image(id: $id) { analysis { status } } }", "variables": { "id": id } }),
        )
        .await;
        if body["data"]["image"]["analysis"]["status"] == "SUCCEEDED" {
            break;
        }
        assert!(Instant::now() < deadline, "not analysed: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    terminate(server);

    let log = run.log();
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(lines.len() >= 5, "{log}");
    for line in &lines {
        for field in ["timestamp", "level", "target", "message"] {
            assert!(line[field].is_string(), "no `{field}` in {line}");
        }
        // Inside a request, the line says which.
        let in_request = line["spans"]
            .as_array()
            .is_some_and(|spans| spans.iter().any(|s| s["name"] == "http_request"));
        if in_request {
            assert!(request_id(line).is_some(), "{line}");
        }
    }
    let said = |message: &str| lines.iter().any(|l| l["message"] == message);
    assert!(said("storage ready") && said("shutting down"), "{log}");
    assert!(
        lines.iter().any(|l| l["storage"].is_string()),
        "an event's own fields are top-level: {log}"
    );
    let of_upload: Vec<&str> = lines
        .iter()
        .filter(|l| request_id(l) == Some("json-upload-1"))
        .filter_map(|l| l["message"].as_str())
        .collect();
    for message in ["finished processing request", "job started", "job done"] {
        assert!(
            of_upload.contains(&message),
            "`{message}` is not logged with the request id: {of_upload:?}\n{log}"
        );
    }
}

/// The request id of a JSON log line: the innermost span's that has one.
fn request_id(line: &Value) -> Option<&str> {
    line["spans"]
        .as_array()?
        .iter()
        .rev()
        .find_map(|span| span["request_id"].as_str())
}
