//! Usage metrics a client cannot poison: labels come from the document, are short
//! and few, and a counter the database refuses costs only itself.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl as _;
use imagegraph::usage::{Kind, Retention, UsageRecorder, Use};
use serde_json::json;

use crate::harness::TestApp;

#[derive(QueryableByName)]
struct Counter {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// Every API label counted globally in day buckets, with its count.
async fn api_counters(t: &TestApp) -> Vec<(String, i64)> {
    let mut conn = t.app.db.conn().await.unwrap();
    let rows: Vec<Counter> = diesel::sql_query(
        "SELECT name, sum(count)::int8 AS count FROM usage_counters \
         WHERE kind = 'API' AND bucket_size = 'DAY' AND user_id <> '00000000-0000-0000-0000-000000000000' \
         GROUP BY name ORDER BY name",
    )
    .load(&mut conn)
    .await
    .unwrap();
    rows.into_iter().map(|r| (r.name, r.count)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn request_operation_names_cannot_poison_usage() {
    let t = TestApp::start().await;
    let long = "x".repeat(5_000);
    let named_long = format!("query {} {{ __typename }}", "Q".repeat(100));
    for body in [
        json!({ "query": "{ __typename }", "operationName": "x\u{0}y" }),
        json!({ "query": "{ __typename }", "operationName": long }),
        json!({ "query": "query Real { __typename }", "operationName": "NotInTheDocument" }),
        json!({ "query": named_long }),
    ] {
        let (status, _) = t.gql_response(Some(&t.alice.token), body).await;
        assert!(status.is_success() || status.is_client_error(), "{status}");
    }
    t.app
        .usage
        .flush(&t.app.db)
        .await
        .expect("the flush succeeds");

    // Usage keeps being recorded: the flusher is not stuck on a bad row.
    t.gql(&t.alice.token, "query Feed { viewer { id } }", json!({}))
        .await;
    t.app.usage.flush(&t.app.db).await.unwrap();
    let counters = api_counters(&t).await;
    let names: Vec<&str> = counters.iter().map(|(name, _)| name.as_str()).collect();
    assert!(names.contains(&"query Feed"), "{names:?}");
    assert!(
        names.contains(&"query anonymous"),
        "names not in the document count as anonymous: {names:?}"
    );
    for name in &names {
        assert!(
            name.chars().count() <= imagegraph::usage::MAX_LABEL_CHARS
                && !name.chars().any(char::is_control),
            "{name:?}"
        );
    }
    assert!(
        !names.iter().any(|n| n.contains("NotInTheDocument")),
        "{names:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn distinct_labels_are_capped_in_postgres_and_prometheus() {
    let t = TestApp::start_with(|c| c.usage.usage_max_labels = 4).await;
    for i in 0..12 {
        let query = format!("query CapTest{i} {{ __typename }}");
        t.gql(&t.alice.token, &query, json!({})).await;
    }
    t.app.usage.flush(&t.app.db).await.unwrap();
    let counters = api_counters(&t).await;
    assert!(
        counters.len() <= 4 + 1,
        "at most the cap plus `other`: {counters:?}"
    );
    let other = counters
        .iter()
        .find(|(name, _)| name == "other")
        .map(|(_, count)| *count);
    let total: i64 = counters.iter().map(|(_, count)| count).sum();
    assert_eq!(total, 12, "nothing is lost, only merged: {counters:?}");
    assert!(other.is_some_and(|n| n >= 8), "{counters:?}");

    let page = t
        .client
        .get(t.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("CapTest11"),
        "names past the cap make no Prometheus series"
    );
    assert!(page.contains("operation=\"other\""), "{page}");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_documents_and_one_kind_cannot_use_up_the_labels() {
    let t = TestApp::start_with(|c| c.usage.usage_max_labels = 4).await;
    // Documents that fail validation name nothing: no label is spent on them.
    for i in 0..12 {
        let query = format!("query Junk{i} {{ junk{i} }}");
        t.gql(&t.alice.token, &query, json!({})).await;
    }
    t.gql(&t.alice.token, "query Good { viewer { id } }", json!({}))
        .await;
    // Operation names fill their own kind only: a later function keeps its name.
    for i in 0..12 {
        let query = format!("query Fill{i} {{ __typename }}");
        t.gql(&t.alice.token, &query, json!({})).await;
    }
    t.upload_png(&t.alice.token).await;
    t.app.usage.flush(&t.app.db).await.unwrap();

    let names: Vec<String> = api_counters(&t).await.into_iter().map(|(n, _)| n).collect();
    assert!(names.contains(&"query Good".to_owned()), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("Junk")), "{names:?}");
    let mut conn = t.app.db.conn().await.unwrap();
    let functions: Vec<Counter> = diesel::sql_query(
        "SELECT name, sum(count)::int8 AS count FROM usage_counters \
         WHERE kind IN ('FUNCTION', 'FIELD') AND bucket_size = 'DAY' GROUP BY name",
    )
    .load(&mut conn)
    .await
    .unwrap();
    let functions: Vec<&str> = functions.iter().map(|c| c.name.as_str()).collect();
    assert!(functions.contains(&"image.upload"), "{functions:?}");
    assert!(functions.contains(&"uploadImage"), "{functions:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_counter_does_not_block_the_others() {
    let t = TestApp::start().await;
    let retention = Retention {
        minutes: chrono::TimeDelta::days(1),
        hours: chrono::TimeDelta::days(1),
    };
    // One fixed minute, so both uses land in the same minute bucket.
    let now = Utc::now();
    let recorder = UsageRecorder::new(true, retention, Arc::new(move || now));
    let huge = |name: &str| Use {
        prompt_tokens: i64::MAX,
        ..Use::new(Kind::Function, name, None, Duration::ZERO, false)
    };
    recorder.record(huge("ai.overflowing"));
    recorder.flush(&t.app.db).await.unwrap();
    // Adding to the stored counter now overflows bigint: PostgreSQL refuses that row.
    recorder.record(huge("ai.overflowing"));
    recorder.record(Use::new(
        Kind::Function,
        "image.upload",
        None,
        Duration::from_millis(3),
        false,
    ));
    let written = recorder
        .flush(&t.app.db)
        .await
        .expect("the good rows are written");
    assert_eq!(written, 3, "minute, hour and day of the good counter");

    let mut conn = t.app.db.conn().await.unwrap();
    let rows: Vec<Counter> = diesel::sql_query(
        "SELECT name, count FROM usage_counters WHERE kind = 'FUNCTION' AND bucket_size = 'DAY' ORDER BY name",
    )
    .load(&mut conn)
    .await
    .unwrap();
    let rows: Vec<(String, i64)> = rows.into_iter().map(|r| (r.name, r.count)).collect();
    assert_eq!(
        rows,
        [
            ("ai.overflowing".to_owned(), 1),
            ("image.upload".to_owned(), 1)
        ]
    );
    // Nothing is left pending to fail again on the next flush.
    assert_eq!(recorder.flush(&t.app.db).await.unwrap(), 0);
}
