use serde_json::{Value, json};

use crate::harness::{TestApp, base64_of, error_code, gif, jpeg, png, webp};

const IMAGE_FIELDS: &str = "id owner { name } url thumbnailUrl contentType width height byteSize description \
    analysis { status model error requestedAt completedAt } source prompt parent { id } \
    versions { totalCount } comments { totalCount } commentCount uploadedAt editedAt";

#[tokio::test(flavor = "multi_thread")]
async fn a_data_uri_upload_is_accepted() {
    let t = TestApp::start().await;
    let bytes = png(64, 48);
    let body = t
        .gql(
            &t.alice.token,
            "mutation($b: String!) { uploadImage(input: { base64: $b }) { image { id contentType width height byteSize } } }",
            json!({ "b": format!("data:image/png;base64,{}", base64_of(&bytes)) }),
        )
        .await;
    let image = &body["data"]["uploadImage"]["image"];
    assert_eq!(image["contentType"], "image/png", "{body}");
    assert_eq!(
        (image["width"].as_i64(), image["height"].as_i64()),
        (Some(64), Some(48))
    );
    assert_eq!(image["byteSize"].as_u64(), Some(bytes.len() as u64));
    assert_eq!(t.count_rows("images").await, 1);
    assert_eq!(t.stored_objects().len(), 2, "original and thumbnail");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jpeg_file_upload_is_accepted_and_stored_unchanged() {
    let t = TestApp::start().await;
    let bytes = jpeg(1200, 800);
    let (status, body) = t
        .upload_file(&t.alice.token, bytes.clone(), "photo.jpg", "image/jpeg")
        .await;
    assert_eq!(status, 200);
    let image = &body["data"]["uploadImage"]["image"];
    assert_eq!(image["contentType"], "image/jpeg", "{body}");
    assert_eq!(
        (image["width"].as_i64(), image["height"].as_i64()),
        (Some(1200), Some(800))
    );
    let original = t
        .client
        .get(image["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(original.headers()["content-type"], "image/jpeg");
    assert_eq!(
        original.bytes().await.unwrap().as_ref(),
        bytes.as_slice(),
        "the stored format is the uploaded one"
    );
    let thumbnail = t
        .client
        .get(image["thumbnailUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let thumbnail = image::load_from_memory(&thumbnail).unwrap();
    assert_eq!((thumbnail.width(), thumbnail.height()), (400, 267));
}

#[tokio::test(flavor = "multi_thread")]
async fn gif_and_webp_are_accepted_whatever_their_declared_type() {
    let t = TestApp::start().await;
    let (_, body) = t
        .upload_file(&t.alice.token, gif(30, 20), "anim.gif", "image/gif")
        .await;
    assert_eq!(
        body["data"]["uploadImage"]["image"]["contentType"], "image/gif",
        "{body}"
    );
    // The declared type and name lie; the bytes decide.
    let (_, body) = t
        .upload_file(&t.alice.token, webp(30, 20), "photo.jpg", "image/jpeg")
        .await;
    assert_eq!(
        body["data"]["uploadImage"]["image"]["contentType"], "image/webp",
        "{body}"
    );
    assert_eq!(t.count_rows("images").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_uploads_get_codes_and_store_nothing() {
    let t = TestApp::start().await;
    let upload = "mutation($b: String) { uploadImage(input: { base64: $b }) { image { id } } }";
    let cases = [
        (json!({ "b": "not_an_image" }), "BAD_USER_INPUT"),
        (json!({ "b": "" }), "BAD_USER_INPUT"),
        (json!({ "b": null }), "BAD_USER_INPUT"),
        (json!({ "b": 12345 }), "BAD_USER_INPUT"),
        (
            json!({ "b": base64_of(b"plain text, not an image") }),
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            json!({ "b": format!("data:text/plain;base64,{}", base64_of(b"hello")) }),
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            json!({ "b": base64_of(&png(40, 40)[..60]) }),
            "BAD_USER_INPUT",
        ),
    ];
    for (variables, code) in cases {
        let body = t.gql(&t.alice.token, upload, variables.clone()).await;
        assert_eq!(error_code(&body), Some(code), "{variables}: {body}");
    }
    // A number where the file goes.
    let body = t
        .gql(
            &t.alice.token,
            "mutation($f: Upload) { uploadImage(input: { file: $f }) { image { id } } }",
            json!({ "f": 42 }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    // An uploaded text file.
    let (status, body) = t
        .upload_file(
            &t.alice.token,
            b"hello world\n".to_vec(),
            "notes.txt",
            "text/plain",
        )
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (200, Some("UNSUPPORTED_MEDIA_TYPE")),
        "{body}"
    );
    // An explicit null file next to base64 is just base64.
    let body = t
        .gql(
            &t.alice.token,
            upload
                .replace("base64: $b", "base64: $b, file: null")
                .as_str(),
            json!({ "b": base64_of(&png(4, 4)) }),
        )
        .await;
    assert!(
        body["data"]["uploadImage"]["image"]["id"].is_string(),
        "file: null is no file: {body}"
    );

    assert_eq!(t.count_rows("images").await, 1);
    assert_eq!(t.stored_objects().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_file_part_is_a_coded_error_not_a_500() {
    let t = TestApp::start().await;
    let operations = json!({
        "query": "mutation($file: Upload!) { uploadImage(input: { file: $file }) { image { id } } }",
        "variables": { "file": null },
    });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({ "0": ["variables.file"] }).to_string());
    let (status, body) = t.multipart(&t.alice.token, form).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");

    let form = reqwest::multipart::Form::new()
        .text("operations", "{ not json")
        .text("map", "{}");
    let (status, body) = t.multipart(&t.alice.token, form).await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (400, Some("BAD_USER_INPUT")),
        "{body}"
    );
    assert_eq!(t.count_rows("images").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn byte_and_pixel_caps_are_enforced() {
    let t = TestApp::start_with(|config| {
        config.images.max_upload_bytes = 50_000;
        config.images.max_image_pixels = 1_000_000;
    })
    .await;
    // Incompressible noise, so the file really is large.
    let noise: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut big = png(2, 2);
    big.extend_from_slice(&noise);
    let (status, body) = t
        .upload_file(&t.alice.token, big.clone(), "big.png", "image/png")
        .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (413, Some("PAYLOAD_TOO_LARGE")),
        "{body}"
    );
    let body = t
        .gql(
            &t.alice.token,
            "mutation($b: String!) { uploadImage(input: { base64: $b }) { image { id } } }",
            json!({ "b": base64_of(&big[..60_000]) }),
        )
        .await;
    assert_eq!(error_code(&body), Some("PAYLOAD_TOO_LARGE"), "{body}");
    // Small file, too many pixels: refused from the header.
    let wide = png(2000, 1000);
    assert!(wide.len() < 50_000);
    let (_, body) = t
        .upload_file(&t.alice.token, wide, "wide.png", "image/png")
        .await;
    assert_eq!(error_code(&body), Some("PAYLOAD_TOO_LARGE"), "{body}");
    assert_eq!(t.count_rows("images").await, 0);
    assert!(t.stored_objects().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn image_by_id_returns_every_stored_field() {
    let t = TestApp::start().await;
    let id = t.upload_png(&t.alice.token).await;
    let body = t
        .gql(
            &t.bob.token,
            &format!("query($id: ID!) {{ image(id: $id) {{ {IMAGE_FIELDS} }} }}"),
            json!({ "id": id }),
        )
        .await;
    let image = &body["data"]["image"];
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(image["id"], id.as_str());
    assert_eq!(image["owner"]["name"], "alice");
    assert_eq!(image["contentType"], "image/png");
    assert_eq!(
        (image["width"].as_i64(), image["height"].as_i64()),
        (Some(8), Some(6))
    );
    assert_eq!(image["byteSize"].as_u64(), Some(png(8, 6).len() as u64));
    assert_eq!(image["source"], "UPLOAD");
    assert_eq!(image["analysis"]["status"], "NOT_REQUESTED");
    assert!(
        image["description"].is_null() && image["prompt"].is_null() && image["parent"].is_null()
    );
    assert_eq!(image["versions"]["totalCount"], 0);
    assert_eq!(image["commentCount"], 0);
    assert!(image["url"].as_str().unwrap().starts_with(&format!(
        "http://{}/media/images/{}/",
        t.addr,
        crate::harness::row_id::<imagegraph_db::ImageId>(&id)
    )));
    assert!(image["thumbnailUrl"].as_str().unwrap().contains("-thumb."));
    let uploaded =
        chrono::DateTime::parse_from_rfc3339(image["uploadedAt"].as_str().unwrap()).unwrap();
    assert!((chrono::Utc::now() - uploaded.to_utc()).num_seconds().abs() < 60);
    assert_eq!(image["uploadedAt"], image["editedAt"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_ids_are_not_found_and_malformed_or_mistyped_ids_bad_input() {
    use imagegraph_db::GlobalId as _;
    let t = TestApp::start().await;
    let image = t.upload_png(&t.alice.token).await;
    let unknown_image = imagegraph_db::ImageId::new().global_id();
    let unknown_comment = imagegraph_db::CommentId::new().global_id();
    for (query, unknown) in [
        ("query($id: ID!) { image(id: $id) { id } }", &unknown_image),
        (
            "query($id: ID!) { comment(id: $id) { id } }",
            &unknown_comment,
        ),
    ] {
        let body = t.gql(&t.alice.token, query, json!({ "id": unknown })).await;
        assert_eq!(error_code(&body), Some("NOT_FOUND"), "{query}: {body}");
    }
    // An id of another type, a bare UUID and garbage are refused by every argument.
    let bare_uuid = uuid::Uuid::now_v7().to_string();
    for query in [
        "query($id: ID!) { image(id: $id) { id } }",
        "query($id: ID!) { comment(id: $id) { id } }",
        "query($id: ID!) { node(id: $id) { id } }",
    ] {
        for bad in ["42; DROP TABLE images", bare_uuid.as_str()] {
            let body = t.gql(&t.alice.token, query, json!({ "id": bad })).await;
            assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{query}: {body}");
        }
    }
    let body = t
        .gql(
            &t.alice.token,
            "query($id: ID!) { comment(id: $id) { id } }",
            json!({ "id": image }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Comment"),
        "{body}"
    );
    let body = t
        .gql(
            &t.alice.token,
            "mutation($id: ID!) { deleteImage(input: { id: $id }) { deletedImageId } }",
            json!({ "id": unknown_image }),
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
}

#[tokio::test(flavor = "multi_thread")]
async fn node_resolves_images_comments_and_users() {
    let t = TestApp::start().await;
    let image_id = t.upload_png(&t.alice.token).await;
    let comment_id =
        t.add_comment(&t.bob.token, &image_id, "nice").await["data"]["addComment"]["comment"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let viewer = t.gql(&t.bob.token, "{ viewer { id } }", json!({})).await;
    let user_id = viewer["data"]["viewer"]["id"].as_str().unwrap().to_owned();
    let query = "query($id: ID!) { node(id: $id) { __typename id ... on Comment { text } ... on User { name } } }";
    for (id, typename) in [
        (&image_id, "Image"),
        (&comment_id, "Comment"),
        (&user_id, "User"),
    ] {
        // One lookup in the table the id names (the token comes from memory).
        t.app.tokens.last_used_writes_settled().await;
        let before = t.app.db.queries_executed();
        let body = t.gql(&t.alice.token, query, json!({ "id": id })).await;
        assert_eq!(body["data"]["node"]["__typename"], typename, "{body}");
        assert_eq!(body["data"]["node"]["id"], id.as_str());
        assert_eq!(t.app.db.queries_executed() - before, 1, "{typename}");
    }

    // Relay: a well-formed id of nothing (any type, or a type the API does not have)
    // is `null` without an error.
    use imagegraph_db::GlobalId as _;
    for unknown in [
        imagegraph_db::ImageId::new().global_id(),
        imagegraph_db::UserId::new().global_id(),
        imagegraph_db::GenerationId::new().global_id(),
        imagegraph_db::BenchmarkRunId::new().global_id(),
        imagegraph_db::encode_global_id("Spaceship", uuid::Uuid::now_v7()),
    ] {
        let body = t.gql(&t.alice.token, query, json!({ "id": unknown })).await;
        assert_eq!(body["data"]["node"], Value::Null, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
    }

    // `nodes`: in the order asked, `null` where `node` is.
    let unknown = imagegraph_db::CommentId::new().global_id();
    let body = t
        .gql(
            &t.alice.token,
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
            json!({ "ids": [user_id, unknown, image_id, comment_id] }),
        )
        .await;
    let nodes = body["data"]["nodes"].as_array().expect("nodes");
    let ids: Vec<&Value> = nodes.iter().map(|n| &n["id"]).collect();
    assert_eq!(
        ids,
        [
            &json!(user_id),
            &Value::Null,
            &json!(image_id),
            &json!(comment_id)
        ],
        "{body}"
    );
    assert_eq!(nodes[1], Value::Null);
    let too_many: Vec<String> = (0..101)
        .map(|_| imagegraph_db::ImageId::new().global_id())
        .collect();
    let body = t
        .gql(
            &t.alice.token,
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": too_many }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_owner_or_an_admin_deletes_an_image_and_its_objects_go() {
    let t = TestApp::start().await;
    let delete = "mutation($id: ID!) { deleteImage(input: { id: $id }) { deletedImageId } }";
    let first = t.upload_png(&t.alice.token).await;
    let second = t.upload_png(&t.alice.token).await;
    t.add_comment(&t.bob.token, &first, "hello").await;
    let url = t
        .gql(
            &t.alice.token,
            "query($id: ID!) { image(id: $id) { url } }",
            json!({ "id": first }),
        )
        .await["data"]["image"]["url"]
        .as_str()
        .unwrap()
        .to_owned();

    let body = t.gql(&t.bob.token, delete, json!({ "id": first })).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    assert_eq!(t.count_rows("images").await, 2);

    let body = t.gql(&t.alice.token, delete, json!({ "id": first })).await;
    assert_eq!(
        body["data"]["deleteImage"]["deletedImageId"],
        first.as_str(),
        "{body}"
    );
    assert_eq!(
        t.count_rows("comments").await,
        0,
        "comments go with their image"
    );
    assert_eq!(
        t.client.get(&url).send().await.unwrap().status(),
        404,
        "objects are deleted"
    );
    assert_eq!(t.stored_objects().len(), 2);

    let body = t.gql(&t.admin.token, delete, json!({ "id": second })).await;
    assert_eq!(
        body["data"]["deleteImage"]["deletedImageId"],
        second.as_str(),
        "{body}"
    );
    assert_eq!(t.count_rows("images").await, 0);
    assert!(t.stored_objects().is_empty());
    let body = t.gql(&t.alice.token, delete, json!({ "id": second })).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
}
