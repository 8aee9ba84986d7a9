//! Remembered documents and Automatic Persisted Queries: a document seen before must
//! be answered, and refused, exactly as a fresh one; persisted queries follow
//! Apollo's protocol on POST and GET, and a client cannot grow the store or register
//! what it did not send.

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::harness::*;

const GRJ: &str = "application/graphql-response+json";

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

/// POSTs `body` under `accept`; the status and the JSON answer.
async fn post(t: &TestApp, accept: &str, body: Value) -> (u16, Value) {
    let response = t
        .client
        .post(t.url("/graphql"))
        .header("accept", accept)
        .bearer_auth(&t.alice.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// GETs with these query-string parameters.
async fn get(t: &TestApp, params: &[(&str, String)]) -> (u16, Value) {
    let response = t
        .client
        .get(t.url("/graphql"))
        .header("accept", GRJ)
        .query(params)
        .bearer_auth(&t.alice.token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code: {body}"))
}

/// The hash alone: the registered document's answer, or the error.
async fn by_hash(t: &TestApp, hash: &str) -> (u16, Value) {
    post(t, GRJ, json!({ "extensions": persisted(hash) })).await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_over_limit_document_is_refused_every_time() {
    let t = TestApp::start().await;
    let deep = "{ images { edges { node { parent { parent { parent { parent { parent { parent { parent { parent { parent { id } } } } } } } } } } } } }";
    let aliases: String = (0..31)
        .map(|i| format!("a{i}: viewer {{ name }} "))
        .collect();
    let aliases = format!("{{ {aliases}}}");
    let wide = "{ images(first: 30) { edges { node { comments(first: 80) { edges { node { id text author { name } } } } } } } }";
    for (query, limit) in [(deep, "depth"), (&aliases, "aliases"), (wide, "complexity")] {
        for round in 0..3 {
            let body = t.gql(&t.alice.token, query, json!({})).await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{limit} {round}: {body}");
            assert_eq!(
                body["errors"][0]["extensions"]["limit"], limit,
                "{limit} {round}: {body}"
            );
            assert!(body["data"].is_null());
        }
    }
    // Registered as persisted queries they are refused too, and never kept.
    let hash = sha256(deep);
    let (_, body) = post(
        &t,
        GRJ,
        json!({ "query": deep, "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(body["errors"][0]["extensions"]["limit"], "depth", "{body}");
    let (_, body) = by_hash(&t, &hash).await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
}

/// Validation reads variable values (argument types, and the page sizes complexity
/// multiplies by): a document that passed with some variables is checked again with
/// others.
#[tokio::test(flavor = "multi_thread")]
async fn a_remembered_document_is_validated_again_for_other_variables() {
    let t = TestApp::start().await;
    let query = "query($n: Int, $m: Int) { images(first: $n) { edges { node { comments(first: $m) { edges { node { id text author { name } } } } } } } }";
    let small = json!({ "n": 3, "m": 8 });
    let big = json!({ "n": 30, "m": 80 });
    let wrong = json!({ "n": "three", "m": 8 });
    for round in 0..2 {
        let body = t.gql(&t.alice.token, query, small.clone()).await;
        assert!(body["errors"].is_null(), "{round}: {body}");
        let body = t.gql(&t.alice.token, query, big.clone()).await;
        assert_eq!(
            body["errors"][0]["extensions"]["limit"], "complexity",
            "{round}: {body}"
        );
        let (status, body) = post(
            &t,
            GRJ,
            json!({ "query": query, "variables": wrong.clone() }),
        )
        .await;
        assert_eq!(status, 400, "{round}: {body}");
        assert_eq!(code(&body), "BAD_USER_INPUT");
        assert!(body.get("data").is_none());
    }
    // The operation name is part of it too: a name the document lacks is refused.
    let named = "query A { viewer { name } } query B { viewer { id } }";
    for name in ["A", "B", "C", "A"] {
        let (status, body) = post(&t, GRJ, json!({ "query": named, "operationName": name })).await;
        if name == "C" {
            assert_eq!(status, 400, "{body}");
        } else {
            assert_eq!(status, 200, "{name}: {body}");
            assert!(body["errors"].is_null(), "{name}: {body}");
        }
    }
    // An absent variable takes the default of where it is used, however often the
    // document comes (the defaults are applied to a copy, never to the one kept).
    let defaults = "query($first: Int) { images(first: $first) { totalCount } }";
    for variables in [
        json!({}),
        json!({ "first": 2 }),
        json!({}),
        json!({ "first": null }),
    ] {
        let body = t.gql(&t.alice.token, defaults, variables.clone()).await;
        assert!(body["errors"].is_null(), "{variables}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_are_the_same_with_and_without_the_cache() {
    let with = TestApp::start().await;
    let without = TestApp::start_with(|c| c.graphql.graphql_document_cache_entries = 0).await;
    for t in [&with, &without] {
        let image = t.upload_png(&t.alice.token).await;
        t.add_comment(&t.alice.token, &image, "first").await;
    }
    let feed = "query($after: String) { images(first: 10, after: $after) { totalCount edges { node { description commentCount owner { name } comments(first: 5) { edges { node { text author { name } } } } } } pageInfo { hasNextPage } } }";
    let mut answers = Vec::new();
    for t in [&with, &without] {
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(t.gql(&t.alice.token, feed, json!({ "after": null })).await);
        }
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
        answers.push(seen.pop().unwrap());
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(
        answers[0]["data"]["images"]["edges"][0]["node"]["comments"]["edges"][0]["node"]["text"],
        "first"
    );
    // What changes shows in the very next request over the same document.
    let image = with.upload_png(&with.alice.token).await;
    with.add_comment(&with.alice.token, &image, "second").await;
    let body = with
        .gql(&with.alice.token, feed, json!({ "after": null }))
        .await;
    assert_eq!(body["data"]["images"]["totalCount"], 2, "{body}");
    // Without the cache nothing can be persisted.
    let query = "{ viewer { name } }";
    let (_, body) = post(
        &without,
        GRJ,
        json!({ "query": query, "extensions": persisted(&sha256(query)) }),
    )
    .await;
    assert_eq!(body["data"]["viewer"]["name"], "alice", "{body}");
    let (_, body) = by_hash(&without, &sha256(query)).await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread")]
async fn persisted_queries_follow_apollos_protocol() {
    let t = TestApp::start().await;
    let query = "query Viewer($x: Boolean!) { viewer { name id @include(if: $x) } }";
    let hash = sha256(query);

    // Unknown: the client is told to send the text, in both media types.
    let (status, body) = post(
        &t,
        GRJ,
        json!({ "extensions": persisted(&hash), "variables": { "x": false } }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");
    assert!(body.get("data").is_none());
    let (status, body) = post(
        &t,
        "application/json",
        json!({ "extensions": persisted(&hash), "variables": { "x": false } }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");

    // A document sent without the extension is not found by its hash: only what a
    // client registered is.
    let body = t.gql(&t.alice.token, query, json!({ "x": false })).await;
    assert_eq!(body, json!({ "data": { "viewer": { "name": "alice" } } }));
    let (_, body) = by_hash(&t, &hash).await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");

    // The text with its hash registers it; then the hash alone runs it, with
    // variables, over POST and GET, for any user.
    let (status, body) = post(
        &t,
        GRJ,
        json!({ "query": query, "variables": { "x": false }, "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({ "data": { "viewer": { "name": "alice" } } }));
    let (_, body) = post(
        &t,
        GRJ,
        json!({ "extensions": persisted(&hash), "variables": { "x": true } }),
    )
    .await;
    assert_eq!(body["data"]["viewer"]["name"], "alice", "{body}");
    assert!(body["data"]["viewer"]["id"].is_string(), "{body}");
    let (status, body) = get(
        &t,
        &[
            ("extensions", persisted(&hash).to_string()),
            ("variables", json!({ "x": false }).to_string()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "data": { "viewer": { "name": "alice" } } }));
    let response = t
        .client
        .post(t.url("/graphql"))
        .bearer_auth(&t.bob.token)
        .json(&json!({ "extensions": persisted(&hash), "variables": { "x": false } }))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["viewer"]["name"], "bob", "{body}");
    // The hash in upper case is the same hash.
    let (_, body) = post(
        &t,
        GRJ,
        json!({ "extensions": persisted(&hash.to_uppercase()), "variables": { "x": false } }),
    )
    .await;
    assert_eq!(body["data"]["viewer"]["name"], "alice", "{body}");
    // GET may also register (Apollo's link retries a hashed GET with the text).
    let other = "{ viewer { id } }";
    let (status, body) = get(
        &t,
        &[
            ("query", other.to_owned()),
            ("extensions", persisted(&sha256(other)).to_string()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = by_hash(&t, &sha256(other)).await;
    assert!(body["data"]["viewer"]["id"].is_string(), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn persisted_queries_refuse_what_does_not_match() {
    let t = TestApp::start().await;
    let query = "{ viewer { name } }";
    // A hash that is not the query's: refused, and nothing registered under it.
    let wrong = sha256("{ viewer { id } }");
    let (status, body) = post(
        &t,
        GRJ,
        json!({ "query": query, "extensions": persisted(&wrong) }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains(&sha256(query)),
        "{body}"
    );
    for hash in [&wrong, &sha256(query)] {
        let (_, body) = by_hash(&t, hash).await;
        assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
    }
    // Malformed extensions.
    for extension in [
        json!({ "persistedQuery": { "version": 2, "sha256Hash": sha256(query) } }),
        json!({ "persistedQuery": { "sha256Hash": sha256(query) } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": "abc" } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": "zz".repeat(32) } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": 7 } }),
        json!({ "persistedQuery": "yes" }),
    ] {
        let (status, body) =
            post(&t, GRJ, json!({ "query": query, "extensions": extension })).await;
        assert_eq!(status, 400, "{extension}: {body}");
        assert_eq!(code(&body), "BAD_USER_INPUT", "{extension}: {body}");
        let (status, body) = post(&t, GRJ, json!({ "extensions": extension })).await;
        assert_eq!(status, 400, "{extension}: {body}");
        assert_eq!(code(&body), "BAD_USER_INPUT", "{extension}: {body}");
    }
    // A document that fails validation is answered with its errors and not kept.
    let invalid = "{ viewer { nope } }";
    let (status, body) = post(
        &t,
        GRJ,
        json!({ "query": invalid, "extensions": persisted(&sha256(invalid)) }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (_, body) = by_hash(&t, &sha256(invalid)).await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mutation_is_never_found_by_its_hash() {
    let t = TestApp::start().await;
    let image = t.upload_png(&t.alice.token).await;
    let mutation = "mutation($i: ID!) { addComment(input: { imageId: $i, text: \"via hash\" }) { comment { id } } }";
    let hash = sha256(mutation);
    // With its text and hash it runs, as any mutation does...
    let (_, body) = post(
        &t,
        GRJ,
        json!({ "query": mutation, "variables": { "i": image }, "extensions": persisted(&hash) }),
    )
    .await;
    assert!(
        body["data"]["addComment"]["comment"]["id"].is_string(),
        "{body}"
    );
    assert_eq!(t.count_rows("comments").await, 1);
    // ...but it is not registered: by hash alone, over GET or POST, it is not found
    // and does not run.
    let (status, body) = get(
        &t,
        &[
            ("extensions", persisted(&hash).to_string()),
            ("variables", json!({ "i": image }).to_string()),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");
    let (_, body) = post(
        &t,
        GRJ,
        json!({ "variables": { "i": image }, "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
    assert_eq!(t.count_rows("comments").await, 1);

    // A password typed into a mutation: a right guess and a wrong one get the same
    // answer, and neither signs in.
    t.gql(
        &t.admin.token,
        "mutation { createUser(input: {name: \"dora\", password: \"correct horse battery\"}) { user { id } } }",
        json!({}),
    )
    .await;
    let login = |password: &str| {
        format!(
            "mutation {{ login(input: {{name: \"dora\", password: \"{password}\"}}) {{ token }} }}"
        )
    };
    let right = login("correct horse battery");
    let (_, body) = post(
        &t,
        GRJ,
        json!({ "query": right, "extensions": persisted(&sha256(&right)) }),
    )
    .await;
    assert!(body["data"]["login"]["token"].is_string(), "{body}");
    for guess in [right.clone(), login("wrong guess")] {
        let (_, body) = post(&t, GRJ, json!({ "extensions": persisted(&sha256(&guess)) })).await;
        assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
        assert!(body["data"].is_null(), "{body}");
    }

    // An unknown hash over GET is the same not-found as over POST.
    let (status, body) = get(
        &t,
        &[("extensions", persisted(&sha256("{ x }")).to_string())],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");
}

/// Many distinct documents, and one too large to keep: the store stays within its
/// bounds, and what was used lately survives the flood.
#[tokio::test(flavor = "multi_thread")]
async fn the_store_is_bounded_against_a_flood() {
    let t = TestApp::start_with(|c| {
        c.graphql.graphql_document_cache_entries = 8;
        c.graphql.graphql_document_cache_mb = 1;
    })
    .await;
    let register = |query: String| {
        let hash = sha256(&query);
        let body = json!({ "query": query, "extensions": persisted(&hash) });
        (hash, body)
    };
    let hot = "query Hot { viewer { name } }".to_owned();
    let (hot_hash, hot_body) = register(hot);
    let (_, body) = post(&t, GRJ, hot_body).await;
    assert!(body["errors"].is_null(), "{body}");
    let mut hashes = Vec::new();
    for i in 0..60 {
        let (hash, body) = register(format!("query Flood{i} {{ viewer {{ name }} }}"));
        let (_, answer) = post(&t, GRJ, body).await;
        assert!(answer["errors"].is_null(), "{answer}");
        hashes.push(hash);
        // The client that uses its query keeps it.
        let (_, answer) = by_hash(&t, &hot_hash).await;
        assert_eq!(answer["data"]["viewer"]["name"], "alice", "{i}: {answer}");
    }
    let mut found = 0;
    for hash in &hashes {
        let (_, answer) = by_hash(&t, hash).await;
        if answer["errors"].is_null() {
            found += 1;
        } else {
            assert_eq!(code(&answer), "PERSISTED_QUERY_NOT_FOUND");
        }
    }
    assert!((1..8).contains(&found), "{found} of the flood still kept");

    // A document within the limits but over 1/64 of the store's memory is answered,
    // never kept.
    let names = "name ".repeat(400);
    let (big_hash, body) = register(format!("{{ viewer {{ {names}}} }}"));
    let (_, answer) = post(&t, GRJ, body).await;
    assert_eq!(answer["data"]["viewer"]["name"], "alice", "{answer}");
    let (_, answer) = by_hash(&t, &big_hash).await;
    assert_eq!(code(&answer), "PERSISTED_QUERY_NOT_FOUND");
    // And one over the length limit is refused before anything else.
    let huge = format!("{{ viewer {{ {} }} }}", "name ".repeat(7_000));
    let (huge_hash, body) = register(huge);
    let (_, answer) = post(&t, GRJ, body).await;
    assert_eq!(
        answer["errors"][0]["extensions"]["limit"], "queryBytes",
        "{answer}"
    );
    let (_, answer) = by_hash(&t, &huge_hash).await;
    assert_eq!(code(&answer), "PERSISTED_QUERY_NOT_FOUND");
}

/// A request whose document, name and variables passed before runs without the
/// request hooks (`graphql/service.rs`): it must still count as executed, be recorded
/// in usage under its name and fields, and see every change at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_remembered_request_is_executed_and_recorded_like_a_fresh_one() {
    let t = TestApp::start().await;
    let too_big = "query TooBig { images(first: 31) { totalCount } }";
    for round in 0..3 {
        let (status, body) = post(&t, GRJ, json!({ "query": too_big })).await;
        assert_eq!(
            status, 200,
            "{round}: a field error is an executed request: {body}"
        );
        assert!(body.get("data").is_some(), "{round}: {body}");
        assert_eq!(code(&body), "BAD_USER_INPUT");
    }
    let count = "query Count($first: Int) { images(first: $first) { totalCount } }";
    for expected in 0..3 {
        let body = t.gql(&t.alice.token, count, json!({ "first": 1 })).await;
        assert_eq!(body["data"]["images"]["totalCount"], expected, "{body}");
        t.upload_png(&t.alice.token).await;
    }
    // Batches take the same way, each answer its own.
    let (status, body) = post(
        &t,
        GRJ,
        json!([
            { "query": count, "variables": { "first": 1 } },
            { "query": too_big },
            { "query": "{ nope }" },
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["data"]["images"]["totalCount"], 3, "{body}");
    assert_eq!(code(&body[1]), "BAD_USER_INPUT");
    assert!(body[2]["errors"].is_array(), "{body}");

    assert_users_usage(
        &t,
        &["query TooBig", "query Count", "images"],
        &[
            ("API", "query Count", 4, 0),
            ("API", "query TooBig", 4, 4),
            ("FIELD", "images", 8, 4),
        ],
    )
    .await;
}

/// Asserts the signed-in users' usage counters of the day for these names
/// (operations, fields, error codes), as (kind, name, count, errors), after a flush.
async fn assert_users_usage(t: &TestApp, names: &[&str], expected: &[(&str, &str, i64, i64)]) {
    t.app
        .usage
        .flush(&t.app.db)
        .await
        .expect("the flush succeeds");
    #[derive(diesel::QueryableByName)]
    struct Counter {
        #[diesel(sql_type = diesel::sql_types::Text)]
        kind: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        count: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        errors: i64,
    }
    use diesel_async::RunQueryDsl as _;
    let mut conn = t.app.db.conn().await.unwrap();
    let rows: Vec<Counter> = diesel::sql_query(
        "SELECT kind, name, sum(count)::int8 AS count, sum(error_count)::int8 AS errors \
         FROM usage_counters WHERE bucket_size = 'DAY' \
         AND user_id <> '00000000-0000-0000-0000-000000000000' \
         AND name = ANY($1) GROUP BY kind, name ORDER BY kind, name",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(names)
    .load(&mut conn)
    .await
    .unwrap();
    let rows: Vec<_> = rows
        .iter()
        .map(|r| (r.kind.as_str(), r.name.as_str(), r.count, r.errors))
        .collect();
    assert_eq!(rows, expected);
}

/// A hash sent without its text is the protocol's handshake, not a call of the user's:
/// the miss is left out of usage, and the resend with the text and later sends by
/// hash count as the user's calls.
#[tokio::test(flavor = "multi_thread")]
async fn a_persisted_query_miss_is_not_counted_as_a_call() {
    let t = TestApp::start().await;
    let query = "query Handshake { images(first: 1) { totalCount } }";
    let hash = sha256(query);
    let (_, body) = by_hash(&t, &hash).await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
    let (_, body) = post(
        &t,
        GRJ,
        json!({ "query": query, "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(body["data"]["images"]["totalCount"], 0, "{body}");
    let (_, body) = by_hash(&t, &hash).await;
    assert_eq!(body["data"]["images"]["totalCount"], 0, "{body}");
    // A client error that is not a miss still counts.
    let (_, body) = post(&t, GRJ, json!({ "query": "query Broken { nope }" })).await;
    assert!(body["errors"].is_array(), "{body}");

    assert_users_usage(
        &t,
        &[
            "query Handshake",
            "images",
            "PERSISTED_QUERY_NOT_FOUND",
            "BAD_USER_INPUT",
        ],
        &[
            ("API", "query Handshake", 2, 0),
            ("ERROR", "BAD_USER_INPUT", 1, 1),
            ("FIELD", "images", 2, 0),
        ],
    )
    .await;
}

/// The second and later sends of a request take the schema without extensions
/// (`graphql/service.rs`): its errors must still carry their code and the request's
/// id, and answer with the same status, as on the first send.
#[tokio::test(flavor = "multi_thread")]
async fn errors_on_the_known_good_way_carry_code_and_request_id() {
    let t = TestApp::start().await;
    let query = "query Page($first: Int) { images(first: $first) { totalCount } me: node(id: \"nope\") { id } }";
    let mut seen = Vec::new();
    for round in 0..3 {
        let response = t
            .client
            .post(t.url("/graphql"))
            .header("accept", GRJ)
            .bearer_auth(&t.alice.token)
            .json(&json!({ "query": query, "variables": { "first": 31 } }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let id = response
            .headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let mut body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{round}: {body}");
        let errors = body["errors"].as_array_mut().expect("errors");
        assert!(errors.len() >= 2, "{round}: {errors:?}");
        for error in errors.iter_mut() {
            let extensions = error["extensions"].as_object_mut().unwrap();
            assert!(extensions.get("code").is_some(), "{round}: {extensions:?}");
            let given = extensions
                .remove("requestId")
                .unwrap_or_else(|| panic!("{round}: no requestId"));
            if let Some(id) = &id {
                assert_eq!(given, id.as_str(), "{round}");
            }
        }
        seen.push(body);
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
}
