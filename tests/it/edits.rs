//! Editing with instructions: save modes, versions, permissions, formats, invalid
//! input, and prompt-planned edits with wiremock standing in for the planner.

use std::time::{Duration, Instant};

use base64::Engine as _;
use imagegraph_imaging::edit::{self, EditInstruction};
use serde_json::{Value, json};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::harness::{TestApp, base64_of, error_code, png};

const EDIT: &str = "mutation($input: EditImageInput!) { editImage(input: $input) {
    image { id source width height contentType url parent { id } edits analysis { status } }
    preview instructions } }";

async fn upload(t: &TestApp, bytes: &[u8]) -> String {
    let body = t
        .gql(&t.alice.token, "mutation($b: String!) { uploadImage(input: { base64: $b, analyze: false }) { image { id } } }", json!({ "b": base64_of(bytes) }))
        .await;
    body["data"]["uploadImage"]["image"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

async fn fetch(t: &TestApp, url: &str) -> Vec<u8> {
    let response = t.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.bytes().await.unwrap().to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_version_is_stored_and_the_original_left_alone() {
    let t = TestApp::start().await;
    let original = png(64, 48);
    let id = upload(&t, &original).await;
    let instructions = json!([{ "brightness": 1.5 }, { "rotate": 90 }, { "crop": { "x": 4, "y": 8, "width": 40, "height": 50 } }]);
    let body = t
        .gql(
            &t.bob.token,
            EDIT,
            json!({ "input": { "imageId": id, "instructions": instructions } }),
        )
        .await;
    let edited = &body["data"]["editImage"]["image"];
    assert_eq!(edited["source"], "EDIT", "{body}");
    assert_eq!(edited["parent"]["id"], id.as_str());
    assert_eq!(
        (edited["width"].as_i64(), edited["height"].as_i64()),
        (Some(40), Some(50))
    );
    assert_eq!(edited["contentType"], "image/png", "the original's format");
    assert_eq!(edited["edits"], instructions);
    assert_eq!(body["data"]["editImage"]["instructions"], instructions);

    // The stored pixels are the engine's, exactly (PNG is lossless).
    let expected = edit::apply(
        image::load_from_memory(&original).unwrap(),
        &[
            EditInstruction::Brightness(1.5),
            EditInstruction::Rotate(90),
            EditInstruction::Crop {
                x: 4,
                y: 8,
                width: 40,
                height: 50,
            },
        ],
    )
    .unwrap();
    let stored =
        image::load_from_memory(&fetch(&t, edited["url"].as_str().unwrap()).await).unwrap();
    assert_eq!(stored.to_rgb8(), expected.to_rgb8());

    let body = t.gql(&t.alice.token, "query($id: ID!) { image(id: $id) { url edits versions { totalCount nodes { id owner { name } } } } }", json!({ "id": id })).await;
    let image = &body["data"]["image"];
    assert_eq!(
        fetch(&t, image["url"].as_str().unwrap()).await,
        original,
        "the original is untouched"
    );
    assert!(image["edits"].is_null());
    assert_eq!(image["versions"]["totalCount"], 1);
    assert_eq!(image["versions"]["nodes"][0]["id"], edited["id"]);
    assert_eq!(image["versions"]["nodes"][0]["owner"]["name"], "bob");
}

#[tokio::test(flavor = "multi_thread")]
async fn replace_changes_the_image_in_place_and_keeps_the_old_content_as_a_version() {
    let t = TestApp::start().await;
    let original = png(64, 48);
    let id = upload(&t, &original).await;
    let before = t
        .gql(
            &t.alice.token,
            "query($id: ID!) { image(id: $id) { url } }",
            json!({ "id": id }),
        )
        .await["data"]["image"]["url"]
        .as_str()
        .unwrap()
        .to_owned();

    let input = json!({ "imageId": id, "instructions": [{ "grayscale": true }, { "resize": { "width": 32 } }], "save": "REPLACE" });
    let body = t.gql(&t.bob.token, EDIT, json!({ "input": input })).await;
    assert_eq!(
        error_code(&body),
        Some("FORBIDDEN"),
        "a member cannot replace another's image"
    );
    assert_eq!(t.count_rows("images").await, 1);

    let body = t.gql(&t.alice.token, EDIT, json!({ "input": input })).await;
    let replaced = &body["data"]["editImage"]["image"];
    assert_eq!(replaced["id"], id.as_str(), "{body}");
    assert_eq!(
        (replaced["width"].as_i64(), replaced["height"].as_i64()),
        (Some(32), Some(24))
    );
    assert_ne!(replaced["url"], before.as_str(), "new content, new URL");
    let now = image::load_from_memory(&fetch(&t, replaced["url"].as_str().unwrap()).await)
        .unwrap()
        .to_rgb8();
    assert!(now.pixels().all(|p| p[0] == p[1] && p[1] == p[2]), "grey");

    let body = t.gql(&t.alice.token, "query($id: ID!) { image(id: $id) { versions { nodes { url width source parent { id } } } } }", json!({ "id": id })).await;
    let versions = body["data"]["image"]["versions"]["nodes"]
        .as_array()
        .unwrap();
    assert_eq!(versions.len(), 1, "nothing is lost");
    assert_eq!(
        (
            versions[0]["width"].as_i64(),
            versions[0]["source"].as_str()
        ),
        (Some(64), Some("UPLOAD"))
    );
    assert_eq!(
        fetch(&t, versions[0]["url"].as_str().unwrap()).await,
        original
    );
    assert_eq!(
        t.client.get(&before).send().await.unwrap().status(),
        404,
        "the old objects were moved to the version"
    );
    assert_eq!(
        t.stored_objects().len(),
        4,
        "image and version, each with a thumbnail"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_returns_a_bounded_data_url_and_stores_nothing() {
    let t = TestApp::start().await;
    let id = upload(&t, &png(1600, 900)).await;
    let objects = t.stored_objects().len();
    let body = t.gql(&t.alice.token, EDIT, json!({ "input": { "imageId": id, "instructions": [{ "contrast": 1.4 }], "save": "PREVIEW" } })).await;
    let payload = &body["data"]["editImage"];
    assert!(payload["image"].is_null(), "{body}");
    let data_url = payload["preview"].as_str().unwrap();
    let encoded = data_url
        .strip_prefix("data:image/jpeg;base64,")
        .expect("a JPEG data URL");
    let preview = image::load_from_memory(
        &base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap();
    assert_eq!((preview.width(), preview.height()), (1024, 576));
    assert_eq!(
        (t.count_rows("images").await, t.stored_objects().len()),
        (1, objects)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn alpha_and_format_are_kept_unless_asked_otherwise() {
    let t = TestApp::start().await;
    let mut rgba = image::RgbaImage::from_pixel(20, 10, image::Rgba([200, 100, 50, 128]));
    rgba.put_pixel(0, 0, image::Rgba([0, 0, 0, 0]));
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgba8(rgba)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    let id = upload(&t, &bytes).await;

    let body = t
        .gql(
            &t.alice.token,
            EDIT,
            json!({ "input": { "imageId": id, "instructions": [{ "flip": "HORIZONTAL" }] } }),
        )
        .await;
    let kept = image::load_from_memory(
        &fetch(
            &t,
            body["data"]["editImage"]["image"]["url"].as_str().unwrap(),
        )
        .await,
    )
    .unwrap();
    assert!(kept.color().has_alpha());
    assert_eq!(
        kept.to_rgba8().get_pixel(19, 0).0,
        [0, 0, 0, 0],
        "flipped, transparency kept"
    );

    let body = t.gql(&t.alice.token, EDIT, json!({ "input": { "imageId": id, "instructions": [{ "blur": 1.0 }], "format": "JPEG" } })).await;
    assert_eq!(
        body["data"]["editImage"]["image"]["contentType"], "image/jpeg",
        "{body}"
    );
    let jpeg = fetch(
        &t,
        body["data"]["editImage"]["image"]["url"].as_str().unwrap(),
    )
    .await;
    assert_eq!(&jpeg[..3], &[0xFF, 0xD8, 0xFF]);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_instructions_are_bad_input_naming_the_index_and_store_nothing() {
    let t = TestApp::start().await;
    let id = upload(&t, &png(64, 48)).await;
    let too_many: Vec<Value> = (0..21).map(|_| json!({ "brightness": 1.0 })).collect();
    for (instructions, needle) in [
        (
            json!([{ "brightness": 1.0 }, { "brightness": 11.0 }]),
            "instruction 1",
        ),
        (json!([{ "contrast": -0.5 }]), "instruction 0"),
        (json!([{ "rotate": 45 }]), "instruction 0"),
        (json!([{ "blur": 0.0 }]), "instruction 0"),
        (
            json!([{ "resize": { "width": 10 } }, { "crop": { "x": 5, "y": 0, "width": 10, "height": 5 } }]),
            "instruction 1",
        ),
        (
            json!([{ "crop": { "x": 0, "y": 0, "width": 65, "height": 10 } }]),
            "instruction 0",
        ),
        (
            json!([{ "resize": { "width": 100000, "height": 100000, "fit": "FILL" } }]),
            "instruction 0",
        ),
        (json!(too_many), "instruction 20"),
    ] {
        let body = t
            .gql(
                &t.alice.token,
                EDIT,
                json!({ "input": { "imageId": id, "instructions": instructions } }),
            )
            .await;
        assert_eq!(
            error_code(&body),
            Some("BAD_USER_INPUT"),
            "{instructions}: {body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message} should name {needle}");
    }
    for instructions in [
        json!([{ "grayscale": false }]),
        json!([{ "brightness": 1.0, "contrast": 1.0 }]),
        json!([{}]),
    ] {
        let body = t
            .gql(
                &t.alice.token,
                EDIT,
                json!({ "input": { "imageId": id, "instructions": instructions } }),
            )
            .await;
        assert_eq!(
            error_code(&body),
            Some("BAD_USER_INPUT"),
            "{instructions}: {body}"
        );
    }
    let body = t
        .gql(
            &t.alice.token,
            EDIT,
            json!({ "input": { "imageId": imagegraph_db::GlobalId::global_id(imagegraph_db::ImageId::new()), "instructions": [] } }),
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
    assert_eq!(t.count_rows("images").await, 1);
    assert_eq!(t.stored_objects().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_png_declaring_fifty_thousand_squared_is_refused_at_once() {
    let t = TestApp::start().await;
    let bomb = png_header_only(50_000, 50_000);
    assert!(bomb.len() < 100);
    let started = Instant::now();
    let body = t
        .gql(
            &t.alice.token,
            "mutation($b: String!) { uploadImage(input: { base64: $b }) { image { id } } }",
            json!({ "b": base64_of(&bomb) }),
        )
        .await;
    assert_eq!(error_code(&body), Some("PAYLOAD_TOO_LARGE"), "{body}");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "refused from the header: {:?}",
        started.elapsed()
    );
    assert_eq!(t.count_rows("images").await, 0);
}

/// A PNG with a valid IHDR for `width` x `height` and no pixel data.
fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut chunk = b"IHDR".to_vec();
    chunk.extend_from_slice(&width.to_be_bytes());
    chunk.extend_from_slice(&height.to_be_bytes());
    chunk.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&crc32(&chunk).to_be_bytes());
    // The decoder reads up to the first IDAT before it reports a size: give it one,
    // holding an empty zlib stream.
    let idat: &[u8] = b"IDAT\x78\x9c\x03\x00\x00\x00\x00\x01";
    out.extend_from_slice(&8u32.to_be_bytes());
    out.extend_from_slice(idat);
    out.extend_from_slice(&crc32(idat).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(b"IEND");
    out.extend_from_slice(&crc32(b"IEND").to_be_bytes());
    out
}

fn tool_call(arguments: Value) -> Value {
    json!({
        "id": "chatcmpl-D9eF0gH1iJ2", "object": "chat.completion", "created": 1_763_750_200, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{ "index": 0, "finish_reason": "tool_calls", "logprobs": null,
            "message": { "role": "assistant", "content": null, "refusal": null,
                "tool_calls": [{ "id": "call_8Hn", "type": "function", "function": { "name": "apply_edits", "arguments": arguments.to_string() } }] } }],
        "usage": { "prompt_tokens": 633, "completion_tokens": 41, "total_tokens": 674 }
    })
}

const PROMPT_EDIT: &str =
    "mutation($input: EditImageWithPromptInput!) { editImageWithPrompt(input: $input) {
    image { id source edits parent { id } } instructions } }";

#[tokio::test(flavor = "multi_thread")]
async fn a_prompt_is_planned_into_instructions_that_run() {
    let server = MockServer::start().await;
    Mock::given(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tool_call(
            json!({ "instructions": [{ "brightness": 1.2 }, { "saturation": 0.0 }] }),
        )))
        .mount(&server)
        .await;
    let t = crate::ai::ai_app(&server, |_| {}).await;
    let id = upload(&t, &png(64, 48)).await;
    let body = t
        .gql(
            &t.alice.token,
            PROMPT_EDIT,
            json!({ "input": { "imageId": id, "prompt": "a bit brighter, in black and white" } }),
        )
        .await;
    let payload = &body["data"]["editImageWithPrompt"];
    let planned = json!([{ "brightness": 1.2 }, { "saturation": 0.0 }]);
    assert_eq!(payload["instructions"], planned, "{body}");
    assert_eq!(payload["image"]["edits"], planned);
    assert_eq!(payload["image"]["parent"]["id"], id.as_str());
    let request: Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(
        request["messages"][1]["content"],
        "a bit brighter, in black and white"
    );
    assert!(
        request["tools"][0]["function"]["parameters"]["properties"]["instructions"].is_object()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_with_invalid_instructions_fails_and_stores_nothing() {
    let server = MockServer::start().await;
    Mock::given(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tool_call(json!({ "instructions": [{ "brightness": 1.1 }, { "crop": { "x": 0, "y": 0, "width": 5000, "height": 10 } }] }))))
        .mount(&server)
        .await;
    let t = crate::ai::ai_app(&server, |_| {}).await;
    let id = upload(&t, &png(64, 48)).await;
    let body = t
        .gql(
            &t.alice.token,
            PROMPT_EDIT,
            json!({ "input": { "imageId": id, "prompt": "crop it" } }),
        )
        .await;
    assert_eq!(error_code(&body), Some("AI_PROVIDER_ERROR"), "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("instruction 1")
    );
    // A provider's bad plan is not a missing provider.
    assert!(
        body["errors"][0]["extensions"]["reason"].is_null(),
        "{body}"
    );
    assert_eq!(
        (t.count_rows("images").await, t.stored_objects().len()),
        (1, 2)
    );

    let offline = TestApp::start().await;
    let id = upload(&offline, &png(8, 8)).await;
    let body = offline
        .gql(
            &offline.alice.token,
            PROMPT_EDIT,
            json!({ "input": { "imageId": id, "prompt": "brighter" } }),
        )
        .await;
    assert_eq!(error_code(&body), Some("AI_PROVIDER_ERROR"));
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("OPENAI_API_KEY")
    );
    let extensions = &body["errors"][0]["extensions"];
    assert_eq!(extensions["reason"], "NOT_CONFIGURED", "{body}");
    assert_eq!(
        extensions["feature"], "planning edits from a prompt",
        "{body}"
    );
}

const FEED: &str = "{ images(first: 30) { totalCount nodes { id } } }";

fn feed_ids(body: &Value) -> Vec<&str> {
    body["data"]["images"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|node| node["id"].as_str().unwrap())
        .collect()
}

async fn replace_with(t: &TestApp, id: &str, instructions: Value) {
    let body = t
        .gql(
            &t.alice.token,
            EDIT,
            json!({ "input": { "imageId": id, "instructions": instructions, "save": "REPLACE" } }),
        )
        .await;
    assert_eq!(body["data"]["editImage"]["image"]["id"], id, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kept_versions_stay_out_of_the_feed_and_go_with_their_image() {
    let t = TestApp::start().await;
    let id = upload(&t, &png(64, 48)).await;
    let other = upload(&t, &png(20, 10)).await;
    replace_with(&t, &id, json!([{ "grayscale": true }])).await;
    replace_with(&t, &id, json!([{ "rotate": 90 }])).await;
    // A version that is edited on its own (NEW_VERSION) is a new image of its own.
    let body = t
        .gql(
            &t.bob.token,
            EDIT,
            json!({ "input": { "imageId": id, "instructions": [{ "brightness": 1.2 }] } }),
        )
        .await;
    let derived = body["data"]["editImage"]["image"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let versions = t
        .gql(
            &t.alice.token,
            "query($id: ID!) { image(id: $id) { versions { totalCount nodes { id } } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        versions["data"]["image"]["versions"]["totalCount"], 3,
        "two kept contents and one new version: {versions}"
    );
    // A kept version replaced in its turn keeps a version too: two levels deep.
    let kept: Vec<String> = versions["data"]["image"]["versions"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| node["id"].as_str().unwrap().to_owned())
        .filter(|version| *version != derived)
        .collect();
    replace_with(&t, &kept[0], json!([{ "grayscale": true }])).await;
    assert_eq!(t.count_rows("images").await, 6);
    assert_eq!(t.stored_objects().len(), 12);

    let body = t.gql(&t.bob.token, FEED, json!({})).await;
    let mut ids = feed_ids(&body);
    ids.sort_unstable();
    let mut expected = vec![id.as_str(), other.as_str(), derived.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected, "kept content is not a new image: {body}");
    assert_eq!(body["data"]["images"]["totalCount"], 3);
    let last = t
        .gql(
            &t.bob.token,
            "{ images(last: 30) { totalCount nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(feed_ids(&last).len(), 3, "backward pages too: {last}");

    let body = t
        .gql(
            &t.alice.token,
            "mutation($id: ID!) { deleteImage(input: { id: $id }) { deletedImageId } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        body["data"]["deleteImage"]["deletedImageId"],
        id.as_str(),
        "{body}"
    );
    assert_eq!(
        t.count_rows("images").await,
        2,
        "the image and all content kept from it, at any depth, are gone"
    );
    for version in &kept {
        let body = t
            .gql(
                &t.alice.token,
                "query($id: ID!) { image(id: $id) { id } }",
                json!({ "id": version }),
            )
            .await;
        assert!(body["data"]["image"].is_null(), "{body}");
    }
    assert_eq!(
        t.stored_objects().len(),
        4,
        "the kept contents' objects went too; the other image and the new version stay"
    );
    let body = t
        .gql(
            &t.bob.token,
            "query($id: ID!) { image(id: $id) { id parent { id } } }",
            json!({ "id": derived }),
        )
        .await;
    assert_eq!(body["data"]["image"]["id"], derived.as_str(), "{body}");
    assert!(body["data"]["image"]["parent"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_version_left_by_a_crash_is_swept_by_gc() {
    use diesel_async::RunQueryDsl as _;

    let t = TestApp::start().await;
    let id = upload(&t, &png(64, 48)).await;
    replace_with(&t, &id, json!([{ "grayscale": true }])).await;
    assert_eq!(t.stored_objects().len(), 4);
    // A crash after the rows went but before the objects did; a delete made by hand
    // (the foreign key's cascade takes the kept row) leaves the same.
    let mut conn = t.app.db.conn().await.unwrap();
    diesel::sql_query("DELETE FROM images WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(
            <imagegraph_db::ImageId as imagegraph_db::GlobalId>::from_global_id(&id)
                .unwrap()
                .uuid(),
        )
        .execute(&mut conn)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(t.count_rows("images").await, 0, "the kept row cascades");
    let report =
        imagegraph::use_cases::gc::sweep(&t.app.db, &t.app.storage, std::time::Duration::ZERO)
            .await
            .unwrap();
    assert_eq!(report.deleted, 4, "{report:?}");
    assert!(t.stored_objects().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_migration_finds_versions_kept_before_kept_from_existed() {
    use diesel_async::{RunQueryDsl as _, SimpleAsyncConnection as _};

    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: uuid::Uuid,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
        kept_from: Option<uuid::Uuid>,
    }
    const MIGRATION: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/db/migrations/2026-12-04-090000_kept_versions"
    );

    let t = TestApp::start().await;
    let id = upload(&t, &png(64, 48)).await;
    // A new version by bob, which bob then replaces: an EDIT image edited after it
    // was made, and kept content of source EDIT.
    let body = t
        .gql(
            &t.bob.token,
            EDIT,
            json!({ "input": { "imageId": id, "instructions": [{ "brightness": 1.2 }] } }),
        )
        .await;
    let derived = body["data"]["editImage"]["image"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let body = t
        .gql(
            &t.bob.token,
            EDIT,
            json!({ "input": { "imageId": derived, "instructions": [{ "rotate": 90 }], "save": "REPLACE" } }),
        )
        .await;
    assert_eq!(
        body["data"]["editImage"]["image"]["id"],
        derived.as_str(),
        "{body}"
    );
    replace_with(&t, &id, json!([{ "grayscale": true }])).await;

    let mut conn = t.app.db.conn().await.unwrap();
    let read = "SELECT id, kept_from FROM images ORDER BY id";
    let before: Vec<Row> = diesel::sql_query(read).load(&mut conn).await.unwrap();
    assert_eq!(before.len(), 4);
    assert_eq!(before.iter().filter(|r| r.kept_from.is_some()).count(), 2);
    for step in ["down", "up"] {
        let sql = std::fs::read_to_string(format!("{MIGRATION}/{step}.sql")).unwrap();
        conn.batch_execute(&sql).await.unwrap();
    }
    let after: Vec<Row> = diesel::sql_query(read).load(&mut conn).await.unwrap();
    assert_eq!(after, before, "the rows REPLACE kept, and only those");
}

/// A photo-like JPEG (4:2:0, q90) with an asymmetric mark, so a wrong turn shows.
fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let rgb = image::RgbImage::from_fn(width, height, |x, y| {
        let mark = x < width / 4 && y < height / 5;
        image::Rgb([
            if mark { 240 } else { (x * 200 / width) as u8 },
            (y * 200 / height) as u8,
            ((x + y) % 97 + 80) as u8,
        ])
    });
    edit::encode_jpeg(&rgb, 90).unwrap()
}

fn mean_diff(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

/// Rotations, flips and aligned crops of a JPEG are lossless transforms; an
/// unaligned crop takes the decode path; both record the instructions as given and
/// store a JPEG of the same size as the decode path's.
#[tokio::test(flavor = "multi_thread")]
async fn jpeg_geometry_is_lossless_when_aligned_and_decoded_otherwise() {
    let t = TestApp::start().await;
    let original = jpeg(640, 480);
    let id = upload(&t, &original).await;
    let source = image::load_from_memory(&original).unwrap();
    let run = |instructions: Value| {
        let t = &t;
        let id = id.clone();
        async move {
            let body = t
                .gql(
                    &t.alice.token,
                    EDIT,
                    json!({ "input": { "imageId": id, "instructions": instructions } }),
                )
                .await;
            let image = body["data"]["editImage"]["image"].clone();
            assert_eq!(image["contentType"], "image/jpeg", "{body}");
            assert_eq!(image["edits"], instructions, "{body}");
            let stored = image::load_from_memory(&fetch(t, image["url"].as_str().unwrap()).await)
                .unwrap()
                .to_rgb8();
            assert_eq!(
                (image["width"].as_u64(), image["height"].as_u64()),
                (
                    Some(u64::from(stored.width())),
                    Some(u64::from(stored.height()))
                )
            );
            stored
        }
    };

    // Four quarter turns and two flips that cancel: the very same pixels, which a
    // decode and re-encode at q90 could not give.
    let stored = run(json!([{ "rotate": 90 }, { "rotate": 90 }, { "rotate": 90 }, { "rotate": 90 }, { "flip": "HORIZONTAL" }, { "flip": "HORIZONTAL" }])).await;
    assert_eq!(stored, source.to_rgb8(), "lossless");

    // An aligned crop after a turn: close to the decode path's pixels (only chroma
    // next to the new edges differs), and the same size.
    let aligned = [
        EditInstruction::Rotate(90),
        EditInstruction::Crop {
            x: 16,
            y: 32,
            width: 300,
            height: 201,
        },
    ];
    let stored = run(
        json!([{ "rotate": 90 }, { "crop": { "x": 16, "y": 32, "width": 300, "height": 201 } }]),
    )
    .await;
    let expected = edit::apply(source.clone(), &aligned).unwrap().to_rgb8();
    assert!(mean_diff(&stored, &expected) < 0.5);

    // Unaligned: the decode path, the same size, within the JPEG round trip.
    let unaligned = [EditInstruction::Crop {
        x: 3,
        y: 5,
        width: 300,
        height: 201,
    }];
    let stored = run(json!([{ "crop": { "x": 3, "y": 5, "width": 300, "height": 201 } }])).await;
    let expected = edit::apply(source.clone(), &unaligned).unwrap().to_rgb8();
    assert!(mean_diff(&stored, &expected) < 3.0);
}

/// Brightness and saturation of a JPEG kept as JPEG are streamed in strips: the
/// stored bytes are exactly the decode path's (decode, apply, encode at q90), at a
/// size off the 16-pixel MCU, with the instructions recorded and a thumbnail made.
#[tokio::test(flavor = "multi_thread")]
async fn jpeg_point_edits_store_the_decode_paths_very_bytes() {
    let t = TestApp::start().await;
    let original = jpeg(641, 479);
    let id = upload(&t, &original).await;
    let instructions = json!([{ "brightness": 1.2 }, { "saturation": 0.7 }]);
    let body = t
        .gql(
            &t.alice.token,
            "mutation($input: EditImageInput!) { editImage(input: $input) {
                image { width height contentType url thumbnailUrl edits } } }",
            json!({ "input": { "imageId": id, "instructions": instructions } }),
        )
        .await;
    let image = &body["data"]["editImage"]["image"];
    assert_eq!(image["contentType"], "image/jpeg", "{body}");
    assert_eq!(image["edits"], instructions);
    assert_eq!(
        (image["width"].as_u64(), image["height"].as_u64()),
        (Some(641), Some(479))
    );
    let limits = imagegraph_imaging::UploadLimits {
        max_bytes: 64 << 20,
        max_pixels: 50_000_000,
        max_side: 0,
        max_aspect_ratio: 0,
    };
    let (_, decoded) = imagegraph_imaging::decode(&original, limits).unwrap();
    let applied = edit::apply(
        decoded,
        &[
            EditInstruction::Brightness(1.2),
            EditInstruction::Saturation(0.7),
        ],
    )
    .unwrap();
    let expected =
        imagegraph_imaging::encode(&applied, imagegraph_imaging::MediaFormat::Jpeg, 90).unwrap();
    let stored = fetch(&t, image["url"].as_str().unwrap()).await;
    assert!(stored == expected, "the decode path's bytes");
    // The streamed path thumbnails the stored JPEG (it never holds the full
    // pixels); the decode path would thumbnail its pixels before encoding, which
    // differ by the JPEG round trip: this shows the stream ran.
    let thumbnail = fetch(&t, image["thumbnailUrl"].as_str().unwrap()).await;
    let (_, stored_pixels) = imagegraph_imaging::decode(&stored, limits).unwrap();
    let (of_stored, _) = imagegraph_imaging::render_thumbnail(&stored_pixels).unwrap();
    let (of_pixels, _) = imagegraph_imaging::render_thumbnail(&applied).unwrap();
    assert!(thumbnail == of_stored, "the stored JPEG's thumbnail");
    assert!(
        of_pixels != of_stored,
        "the two paths' thumbnails tell them apart"
    );
    let thumbnail = image::load_from_memory(&thumbnail).unwrap();
    assert_eq!(
        (thumbnail.width(), thumbnail.height()),
        imagegraph_imaging::thumbnail_size(641, 479)
    );
}

/// A JPEG cut just before its end-of-image marker: libjpeg-turbo stops the
/// streamed edit at its warning on the last row, and the decode path, told so,
/// takes zune-jpeg straight away. The stored bytes are those zune-jpeg's pixels,
/// edited and encoded, give: what the service stored before libjpeg-turbo
/// stopped reporting such a file twice.
#[tokio::test]
async fn a_point_edit_of_a_jpeg_cut_before_its_end_stores_zune_jpegs_pixels_edited() {
    let t = TestApp::start().await;
    let whole = jpeg(641, 479);
    let cut = whole[..whole.len() - 2].to_vec();
    let id = upload(&t, &cut).await;
    let instructions = json!([{ "brightness": 1.2 }]);
    let body = t
        .gql(
            &t.alice.token,
            "mutation($input: EditImageInput!) { editImage(input: $input) { image { url } } }",
            json!({ "input": { "imageId": id, "instructions": instructions } }),
        )
        .await;
    let url = body["data"]["editImage"]["image"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"));
    let zune = image::load_from_memory(&cut).unwrap();
    let applied = edit::apply(zune, &[EditInstruction::Brightness(1.2)]).unwrap();
    let expected =
        imagegraph_imaging::encode(&applied, imagegraph_imaging::MediaFormat::Jpeg, 90).unwrap();
    assert!(
        fetch(&t, url).await == expected,
        "zune-jpeg's pixels, edited"
    );
}

/// A large, dense JPEG (noise at q100: the most coefficients per byte an encoder
/// writes) through the service: its scan takes the two-half decode and the
/// rows encode in parallel; the result, which carries restart markers, takes the
/// split at a restart marker when it is turned back. The very pixels return.
#[tokio::test(flavor = "multi_thread")]
async fn a_large_dense_jpeg_turns_losslessly_and_back_through_the_service() {
    let t = TestApp::start().await;
    let rgb = image::RgbImage::from_fn(2048, 1536, |x, y| {
        let noise = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 24;
        image::Rgb([noise as u8, (x / 8) as u8 ^ noise as u8, (y / 6) as u8])
    });
    let original = edit::encode_jpeg(&rgb, 100).unwrap();
    assert!(original.len() > 1 << 20, "{} bytes", original.len());
    let source = image::load_from_memory(&original).unwrap().to_rgb8();
    let turn = |id: String, degrees: u32| {
        let t = &t;
        async move {
            let body = t
                .gql(
                    &t.alice.token,
                    EDIT,
                    json!({ "input": { "imageId": id, "instructions": [{ "rotate": degrees }] } }),
                )
                .await;
            let image = body["data"]["editImage"]["image"].clone();
            assert_eq!(image["contentType"], "image/jpeg", "{body}");
            let stored = fetch(t, image["url"].as_str().unwrap()).await;
            (image["id"].as_str().unwrap().to_owned(), stored)
        }
    };
    let (turned_id, turned) = turn(upload(&t, &original).await, 90).await;
    // Restart markers (0xFFDD defines them): our transform wrote it.
    assert!(turned.windows(2).any(|pair| pair == [0xFF, 0xDD]));
    let turned_pixels = image::load_from_memory(&turned).unwrap().to_rgb8();
    assert_eq!(turned_pixels.dimensions(), (1536, 2048));
    let (_, back) = turn(turned_id, 270).await;
    assert_eq!(image::load_from_memory(&back).unwrap().to_rgb8(), source);
}
