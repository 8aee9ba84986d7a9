//! Usage metrics: exact under concurrency, errors counted, buckets right across
//! boundaries, permissions, and the Prometheus endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone as _, Utc};
use imagegraph::usage::report::{self, Bucket, Range};
use imagegraph::usage::{Kind, Retention, UsageRecorder, Use};
use imagegraph_db::models::Role;
use serde_json::{Value, json};

use crate::harness::{TestApp, error_code};

const METRICS: &str = "query($scope: MetricScope, $userId: ID, $kind: MetricKind, $first: Int, $after: String) {
  metrics(scope: $scope, userId: $userId, kind: $kind, first: $first, after: $after) {
    edges { cursor node { name kind count errorCount totalDurationMs avgDurationMs lastUsedAt user { name } promptTokens completionTokens } }
    pageInfo { hasNextPage endCursor } } }";

fn metric<'a>(body: &'a Value, name: &str) -> Option<&'a Value> {
    body["data"]["metrics"]["edges"]
        .as_array()?
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["name"] == name)
}

async fn flush(t: &TestApp) {
    t.app.usage.flush(&t.app.db).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_use_is_counted_exactly_per_user_and_globally() {
    let t = TestApp::start().await;
    let mut users = Vec::new();
    for n in 0..10 {
        let (user, token) =
            imagegraph::use_cases::users::create(&t.app.db, &format!("load{n}"), Role::Member)
                .await
                .unwrap();
        users.push((user.id, token));
    }
    let tasks: Vec<_> = (0..50)
        .map(|task| {
            let (client, url, token) = (t.client.clone(), t.url("/graphql"), users[task % users.len()].1.clone());
            tokio::spawn(async move {
                for _ in 0..40 {
                    let response = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({ "query": "query Ping { viewer { id } }", "operationName": "Ping" }))
                        .send()
                        .await
                        .unwrap();
                    assert!(response.status().is_success());
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    flush(&t).await;

    for (id, token) in &users {
        let body = t.gql(token, METRICS, json!({})).await;
        let ping = metric(&body, "query Ping").unwrap_or_else(|| panic!("{body}"));
        assert_eq!(ping["count"], 200, "5 tasks x 40 requests per user");
        assert_eq!(ping["errorCount"], 0);
        let admin_view = t
            .gql(
                &t.admin.token,
                METRICS,
                json!({ "scope": "USER", "userId": imagegraph_db::GlobalId::global_id(*id) }),
            )
            .await;
        assert_eq!(metric(&admin_view, "query Ping").unwrap()["count"], 200);
    }
    let global = t
        .gql(&t.admin.token, METRICS, json!({ "scope": "GLOBAL" }))
        .await;
    let ping = metric(&global, "query Ping").unwrap();
    assert_eq!(ping["count"], 2000);
    assert!(ping["user"].is_null());
    assert!(ping["avgDurationMs"].as_f64().unwrap() > 0.0);
    let fields = t
        .gql(
            &t.admin.token,
            METRICS,
            json!({ "scope": "GLOBAL", "kind": "FIELD" }),
        )
        .await;
    assert!(
        metric(&fields, "viewer").unwrap()["count"]
            .as_i64()
            .unwrap()
            >= 2000
    );

    let summary = t
        .gql(
            &t.admin.token,
            "{ metricsSummary(scope: GLOBAL) { totalApiCalls uniqueUsers } }",
            json!({}),
        )
        .await;
    assert!(
        summary["data"]["metricsSummary"]["totalApiCalls"]
            .as_i64()
            .unwrap()
            >= 2000
    );
    assert!(
        summary["data"]["metricsSummary"]["uniqueUsers"]
            .as_i64()
            .unwrap()
            >= 10
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_counted_as_errors_with_their_codes() {
    let t = TestApp::start().await;
    let unknown = imagegraph_db::GlobalId::global_id(imagegraph_db::ImageId::new());
    let body = t
        .gql(&t.alice.token, "mutation Bad($i: ID!) { addComment(input: { imageId: $i, text: \"hi\" }) { comment { id } } }", json!({ "i": unknown }))
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
    let image = t.upload_png(&t.alice.token).await;
    t.add_comment(&t.alice.token, &image, "fine").await;
    flush(&t).await;

    let api = t.gql(&t.alice.token, METRICS, json!({})).await;
    assert_eq!(
        (
            metric(&api, "mutation Bad").unwrap()["count"].as_i64(),
            metric(&api, "mutation Bad").unwrap()["errorCount"].as_i64()
        ),
        (Some(1), Some(1))
    );
    let functions = t
        .gql(&t.alice.token, METRICS, json!({ "kind": "FUNCTION" }))
        .await;
    let add = metric(&functions, "comment.add").unwrap_or_else(|| panic!("{functions}"));
    assert_eq!(
        (add["count"].as_i64(), add["errorCount"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(metric(&functions, "image.upload").unwrap()["count"], 1);
    let errors = t
        .gql(&t.alice.token, METRICS, json!({ "kind": "ERROR" }))
        .await;
    assert_eq!(metric(&errors, "NOT_FOUND").unwrap()["count"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn ai_tokens_and_media_downloads_are_counted() {
    let t = TestApp::start().await;
    let alice = t.gql(&t.alice.token, "{ viewer { id } }", json!({})).await["data"]["viewer"]["id"]
        .as_str()
        .map(crate::harness::row_id);
    let usage = imagegraph::ai::Usage {
        model: "gpt-4o-mini-2024-07-18".into(),
        prompt_tokens: 700,
        completion_tokens: 40,
    };
    imagegraph::usage::account_ai_call(
        &t.app.db,
        &t.app.usage,
        usage.call(alice, "ai.describe", true, Duration::from_millis(900)),
    )
    .await
    .unwrap();
    let image = t.upload_png(&t.alice.token).await;
    let url = t
        .gql(
            &t.alice.token,
            "query($id: ID!) { image(id: $id) { url } }",
            json!({ "id": image }),
        )
        .await["data"]["image"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(t.client.get(&url).send().await.unwrap().status(), 200);
    flush(&t).await;

    let functions = t
        .gql(&t.alice.token, METRICS, json!({ "kind": "FUNCTION" }))
        .await;
    let describe = metric(&functions, "ai.describe/gpt-4o-mini-2024-07-18")
        .unwrap_or_else(|| panic!("{functions}"));
    assert_eq!(
        (
            describe["promptTokens"].as_i64(),
            describe["completionTokens"].as_i64()
        ),
        (Some(700), Some(40))
    );
    let summary = t
        .gql(
            &t.alice.token,
            "{ metricsSummary { promptTokens completionTokens totalFunctionCalls } }",
            json!({}),
        )
        .await;
    assert_eq!(summary["data"]["metricsSummary"]["promptTokens"], 700);
    assert_eq!(summary["data"]["metricsSummary"]["completionTokens"], 40);
    let global = t
        .gql(&t.admin.token, METRICS, json!({ "scope": "GLOBAL" }))
        .await;
    assert_eq!(metric(&global, "media.download").unwrap()["count"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn members_see_only_their_own_figures() {
    let t = TestApp::start().await;
    let bob = t.gql(&t.bob.token, "{ viewer { id } }", json!({})).await["data"]["viewer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (variables, code) in [
        (json!({ "scope": "GLOBAL" }), "FORBIDDEN"),
        (json!({ "scope": "USER", "userId": bob }), "FORBIDDEN"),
        (json!({ "scope": "USER" }), "BAD_USER_INPUT"),
        (
            json!({ "scope": "VIEWER", "userId": bob }),
            "BAD_USER_INPUT",
        ),
        (json!({ "first": 101 }), "BAD_USER_INPUT"),
        (json!({ "after": "nonsense" }), "BAD_USER_INPUT"),
    ] {
        let body = t.gql(&t.alice.token, METRICS, variables.clone()).await;
        assert_eq!(error_code(&body), Some(code), "{variables}: {body}");
    }
    let body = t
        .gql(
            &t.alice.token,
            "{ metricsSummary(scope: GLOBAL) { totalApiCalls } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
    let body = t
        .gql(
            &t.bob.token,
            METRICS,
            json!({ "scope": "USER", "userId": bob }),
        )
        .await;
    assert!(body["errors"].is_null(), "one's own figures by id: {body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn metric_pages_walk_every_name_once() {
    let t = TestApp::start().await;
    for name in ["A", "B", "C", "D", "E"] {
        t.gql(
            &t.alice.token,
            &format!("query {name} {{ viewer {{ id }} }}"),
            json!({}),
        )
        .await;
    }
    flush(&t).await;
    let mut names = Vec::new();
    let mut after = Value::Null;
    loop {
        let body = t
            .gql(
                &t.alice.token,
                METRICS,
                json!({ "first": 2, "after": after }),
            )
            .await;
        names.extend(
            body["data"]["metrics"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["name"].as_str().unwrap().to_owned()),
        );
        if body["data"]["metrics"]["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = body["data"]["metrics"]["pageInfo"]["endCursor"].clone();
    }
    names.sort();
    assert_eq!(
        names,
        ["query A", "query B", "query C", "query D", "query E"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn buckets_split_at_their_boundaries() {
    let t = TestApp::start().await;
    let now = Arc::new(AtomicI64::new(
        Utc.with_ymd_and_hms(2026, 11, 20, 23, 59, 30)
            .unwrap()
            .timestamp(),
    ));
    let clock = now.clone();
    let retention = Retention {
        minutes: chrono::TimeDelta::days(3650),
        hours: chrono::TimeDelta::days(3650),
    };
    let recorder = UsageRecorder::new(
        true,
        retention,
        Arc::new(move || DateTime::from_timestamp(clock.load(Ordering::SeqCst), 0).unwrap()),
    );
    let user = Some(imagegraph_db::UserId::new());
    let record = |failed| {
        recorder.record(Use::new(
            Kind::Function,
            "image.upload",
            user,
            Duration::from_millis(10),
            failed,
        ));
    };
    record(false);
    record(true);
    now.store(
        Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 10)
            .unwrap()
            .timestamp(),
        Ordering::SeqCst,
    );
    record(false);
    recorder.flush(&t.app.db).await.unwrap();
    // A second flush of new counts adds to the same buckets.
    record(false);
    recorder.flush(&t.app.db).await.unwrap();

    let range = Range {
        from: Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap(),
        to: Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap(),
    };
    let mut conn = t.app.db.conn().await.unwrap();
    let minutes = report::series(
        &mut conn,
        user,
        Kind::Function,
        "image.upload",
        range,
        Bucket::Minute,
    )
    .await
    .unwrap();
    let as_pairs = |ps: &[report::Point]| {
        ps.iter()
            .map(|p| (p.bucket_start.to_rfc3339(), p.count, p.error_count))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        as_pairs(&minutes),
        [
            ("2026-11-20T23:59:00+00:00".to_owned(), 2, 1),
            ("2026-11-21T00:00:00+00:00".to_owned(), 2, 0)
        ]
    );
    let hours = report::series(
        &mut conn,
        user,
        Kind::Function,
        "image.upload",
        range,
        Bucket::Hour,
    )
    .await
    .unwrap();
    assert_eq!(
        as_pairs(&hours),
        [
            ("2026-11-20T23:00:00+00:00".to_owned(), 2, 1),
            ("2026-11-21T00:00:00+00:00".to_owned(), 2, 0)
        ]
    );
    let days = report::series(
        &mut conn,
        user,
        Kind::Function,
        "image.upload",
        range,
        Bucket::Day,
    )
    .await
    .unwrap();
    assert_eq!(
        as_pairs(&days),
        [
            ("2026-11-20T00:00:00+00:00".to_owned(), 2, 1),
            ("2026-11-21T00:00:00+00:00".to_owned(), 2, 0)
        ]
    );
    let totals = report::totals(
        &mut conn,
        user,
        Kind::Function,
        range,
        Bucket::Minute,
        10,
        0,
    )
    .await
    .unwrap();
    assert_eq!(
        (
            totals[0].count,
            totals[0].error_count,
            totals[0].duration_us
        ),
        (4, 1, 40_000)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn series_come_through_graphql() {
    let t = TestApp::start().await;
    t.gql(&t.alice.token, "query Chart { viewer { id } }", json!({}))
        .await;
    flush(&t).await;
    let body = t
        .gql(&t.alice.token, "{ metricsSeries(name: \"query Chart\", kind: API, bucket: MINUTE) { bucketStart count errorCount avgDurationMs } }", json!({}))
        .await;
    let points = body["data"]["metricsSeries"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(points.len(), 1);
    assert_eq!(points[0]["count"], 1);
    let body = t
        .gql(&t.alice.token, "{ metricsSeries(name: \"x\", bucket: MINUTE, from: \"2020-01-01T00:00:00Z\") { count } }", json!({}))
        .await;
    assert_eq!(
        error_code(&body),
        Some("BAD_USER_INPUT"),
        "too many points or no longer kept: {body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_metrics_are_exposed_and_can_be_protected() {
    let t = TestApp::start_with(|c| c.usage.metrics_token = Some("scrape-secret".into())).await;
    t.gql(&t.alice.token, "query Scraped { viewer { id } }", json!({}))
        .await;
    assert_eq!(
        t.client
            .get(t.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let page = t
        .client
        .get(t.url("/metrics"))
        .bearer_auth("scrape-secret")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("imagegraph_graphql_requests_total"), "{page}");
    assert!(page.contains("operation=\"query Scraped\""), "{page}");
    assert!(page.contains("imagegraph_graphql_request_duration_seconds_bucket"));
    assert!(
        page.contains("imagegraph_jobs_pending"),
        "gauges are sampled at scrape time"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn probes_and_scrapes_cannot_load_the_database() {
    let t = TestApp::start().await;
    let get = |path: &'static str| {
        let (client, url) = (t.client.clone(), t.url(path));
        async move { client.get(url).send().await.unwrap().status() }
    };
    // Warm both, then a burst of each within the reuse window.
    assert_eq!(get("/readyz").await, 200);
    assert_eq!(get("/metrics").await, 200);
    let before = t.app.db.queries_executed();
    let burst: Vec<_> = (0..40)
        .map(|i| tokio::spawn(get(if i % 2 == 0 { "/readyz" } else { "/metrics" })))
        .collect();
    for request in burst {
        assert_eq!(request.await.unwrap(), 200);
    }
    let statements = t.app.db.queries_executed() - before;
    // One readiness ping and one gauge sample (one query each) per second the
    // burst spans, even on a slow machine; forty without the reuse.
    assert!(statements <= 6, "{statements} statements for 40 probes");
}
