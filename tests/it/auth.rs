use serde_json::json;

use crate::harness::{TestApp, error_code};

#[tokio::test(flavor = "multi_thread")]
async fn viewer_is_the_token_owner() {
    let t = TestApp::start().await;
    let body = t
        .gql(
            &t.alice.token,
            "{ viewer { id name role createdAt } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["viewer"]["name"], "alice");
    assert_eq!(body["data"]["viewer"]["role"], "MEMBER");
    let body = t
        .gql(&t.admin.token, "{ viewer { role } }", json!({}))
        .await;
    assert_eq!(body["data"]["viewer"]["role"], "ADMIN");
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_without_a_token_are_unauthenticated_but_introspection_works() {
    let t = TestApp::start().await;
    for query in [
        "{ viewer { name } }",
        "{ images { totalCount } }",
        "{ image(id: \"01a1ffe1-dbc8-7367-9c91-c5b785da987b\") { id } }",
    ] {
        let (status, body) = t.gql_response(None, json!({ "query": query })).await;
        assert_eq!(status, 200);
        assert_eq!(
            error_code(&body),
            Some("UNAUTHENTICATED"),
            "{query}: {body}"
        );
    }
    let (_, body) = t
        .gql_response(None, json!({ "query": "mutation { addComment(input: {imageId: \"x\", text: \"hi\"}) { comment { id } } }" }))
        .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    let (_, body) = t
        .gql_response(
            None,
            json!({ "query": "{ __schema { queryType { name } } }" }),
        )
        .await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_or_revoked_token_is_refused_whole() {
    let t = TestApp::start().await;
    for token in ["igt_not-a-real-token", "something-else"] {
        let (status, body) = t
            .gql_response(Some(token), json!({ "query": "{ __typename }" }))
            .await;
        assert_eq!(status, 401);
        assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    }
    let response = t
        .client
        .post(t.url("/graphql"))
        .header("authorization", "Basic YWxpY2U6c2VjcmV0")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let alice = {
        let mut conn = t.app.db.conn().await.unwrap();
        imagegraph_db::models::User::find_by_name(&mut conn, "alice")
            .await
            .unwrap()
            .unwrap()
    };
    let mut conn = t.app.db.conn().await.unwrap();
    assert_eq!(
        imagegraph_db::models::token::revoke_all(&mut conn, alice.id)
            .await
            .unwrap(),
        1
    );
    let (status, _) = t
        .gql_response(
            Some(&t.alice.token),
            json!({ "query": "{ viewer { name } }" }),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_stored_hashed() {
    let t = TestApp::start().await;
    #[derive(diesel::QueryableByName)]
    struct Hash {
        #[diesel(sql_type = diesel::sql_types::Bytea)]
        token_hash: Vec<u8>,
    }
    let mut conn = t.app.db.conn().await.unwrap();
    let rows: Vec<Hash> = diesel_async::RunQueryDsl::load(
        diesel::sql_query("SELECT token_hash FROM api_tokens"),
        &mut conn,
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 3);
    for token in [&t.admin.token, &t.alice.token, &t.bob.token] {
        assert!(rows.iter().all(|row| row.token_hash != token.as_bytes()));
        assert!(
            rows.iter()
                .any(|row| row.token_hash == imagegraph::use_cases::users::hash_token(token))
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn get_serves_queries_and_refuses_mutations() {
    let t = TestApp::start().await;
    let response = t
        .client
        .get(t.url("/graphql"))
        .bearer_auth(&t.alice.token)
        .query(&[("query", "{ viewer { name } }")])
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["data"]["viewer"]["name"], "alice");

    let response = t
        .client
        .get(t.url("/graphql"))
        .bearer_auth(&t.alice.token)
        .query(&[(
            "query",
            "mutation { deleteComment(input: {id: \"x\"}) { deletedCommentId } }",
        )])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_get_coded_errors() {
    let t = TestApp::start().await;
    let response = t
        .client
        .post(t.url("/graphql"))
        .bearer_auth(&t.alice.token)
        .header("content-type", "application/json")
        .body("{ this is not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));

    for query in [
        "{ viewer { nope } }",
        "{ viewer { name ",
        "query($n: Int!) { images(first: $n) { totalCount } }",
    ] {
        let body = t.gql(&t.alice.token, query, json!({ "n": "ten" })).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{query}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn health_endpoints() {
    let t = TestApp::start().await;
    assert_eq!(
        t.client
            .get(t.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready = t.client.get(t.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "database": "ok", "storage": "ok", "events": "ok" })
    );
}

/// A token seen once is served from memory; revoking it, by any means, reaches the
/// process through the database's trigger within moments.
#[tokio::test(flavor = "multi_thread")]
async fn cached_tokens_are_forgotten_when_revoked() {
    use diesel_async::RunQueryDsl as _;
    let t = TestApp::start().await;
    t.app.events.wait_connected().await;
    let query = "{ viewer { name } }";
    t.gql(&t.alice.token, query, json!({})).await;
    t.app.tokens.last_used_writes_settled().await;
    let before = t.app.db.queries_executed();
    let body = t.gql(&t.alice.token, query, json!({})).await;
    assert_eq!(body["data"]["viewer"]["name"], "alice");
    assert_eq!(
        t.app.db.queries_executed() - before,
        0,
        "the token came from the cache"
    );

    let mut conn = t.app.db.conn().await.unwrap();
    diesel::sql_query(
        "UPDATE api_tokens SET revoked_at = now() WHERE user_id = (SELECT id FROM users WHERE name = 'alice')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let (status, _) = t
            .gql_response(Some(&t.alice.token), json!({ "query": query }))
            .await;
        if status == 401 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a revoked token still works"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // Others keep their cached tokens.
    let body = t.gql(&t.bob.token, query, json!({})).await;
    assert_eq!(body["data"]["viewer"]["name"], "bob");
}
