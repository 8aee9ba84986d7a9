//! Request ids: taken from the caller when sound, else made; sent back in
//! `X-Request-Id` and `extensions.requestId`; kept with the jobs a request enqueues.

use serde_json::{Value, json};

use crate::harness::{TestApp, base64_of, png};
use crate::subscriptions::Client;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

async fn post(t: &TestApp, headers: &[(&str, &str)], body: Value) -> (u16, Option<String>, Value) {
    let mut request = t.client.post(t.url("/graphql")).json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let id = response
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, id, response.json().await.unwrap_or(Value::Null))
}

fn is_generated(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_response_and_error_carries_the_request_id() {
    let t = TestApp::start().await;
    let bearer = format!("Bearer {}", t.alice.token);
    let query =
        json!({ "query": "{ image(id: \"00000000-0000-7000-8000-000000000000\") { id } }" });

    // A caller's plain id is kept, and put on the resolver's error.
    let (status, id, body) = post(
        &t,
        &[
            ("authorization", &bearer),
            ("x-request-id", "client-req-42"),
        ],
        json!({ "query": "{ viewer { name } nope }" }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(id.as_deref(), Some("client-req-42"));
    assert_eq!(
        body["errors"][0]["extensions"]["requestId"], "client-req-42",
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

    // Anything else is replaced, never echoed.
    for bad in ["has space", &"x".repeat(129), "a\"b"] {
        let (_, id, _) = post(&t, &[("x-request-id", bad)], query.clone()).await;
        let id = id.unwrap();
        assert!(is_generated(&id), "{bad:?} gave {id}");
    }

    // Without one, a valid traceparent's trace id; a broken traceparent is ignored.
    let traceparent = format!("00-{TRACE_ID}-00f067aa0ba902b7-01");
    let (_, id, body) = post(&t, &[("traceparent", &traceparent)], query.clone()).await;
    assert_eq!(id.as_deref(), Some(TRACE_ID));
    assert_eq!(
        body["errors"][0]["extensions"]["requestId"], TRACE_ID,
        "{body}"
    );
    let (_, id, _) = post(&t, &[("traceparent", "00-abc-01")], query.clone()).await;
    assert!(is_generated(&id.unwrap()));

    // Generated ids differ, and errors of the whole request carry them too: a wrong
    // token (401), a wrong content type (415), a batch too large (400).
    let (status, id, body) =
        post(&t, &[("authorization", "Bearer igt_wrong")], query.clone()).await;
    assert_eq!(status, 401);
    let first = id.unwrap();
    assert!(is_generated(&first));
    assert_eq!(
        body["errors"][0]["extensions"]["requestId"],
        first.as_str(),
        "{body}"
    );
    let (_, second, _) = post(&t, &[], query.clone()).await;
    assert_ne!(second.unwrap(), first);

    let response = t
        .client
        .post(t.url("/graphql"))
        .header("content-type", "text/plain")
        .header("x-request-id", "plain-text-1")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(response.headers()["x-request-id"], "plain-text-1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["requestId"], "plain-text-1");

    let batch: Vec<Value> = (0..11).map(|_| query.clone()).collect();
    let (status, id, body) = post(&t, &[("x-request-id", "batch-1")], json!(batch)).await;
    assert_eq!((status, id.as_deref()), (400, Some("batch-1")));
    assert_eq!(body["errors"][0]["extensions"]["requestId"], "batch-1");

    // Every route: GET, media, health.
    for path in [
        "/healthz",
        "/readyz",
        "/graphql?query=%7Bnope%7D",
        "/media/x",
    ] {
        let response = t.client.get(t.url(path)).send().await.unwrap();
        let id = response
            .headers()
            .get("x-request-id")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(is_generated(id), "{path}: {id}");
    }
}

/// The errors of a WebSocket operation's answer: a protocol `error` or a result.
fn ws_errors(message: &Value) -> &Value {
    if message["type"] == "error" {
        &message["payload"]
    } else {
        &message["payload"]["errors"]
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_websocket_operation_has_an_id_of_its_own() {
    let t = TestApp::start().await;
    let mut socket = Client::connect(t.addr, Some(&t.alice.token), false)
        .await
        .unwrap();
    let mut ids = Vec::new();
    // A resolver's error, a document that does not validate, one that does not parse.
    for (n, query) in [
        "{ node(id: \"not-an-id\") { id } }",
        "{ nope }",
        "subscription {",
    ]
    .iter()
    .enumerate()
    {
        socket
            .send(
                json!({ "id": n.to_string(), "type": "subscribe", "payload": { "query": query } }),
            )
            .await;
        let message = loop {
            let message = socket
                .next_message(std::time::Duration::from_secs(5))
                .await
                .unwrap();
            if message["type"] != "complete" {
                break message;
            }
        };
        let id = ws_errors(&message)[0]["extensions"]["requestId"]
            .as_str()
            .unwrap_or_else(|| panic!("no requestId: {message}"))
            .to_owned();
        assert!(is_generated(&id), "{message}");
        ids.push(id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "one id per operation: {ids:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_keep_the_id_of_the_request_that_enqueued_them() {
    use diesel_async::RunQueryDsl as _;
    let t = TestApp::start().await;
    let (status, _, body) = post(
        &t,
        &[
            ("authorization", &format!("Bearer {}", t.alice.token)),
            ("x-request-id", "upload-7"),
        ],
        json!({
            "query": "mutation($b: String!) { uploadImage(input: { base64: $b, analyze: true }) { image { id } } }",
            "variables": { "b": base64_of(&png(8, 6)) },
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        request_id: Option<String>,
    }
    let mut conn = t.app.db.conn().await.unwrap();
    let rows: Vec<Row> = diesel::sql_query("SELECT request_id FROM jobs")
        .load(&mut conn)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].request_id.as_deref(), Some("upload-7"));
    assert_eq!(t.run_jobs().await, 1);
}
