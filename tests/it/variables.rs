//! Variables coerced as the GraphQL specification says: a variable that was not
//! provided leaves its position unset (so an input field's default applies), an
//! explicit `null` is a `null` (an error in a non-null position), a given value is
//! used as given; in arguments, input-object fields, nested inputs and lists.

use serde_json::{Value, json};

use crate::harness::{TestApp, base64_of, error_code, png};

async fn upload(t: &TestApp) -> String {
    let body = t
        .gql(
            &t.alice.token,
            "mutation($b: String!) { uploadImage(input: { base64: $b, analyze: false }) { image { id } } }",
            json!({ "b": base64_of(&png(40, 30)) }),
        )
        .await;
    body["data"]["uploadImage"]["image"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

/// Generated clients write exactly this: every input field a variable.
const EDIT_SAVE: &str = "mutation($id: ID!, $save: SaveMode) {
    editImage(input: { imageId: $id, save: $save, instructions: [{ brightness: 1.2 }] }) {
        image { id source parent { id } } preview } }";

#[tokio::test(flavor = "multi_thread")]
async fn an_input_field_whose_variable_is_absent_takes_its_default() {
    let t = TestApp::start().await;
    let id = upload(&t).await;

    // Absent: the field's default, NEW_VERSION.
    let body = t.gql(&t.alice.token, EDIT_SAVE, json!({ "id": id })).await;
    let image = &body["data"]["editImage"]["image"];
    assert_eq!(image["source"], "EDIT", "{body}");
    assert_eq!(image["parent"]["id"], id.as_str(), "{body}");
    assert_ne!(image["id"], id.as_str());

    // Explicit null into `SaveMode!`: an error, and nothing is saved.
    let images_before = t.count_rows("images").await;
    let body = t
        .gql(&t.alice.token, EDIT_SAVE, json!({ "id": id, "save": null }))
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert_eq!(t.count_rows("images").await, images_before);

    // Given: used as given.
    let body = t
        .gql(
            &t.alice.token,
            EDIT_SAVE,
            json!({ "id": id, "save": "PREVIEW" }),
        )
        .await;
    assert_eq!(body["data"]["editImage"]["image"], Value::Null, "{body}");
    assert!(
        body["data"]["editImage"]["preview"]
            .as_str()
            .unwrap()
            .starts_with("data:")
    );

    // The variable's own default comes first when it has one.
    let body = t
        .gql(
            &t.alice.token,
            &EDIT_SAVE.replace("$save: SaveMode)", "$save: SaveMode = PREVIEW)"),
            json!({ "id": id }),
        )
        .await;
    assert!(body["data"]["editImage"]["preview"].is_string(), "{body}");
    assert_eq!(t.count_rows("images").await, images_before);
}

#[tokio::test(flavor = "multi_thread")]
async fn nested_inputs_and_lists_follow_the_same_rules() {
    let t = TestApp::start().await;
    let id = upload(&t).await;
    // `fit: ResizeFit! = CONTAIN` inside an instruction inside the list.
    let query = "mutation($id: ID!, $fit: ResizeFit) {
        editImage(input: { imageId: $id, save: PREVIEW,
            instructions: [{ resize: { width: 20, height: 20, fit: $fit } }] }) { instructions } }";
    let body = t.gql(&t.alice.token, query, json!({ "id": id })).await;
    assert_eq!(
        body["data"]["editImage"]["instructions"][0]["resize"]["fit"], "CONTAIN",
        "{body}"
    );
    let body = t
        .gql(&t.alice.token, query, json!({ "id": id, "fit": "FILL" }))
        .await;
    assert_eq!(
        body["data"]["editImage"]["instructions"][0]["resize"]["fit"], "FILL",
        "{body}"
    );
    let body = t
        .gql(&t.alice.token, query, json!({ "id": id, "fit": null }))
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");

    // A list item has no default: an absent variable there is a null item, which
    // `[EditInstruction!]!` refuses before anything runs.
    let query = "mutation($id: ID!, $step: EditInstruction) {
        editImage(input: { imageId: $id, save: PREVIEW, instructions: [$step] }) { preview } }";
    let (status, body) = t
        .gql_response(
            Some(&t.alice.token),
            json!({ "query": query, "variables": { "id": id } }),
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        body.get("data").is_none(),
        "refused before execution: {body}"
    );
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    let body = t
        .gql(
            &t.alice.token,
            query,
            json!({ "id": id, "step": { "grayscale": true } }),
        )
        .await;
    assert!(body["data"]["editImage"]["preview"].is_string(), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn arguments_whose_variable_is_absent_are_unset() {
    let t = TestApp::start().await;
    for _ in 0..12 {
        upload(&t).await;
    }
    // `first` absent: the connection's own default page (10); null means the same.
    let query = "query($n: Int) { images(first: $n) { edges { cursor } } }";
    for variables in [json!({}), json!({ "n": null })] {
        let body = t.gql(&t.alice.token, query, variables.clone()).await;
        assert_eq!(
            body["data"]["images"]["edges"].as_array().map(Vec::len),
            Some(10),
            "{variables}: {body}"
        );
    }
    let body = t.gql(&t.alice.token, query, json!({ "n": 3 })).await;
    assert_eq!(
        body["data"]["images"]["edges"].as_array().map(Vec::len),
        Some(3)
    );

    // A required argument from a required variable that was not provided: refused
    // as a request, naming the variable.
    let (_, body) = t
        .gql_response(
            Some(&t.alice.token),
            json!({ "query": "query($id: ID!) { image(id: $id) { id } }" }),
        )
        .await;
    assert!(body.get("data").is_none(), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("$id"), "{message}");
}
