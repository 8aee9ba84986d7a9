//! GraphQL over HTTP: the answer's media type follows `Accept`, and a request refused
//! before execution is a 400 without `data` under `application/graphql-response+json`
//! but a 200 with `errors` under `application/json`.

use serde_json::{Value, json};

use crate::harness::TestApp;

const GRJ: &str = "application/graphql-response+json";

struct Answer {
    status: u16,
    content_type: String,
    body: Value,
}

async fn post(t: &TestApp, accept: Option<&str>, body: &str) -> Answer {
    let mut request = t
        .client
        .post(t.url("/graphql"))
        .bearer_auth(&t.alice.token)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    answer(request.send().await.unwrap()).await
}

async fn get(t: &TestApp, accept: &str, query: &str) -> Answer {
    let response = t
        .client
        .get(t.url("/graphql"))
        .query(&[("query", query)])
        .bearer_auth(&t.alice.token)
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    answer(response).await
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    Answer {
        status,
        content_type,
        body,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_answer_has_the_media_type_the_client_accepts() {
    let t = TestApp::start().await;
    let query = r#"{"query":"{ __typename }"}"#;
    for (accept, expected) in [
        (None, "application/json"),
        (Some("application/json"), "application/json"),
        (Some("*/*"), "application/json"),
        (Some(GRJ), GRJ),
        (
            Some("application/graphql-response+json, application/json;q=0.9"),
            GRJ,
        ),
        (
            Some("application/graphql-response+json;q=0.5, application/json"),
            "application/json",
        ),
    ] {
        let answer = post(&t, accept, query).await;
        assert_eq!(answer.status, 200, "{accept:?}");
        assert!(
            answer.content_type.starts_with(expected),
            "{accept:?}: {}",
            answer.content_type
        );
        assert_eq!(answer.body, json!({ "data": { "__typename": "Query" } }));
    }
    let refused = post(&t, Some("text/html"), query).await;
    assert_eq!(refused.status, 406);
    assert_eq!(
        refused.body["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_that_are_not_graphql_requests_are_400_in_both_media_types() {
    let t = TestApp::start().await;
    let cases = [
        ("body not JSON", r#"{ "not a JSON"#.to_owned()),
        ("empty body", String::new()),
        (
            "query missing",
            json!({ "qeury": "{ __typename }" }).to_string(),
        ),
        ("query null", json!({ "query": null }).to_string()),
        ("query not a string", json!({ "query": 0 }).to_string()),
        (
            "operationName not a string",
            json!({ "query": "{ __typename }", "operationName": ["a"] }).to_string(),
        ),
        (
            "variables not a map",
            json!({ "query": "{ __typename }", "variables": "x" }).to_string(),
        ),
        (
            "extensions not a map",
            json!({ "query": "{ __typename }", "extensions": 0 }).to_string(),
        ),
    ];
    for (case, body) in &cases {
        for accept in [GRJ, "application/json"] {
            let answer = post(&t, Some(accept), body).await;
            assert_eq!(answer.status, 400, "{case} ({accept}): {}", answer.body);
            assert!(
                answer.content_type.starts_with(accept),
                "{case}: {}",
                answer.content_type
            );
            assert!(answer.body.get("data").is_none(), "{case}: {}", answer.body);
            assert_eq!(
                answer.body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{case}"
            );
        }
    }
    // Null parameters are parameters not given.
    let body = json!({ "query": "{ __typename }", "operationName": null, "variables": null, "extensions": null });
    let answer = post(&t, Some(GRJ), &body.to_string()).await;
    assert_eq!(
        (answer.status, answer.body["data"]["__typename"].as_str()),
        (200, Some("Query"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn documents_refused_before_running_are_400_without_data_under_graphql_response_json() {
    let t = TestApp::start().await;
    let cases = [
        ("syntax", json!({ "query": "{" })),
        ("empty document", json!({ "query": "" })),
        ("unknown field", json!({ "query": "{ nope }" })),
        (
            "variable of the wrong type",
            json!({ "query": "query($n: Int) { images(first: $n) { totalCount } }", "variables": { "n": "ten" } }),
        ),
        (
            "required variable not provided",
            json!({ "query": "query($id: ID!) { image(id: $id) { id } }" }),
        ),
        (
            "explicit null for a required variable",
            json!({ "query": "query($id: ID!) { image(id: $id) { id } }", "variables": { "id": null } }),
        ),
        (
            "unknown operation name",
            json!({ "query": "query A { __typename }", "operationName": "B" }),
        ),
    ];
    for (case, body) in &cases {
        let body = body.to_string();
        let strict = post(&t, Some(GRJ), &body).await;
        assert_eq!(strict.status, 400, "{case}: {}", strict.body);
        assert!(strict.content_type.starts_with(GRJ), "{case}");
        assert!(strict.body.get("data").is_none(), "{case}: {}", strict.body);
        assert!(
            strict.body["errors"][0]["extensions"]["code"].is_string(),
            "{case}: {}",
            strict.body
        );

        let legacy = post(&t, Some("application/json"), &body).await;
        assert_eq!(legacy.status, 200, "{case}: {}", legacy.body);
        assert!(
            legacy.content_type.starts_with("application/json"),
            "{case}"
        );
        assert!(
            legacy.body["errors"]
                .as_array()
                .is_some_and(|e| !e.is_empty()),
            "{case}"
        );
        assert!(legacy.body.get("data").is_none(), "{case}: {}", legacy.body);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn field_errors_are_200_with_data_in_both_media_types() {
    let t = TestApp::start().await;
    let unknown = imagegraph_db::GlobalId::global_id(imagegraph_db::ImageId::new());
    let body = json!({ "query": "query($id: ID!) { image(id: $id) { id } }", "variables": { "id": unknown } })
        .to_string();
    for accept in [GRJ, "application/json"] {
        let answer = post(&t, Some(accept), &body).await;
        assert_eq!(answer.status, 200, "{accept}");
        assert!(answer.body.get("data").is_some(), "{}", answer.body);
        assert_eq!(answer.body["errors"][0]["extensions"]["code"], "NOT_FOUND");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn get_negotiates_too_and_refuses_mutations() {
    let t = TestApp::start().await;
    let answer = get(&t, GRJ, "{ __typename }").await;
    assert_eq!(
        (answer.status, answer.body["data"]["__typename"].as_str()),
        (200, Some("Query"))
    );
    assert!(answer.content_type.starts_with(GRJ));
    let answer = get(&t, GRJ, "{ nope }").await;
    assert_eq!(answer.status, 400);
    assert!(answer.body.get("data").is_none());
    let answer = get(&t, "application/json", "{ nope }").await;
    assert_eq!(answer.status, 200);
    assert!(answer.body["errors"].is_array());
    let answer = get(&t, GRJ, "mutation { __typename }").await;
    assert_eq!(answer.status, 405);
    // GET's operationName picks the operation.
    let response = t
        .client
        .get(t.url("/graphql"))
        .query(&[
            (
                "query",
                "query A { a: __typename } query B { b: __typename }",
            ),
            ("operationName", "B"),
        ])
        .bearer_auth(&t.alice.token)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "data": { "b": "Query" } }));
    // No query at all is not a GraphQL request.
    let response = t
        .client
        .get(t.url("/graphql"))
        .bearer_auth(&t.alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn subscriptions_over_http_are_refused_requests() {
    let t = TestApp::start().await;
    let body = json!({ "query": "subscription { analysisCompleted { id } }" }).to_string();
    let strict = post(&t, Some(GRJ), &body).await;
    assert_eq!(strict.status, 400, "{}", strict.body);
    assert!(strict.body.get("data").is_none());
    assert!(
        strict.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("/graphql/ws")
    );
    let legacy = post(&t, None, &body).await;
    assert_eq!(legacy.status, 200);
    assert!(legacy.body.get("data").is_none(), "{}", legacy.body);
}

/// Fragments that each spread the next twice: 2^30 fields once expanded, in 1 KB.
/// Refused before anything walks them, promptly.
#[tokio::test(flavor = "multi_thread")]
async fn doubling_fragments_are_refused_at_once() {
    let t = TestApp::start().await;
    let mut query = String::from("{ ...F1 }");
    for i in 1..30 {
        query.push_str(&format!(
            " fragment F{i} on Query {{ ...F{} ...F{} }}",
            i + 1,
            i + 1
        ));
    }
    query.push_str(" fragment F30 on Query { __typename }");
    let body = json!({ "query": query }).to_string();
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        post(&t, Some(GRJ), &body),
    )
    .await
    .expect("answered within 10 s");
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(
        answer.body["errors"][0]["extensions"]["limit"],
        "complexity"
    );
    // The server is still free for others.
    let alive = post(&t, Some(GRJ), r#"{"query":"{ __typename }"}"#).await;
    assert_eq!(alive.status, 200);
}
