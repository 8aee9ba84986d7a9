//! Limits that keep one client from hurting the service: query shape and size,
//! batches, time, cross-origin access, security headers, and rate limits.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::harness::*;

const FEED: &str = "{ images(first: 10) { edges { cursor node { id url thumbnailUrl description commentCount owner { name } comments(first: 5) { edges { node { id text author { name } } } } } } pageInfo { endCursor hasNextPage } } }";

fn limit_refusal(body: &Value) -> (&str, &str, u64) {
    let ext = &body["errors"][0]["extensions"];
    (
        ext["code"].as_str().unwrap_or_else(|| panic!("{body}")),
        ext["limit"].as_str().unwrap_or_else(|| panic!("{body}")),
        ext["max"].as_u64().unwrap(),
    )
}

/// `images { edges { node { parent { parent ... { id } } } } }` nested `depth` deep.
fn nested_parents(depth: usize) -> String {
    let parents = depth - 4;
    format!(
        "{{ images {{ edges {{ node {{ {}id{} }} }} }} }}",
        "parent { ".repeat(parents),
        " }".repeat(parents)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn depth_is_limited_but_introspection_is_not_counted() {
    let t = TestApp::start().await;
    let ok = t.gql(&t.alice.token, &nested_parents(12), json!({})).await;
    assert!(ok["errors"].is_null(), "{ok}");
    let refused = t.gql(&t.alice.token, &nested_parents(13), json!({})).await;
    assert_eq!(limit_refusal(&refused), ("BAD_USER_INPUT", "depth", 12));
    assert!(refused["data"].is_null());

    // GraphiQL's introspection query nests 13 levels through `args { type { ofType ...`.
    let introspection = "{ __schema { types { fields { args { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } }";
    let body = t.gql(&t.alice.token, introspection, json!({})).await;
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn complexity_multiplies_by_page_size() {
    let t = TestApp::start().await;
    let feed = t.gql(&t.alice.token, FEED, json!({})).await;
    assert!(feed["errors"].is_null(), "the feed query fits: {feed}");
    let wide = "{ images(first: 30) { edges { node { comments(first: 80) { edges { node { id text author { name } } } } } } } }";
    let body = t.gql(&t.alice.token, wide, json!({})).await;
    assert_eq!(limit_refusal(&body), ("BAD_USER_INPUT", "complexity", 5000));
    // The same shape with small pages passes: the cost follows `first`.
    let narrow = wide
        .replace("first: 30", "first: 3")
        .replace("first: 80", "first: 8");
    let body = t.gql(&t.alice.token, &narrow, json!({})).await;
    assert!(body["errors"].is_null(), "{body}");
}

/// The README's figure: the feed query costs exactly 441.
#[tokio::test(flavor = "multi_thread")]
async fn the_feed_query_costs_441() {
    for (max, fits) in [(441, true), (440, false)] {
        let t = TestApp::start_with(|c| c.graphql.max_query_complexity = max).await;
        let body = t.gql(&t.alice.token, FEED, json!({})).await;
        assert_eq!(body["errors"].is_null(), fits, "{max}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn aliases_and_query_length_are_capped() {
    let t = TestApp::start().await;
    let aliases = |n: usize| {
        let fields: Vec<String> = (0..n).map(|i| format!("a{i}: viewer {{ name }}")).collect();
        format!("{{ {} }}", fields.join(" "))
    };
    let ok = t.gql(&t.alice.token, &aliases(30), json!({})).await;
    assert!(ok["errors"].is_null(), "{ok}");
    let refused = t.gql(&t.alice.token, &aliases(31), json!({})).await;
    assert_eq!(limit_refusal(&refused), ("BAD_USER_INPUT", "aliases", 30));

    let long = format!("{{ viewer {{ name }} }} # {}", "x".repeat(40_000));
    let refused = t.gql(&t.alice.token, &long, json!({})).await;
    assert_eq!(
        limit_refusal(&refused),
        ("BAD_USER_INPUT", "queryBytes", 32_768)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_are_capped() {
    let t = TestApp::start().await;
    let batch = |n: usize| Value::Array(vec![json!({ "query": "{ viewer { name } }" }); n]);
    let (status, body) = t.gql_response(Some(&t.alice.token), batch(10)).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 10);
    let (status, body) = t.gql_response(Some(&t.alice.token), batch(11)).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("limit is 10")
    );
    let (_, body) = t.gql_response(Some(&t.alice.token), batch(0)).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn introspection_can_be_turned_off() {
    let t = TestApp::start_with(|c| c.graphql.graphql_introspection = false).await;
    let body = t
        .gql(&t.alice.token, "{ __schema { types { name } } }", json!({}))
        .await;
    assert!(
        body["data"]["__schema"].is_null(),
        "introspection answered: {body}"
    );
    let body = t
        .gql(
            &t.alice.token,
            "{ __type(name: \"Image\") { name } }",
            json!({}),
        )
        .await;
    assert!(body["data"]["__type"].is_null(), "{body}");
    let body = t
        .gql(&t.alice.token, "{ viewer { name } }", json!({}))
        .await;
    assert_eq!(body["data"]["viewer"]["name"], "alice");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_past_the_time_limit_gets_a_retryable_error_and_stores_nothing() {
    let server = MockServer::start().await;
    // The planner answers after the request's time limit.
    Mock::given(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let t = crate::ai::ai_app(&server, |c| {
        c.http.request_timeout_secs = 1;
        c.jobs.workers = 0;
    })
    .await;
    let id = t.upload_png(&t.alice.token).await;
    let images = t.count_rows("images").await;
    let objects = t.stored_objects().len();
    let started = std::time::Instant::now();
    let (status, body) = t
        .gql_response(
            Some(&t.alice.token),
            json!({
                "query": "mutation($i: ID!) { editImageWithPrompt(input: { imageId: $i, prompt: \"brighter\" }) { image { id } } }",
                "variables": { "i": id },
            }),
        )
        .await;
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(status, 503);
    assert_eq!(error_code(&body), Some("SERVICE_UNAVAILABLE"));
    assert_eq!(body["errors"][0]["extensions"]["retryable"], true);
    assert_eq!(t.count_rows("images").await, images);
    assert_eq!(t.stored_objects().len(), objects);
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_carry_security_headers() {
    let t = TestApp::start().await;
    for path in ["/graphql?query=%7B__typename%7D", "/healthz", "/", "/app/"] {
        let response = t.client.get(t.url(path)).send().await.unwrap();
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        // Plain http: HSTS would be a lie.
        assert!(!headers.contains_key("strict-transport-security"));
    }
}

async fn preflight(t: &TestApp, origin: &str) -> reqwest::Response {
    t.client
        .request(reqwest::Method::OPTIONS, t.url("/graphql"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn cross_origin_access_follows_the_allow_list() {
    let t = TestApp::start_with(|c| {
        c.http.cors_allowed_origins = vec!["https://gallery.example.com".into()];
    })
    .await;
    let allowed = preflight(&t, "https://gallery.example.com").await;
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://gallery.example.com"
    );
    let allow_headers = allowed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(allow_headers.contains("authorization"), "{allow_headers}");
    let other = preflight(&t, "https://evil.example.net").await;
    assert!(!other.headers().contains_key("access-control-allow-origin"));

    // By default only the service's own pages (same origin) may call it.
    let t = TestApp::start().await;
    let response = preflight(&t, "https://gallery.example.com").await;
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn costly_mutations_are_rate_limited_per_user() {
    let t = TestApp::start_with(|c| {
        c.rate_limits.rate_limit_costly_burst = 2;
        c.rate_limits.rate_limit_costly_per_minute = 1.0;
    })
    .await;
    let id = t.upload_png(&t.alice.token).await; // no analysis: not costly
    let analyze = "mutation($i: ID!) { analyzeImage(input: { imageId: $i }) { image { id } } }";
    let jobs = t.count_rows("jobs").await;
    for _ in 0..2 {
        let body = t.gql(&t.alice.token, analyze, json!({ "i": id })).await;
        assert!(body["errors"].is_null(), "{body}");
    }
    let jobs_after_burst = t.count_rows("jobs").await;
    assert!(jobs_after_burst > jobs);
    let body = t.gql(&t.alice.token, analyze, json!({ "i": id })).await;
    assert_eq!(error_code(&body), Some("RATE_LIMITED"), "{body}");
    let retry_after = body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // An upload that would be analyzed is costly too; one that is not is free.
    let body = t
        .gql(
            &t.alice.token,
            "mutation($b: String!) { uploadImage(input: { base64: $b }) { image { id } } }",
            json!({ "b": base64_of(&png(4, 4)) }),
        )
        .await;
    assert_eq!(error_code(&body), Some("RATE_LIMITED"), "{body}");
    t.upload_png(&t.alice.token).await;
    assert_eq!(
        t.count_rows("jobs").await,
        jobs_after_burst,
        "nothing queued"
    );

    // Each user has an allowance of their own.
    let body = t.gql(&t.bob.token, analyze, json!({ "i": id })).await;
    assert_ne!(error_code(&body), Some("RATE_LIMITED"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_without_a_valid_token_are_rate_limited_per_address() {
    let t = TestApp::start_with(|c| {
        c.rate_limits.rate_limit_anonymous_burst = 3;
        c.rate_limits.rate_limit_anonymous_per_minute = 1.0;
    })
    .await;
    let introspect = json!({ "query": "{ __typename }" });
    for _ in 0..2 {
        let (status, _) = t.gql_response(None, introspect.clone()).await;
        assert_eq!(status, 200);
    }
    // A wrong token counts too, so tokens cannot be guessed at speed.
    let (status, body) = t.gql_response(Some("igt_wrong"), introspect.clone()).await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));

    let response = t
        .client
        .post(t.url("/graphql"))
        .json(&introspect)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), Some("RATE_LIMITED"));
    assert_eq!(
        body["errors"][0]["extensions"]["retryAfter"].as_u64(),
        Some(retry_after)
    );

    // Signed-in users are not held back by their address.
    let body = t
        .gql(&t.alice.token, "{ viewer { name } }", json!({}))
        .await;
    assert_eq!(body["data"]["viewer"]["name"], "alice");
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_assets_are_served_from_the_web_dir() {
    let t = TestApp::start().await;
    let page = t.client.get(t.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-cache");
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("/assets/graphiql-3f2a1c.js")
    );

    let script = t
        .client
        .get(t.url("/assets/graphiql-3f2a1c.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    let missing = t.client.get(t.url("/assets/nope.js")).send().await.unwrap();
    assert_eq!(missing.status(), 404);

    // The gallery's own routes all get its page.
    for path in ["/app", "/app/", "/app/images/0193"] {
        let response = t.client.get(t.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("imagegraph gallery")
        );
    }

    let unbuilt =
        TestApp::start_with(|c| c.http.web_dir = std::path::PathBuf::from("/nonexistent/web"))
            .await;
    let page = unbuilt.client.get(unbuilt.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 503);
    assert!(page.text().await.unwrap().contains("scripts/web.sh build"));
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_connections_without_a_token_draw_on_the_address_allowance() {
    use crate::subscriptions::Client;
    let t = TestApp::start_with(|c| {
        c.rate_limits.rate_limit_anonymous_burst = 2;
        c.rate_limits.rate_limit_anonymous_per_minute = 1.0;
    })
    .await;
    assert!(Client::connect(t.addr, None, false).await.is_ok());
    assert!(
        Client::connect(t.addr, Some("igt_wrong"), false)
            .await
            .is_err()
    );
    // The allowance is spent: even an honest anonymous connection is refused now...
    assert!(Client::connect(t.addr, None, false).await.is_err());
    // ...while a signed-in one is not.
    assert!(
        Client::connect(t.addr, Some(&t.alice.token), false)
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_forwarded_address_counts_only_behind_a_trusted_proxy() {
    async fn status(t: &TestApp, forwarded_for: &str) -> u16 {
        t.client
            .post(t.url("/graphql"))
            .header("x-forwarded-for", forwarded_for)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
    let limit = |trust: bool| {
        move |c: &mut imagegraph::config::Config| {
            c.rate_limits.rate_limit_anonymous_burst = 1;
            c.rate_limits.rate_limit_anonymous_per_minute = 1.0;
            c.http.trust_forwarded_for = trust;
        }
    };
    // Behind our proxy, the last entry (the one it appended) is the client.
    let t = TestApp::start_with(limit(true)).await;
    assert_eq!(status(&t, "6.6.6.6, 10.0.0.1").await, 200);
    assert_eq!(status(&t, "7.7.7.7, 10.0.0.1").await, 429);
    assert_eq!(status(&t, "10.0.0.2").await, 200);
    // Otherwise the header is the client's to forge, and ignored.
    let t = TestApp::start_with(limit(false)).await;
    assert_eq!(status(&t, "10.0.0.1").await, 200);
    assert_eq!(status(&t, "10.0.0.2").await, 429);
}

#[tokio::test(flavor = "multi_thread")]
async fn deeply_nested_values_are_refused_and_the_server_lives_on() {
    let t = TestApp::start().await;
    let depth = 16_000;
    let lists = format!(
        "query($id: ID) {{ nodes(ids: {}$id{}) {{ id }} }}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let objects = format!(
        "mutation {{ editImage(input: {}) {{ preview }} }}",
        "{a:".repeat(6_000) + &"}".repeat(6_000)
    );
    for query in [lists, objects] {
        assert!(query.len() <= 32_768, "{}", query.len());
        let body = t.gql(&t.alice.token, &query, json!({})).await;
        assert_eq!(limit_refusal(&body), ("BAD_USER_INPUT", "nesting", 128));
    }
    // Just under the limit the document is parsed and walked (the absent variable's
    // positions are looked up), and refused by validation, not by a crash.
    let under = format!(
        "query($id: ID) {{ nodes(ids: {}$id{}) {{ id }} }}",
        "[".repeat(120),
        "]".repeat(120)
    );
    let body = t.gql(&t.alice.token, &under, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    // Brackets inside strings and comments are not nesting.
    let quoted = format!("{{ viewer {{ name }} }} # {}\n", "[".repeat(500));
    let body = t.gql(&t.alice.token, &quoted, json!({})).await;
    assert_eq!(body["data"]["viewer"]["name"], "alice", "{body}");
    let alive = t
        .gql(&t.alice.token, "{ viewer { name } }", json!({}))
        .await;
    assert_eq!(alive["data"]["viewer"]["name"], "alice");
}

/// A body refused before it was read is answered, not cut off: the client, still
/// sending, reads our 413 rather than a reset connection (lingering close).
#[tokio::test(flavor = "multi_thread")]
async fn refused_bodies_are_answered_while_still_arriving() {
    let t = TestApp::start_with(|config| config.images.max_upload_bytes = 1 << 20).await;
    let huge = json!({ "query": "{ __typename }", "x": "z".repeat(6 << 20) }).to_string();
    for round in 0..10 {
        let response = t
            .client
            .post(t.url("/graphql"))
            .bearer_auth(&t.alice.token)
            .header("content-type", "application/json")
            .body(huge.clone())
            .send()
            .await
            .unwrap_or_else(|err| panic!("round {round}: {err:?}"));
        assert_eq!(response.status(), 413, "round {round}");
    }
    let alive = t
        .gql(&t.alice.token, "{ viewer { name } }", json!({}))
        .await;
    assert_eq!(alive["data"]["viewer"]["name"], "alice");
}
