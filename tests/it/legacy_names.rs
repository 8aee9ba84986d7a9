//! Users named before the ASCII rule for names (accents, spaces: the old rule took
//! any letter) keep working: admins can still disable them, change their role and set
//! their password. The rule holds for names written from now on.

use diesel_async::RunQueryDsl as _;
use serde_json::json;

use crate::harness::{TestApp, error_code};

async fn sql(t: &TestApp, statement: &str) -> diesel::QueryResult<usize> {
    let mut conn = t.app.db.conn().await.unwrap();
    diesel::sql_query(statement).execute(&mut conn).await
}

/// A row as the migration found it: written before the rule existed (whichever form
/// the rule takes, it is lifted for this one insert).
const OLD_ROW: &str = "DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'users_name_ascii') THEN
    ALTER TABLE users DROP CONSTRAINT users_name_ascii;
    INSERT INTO users (id, name, role) VALUES (gen_random_uuid(), 'josé maría', 'MEMBER');
    ALTER TABLE users ADD CONSTRAINT users_name_ascii
      CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$') NOT VALID;
  ELSE
    ALTER TABLE users DISABLE TRIGGER users_name_ascii_on_insert;
    INSERT INTO users (id, name, role) VALUES (gen_random_uuid(), 'josé maría', 'MEMBER');
    ALTER TABLE users ENABLE TRIGGER users_name_ascii_on_insert;
  END IF;
END $$";

#[tokio::test(flavor = "multi_thread")]
async fn users_named_before_the_ascii_rule_can_still_be_disabled() {
    let t = TestApp::start().await;
    sql(&t, OLD_ROW).await.unwrap();
    let body = t
        .gql(
            &t.admin.token,
            "{ users(first: 30) { nodes { id name } } }",
            json!({}),
        )
        .await;
    let id = body["data"]["users"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "josé maría")
        .unwrap_or_else(|| panic!("{body}"))["id"]
        .clone();
    let update = "mutation($id: ID!) { updateUser(input: { id: $id, disabled: true, role: ADMIN }) { user { name role disabled } } }";
    let body = t.gql(&t.admin.token, update, json!({ "id": id })).await;
    assert_eq!(
        body["data"]["updateUser"]["user"],
        json!({ "name": "josé maría", "role": "ADMIN", "disabled": true }),
        "{body}"
    );
    assert_eq!(error_code(&body), None, "{body}");
    // Their password can be set too (the CLI's `users password`).
    imagegraph::use_cases::users::set_password(
        &t.app.db,
        &t.app.passwords,
        "josé maría",
        imagegraph::passwords::Password::new("long enough password".into()),
    )
    .await
    .unwrap();

    // The rule still holds for every name written from now on, whoever writes it.
    assert!(
        sql(
            &t,
            "INSERT INTO users (id, name, role) VALUES (gen_random_uuid(), 'zoë', 'MEMBER')"
        )
        .await
        .is_err()
    );
    assert!(
        sql(&t, "UPDATE users SET name = 'ali ce' WHERE name = 'alice'")
            .await
            .is_err()
    );
    assert!(
        sql(
            &t,
            "UPDATE users SET name = 'josé' WHERE name = 'josé maría'"
        )
        .await
        .is_err()
    );
    sql(
        &t,
        "UPDATE users SET name = 'jose' WHERE name = 'josé maría'",
    )
    .await
    .unwrap();
}
