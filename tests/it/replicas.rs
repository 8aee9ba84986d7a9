//! Two server processes on one database behave as one service.

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::ai::chat_completion;
use crate::harness::{free_port, spawn_imagegraph, wait_for_http};
use crate::subscriptions::Client;

#[tokio::test(flavor = "multi_thread")]
async fn jobs_run_once_and_events_cross_processes() {
    let server = MockServer::start().await;
    Mock::given(path("/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(chat_completion("Seen by one worker."))
                .set_delay(Duration::from_millis(50)),
        )
        .mount(&server)
        .await;
    let uri = server.uri();
    let a = crate::ai::ai_app(&server, |c| c.jobs.workers = 2).await;

    let port = free_port();
    let mut b = spawn_imagegraph(
        "serve",
        &[
            ("DATABASE_URL", &a.database.url),
            ("DATA_DIR", &a.data_dir.path()),
            ("LISTEN_ADDR", &format!("127.0.0.1:{port}")),
            (
                "MEDIA_SECRET",
                &a.app.config.storage.media_secret.as_deref().unwrap(),
            ),
            ("OPENAI_BASE_URL", &uri),
            ("OPENAI_API_KEY", &"sk-test-0123456789"),
            ("WORKERS", &"2"),
            ("JOB_POLL_INTERVAL_MS", &"200"),
        ],
    );
    let b_addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_for_http(&format!("http://{b_addr}/readyz"), Duration::from_secs(30)).await;

    let mut subscriber = Client::connect(b_addr, Some(&a.alice.token), false)
        .await
        .unwrap();
    subscriber
        .subscribe(
            "all",
            "subscription { analysisCompleted { id analysis { status } } }",
            json!({}),
        )
        .await;

    let mut uploaded = Vec::new();
    for _ in 0..8 {
        uploaded.push(a.upload_png_analyzed(&a.alice.token, true).await);
    }
    let mut seen = Vec::new();
    while seen.len() < uploaded.len() {
        let event = subscriber
            .next_event(Duration::from_secs(20))
            .await
            .expect("every completion reaches the other process");
        assert_eq!(
            event["data"]["analysisCompleted"]["analysis"]["status"],
            "SUCCEEDED"
        );
        seen.push(
            event["data"]["analysisCompleted"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert!(
        subscriber
            .next_message(Duration::from_millis(700))
            .await
            .is_none(),
        "no duplicate events"
    );
    seen.sort();
    uploaded.sort();
    assert_eq!(seen, uploaded);
    let calls = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/chat/completions")
        .count();
    assert_eq!(
        calls,
        uploaded.len(),
        "each job ran exactly once across four workers in two processes"
    );

    // A media URL signed by one replica works on the other (shared MEDIA_SECRET).
    let body = a
        .gql(
            &a.alice.token,
            "query($id: ID!) { image(id: $id) { url } }",
            json!({ "id": uploaded[0] }),
        )
        .await;
    let url = body["data"]["image"]["url"]
        .as_str()
        .unwrap()
        .replace(&a.addr.to_string(), &b_addr.to_string());
    assert_eq!(a.client.get(url).send().await.unwrap().status(), 200);

    // Usage recorded on both processes adds up (B flushes as it stops).
    let across = json!({ "query": "query Across { viewer { id } }" });
    for _ in 0..3 {
        let response = a
            .client
            .post(format!("http://{b_addr}/graphql"))
            .bearer_auth(&a.alice.token)
            .json(&across)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    for _ in 0..2 {
        a.gql_response(Some(&a.alice.token), across.clone()).await;
    }
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &b.0.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert!(b.0.wait().unwrap().success());
    a.app.usage.flush(&a.app.db).await.unwrap();
    let body = a
        .gql(
            &a.admin.token,
            "{ metrics(scope: GLOBAL) { nodes { name count } } }",
            json!({}),
        )
        .await;
    let count = body["data"]["metrics"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "query Across")
        .map(|n| n["count"].clone());
    assert_eq!(count, Some(json!(5)), "{body}");
}
