//! Accounts through the API: signing in, users (admins), API tokens and passwords,
//! against the real router and PostgreSQL.

use std::time::{Duration, Instant};

use diesel_async::RunQueryDsl as _;
use imagegraph::passwords::Password;
use serde_json::{Value, json};

use crate::harness::{TestApp, error_code};
use crate::subscriptions::Client;

const PASSWORD: &str = "correct horse battery";
const LOGIN: &str = "mutation($n: String!, $p: String!) { login(input: { name: $n, password: $p }) { token apiToken { id name } user { name role } } }";
const ANY_ANALYSIS: &str = "subscription { analysisCompleted { id } }";

async fn set_password(t: &TestApp, name: &str, password: &str) {
    imagegraph::use_cases::users::set_password(
        &t.app.db,
        &t.app.passwords,
        name,
        Password::new(password.to_owned()),
    )
    .await
    .unwrap();
}

/// `login` without a token, as a browser signing in would.
async fn login(t: &TestApp, name: &str, password: &str) -> Value {
    login_from(t, name, password, None).await
}

async fn login_from(t: &TestApp, name: &str, password: &str, forwarded: Option<&str>) -> Value {
    let mut request = t.client.post(t.url("/graphql")).json(&json!({
        "query": LOGIN,
        "variables": { "n": name, "p": password },
    }));
    if let Some(addr) = forwarded {
        request = request.header("x-forwarded-for", addr);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn token_of(body: &Value) -> String {
    body["data"]["login"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("login failed: {body}"))
        .to_owned()
}

fn field(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["field"].as_str()
}

async fn viewer_status(t: &TestApp, token: &str) -> reqwest::StatusCode {
    t.gql_response(Some(token), json!({ "query": "{ viewer { name } }" }))
        .await
        .0
}

async fn sql(t: &TestApp, statement: &str) {
    let mut conn = t.app.db.conn().await.unwrap();
    diesel::sql_query(statement)
        .execute(&mut conn)
        .await
        .unwrap();
}

/// Waits until `token` is refused over HTTP (another process's change reaches the
/// token cache by NOTIFY); panics after two seconds.
async fn refused_soon(t: &TestApp, token: &str) -> Duration {
    let start = Instant::now();
    loop {
        if viewer_status(t, token).await == 401 {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the token still works"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn mean(samples: &[Duration]) -> Duration {
    samples.iter().sum::<Duration>() / samples.len() as u32
}

#[tokio::test(flavor = "multi_thread")]
async fn login_answers_a_wrong_name_and_a_wrong_password_alike_and_in_the_same_time() {
    let t = TestApp::start().await;
    set_password(&t, "alice", PASSWORD).await;

    let body = login(&t, "Alice", PASSWORD).await;
    assert_eq!(
        body["data"]["login"]["user"],
        json!({ "name": "alice", "role": "MEMBER" }),
        "names are found whatever their case: {body}"
    );
    assert_eq!(body["data"]["login"]["apiToken"]["name"], "login");
    let token = token_of(&body);
    let viewer = t.gql(&token, "{ viewer { name } }", json!({})).await;
    assert_eq!(viewer["data"]["viewer"]["name"], "alice");

    let wrong_password = login(&t, "alice", "correct horse batterY").await;
    let unknown_name = login(&t, "nobody", PASSWORD).await;
    // bob exists but has no password: the same answer again.
    let no_password = login(&t, "bob", PASSWORD).await;
    for body in [&wrong_password, &unknown_name, &no_password] {
        assert_eq!(error_code(body), Some("UNAUTHENTICATED"), "{body}");
        assert_eq!(body["data"], Value::Null, "{body}");
    }
    assert_eq!(
        wrong_password["errors"][0]["message"],
        unknown_name["errors"][0]["message"]
    );
    assert_eq!(
        wrong_password["errors"][0]["message"],
        no_password["errors"][0]["message"]
    );

    // Timing: the mean of ten of each, interleaved so drift hits all alike.
    let (mut ok, mut wrong, mut unknown) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..10 {
        for (password, name, into) in [
            (PASSWORD, "alice", &mut ok),
            ("wrong password!", "alice", &mut wrong),
            (PASSWORD, "nobody-at-all", &mut unknown),
        ] {
            let start = Instant::now();
            let body = login(&t, name, password).await;
            into.push(start.elapsed());
            assert_eq!(
                body["data"].is_null(),
                name != "alice" || password != PASSWORD
            );
        }
    }
    let (ok, wrong, unknown) = (mean(&ok), mean(&wrong), mean(&unknown));
    eprintln!(
        "login mean of 10: success {ok:?}, wrong password {wrong:?}, unknown name {unknown:?}"
    );
    let ratio = wrong.as_secs_f64().max(unknown.as_secs_f64())
        / wrong.as_secs_f64().min(unknown.as_secs_f64());
    assert!(
        ratio < 2.0,
        "wrong password {wrong:?} and unknown name {unknown:?} differ by {ratio:.2}x"
    );
    // Both ran Argon2: neither is the quick answer of a skipped hash.
    assert!(
        unknown.as_secs_f64() > ok.as_secs_f64() / 3.0,
        "unknown {unknown:?} vs ok {ok:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_passwords_and_names_are_bad_input_naming_the_field() {
    let t = TestApp::start().await;
    let create = "mutation($n: String!, $p: String!) { createUser(input: { name: $n, password: $p }) { user { name } } }";
    let cases: [(&str, String, &str); 7] = [
        ("carol", "short".into(), "password"),
        ("carol", "x".repeat(1025), "password"),
        ("", PASSWORD.into(), "name"),
        ("has space", PASSWORD.into(), "name"),
        (&"n".repeat(65), PASSWORD.into(), "name"),
        ("bad/slash", PASSWORD.into(), "name"),
        // Look-alikes are kept out: ASCII only (a Cyrillic `а`).
        ("\u{430}lice", PASSWORD.into(), "name"),
    ];
    for (name, password, expected) in &cases {
        let body = t
            .gql(&t.admin.token, create, json!({ "n": name, "p": password }))
            .await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{name}: {body}");
        assert_eq!(field(&body), Some(*expected), "{name}: {body}");
    }
    assert_eq!(t.count_rows("users").await, 3, "nothing was created");
    // 64 characters of every kind allowed is fine.
    let long = format!("a-b_c.{}", "z".repeat(58));
    let body = t
        .gql(
            &t.admin.token,
            create,
            json!({ "n": long, "p": "ten chars!" }),
        )
        .await;
    assert_eq!(body["data"]["createUser"]["user"]["name"], long, "{body}");

    // login checks sizes too, before any hashing.
    let body = login(&t, "alice", &"x".repeat(1025)).await;
    assert_eq!(field(&body), Some("password"), "{body}");
    let body = login(&t, "not a name", PASSWORD).await;
    assert_eq!(field(&body), Some("name"), "{body}");

    // changePassword names its own fields.
    let change = "mutation($c: String!, $n: String!) { changePassword(input: { currentPassword: $c, newPassword: $n }) { revokedTokenCount } }";
    let body = t
        .gql(&t.alice.token, change, json!({ "c": "", "n": "short" }))
        .await;
    assert_eq!(field(&body), Some("newPassword"), "{body}");
    set_password(&t, "alice", PASSWORD).await;
    let body = t
        .gql(
            &t.alice.token,
            change,
            json!({ "c": "not it at all", "n": "a new password" }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert_eq!(field(&body), Some("currentPassword"), "{body}");

    // Token names: trimmed, 1 to 64 characters.
    let create_token = "mutation($n: String!) { createApiToken(input: { name: $n }) { token } }";
    for name in ["   ", &"t".repeat(65)] {
        let body = t
            .gql(&t.alice.token, create_token, json!({ "n": name }))
            .await;
        assert_eq!(field(&body), Some("name"), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn names_are_unique_whatever_their_case() {
    let t = TestApp::start().await;
    let create = "mutation($n: String!) { createUser(input: { name: $n, password: \"long enough password\" }) { user { name } } }";
    for name in ["ALICE", "Alice", "alice"] {
        let body = t.gql(&t.admin.token, create, json!({ "n": name })).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{name}: {body}");
        assert_eq!(field(&body), Some("name"), "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("already exists"),
            "{body}"
        );
    }
    let body = t.gql(&t.admin.token, create, json!({ "n": "Carol" })).await;
    assert_eq!(body["data"]["createUser"]["user"]["name"], "Carol");
    let body = t.gql(&t.admin.token, create, json!({ "n": "cAROL" })).await;
    assert_eq!(field(&body), Some("name"), "{body}");
    // The database holds the rule too, whoever writes.
    let mut conn = t.app.db.conn().await.unwrap();
    let err = diesel::sql_query(
        "INSERT INTO users (id, name, role) VALUES (gen_random_uuid(), 'BOB', 'MEMBER')",
    )
    .execute(&mut conn)
    .await;
    assert!(err.is_err(), "a unique index on lower(name)");
}

#[tokio::test(flavor = "multi_thread")]
async fn login_is_rate_limited_per_name_and_per_address() {
    let t = TestApp::start_with(|c| {
        c.http.trust_forwarded_for = true;
        c.rate_limits.rate_limit_login_burst = 5;
        c.rate_limits.rate_limit_login_per_minute = 1.0;
        c.rate_limits.rate_limit_login_name_burst = 2;
        // Slow refills, so a slow machine cannot refill a token mid-test.
        c.rate_limits.rate_limit_login_name_per_minute = 0.1;
    })
    .await;
    set_password(&t, "alice", PASSWORD).await;
    set_password(&t, "bob", PASSWORD).await;

    // Successes cost a name nothing: alice signs in twice from one address, then two
    // wrong guesses from there spend that address's allowance for her name, and a third
    // attempt from it is refused, even with her right password.
    for _ in 0..2 {
        token_of(&login_from(&t, "alice", PASSWORD, Some("10.0.0.1")).await);
    }
    for i in 0..2 {
        let body = login_from(&t, "alice", &format!("wrong guess {i}"), Some("10.0.0.1")).await;
        assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    }
    let body = login_from(&t, "ALICE", PASSWORD, Some("10.0.0.1")).await;
    assert_eq!(error_code(&body), Some("RATE_LIMITED"), "{body}");
    let retry_after = body["errors"][0]["extensions"]["retryAfter"].as_u64();
    assert!(
        retry_after.is_some_and(|s| (1..=600).contains(&s)),
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["retryable"], true);
    // One address cannot lock her out: from another she signs in.
    token_of(&login_from(&t, "alice", PASSWORD, Some("10.0.0.2")).await);

    // From all addresses together a name gets ten times one address's allowance (20
    // failures here): past that, guessing her password from yet another address is
    // refused before any hashing.
    for i in 0..9 {
        for j in 0..2 {
            let addr = format!("10.0.1.{i}");
            let body = login_from(&t, "alice", &format!("guess {i} {j}"), Some(&addr)).await;
            assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
        }
    }
    let body = login_from(&t, "alice", PASSWORD, Some("10.0.0.3")).await;
    assert_eq!(error_code(&body), Some("RATE_LIMITED"), "{body}");
    // Another name is unaffected.
    token_of(&login_from(&t, "bob", PASSWORD, Some("10.0.0.3")).await);

    // Per address: five attempts at different names, then the address is refused.
    for name in ["n1", "n2", "n3", "n4", "n5"] {
        let body = login_from(&t, name, PASSWORD, Some("10.0.0.9")).await;
        assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    }
    let body = login_from(&t, "bob", PASSWORD, Some("10.0.0.9")).await;
    assert_eq!(error_code(&body), Some("RATE_LIMITED"), "{body}");
    assert!(
        body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .is_some()
    );
    // Another address may still sign bob in.
    token_of(&login_from(&t, "bob", PASSWORD, Some("10.0.0.10")).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_manage_users_and_members_are_forbidden() {
    let t = TestApp::start().await;
    let create = "mutation($n: String!, $r: Role!) { createUser(input: { name: $n, password: \"long enough password\", role: $r }) { user { id name role disabled } } }";
    let body = t
        .gql(
            &t.admin.token,
            create,
            json!({ "n": "carol", "r": "MEMBER" }),
        )
        .await;
    let carol = body["data"]["createUser"]["user"].clone();
    assert_eq!(carol["name"], "carol", "{body}");
    assert_eq!(carol["disabled"], false);
    let carol_id = carol["id"].as_str().unwrap().to_owned();
    // She signs in with that password.
    token_of(&login(&t, "carol", "long enough password").await);

    // Members may do none of it.
    let body = t
        .gql(
            &t.alice.token,
            create,
            json!({ "n": "mallory", "r": "ADMIN" }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    let update = "mutation($i: ID!, $r: Role, $d: Boolean) { updateUser(input: { id: $i, role: $r, disabled: $d }) { user { name role disabled } } }";
    let body = t
        .gql(&t.alice.token, update, json!({ "i": carol_id, "d": true }))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    let body = t
        .gql(&t.alice.token, "{ users { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    // `disabled` is for admins and the user themselves.
    let image = t.upload_png(&t.bob.token).await;
    let body = t
        .gql(
            &t.alice.token,
            "query($i: ID!) { image(id: $i) { owner { name disabled } } }",
            json!({ "i": image }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    let body = t
        .gql(&t.alice.token, "{ viewer { disabled } }", json!({}))
        .await;
    assert_eq!(body["data"]["viewer"]["disabled"], false, "{body}");

    // An admin changes roles and pages through users.
    let body = t
        .gql(
            &t.admin.token,
            update,
            json!({ "i": carol_id, "r": "ADMIN" }),
        )
        .await;
    assert_eq!(
        body["data"]["updateUser"]["user"],
        json!({ "name": "carol", "role": "ADMIN", "disabled": false }),
        "{body}"
    );
    let page = "query($a: String) { users(first: 3, after: $a) { totalCount edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }";
    let first = t.gql(&t.admin.token, page, json!({ "a": null })).await;
    assert_eq!(first["data"]["users"]["totalCount"], 4, "{first}");
    let names = |body: &Value| -> Vec<String> {
        body["data"]["users"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&first), ["carol", "bob", "alice"], "newest first");
    assert_eq!(first["data"]["users"]["pageInfo"]["hasNextPage"], true);
    let after = first["data"]["users"]["pageInfo"]["endCursor"].clone();
    let second = t.gql(&t.admin.token, page, json!({ "a": after })).await;
    assert_eq!(names(&second), ["admin"], "{second}");
    assert_eq!(second["data"]["users"]["pageInfo"]["hasNextPage"], false);

    // The last active admin cannot be demoted or disabled, by themselves or anyone.
    let admin_id =
        t.gql(&t.admin.token, "{ viewer { id } }", json!({})).await["data"]["viewer"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let body = t
        .gql(&t.admin.token, update, json!({ "i": carol_id, "d": true }))
        .await;
    assert_eq!(
        body["data"]["updateUser"]["user"]["disabled"], true,
        "{body}"
    );
    for (vars, expected) in [
        (json!({ "i": admin_id, "r": "MEMBER" }), "role"),
        (json!({ "i": admin_id, "d": true }), "disabled"),
    ] {
        let body = t.gql(&t.admin.token, update, vars).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        assert_eq!(field(&body), Some(expected), "{body}");
    }
    assert_eq!(
        t.gql(&t.admin.token, "{ viewer { role } }", json!({}))
            .await["data"]["viewer"]["role"],
        "ADMIN"
    );
    // With carol enabled again there are two: the admin may step down.
    t.gql(&t.admin.token, update, json!({ "i": carol_id, "d": false }))
        .await;
    let body = t
        .gql(
            &t.admin.token,
            update,
            json!({ "i": admin_id, "r": "MEMBER" }),
        )
        .await;
    assert_eq!(
        body["data"]["updateUser"]["user"]["role"], "MEMBER",
        "{body}"
    );
    // Unknown and malformed ids.
    let carol_token = token_of(&login(&t, "carol", "long enough password").await);
    let body = t
        .gql(&carol_token, update, json!({ "i": image, "d": true }))
        .await;
    assert_eq!(field(&body), Some("id"), "an image's id: {body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_users_tokens_stop_on_http_and_their_socket_closes() {
    let t = TestApp::start().await;
    set_password(&t, "alice", PASSWORD).await;
    let alice_id =
        t.gql(&t.alice.token, "{ viewer { id } }", json!({})).await["data"]["viewer"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    // Cached by now; and a socket open with the same token.
    assert_eq!(viewer_status(&t, &t.alice.token).await, 200);
    let mut socket = Client::connect(t.addr, Some(&t.alice.token), false)
        .await
        .unwrap();
    socket.subscribe("a", ANY_ANALYSIS, json!({})).await;

    let update = "mutation($i: ID!, $d: Boolean) { updateUser(input: { id: $i, disabled: $d }) { user { disabled } } }";
    let body = t
        .gql(&t.admin.token, update, json!({ "i": alice_id, "d": true }))
        .await;
    assert_eq!(
        body["data"]["updateUser"]["user"]["disabled"], true,
        "{body}"
    );
    let took = refused_soon(&t, &t.alice.token).await;
    eprintln!("disabled user's token refused after {took:?}");
    assert_eq!(socket.close_code(Duration::from_secs(5)).await, Some(4403));
    // No new socket, and no sign-in: the same answer as a wrong password.
    assert!(
        Client::connect(t.addr, Some(&t.alice.token), false)
            .await
            .is_err()
    );
    let body = login(&t, "alice", PASSWORD).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");

    // Enabled again, the same token works.
    t.gql(&t.admin.token, update, json!({ "i": alice_id, "d": false }))
        .await;
    assert_eq!(viewer_status(&t, &t.alice.token).await, 200);
    token_of(&login(&t, "alice", PASSWORD).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn revoking_a_token_stops_it_on_http_and_its_socket_and_only_its_own() {
    let t = TestApp::start().await;
    let create = "mutation($n: String!) { createApiToken(input: { name: $n }) { token apiToken { id name createdAt lastUsedAt } } }";
    let body = t
        .gql(&t.alice.token, create, json!({ "n": "  ci deploys  " }))
        .await;
    let made = &body["data"]["createApiToken"];
    assert_eq!(made["apiToken"]["name"], "ci deploys", "trimmed: {body}");
    assert_eq!(made["apiToken"]["lastUsedAt"], Value::Null);
    let (token, id) = (
        made["token"].as_str().unwrap().to_owned(),
        made["apiToken"]["id"].as_str().unwrap().to_owned(),
    );
    assert!(token.starts_with("igt_"));
    assert_eq!(viewer_status(&t, &token).await, 200);
    let mut socket = Client::connect(t.addr, Some(&token), true).await.unwrap();
    socket.subscribe("a", ANY_ANALYSIS, json!({})).await;
    let mut other = Client::connect(t.addr, Some(&t.alice.token), false)
        .await
        .unwrap();

    let revoke = "mutation($i: ID!) { revokeApiToken(input: { id: $i }) { revokedApiTokenId } }";
    // Not bob's to revoke: the same answer as an unknown id.
    let body = t.gql(&t.bob.token, revoke, json!({ "i": id })).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    assert_eq!(viewer_status(&t, &token).await, 200);

    let body = t.gql(&t.alice.token, revoke, json!({ "i": id })).await;
    assert_eq!(
        body["data"]["revokeApiToken"]["revokedApiTokenId"],
        id.as_str()
    );
    let took = refused_soon(&t, &token).await;
    eprintln!("revoked token refused after {took:?}");
    assert_eq!(socket.close_code(Duration::from_secs(5)).await, Some(4403));
    // Twice is NOT_FOUND; alice's other token and socket carry on.
    let body = t.gql(&t.alice.token, revoke, json!({ "i": id })).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    let answer = other
        .round_trip("q")
        .await
        .expect("the other socket answers");
    assert_eq!(answer["data"]["viewer"]["name"], "alice", "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_tokens_lists_own_live_tokens_without_secrets_and_is_bounded() {
    let t = TestApp::start().await;
    let create =
        "mutation($n: String!) { createApiToken(input: { name: $n }) { token apiToken { id } } }";
    let body = t
        .gql(&t.alice.token, create, json!({ "n": "laptop" }))
        .await;
    let secret = body["data"]["createApiToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let token_id = body["data"]["createApiToken"]["apiToken"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.gql(&t.bob.token, create, json!({ "n": "bob's" })).await;

    let list = t
        .gql(
            &t.alice.token,
            "{ viewer { apiTokens { __typename id name createdAt lastUsedAt } } }",
            json!({}),
        )
        .await;
    let tokens = list["data"]["viewer"]["apiTokens"].as_array().unwrap();
    let names: Vec<&str> = tokens.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["cli", "laptop"],
        "own tokens only, oldest first: {list}"
    );
    let text = list.to_string();
    assert!(!text.contains(&secret) && !text.contains(&t.alice.token) && !text.contains("igt_"));
    // The ApiToken type has no field for a secret or its hash.
    let body = t
        .gql(
            &t.alice.token,
            "{ viewer { apiTokens { token } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    // Another user's tokens are not for listing, even by an admin.
    let image = t.upload_png(&t.alice.token).await;
    let body = t
        .gql(
            &t.admin.token,
            "query($i: ID!) { image(id: $i) { owner { apiTokens { id } } } }",
            json!({ "i": image }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    // node(id:) finds the viewer's own token, and nobody else's.
    let node = "query($i: ID!) { node(id: $i) { __typename ... on ApiToken { name } } }";
    let body = t.gql(&t.alice.token, node, json!({ "i": token_id })).await;
    assert_eq!(body["data"]["node"]["name"], "laptop", "{body}");
    let body = t.gql(&t.bob.token, node, json!({ "i": token_id })).await;
    assert_eq!(body["data"]["node"], Value::Null, "{body}");

    // At most 100 live tokens: fill up to the cap directly, then one more is refused.
    sql(
        &t,
        "INSERT INTO api_tokens (id, user_id, token_hash, name, kind) \
         SELECT gen_random_uuid(), u.id, sha256(g::text::bytea), 'filler', 'API' \
         FROM users u, generate_series(1, 98) g WHERE u.name = 'alice'",
    )
    .await;
    let body = t
        .gql(&t.alice.token, create, json!({ "n": "one too many" }))
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("100")
    );
    // Signing in at the cap never fails: it rolls the oldest earlier sign-in over.
    set_password(&t, "alice", PASSWORD).await;
    let first = token_of(&login(&t, "alice", PASSWORD).await);
    assert_eq!(viewer_status(&t, &first).await, 200);
    let second = token_of(&login(&t, "alice", PASSWORD).await);
    assert_eq!(viewer_status(&t, &second).await, 200);
    refused_soon(&t, &first).await;
    assert_eq!(
        viewer_status(&t, &secret).await,
        200,
        "API tokens are never rolled over"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn last_used_at_is_recorded_at_most_once_a_minute() {
    #[derive(diesel::QueryableByName)]
    struct LastUsed {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        at: Option<String>,
    }
    let t = TestApp::start().await;
    let read = async || {
        let mut conn = t.app.db.conn().await.unwrap();
        let row: LastUsed = diesel::sql_query(
            "SELECT last_used_at::text AS at FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE u.name = 'alice'",
        )
        .get_result(&mut conn)
        .await
        .unwrap();
        row.at
    };
    assert_eq!(read().await, None, "never used");
    assert_eq!(viewer_status(&t, &t.alice.token).await, 200);
    t.app.tokens.last_used_writes_settled().await;
    let first = read().await.expect("recorded after the first request");
    // Quick requests after it, cached and not: no new write.
    for _ in 0..3 {
        assert_eq!(viewer_status(&t, &t.alice.token).await, 200);
    }
    t.app.tokens.forget_all();
    assert_eq!(viewer_status(&t, &t.alice.token).await, 200);
    t.app.tokens.last_used_writes_settled().await;
    assert_eq!(read().await.as_deref(), Some(first.as_str()));
    // As the API shows it.
    let body = t
        .gql(
            &t.alice.token,
            "{ viewer { apiTokens { lastUsedAt } } }",
            json!({}),
        )
        .await;
    assert!(
        body["data"]["viewer"]["apiTokens"][0]["lastUsedAt"].is_string(),
        "{body}"
    );

    // A minute later (made so in the database), the next request records it again,
    // without announcing a change: other sockets and cached tokens are left alone.
    let mut socket = Client::connect(t.addr, Some(&t.alice.token), false)
        .await
        .unwrap();
    sql(
        &t,
        "UPDATE api_tokens SET last_used_at = now() - interval '2 minutes'",
    )
    .await;
    t.app.tokens.forget_all();
    assert_eq!(viewer_status(&t, &t.alice.token).await, 200);
    t.app.tokens.last_used_writes_settled().await;
    let again = read().await.unwrap();
    assert_ne!(again, first);
    // Were the write announced, the cache would drop alice's token (a NOTIFY arrives
    // within milliseconds) and the next request would look it up again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = t.app.db.queries_executed();
    assert_eq!(viewer_status(&t, &t.alice.token).await, 200);
    assert_eq!(
        t.app.db.queries_executed() - before,
        0,
        "the token is still cached"
    );
    let answer = socket.round_trip("q").await.expect("the socket stays open");
    assert_eq!(answer["data"]["viewer"]["name"], "alice", "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn change_password_revokes_every_other_token_but_the_current_one() {
    let t = TestApp::start().await;
    set_password(&t, "alice", PASSWORD).await;
    let session = token_of(&login(&t, "alice", PASSWORD).await);
    let other_session = token_of(&login(&t, "alice", PASSWORD).await);
    let mut socket = Client::connect(t.addr, Some(&other_session), false)
        .await
        .unwrap();
    let change = "mutation($c: String!, $n: String!) { changePassword(input: { currentPassword: $c, newPassword: $n }) { user { name } revokedTokenCount } }";
    let body = t
        .gql(
            &session,
            change,
            json!({ "c": PASSWORD, "n": "a brand new password" }),
        )
        .await;
    assert_eq!(
        body["data"]["changePassword"],
        json!({ "user": { "name": "alice" }, "revokedTokenCount": 2 }),
        "the CLI token and the other session: {body}"
    );
    assert_eq!(
        viewer_status(&t, &session).await,
        200,
        "the current token is kept"
    );
    refused_soon(&t, &other_session).await;
    refused_soon(&t, &t.alice.token).await;
    assert_eq!(socket.close_code(Duration::from_secs(5)).await, Some(4403));
    assert_eq!(
        viewer_status(&t, &t.bob.token).await,
        200,
        "others keep theirs"
    );
    // The old password no longer signs in; the new one does.
    assert_eq!(
        error_code(&login(&t, "alice", PASSWORD).await),
        Some("UNAUTHENTICATED")
    );
    token_of(&login(&t, "alice", "a brand new password").await);

    // A user without a password cannot set one with a token alone (a leaked token
    // must not become a password that outlives its revocation): not with an empty
    // current password, not with anything else.
    for current in ["", "anything at all"] {
        let body = t
            .gql(
                &t.bob.token,
                change,
                json!({ "c": current, "n": "bob's first password" }),
            )
            .await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        assert_eq!(field(&body), Some("currentPassword"), "{body}");
    }
    assert_eq!(
        error_code(&login(&t, "bob", "bob's first password").await),
        Some("UNAUTHENTICATED")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn account_mutations_are_counted_and_limited() {
    let t = TestApp::start_with(|c| {
        c.rate_limits.rate_limit_accounts_burst = 2;
        c.rate_limits.rate_limit_accounts_per_minute = 1.0;
    })
    .await;
    let create = "mutation { createApiToken(input: { name: \"x\" }) { token } }";
    for _ in 0..2 {
        let body = t.gql(&t.alice.token, create, json!({})).await;
        assert!(
            body["data"]["createApiToken"]["token"].is_string(),
            "{body}"
        );
    }
    let body = t.gql(&t.alice.token, create, json!({})).await;
    assert_eq!(error_code(&body), Some("RATE_LIMITED"), "{body}");
    assert!(
        body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .is_some()
    );
    set_password(&t, "bob", PASSWORD).await;
    token_of(&login(&t, "bob", PASSWORD).await);
    t.app.usage.flush(&t.app.db).await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let mut conn = t.app.db.conn().await.unwrap();
    let names: Vec<Name> = diesel::sql_query("SELECT DISTINCT name FROM usage_counters")
        .load(&mut conn)
        .await
        .unwrap();
    let names: Vec<String> = names.into_iter().map(|n| n.name).collect();
    for expected in ["token.create", "user.login", "createApiToken", "login"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
}

/// Runs the binary with `stdin` piped in; returns its output.
fn imagegraph_with_stdin(
    args: &[&str],
    stdin: &str,
    database_url: &str,
    data_dir: &std::path::Path,
) -> std::process::Output {
    use std::io::Write as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_imagegraph"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("DATA_DIR", data_dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_sets_passwords_that_sign_in() {
    let t = TestApp::start().await;
    let data_dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: &str| {
        imagegraph_with_stdin(args, stdin, &t.database.url, data_dir.path())
    };
    // One trailing newline is dropped (a `\r\n` too); inner spaces are kept.
    let out = run(&["users", "password", "alice"], "  spaced password \r\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body = login(&t, "alice", "  spaced password ").await;
    assert_eq!(body["data"]["login"]["user"]["name"], "alice", "{body}");
    assert_eq!(
        error_code(&login(&t, "alice", "  spaced password \r").await),
        Some("UNAUTHENTICATED")
    );
    // Her CLI token keeps working.
    assert_eq!(viewer_status(&t, &t.alice.token).await, 200);

    let out = run(&["users", "password", "alice"], "short\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 10"));
    let out = run(&["users", "password", "nobody"], "long enough password\n");
    assert!(!out.status.success());

    // `users create --password-stdin` still prints the token alone, and the password
    // signs in.
    let out = run(
        &["users", "create", "dave", "--admin", "--password-stdin"],
        "dave's password\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    let token = stdout.trim();
    assert_eq!(
        t.gql(token, "{ viewer { name role } }", json!({})).await["data"]["viewer"],
        json!({ "name": "dave", "role": "ADMIN" })
    );
    let body = login(&t, "DAVE", "dave's password").await;
    assert_eq!(body["data"]["login"]["user"]["role"], "ADMIN", "{body}");
    // Names stay unique whatever the case, from the CLI too.
    let out = run(&["users", "create", "Dave"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}
