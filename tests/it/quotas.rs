//! What one user may take of the service: per-user rate limits on uploads, edits and
//! comments, and quotas on the images and bytes they keep.

use rand::Rng as _;
use serde_json::{Value, json};

use crate::harness::*;

const UPLOAD: &str =
    "mutation($b: String!) { uploadImage(input: { base64: $b }) { image { id } } }";
const EDIT: &str =
    "mutation($input: EditImageInput!) { editImage(input: $input) { image { id } preview } }";
const DELETE: &str = "mutation($i: ID!) { deleteImage(input: { id: $i }) { deletedImageId } }";

fn upload_body<'a>(
    t: &'a TestApp,
    token: &'a str,
    bytes: &[u8],
) -> impl Future<Output = Value> + use<'a> {
    t.gql(token, UPLOAD, json!({ "b": base64_of(bytes) }))
}

fn edit_input(id: &str, save: &str) -> Value {
    json!({ "input": { "imageId": id, "instructions": [{ "brightness": 1.2 }], "save": save } })
}

/// A PNG that does not compress: its stored size is about 3 x `side`² bytes.
fn noise_png(side: u32) -> Vec<u8> {
    let mut rng = rand::rng();
    let pixels = image::RgbImage::from_fn(side, side, |_, _| image::Rgb(rng.random()));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(pixels)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn quota_refusal(body: &Value) -> (&str, u64, u64, u64) {
    assert_eq!(error_code(body), Some("QUOTA_EXCEEDED"), "{body}");
    let ext = &body["errors"][0]["extensions"];
    (
        ext["quota"].as_str().unwrap(),
        ext["used"].as_u64().unwrap(),
        ext["requested"].as_u64().unwrap(),
        ext["limit"].as_u64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_edits_and_comments_are_rate_limited_per_user() {
    let t = TestApp::start_with(|c| {
        let limits = &mut c.rate_limits;
        (
            limits.rate_limit_uploads_burst,
            limits.rate_limit_uploads_per_minute,
        ) = (2, 1.0);
        (
            limits.rate_limit_edits_burst,
            limits.rate_limit_edits_per_minute,
        ) = (2, 1.0);
        (
            limits.rate_limit_comments_burst,
            limits.rate_limit_comments_per_minute,
        ) = (2, 1.0);
    })
    .await;
    let id = t.upload_png(&t.alice.token).await;
    t.upload_png(&t.alice.token).await;
    let body = upload_body(&t, &t.alice.token, &png(4, 4)).await;
    assert_eq!(error_code(&body), Some("RATE_LIMITED"), "{body}");
    assert!(
        body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert_eq!(
        t.count_rows("images").await,
        2,
        "the refused upload stored nothing"
    );
    // Each user has an allowance of their own.
    t.upload_png(&t.bob.token).await;

    for _ in 0..2 {
        let body = t
            .gql(&t.alice.token, EDIT, edit_input(&id, "PREVIEW"))
            .await;
        assert!(body["data"]["editImage"]["preview"].is_string(), "{body}");
    }
    let body = t
        .gql(&t.alice.token, EDIT, edit_input(&id, "NEW_VERSION"))
        .await;
    assert_eq!(error_code(&body), Some("RATE_LIMITED"), "{body}");
    assert_eq!(t.count_rows("images").await, 3);

    for n in 0..2 {
        let body = t
            .add_comment(&t.alice.token, &id, &format!("comment {n}"))
            .await;
        assert!(body["errors"].is_null(), "{body}");
    }
    let body = t.add_comment(&t.alice.token, &id, "one too many").await;
    assert_eq!(error_code(&body), Some("RATE_LIMITED"), "{body}");
    assert_eq!(t.count_rows("comments").await, 2);
    let body = t
        .add_comment(&t.bob.token, &id, "bob's own allowance")
        .await;
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_image_quota_refuses_uploads_saved_edits_and_generations_but_not_admins() {
    let t = TestApp::start_with(|c| c.quotas.quota_max_images = 2).await;
    let first = t.upload_png(&t.alice.token).await;
    t.upload_png(&t.alice.token).await;
    let objects = t.stored_objects().len();

    let body = upload_body(&t, &t.alice.token, &png(8, 8)).await;
    assert_eq!(quota_refusal(&body), ("images", 2, 1, 2));
    let body = t
        .gql(&t.alice.token, EDIT, edit_input(&first, "NEW_VERSION"))
        .await;
    assert_eq!(quota_refusal(&body).0, "images");
    let body = t
        .gql(&t.alice.token, EDIT, edit_input(&first, "REPLACE"))
        .await;
    assert_eq!(
        quota_refusal(&body).0,
        "images",
        "a replace keeps a version"
    );
    let body = t
        .gql(
            &t.alice.token,
            "mutation { generateImage(input: { prompt: \"a red fox\" }) { generation { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(quota_refusal(&body).0, "images");
    assert_eq!(t.count_rows("generations").await, 0, "nothing paid for");
    assert_eq!(t.count_rows("images").await, 2);
    assert_eq!(t.stored_objects().len(), objects, "nothing stored");

    // A preview keeps nothing, so it is still allowed.
    let body = t
        .gql(&t.alice.token, EDIT, edit_input(&first, "PREVIEW"))
        .await;
    assert!(body["data"]["editImage"]["preview"].is_string(), "{body}");
    // Admins are exempt; other members have their own quota.
    for _ in 0..3 {
        t.upload_png(&t.admin.token).await;
    }
    t.upload_png(&t.bob.token).await;
    // Deleting frees the slot.
    let body = t.gql(&t.alice.token, DELETE, json!({ "i": first })).await;
    assert!(body["errors"].is_null(), "{body}");
    t.upload_png(&t.alice.token).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_uploads_cannot_overrun_the_image_quota() {
    let t = TestApp::start_with(|c| c.quotas.quota_max_images = 3).await;
    let bodies =
        futures::future::join_all((0..8).map(|n| upload_body(&t, &t.alice.token, &png(8 + n, 8))))
            .await;
    let stored = bodies
        .iter()
        .filter(|body| body["data"]["uploadImage"]["image"]["id"].is_string())
        .count();
    assert_eq!(stored, 3, "{bodies:?}");
    for body in bodies.iter().filter(|b| b["errors"].is_array()) {
        assert_eq!(quota_refusal(body).0, "images");
    }
    assert_eq!(t.count_rows("images").await, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stored_bytes_quota_counts_what_is_kept() {
    let t = TestApp::start_with(|c| c.quotas.quota_max_stored_mb = 1).await;
    let small = t.upload_png(&t.alice.token).await;
    let big = noise_png(640);
    assert!(big.len() > 1024 * 1024);
    let body = upload_body(&t, &t.alice.token, &big).await;
    let (quota, used, requested, limit) = quota_refusal(&body);
    assert_eq!((quota, limit), ("storedBytes", 1024 * 1024));
    assert!(used > 0 && used < 1024, "the small PNG: {used}");
    assert_eq!(requested, big.len() as u64);
    assert_eq!(t.count_rows("images").await, 1);
    let body = upload_body(&t, &t.admin.token, &big).await;
    assert!(body["errors"].is_null(), "admins are exempt: {body}");
    let body = t.gql(&t.alice.token, DELETE, json!({ "i": small })).await;
    assert!(body["errors"].is_null(), "{body}");
}
