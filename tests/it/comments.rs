use serde_json::{Value, json};

use crate::harness::{TestApp, error_code};

#[tokio::test(flavor = "multi_thread")]
async fn add_comment_creates_exactly_one_trimmed_comment() {
    let t = TestApp::start().await;
    let image = t.upload_png(&t.alice.token).await;
    let body = t
        .add_comment(&t.bob.token, &image, "  lovely colours \n")
        .await;
    assert_eq!(
        body["data"]["addComment"]["comment"]["text"], "lovely colours",
        "{body}"
    );
    assert_eq!(t.count_rows("comments").await, 1);
    let id = body["data"]["addComment"]["comment"]["id"]
        .as_str()
        .unwrap();
    let body = t
        .gql(&t.alice.token, "query($id: ID!) { comment(id: $id) { text author { name } image { id commentCount } } }", json!({ "id": id }))
        .await;
    assert_eq!(body["data"]["comment"]["author"]["name"], "bob");
    assert_eq!(body["data"]["comment"]["image"]["id"], image.as_str());
    assert_eq!(body["data"]["comment"]["image"]["commentCount"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_comment_on_an_unknown_image_is_not_found_even_with_empty_text() {
    let t = TestApp::start().await;
    let body = t
        .add_comment(
            &t.bob.token,
            &imagegraph_db::GlobalId::global_id(imagegraph_db::ImageId::new()),
            "",
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    assert_eq!(t.count_rows("comments").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn blank_or_oversized_text_is_bad_input_and_creates_nothing() {
    let t = TestApp::start().await;
    let image = t.upload_png(&t.alice.token).await;
    for text in ["".to_owned(), "   \n\t ".to_owned(), "x".repeat(5001)] {
        let body = t.add_comment(&t.bob.token, &image, &text).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    }
    assert_eq!(t.count_rows("comments").await, 0);
    // 5000 characters of multi-byte text is within the limit.
    let body = t.add_comment(&t.bob.token, &image, &"é".repeat(5000)).await;
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_author_or_an_admin_changes_a_comment() {
    let t = TestApp::start().await;
    let image = t.upload_png(&t.alice.token).await;
    let id = t.add_comment(&t.alice.token, &image, "first").await["data"]["addComment"]["comment"]
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let update = "mutation($id: ID!, $t: String!) { updateComment(input: { id: $id, text: $t }) { comment { text editedAt createdAt } } }";
    let delete = "mutation($id: ID!) { deleteComment(input: { id: $id }) { deletedCommentId } }";

    let body = t
        .gql(&t.bob.token, update, json!({ "id": id, "t": "hijacked" }))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
    let body = t.gql(&t.bob.token, delete, json!({ "id": id })).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));

    let body = t
        .gql(&t.alice.token, update, json!({ "id": id, "t": " " }))
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    let body = t
        .gql(&t.alice.token, update, json!({ "id": id, "t": "second" }))
        .await;
    let comment = &body["data"]["updateComment"]["comment"];
    assert_eq!(comment["text"], "second");
    assert!(comment["editedAt"].as_str() > comment["createdAt"].as_str());

    let body = t
        .gql(
            &t.admin.token,
            update,
            json!({ "id": id, "t": "moderated" }),
        )
        .await;
    assert_eq!(
        body["data"]["updateComment"]["comment"]["text"],
        "moderated"
    );
    let body = t.gql(&t.admin.token, delete, json!({ "id": id })).await;
    assert_eq!(
        body["data"]["deleteComment"]["deletedCommentId"],
        id.as_str()
    );
    assert_eq!(t.count_rows("comments").await, 0);
    let body = t.gql(&t.alice.token, delete, json!({ "id": id })).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_cannot_delete_another_members_image_or_comment() {
    let t = TestApp::start().await;
    let image = t.upload_png(&t.alice.token).await;
    let comment =
        t.add_comment(&t.alice.token, &image, "mine").await["data"]["addComment"]["comment"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let body = t
        .gql(
            &t.bob.token,
            "mutation($id: ID!) { deleteImage(input: { id: $id }) { deletedImageId } }",
            json!({ "id": image }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
    let body = t
        .gql(
            &t.bob.token,
            "mutation($id: ID!) { deleteComment(input: { id: $id }) { deletedCommentId } }",
            json!({ "id": comment }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
    assert_eq!(
        (t.count_rows("images").await, t.count_rows("comments").await),
        (1, 1)
    );
}

const COMMENT_PAGE: &str = "query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  image(id: $id) { comments(first: $first, after: $after, last: $last, before: $before) {
    totalCount edges { cursor node { text } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }";

fn texts(body: &Value) -> Vec<String> {
    body["data"]["image"]["comments"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no edges: {body}"))
        .iter()
        .map(|e| e["node"]["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn forty_five_comments_page_by_twenty_newest_first() {
    let t = TestApp::start().await;
    let image = t.upload_png(&t.alice.token).await;
    for i in 0..45 {
        t.add_comment(&t.bob.token, &image, &format!("comment {i:02}"))
            .await;
    }
    let first = t
        .gql(&t.alice.token, COMMENT_PAGE, json!({ "id": image }))
        .await;
    assert_eq!(texts(&first).len(), 20, "default page size");
    assert_eq!(first["data"]["image"]["comments"]["totalCount"], 45);
    assert_eq!(
        first["data"]["image"]["comments"]["pageInfo"]["hasNextPage"],
        true
    );

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let body = t
            .gql(
                &t.alice.token,
                COMMENT_PAGE,
                json!({ "id": image, "after": after }),
            )
            .await;
        seen.extend(texts(&body));
        let info = &body["data"]["image"]["comments"]["pageInfo"];
        if info["hasNextPage"] == false {
            break;
        }
        after = info["endCursor"].as_str().map(str::to_owned);
    }
    let expected: Vec<String> = (0..45).rev().map(|i| format!("comment {i:02}")).collect();
    assert_eq!(seen, expected, "every comment once, newest first");

    // Backwards from the end: the oldest 20, still displayed newest first.
    let body = t
        .gql(
            &t.alice.token,
            COMMENT_PAGE,
            json!({ "id": image, "last": 20 }),
        )
        .await;
    assert_eq!(texts(&body), expected[25..].to_vec());
    assert_eq!(
        body["data"]["image"]["comments"]["pageInfo"]["hasPreviousPage"],
        true
    );
    let before = body["data"]["image"]["comments"]["pageInfo"]["startCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = t
        .gql(
            &t.alice.token,
            COMMENT_PAGE,
            json!({ "id": image, "last": 20, "before": before }),
        )
        .await;
    assert_eq!(texts(&body), expected[5..25].to_vec());

    let body = t
        .gql(
            &t.alice.token,
            COMMENT_PAGE,
            json!({ "id": image, "first": 81 }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    let body = t
        .gql(
            &t.alice.token,
            COMMENT_PAGE,
            json!({ "id": image, "first": 80 }),
        )
        .await;
    assert_eq!(texts(&body).len(), 45);
}
