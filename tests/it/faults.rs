//! Faults, each against real processes: a worker killed or stopped mid-job, object
//! storage unreachable, PostgreSQL restarted under a running server.

use std::process::Command;
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::ai::{ai_app, chat_completion};
use crate::harness::{
    Killed, TestApp, TestDatabase, base64_of, error_code, free_port, png, spawn_imagegraph,
    wait_for_http,
};
use crate::subscriptions::Client;

const ANALYSIS: &str = "query($id: ID!) { image(id: $id) { description analysis { status } } }";

fn worker_process(t: &TestApp, openai: &str, extra: &[(&str, &str)]) -> Killed {
    let secret = t.app.config.storage.media_secret.clone().unwrap();
    let data_dir = t.data_dir.path();
    let mut env: Vec<(&str, &dyn AsRef<std::ffi::OsStr>)> = vec![
        ("DATABASE_URL", &t.database.url),
        ("DATA_DIR", &data_dir),
        ("MEDIA_SECRET", &secret),
        ("OPENAI_BASE_URL", &openai),
        ("OPENAI_API_KEY", &"sk-test-0123456789"),
        ("WORKERS", &"1"),
        ("JOB_LEASE_MS", &"1500"),
        ("JOB_POLL_INTERVAL_MS", &"200"),
    ];
    for (key, value) in extra {
        env.push((key, value));
    }
    spawn_imagegraph("worker", &env)
}

