//! A WebSocket holds no more rights than its token, and no client can hold one open
//! for free: revocation and role changes close it (4403), and so do a missing
//! `connection_init` (4408), a message too large (1009) and the maximum lifetime
//! (1001).

use std::time::{Duration, Instant};

use diesel_async::RunQueryDsl as _;
use serde_json::json;

use crate::harness::TestApp;
use crate::subscriptions::Client;

const ANY_ANALYSIS: &str = "subscription { analysisCompleted { id } }";

async fn sql(t: &TestApp, statement: &str) {
    let mut conn = t.app.db.conn().await.unwrap();
    diesel::sql_query(statement)
        .execute(&mut conn)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_token_closes_its_sockets_within_a_second() {
    let t = TestApp::start().await;
    let mut alice = Client::connect(t.addr, Some(&t.alice.token), false)
        .await
        .unwrap();
    alice.subscribe("a", ANY_ANALYSIS, json!({})).await;
    let mut bob = Client::connect(t.addr, Some(&t.bob.token), true)
        .await
        .unwrap();
    bob.subscribe("b", ANY_ANALYSIS, json!({})).await;

    // As `imagegraph users revoke alice` does: a plain UPDATE, announced by trigger.
    let revoked_at = Instant::now();
    sql(
        &t,
        "UPDATE api_tokens SET revoked_at = now() \
         WHERE user_id = (SELECT id FROM users WHERE name = 'alice')",
    )
    .await;
    assert_eq!(alice.close_code(Duration::from_secs(5)).await, Some(4403));
    eprintln!("revoked socket closed after {:?}", revoked_at.elapsed());
    // Within a second on a quiet machine (a NOTIFY and one query); slack for CI.
    assert!(
        revoked_at.elapsed() < Duration::from_secs(2),
        "{:?}",
        revoked_at.elapsed()
    );
    // Another user's socket is left alone, with its rights.
    let answer = bob
        .round_trip("q")
        .await
        .expect("bob's socket still answers");
    assert_eq!(answer["data"]["viewer"]["name"], "bob", "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_role_closes_the_users_sockets() {
    let t = TestApp::start().await;
    let mut admin = Client::connect(t.addr, Some(&t.admin.token), false)
        .await
        .unwrap();
    admin.subscribe("a", ANY_ANALYSIS, json!({})).await;
    sql(&t, "UPDATE users SET role = 'MEMBER' WHERE name = 'admin'").await;
    assert_eq!(admin.close_code(Duration::from_secs(5)).await, Some(4403));
    // The token still works, with the rights it has now.
    let mut again = Client::connect(t.addr, Some(&t.admin.token), false)
        .await
        .unwrap();
    let answer = again.round_trip("q").await.expect("a new socket answers");
    assert_eq!(answer["data"]["viewer"]["name"], "admin", "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_socket_without_connection_init_is_closed() {
    let t = TestApp::start_with(|c| c.http.ws_connection_init_timeout_secs = 1).await;
    let opened = Instant::now();
    let mut silent = Client::open(t.addr, false).await;
    assert_eq!(silent.close_code(Duration::from_secs(5)).await, Some(4408));
    assert!(opened.elapsed() >= Duration::from_millis(900));
    // A socket that does say hello in time is kept past the timeout.
    let mut polite = Client::connect(t.addr, Some(&t.alice.token), false)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let answer = polite.round_trip("q").await.expect("still open");
    assert_eq!(answer["data"]["viewer"]["name"], "alice", "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_too_large_closes_the_socket() {
    let t = TestApp::start_with(|c| c.http.ws_max_message_bytes = 4_096).await;
    let mut client = Client::connect(t.addr, Some(&t.alice.token), false)
        .await
        .unwrap();
    let huge = "x".repeat(100_000);
    client
        .send(json!({ "id": "1", "type": "subscribe", "payload": { "query": huge } }))
        .await;
    assert_eq!(client.close_code(Duration::from_secs(5)).await, Some(1009));
    // The server is fine.
    let body = t
        .gql(&t.alice.token, "{ viewer { name } }", json!({}))
        .await;
    assert_eq!(body["data"]["viewer"]["name"], "alice");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_socket_ends_after_its_maximum_lifetime() {
    let t = TestApp::start_with(|c| c.http.ws_max_lifetime_secs = 2).await;
    let opened = Instant::now();
    let mut client = Client::connect(t.addr, Some(&t.alice.token), false)
        .await
        .unwrap();
    assert_eq!(client.close_code(Duration::from_secs(10)).await, Some(1001));
    assert!(opened.elapsed() >= Duration::from_millis(1_900));
}