async fn wait_for_requests(server: &MockServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.received_requests().await.unwrap().len() < n {
        assert!(
            Instant::now() < deadline,
            "the provider was not called {n} time(s)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An OpenAI stand-in whose first answer takes 30 s (so a job is caught mid-call) and
/// whose later answers come at once with `text`.
async fn slow_then_quick(text: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(chat_completion("Too slow."))
                .set_delay(Duration::from_secs(30)),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_completion(text)))
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_job_leaves_it_to_another_after_the_lease() {
    let server = slow_then_quick("Finished by the survivor.").await;
    let t = ai_app(&server, |c| c.jobs.workers = 0).await;
    let mut doomed = worker_process(&t, &server.uri(), &[]);
    let id = t.upload_png_analyzed(&t.alice.token, true).await;
    wait_for_requests(&server, 1).await;
    assert!(
        Command::new("kill")
            .args(["-KILL", &doomed.0.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let _ = doomed.0.wait();

    let survivor = t.start_workers(1);
    let body = crate::harness::eventually(
        &t,
        &t.alice.token,
        ANALYSIS,
        json!({ "id": id }),
        Duration::from_secs(20),
        |b| b["data"]["image"]["analysis"]["status"] == "SUCCEEDED",
    )
    .await;
    assert_eq!(
        body["data"]["image"]["description"],
        "Finished by the survivor."
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    survivor.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_job_hands_the_job_back_at_once() {
    let server = slow_then_quick("Done after the hand-back.").await;
    // A long lease: only the hand-back can explain a quick second run.
    let t = ai_app(&server, |c| {
        c.jobs.workers = 0;
        c.jobs.job_lease_ms = 120_000;
    })
    .await;
    let mut stopping = worker_process(
        &t,
        &server.uri(),
        &[("JOB_SHUTDOWN_GRACE_MS", "300"), ("JOB_LEASE_MS", "120000")],
    );
    let id = t.upload_png_analyzed(&t.alice.token, true).await;
    wait_for_requests(&server, 1).await;
    let stopped_at = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &stopping.0.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = stopping.0.wait().unwrap();
    assert!(status.success(), "the worker exits cleanly: {status:?}");
    assert!(stopped_at.elapsed() < Duration::from_secs(10));

    let survivor = t.start_workers(1);
    let body = crate::harness::eventually(
        &t,
        &t.alice.token,
        ANALYSIS,
        json!({ "id": id }),
        Duration::from_secs(10),
        |b| b["data"]["image"]["analysis"]["status"] == "SUCCEEDED",
    )
    .await;
    assert_eq!(
        body["data"]["image"]["description"],
        "Done after the hand-back."
    );
    survivor.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_object_storage_fails_uploads_cleanly_and_keeps_no_row() {
    let database = TestDatabase::new();
    let port = free_port();
    let dead_s3 = free_port(); // nothing listens there
    let data_dir = tempfile::tempdir().unwrap();
    let _server = spawn_imagegraph(
        "serve",
        &[
            ("DATABASE_URL", &database.url),
            ("DATA_DIR", &data_dir.path()),
            ("LISTEN_ADDR", &format!("127.0.0.1:{port}")),
            ("STORAGE_URL", &"s3://nowhere/images"),
            ("AWS_ENDPOINT", &format!("http://127.0.0.1:{dead_s3}")),
            ("AWS_ACCESS_KEY_ID", &"x"),
            ("AWS_SECRET_ACCESS_KEY", &"x"),
            ("AWS_REGION", &"us-east-1"),
        ],
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_for_http(&format!("{base}/healthz"), Duration::from_secs(30)).await;
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["storage"],
        "unavailable"
    );

    let token = std::fs::read_to_string(data_dir.path().join("admin-token"))
        .unwrap()
        .trim()
        .to_owned();
    let started = Instant::now();
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": "mutation($b: String!) { uploadImage(input: { base64: $b }) { image { id } } }", "variables": { "b": base64_of(&png(10, 10)) } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(error_code(&body), Some("SERVICE_UNAVAILABLE"), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["retryable"], true);
    assert_eq!(
        body["errors"][0]["message"],
        "the object storage is unavailable right now; retry shortly"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "fails in seconds: {:?}",
        started.elapsed()
    );

    let mut conn = AsyncPgConnection::establish(&database.url).await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let rows: Count = diesel::sql_query("SELECT count(*) AS n FROM images")
        .get_result(&mut conn)
        .await
        .unwrap();
    let jobs: Count = diesel::sql_query("SELECT count(*) AS n FROM jobs")
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!((rows.n, jobs.n), (0, 0), "no row, no job");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_restart_is_survived_without_restarting_the_service() {
    use imagegraph_db::local_cluster::{LocalCluster, Options};
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        root.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let pg_root = root.path().join("pg");
    let mut cluster = LocalCluster::start(&pg_root, Options { ephemeral: true }).unwrap();
    cluster.ensure_database("imagegraph").unwrap();
    let database_url = cluster.url("imagegraph");

    let port = free_port();
    let data_dir = root.path().join("data");
    let _server = spawn_imagegraph(
        "serve",
        &[
            ("DATABASE_URL", &database_url),
            ("DATA_DIR", &data_dir),
            ("LISTEN_ADDR", &format!("127.0.0.1:{port}")),
            ("WORKERS", &"1"),
            ("JOB_POLL_INTERVAL_MS", &"300"),
        ],
    );
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let base = format!("http://{addr}");
    wait_for_http(&format!("{base}/readyz"), Duration::from_secs(60)).await;
    let token = std::fs::read_to_string(data_dir.join("admin-token"))
        .unwrap()
        .trim()
        .to_owned();
    let client = reqwest::Client::new();
    let viewer = || {
        client
            .post(format!("{base}/graphql"))
            .bearer_auth(&token)
            .json(&json!({ "query": "{ viewer { name } }" }))
            .send()
    };
    assert_eq!(viewer().await.unwrap().status(), 200);
    let mut subscriber = Client::connect(addr, Some(&token), false).await.unwrap();
    subscriber
        .subscribe(
            "a",
            "subscription { analysisCompleted { id analysis { status } } }",
            json!({}),
        )
        .await;

    cluster.stop();
    let response = viewer().await.unwrap();
    assert_eq!(
        response.status(),
        503,
        "a retryable failure while the database is away"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), Some("SERVICE_UNAVAILABLE"), "{body}");
    // Readiness is reused for a second, so probes cannot load the database.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let status = reqwest::get(format!("{base}/readyz"))
            .await
            .unwrap()
            .status();
        if status == 503 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let cluster = LocalCluster::start(&pg_root, Options { ephemeral: true }).unwrap();
    // Ready again (database, storage and the LISTEN connection), with no restart.
    wait_for_http(&format!("{base}/readyz"), Duration::from_secs(30)).await;
    assert_eq!(viewer().await.unwrap().status(), 200);
    // The LISTEN connection comes back too: work finished after the restart is heard.
    let body: serde_json::Value = client
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": "mutation($b: String!) { uploadImage(input: { base64: $b }) { image { id } } }", "variables": { "b": base64_of(&png(12, 9)) } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = body["data"]["uploadImage"]["image"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let event = subscriber
        .next_event(Duration::from_secs(30))
        .await
        .expect("the event after the restart");
    assert_eq!(event["data"]["analysisCompleted"]["id"], id.as_str());
    assert_eq!(
        event["data"]["analysisCompleted"]["analysis"]["status"],
        "SUCCEEDED"
    );
    drop(_server);
    drop(cluster);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_closes_websockets_with_going_away_and_exits_cleanly() {
    let t = TestApp::start().await;
    let port = free_port();
    let mut server = spawn_imagegraph(
        "serve",
        &[
            ("DATABASE_URL", &t.database.url),
            ("DATA_DIR", &t.data_dir.path()),
            ("LISTEN_ADDR", &format!("127.0.0.1:{port}")),
        ],
    );
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_for_http(&format!("http://{addr}/readyz"), Duration::from_secs(30)).await;
    let mut subscriber = Client::connect(addr, Some(&t.alice.token), false)
        .await
        .unwrap();
    subscriber
        .subscribe("a", "subscription { analysisCompleted { id } }", json!({}))
        .await;

    assert!(
        Command::new("kill")
            .args(["-TERM", &server.0.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(
        subscriber.close_code(Duration::from_secs(10)).await,
        Some(1001),
        "going away"
    );
    let status = server.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
