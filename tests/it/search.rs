//! Tags and search: tags from the vision model (structured or plain answers) and from
//! the offline describer, `images(filter:, orderBy:)` with full-text search kept
//! current by the transactions that change the texts, keyset pages in both orders,
//! and the refusals.

use std::io::Cursor as IoCursor;
use std::time::Duration;

use diesel_async::RunQueryDsl as _;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use imagegraph_db::GlobalId as _;
use imagegraph_db::models::image::{AnalysisStatus, ImageFilter, ImageOrder, ImageSource};
use imagegraph_db::models::{Comment, Image, User};
use imagegraph_db::page::PageRequest;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::ai::{ai_app, chat_completion};
use crate::harness::{TestApp, base64_of, error_code, row_id};

const SEARCH: &str = "query($filter: ImageFilter, $order: ImageOrder, $first: Int, $after: String, $last: Int, $before: String) {
  images(filter: $filter, orderBy: $order, first: $first, after: $after, last: $last, before: $before) {
    totalCount edges { cursor node { id description tags } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

const IMAGE: &str = "query($id: ID!) { image(id: $id) { description tags analysis { status } } }";

fn edges(body: &Value) -> &Vec<Value> {
    body["data"]["images"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no edges: {body}"))
}

fn ids(body: &Value) -> Vec<String> {
    edges(body)
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The descriptions of the first page (up to 30) the filter lets through, sorted.
async fn found(t: &TestApp, filter: Value) -> Vec<String> {
    let body = t
        .gql(
            &t.bob.token,
            SEARCH,
            json!({ "filter": filter, "first": 30 }),
        )
        .await;
    let mut found: Vec<String> = edges(&body)
        .iter()
        .map(|e| e["node"]["description"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        body["data"]["images"]["totalCount"].as_u64(),
        Some(found.len() as u64),
        "totalCount honours the filter: {body}"
    );
    found.sort();
    found
}

fn strings(items: &[&str]) -> Vec<String> {
    let mut items: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
    items.sort();
    items
}

async fn users(t: &TestApp) -> Vec<User> {
    let mut conn = t.app.db.conn().await.unwrap();
    User::list(&mut conn).await.unwrap()
}

async fn user(t: &TestApp, name: &str) -> User {
    users(t).await.into_iter().find(|u| u.name == name).unwrap()
}

async fn template_image(t: &TestApp) -> Image {
    let id = t.upload_png(&t.alice.token).await;
    let mut conn = t.app.db.conn().await.unwrap();
    <Image as imagegraph_db::models::ById>::find(&mut conn, row_id(&id))
        .await
        .unwrap()
        .unwrap()
}

/// Inserts a copy of `template` (a new id, a creation time `seconds` after it) with
/// this description and whatever `adjust` changes; the triggers write its document.
async fn insert_image(
    t: &TestApp,
    template: &Image,
    seconds: i64,
    description: &str,
    adjust: impl FnOnce(&mut Image),
) -> Image {
    let created_at = template.created_at + chrono::Duration::seconds(seconds);
    let mut image = Image {
        id: imagegraph_db::ImageId::new(),
        created_at,
        edited_at: created_at,
        description: Some(description.to_owned()),
        analysis_status: AnalysisStatus::Succeeded,
        ..template.clone()
    };
    adjust(&mut image);
    let mut conn = t.app.db.conn().await.unwrap();
    Image::insert(&mut conn, &image).await.unwrap()
}

async fn comment_on(t: &TestApp, image: &Image, text: &str) {
    let author = user(t, "bob").await;
    let mut conn = t.app.db.conn().await.unwrap();
    Comment::insert(&mut conn, image.id, author.id, text)
        .await
        .unwrap();
}

fn png_of(image: DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    image
        .write_to(&mut IoCursor::new(&mut out), ImageFormat::Png)
        .unwrap();
    out
}

async fn upload_analyzed(t: &TestApp, bytes: &[u8]) -> String {
    let body = t
        .gql(
            &t.alice.token,
            "mutation($b: String!) { uploadImage(input: { base64: $b, analyze: true }) { image { id } } }",
            json!({ "b": base64_of(bytes) }),
        )
        .await;
    body["data"]["uploadImage"]["image"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("upload failed: {body}"))
        .to_owned()
}

async fn image_state(t: &TestApp, id: &str) -> Value {
    let body = t.gql(&t.alice.token, IMAGE, json!({ "id": id })).await;
    body["data"]["image"].clone()
}

async fn chat_requests(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/chat/completions")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_structured_vision_answer_gives_normalised_tags_that_search_finds_at_once() {
    let server = MockServer::start().await;
    let answer = json!({
        "description": "A red kite above a windswept beach.",
        "tags": ["Kite", " beach ", "kite", "RED", "", "x".repeat(40), "sky", "sand", "wind",
                 "summer", "clouds", "sea", "gulls", "dunes"]
    });
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(chat_completion(&answer.to_string())),
        )
        .mount(&server)
        .await;
    let t = ai_app(&server, |c| c.jobs.workers = 0).await;
    let id = t.upload_png_analyzed(&t.alice.token, true).await;
    assert_eq!(t.run_jobs().await, 1);
    let image = image_state(&t, &id).await;
    assert_eq!(image["analysis"]["status"], "SUCCEEDED");
    assert_eq!(image["description"], "A red kite above a windswept beach.");
    // Lower case, trimmed, repeats, empties and over-long ones gone, at most 10.
    assert_eq!(
        image["tags"],
        json!([
            "kite", "beach", "red", "sky", "sand", "wind", "summer", "clouds", "sea", "gulls"
        ])
    );

    let requests = chat_requests(&server).await;
    assert_eq!(requests.len(), 1);
    let format = &requests[0]["response_format"];
    assert_eq!(format["type"], "json_schema");
    let schema = &format["json_schema"]["schema"];
    assert_eq!(schema["properties"]["tags"]["maxItems"], 10);
    assert_eq!(schema["required"], json!(["description", "tags"]));

    // Findable in the very next request, by a description word, a tag and a tag filter.
    let described = vec!["A red kite above a windswept beach.".to_owned()];
    assert_eq!(found(&t, json!({ "search": "windswept" })).await, described);
    assert_eq!(found(&t, json!({ "search": "gulls" })).await, described);
    assert_eq!(
        found(&t, json!({ "tags": ["Kite", "sea"] })).await,
        described
    );
    assert!(
        found(&t, json!({ "tags": ["kite", "dog"] }))
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_description_replaces_the_old_words_in_the_next_request() {
    let server = MockServer::start().await;
    let first = json!({ "description": "A kite on a string.", "tags": ["kite"] });
    let second = json!({ "description": "A zeppelin over the town.", "tags": ["airship"] });
    Mock::given(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_completion(&first.to_string())))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(chat_completion(&second.to_string())),
        )
        .mount(&server)
        .await;
    let t = ai_app(&server, |c| c.jobs.workers = 0).await;
    let id = t.upload_png_analyzed(&t.alice.token, true).await;
    t.run_jobs().await;
    let search = |words: &str| json!({ "filter": { "search": words } });
    assert_eq!(
        ids(&t.gql(&t.bob.token, SEARCH, search("kite")).await),
        vec![id.clone()]
    );

    let asked = t
        .gql(
            &t.alice.token,
            "mutation($id: ID!) { analyzeImage(input: { imageId: $id }) { image { id } } }",
            json!({ "id": id }),
        )
        .await;
    assert!(asked["errors"].is_null(), "{asked}");
    assert_eq!(t.run_jobs().await, 1);
    for gone in ["kite", "string"] {
        assert!(
            ids(&t.gql(&t.bob.token, SEARCH, search(gone)).await).is_empty(),
            "{gone}"
        );
    }
    for word in ["zeppelin", "airship", "town"] {
        assert_eq!(
            ids(&t.gql(&t.bob.token, SEARCH, search(word)).await),
            vec![id.clone()],
            "{word}"
        );
    }

    // Replacing the content clears description and tags, and the search follows.
    let replaced = t
        .gql(
            &t.alice.token,
            "mutation($in: EditImageInput!) { editImage(input: $in) { image { id description tags } } }",
            json!({ "in": { "imageId": id, "instructions": [{ "grayscale": true }], "save": "REPLACE", "analyze": false } }),
        )
        .await;
    assert!(replaced["errors"].is_null(), "{replaced}");
    assert_eq!(replaced["data"]["editImage"]["image"]["tags"], json!([]));
    assert!(ids(&t.gql(&t.bob.token, SEARCH, search("zeppelin")).await).is_empty());
    assert!(
        found(&t, json!({ "tags": ["airship"] })).await.is_empty(),
        "the kept version keeps its tags, but it is not in the list"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_text_answer_gives_a_description_and_no_tags() {
    let server = MockServer::start().await;
    Mock::given(path("/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(chat_completion("A lighthouse on a rocky headland.")),
        )
        .mount(&server)
        .await;
    let t = ai_app(&server, |c| c.jobs.workers = 0).await;
    let id = t.upload_png_analyzed(&t.alice.token, true).await;
    t.run_jobs().await;
    let image = image_state(&t, &id).await;
    assert_eq!(image["description"], "A lighthouse on a rocky headland.");
    assert_eq!(image["tags"], json!([]));
    assert_eq!(
        found(&t, json!({ "search": "lighthouses" })).await,
        vec!["A lighthouse on a rocky headland.".to_owned()],
        "stemmed: the plural finds the singular"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_refusing_structured_output_is_asked_again_in_plain_text_then_plainly() {
    let server = MockServer::start().await;
    // Refuses any request with a `response_format`, as servers without structured
    // output do; answers the others in plain text.
    Mock::given(path("/chat/completions"))
        .and(body_partial_json(
            json!({ "response_format": { "type": "json_schema" } }),
        ))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": { "message": "response_format is not supported by this model", "type": "invalid_request_error", "param": "response_format", "code": null }
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_completion("A plain answer.")))
        .mount(&server)
        .await;
    let t = ai_app(&server, |c| c.jobs.workers = 0).await;
    let first = t.upload_png_analyzed(&t.alice.token, true).await;
    t.run_jobs().await;
    let image = image_state(&t, &first).await;
    assert_eq!(image["analysis"]["status"], "SUCCEEDED");
    assert_eq!(image["description"], "A plain answer.");
    assert_eq!(image["tags"], json!([]));
    let requests = chat_requests(&server).await;
    assert_eq!(requests.len(), 2, "refused once, asked again once");
    assert!(requests[0]["response_format"].is_object());
    assert!(requests[1]["response_format"].is_null());

    // Remembered: the next analysis goes straight to plain text.
    let second = t.upload_png_analyzed(&t.alice.token, true).await;
    t.run_jobs().await;
    assert_eq!(
        image_state(&t, &second).await["description"],
        "A plain answer."
    );
    assert_eq!(chat_requests(&server).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_offline_describer_tags_what_the_pixels_show() {
    let t = TestApp::start().await;
    // A mostly red landscape with a little white in it.
    let red = DynamicImage::ImageRgb8(RgbImage::from_fn(300, 200, |x, _| {
        if x < 270 {
            Rgb([205, 30, 25])
        } else {
            Rgb([245, 245, 245])
        }
    }));
    let id = upload_analyzed(&t, &png_of(red)).await;
    let night = DynamicImage::ImageRgb8(RgbImage::from_pixel(120, 160, Rgb([12, 12, 28])));
    let dark = upload_analyzed(&t, &png_of(night)).await;
    assert_eq!(t.run_jobs().await, 2);

    let image = image_state(&t, &id).await;
    let tags: Vec<&str> = image["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tags[0], "red", "the dominant colour first: {tags:?}");
    assert!(
        tags.contains(&"landscape") && tags.contains(&"soft"),
        "{tags:?}"
    );
    assert!(
        !tags.contains(&"dark") && !tags.contains(&"portrait"),
        "{tags:?}"
    );
    let image = image_state(&t, &dark).await;
    assert_eq!(image["tags"], json!(["black", "portrait", "dark", "soft"]));

    let body = t
        .gql(
            &t.bob.token,
            SEARCH,
            json!({ "filter": { "tags": ["red", "landscape"] } }),
        )
        .await;
    assert_eq!(ids(&body), vec![id.clone()]);
    let body = t
        .gql(
            &t.bob.token,
            SEARCH,
            json!({ "filter": { "search": "dark portrait" } }),
        )
        .await;
    assert_eq!(ids(&body), vec![dark]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_comment_is_findable_in_the_next_request_and_gone_with_its_edit_or_deletion() {
    let t = TestApp::start().await;
    let id = t.upload_png(&t.alice.token).await;
    let search = |word: &'static str| json!({ "filter": { "search": word } });
    assert!(ids(&t.gql(&t.bob.token, SEARCH, search("zeppelin")).await).is_empty());

    let added = t
        .add_comment(&t.bob.token, &id, "Looks like a zeppelin over the harbour")
        .await;
    let comment = added["data"]["addComment"]["comment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        ids(&t.gql(&t.bob.token, SEARCH, search("zeppelin")).await),
        vec![id.clone()]
    );

    let edited = t
        .gql(
            &t.bob.token,
            "mutation($i: ID!) { updateComment(input: { id: $i, text: \"Actually a balloon\" }) { comment { id } } }",
            json!({ "i": comment }),
        )
        .await;
    assert!(edited["errors"].is_null(), "{edited}");
    assert!(ids(&t.gql(&t.bob.token, SEARCH, search("zeppelin")).await).is_empty());
    assert_eq!(
        ids(&t.gql(&t.bob.token, SEARCH, search("balloon")).await),
        vec![id.clone()]
    );

    let deleted = t
        .gql(
            &t.bob.token,
            "mutation($i: ID!) { deleteComment(input: { id: $i }) { deletedCommentId } }",
            json!({ "i": comment }),
        )
        .await;
    assert!(deleted["errors"].is_null(), "{deleted}");
    assert!(ids(&t.gql(&t.bob.token, SEARCH, search("balloon")).await).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_comments_on_one_image_are_all_findable() {
    let t = TestApp::start().await;
    let id = t.upload_png(&t.alice.token).await;
    let words = [
        "anchovy", "bramble", "cobbler", "dolphin", "emerald", "falcon", "granite", "hazelnut",
    ];
    let texts: Vec<String> = words.iter().map(|word| format!("I see a {word}")).collect();
    futures::future::join_all(
        texts
            .iter()
            .map(|text| t.add_comment(&t.bob.token, &id, text)),
    )
    .await;
    for word in words {
        let body = t
            .gql(
                &t.bob.token,
                SEARCH,
                json!({ "filter": { "search": word } }),
            )
            .await;
        assert_eq!(ids(&body), vec![id.clone()], "{word}");
    }
    // Each comment counted once, too (the same trigger keeps the count).
    let body = t
        .gql(
            &t.bob.token,
            "query($id: ID!) { image(id: $id) { commentCount } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(body["data"]["image"]["commentCount"], 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn search_covers_description_prompt_tags_and_comments_in_web_search_syntax() {
    let t = TestApp::start().await;
    let template = template_image(&t).await;
    insert_image(&t, &template, 1, "A red fox in the snow", |_| {}).await;
    insert_image(&t, &template, 2, "A red car on a wet street", |i| {
        i.tags = vec!["vehicle".into()];
    })
    .await;
    insert_image(&t, &template, 3, "A blue fox running", |i| {
        i.prompt = Some("an arctic tundra at midnight".into());
        i.source = ImageSource::Generation;
    })
    .await;
    let quiet = insert_image(&t, &template, 4, "An empty room", |_| {}).await;
    comment_on(&t, &quiet, "The wallpaper reminds me of marmalade").await;

    let search = |text: &str| json!({ "search": text });
    // Each text of an image is searched.
    assert_eq!(
        found(&t, search("snow")).await,
        strings(&["A red fox in the snow"])
    );
    assert_eq!(
        found(&t, search("tundra")).await,
        strings(&["A blue fox running"]),
        "the prompt"
    );
    assert_eq!(
        found(&t, search("vehicle")).await,
        strings(&["A red car on a wet street"]),
        "a tag"
    );
    assert_eq!(
        found(&t, search("marmalade")).await,
        strings(&["An empty room"]),
        "a comment"
    );
    // Words in any form, all of them; phrases; or; leaving out.
    assert_eq!(
        found(&t, search("foxes")).await,
        strings(&["A blue fox running", "A red fox in the snow"])
    );
    assert_eq!(
        found(&t, search("red fox")).await,
        strings(&["A red fox in the snow"])
    );
    assert_eq!(
        found(&t, search("\"red car\"")).await,
        strings(&["A red car on a wet street"])
    );
    assert!(found(&t, search("\"fox red\"")).await.is_empty());
    assert_eq!(
        found(&t, search("car or running")).await,
        strings(&["A blue fox running", "A red car on a wet street"])
    );
    assert_eq!(
        found(&t, search("fox -snow")).await,
        strings(&["A blue fox running"])
    );
    assert_eq!(
        found(&t, search("  RED   -car  ")).await,
        strings(&["A red fox in the snow"])
    );
    // Punctuation a parser could choke on is only text here.
    assert!(
        found(&t, search("'); DROP TABLE images; --"))
            .await
            .is_empty()
    );
    assert!(found(&t, search("!!! & | :* ((")).await.is_empty());
    assert_eq!(t.count_rows("images").await, 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_filter_field_alone_and_combined() {
    let t = TestApp::start().await;
    let template = template_image(&t).await; // alice's upload, no description
    let alice = user(&t, "alice").await;
    let bob = user(&t, "bob").await;
    let base = template.created_at;
    insert_image(&t, &template, 10, "alice sunset one", |i| {
        i.tags = vec!["sunset".into(), "sea".into()];
    })
    .await;
    insert_image(&t, &template, 20, "bob sunset two", |i| {
        i.owner_id = bob.id;
        i.tags = vec!["sunset".into()];
        i.source = ImageSource::Generation;
        i.prompt = Some("a sunset".into());
    })
    .await;
    insert_image(&t, &template, 30, "bob failed three", |i| {
        i.owner_id = bob.id;
        i.analysis_status = AnalysisStatus::Failed;
        i.source = ImageSource::Edit;
    })
    .await;
    // A kept version matches nothing: it is history, not an image of the feed.
    insert_image(&t, &template, 40, "alice sunset kept", |i| {
        i.kept_from = Some(template.id);
        i.parent_id = Some(template.id);
    })
    .await;
    let at = |seconds: i64| (base + chrono::Duration::seconds(seconds)).to_rfc3339();
    let alice_id = alice.id.global_id();
    let bob_id = bob.id.global_id();

    assert_eq!(
        found(&t, json!({ "search": "sunset" })).await,
        strings(&["alice sunset one", "bob sunset two"])
    );
    assert_eq!(
        found(&t, json!({ "tags": ["sunset"] })).await,
        strings(&["alice sunset one", "bob sunset two"])
    );
    assert_eq!(
        found(&t, json!({ "ownerId": bob_id })).await,
        strings(&["bob failed three", "bob sunset two"])
    );
    assert_eq!(
        found(&t, json!({ "ownerId": alice_id })).await,
        strings(&["", "alice sunset one"]),
        "the template has no description"
    );
    assert_eq!(
        found(&t, json!({ "source": "GENERATION" })).await,
        strings(&["bob sunset two"])
    );
    assert_eq!(
        found(&t, json!({ "source": "EDIT" })).await,
        strings(&["bob failed three"])
    );
    assert_eq!(
        found(&t, json!({ "analysisStatus": "FAILED" })).await,
        strings(&["bob failed three"])
    );
    assert_eq!(
        found(&t, json!({ "analysisStatus": "NOT_REQUESTED" })).await,
        strings(&[""])
    );
    assert_eq!(
        found(&t, json!({ "uploadedAfter": at(15) })).await,
        strings(&["bob failed three", "bob sunset two"])
    );
    assert_eq!(
        found(&t, json!({ "uploadedBefore": at(20) })).await,
        strings(&["", "alice sunset one"]),
        "strictly before"
    );
    assert_eq!(
        found(
            &t,
            json!({ "uploadedAfter": at(10), "uploadedBefore": at(30) })
        )
        .await,
        strings(&["bob sunset two"]),
        "strictly after"
    );
    // Combined: every field given must hold.
    assert_eq!(
        found(
            &t,
            json!({ "search": "sunset", "tags": ["sunset"], "ownerId": bob_id, "source": "GENERATION",
                    "analysisStatus": "SUCCEEDED", "uploadedAfter": at(0), "uploadedBefore": at(25) })
        )
        .await,
        strings(&["bob sunset two"])
    );
    assert!(
        found(
            &t,
            json!({ "search": "sunset", "ownerId": bob_id, "source": "UPLOAD" })
        )
        .await
        .is_empty()
    );
    assert!(
        found(&t, json!({ "tags": ["sunset", "sea"], "ownerId": bob_id }))
            .await
            .is_empty()
    );
    // No filter, an empty filter and an empty tag list are the feed.
    assert_eq!(found(&t, json!({})).await.len(), 4);
    assert_eq!(found(&t, json!({ "tags": [] })).await.len(), 4);
    assert_eq!(found(&t, Value::Null).await.len(), 4);
}

/// Walks a list from start to end, `size` at a time, forwards; calls `between` after
/// the first page.
async fn walk_forward(
    t: &TestApp,
    filter: &Value,
    order: &str,
    size: i64,
    between: impl AsyncFnOnce(),
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after = Value::Null;
    let mut between = Some(between);
    for _ in 0..50 {
        let body = t
            .gql(
                &t.bob.token,
                SEARCH,
                json!({ "filter": filter, "order": order, "first": size, "after": after }),
            )
            .await;
        assert!(body["errors"].is_null(), "{body}");
        assert!(edges(&body).len() as i64 <= size);
        seen.extend(ids(&body));
        if let Some(between) = between.take() {
            between().await;
        }
        if body["data"]["images"]["pageInfo"]["hasNextPage"] == false {
            return seen;
        }
        after = body["data"]["images"]["pageInfo"]["endCursor"].clone();
    }
    panic!("the walk did not end");
}

async fn walk_backward(t: &TestApp, filter: &Value, order: &str, size: i64) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut before = Value::Null;
    for _ in 0..50 {
        let body = t
            .gql(
                &t.bob.token,
                SEARCH,
                json!({ "filter": filter, "order": order, "last": size, "before": before }),
            )
            .await;
        assert!(body["errors"].is_null(), "{body}");
        let mut page = ids(&body);
        page.extend(seen);
        seen = page;
        if body["data"]["images"]["pageInfo"]["hasPreviousPage"] == false {
            return seen;
        }
        before = body["data"]["images"]["pageInfo"]["startCursor"].clone();
    }
    panic!("the walk did not end");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_filtered_search_pages_through_every_match_once_in_both_orders() {
    let t = TestApp::start().await;
    let template = template_image(&t).await;
    // Matches of different ranks (tag > description > comment; more mentions rank
    // higher), ties of equal rank at one instant (ordered by id), and non-matches.
    let mut matches = Vec::new();
    let tied_at = 5;
    for (i, (description, tags, comment)) in [
        ("a lantern by the door", vec!["night"], None),
        (
            "lantern lantern lantern, and a lantern",
            vec!["night"],
            None,
        ),
        ("a quiet street", vec!["night", "lantern"], None),
        (
            "a quiet street at dusk",
            vec!["night"],
            Some("that lantern is lovely"),
        ),
        ("same lantern", vec!["night"], None),
        ("same lantern", vec!["night"], None),
        ("same lantern", vec!["night"], None),
        ("a lantern in daylight", vec!["day"], None),
    ]
    .into_iter()
    .enumerate()
    {
        let seconds = if description == "same lantern" {
            tied_at
        } else {
            i as i64 + 10
        };
        let image = insert_image(&t, &template, seconds, description, |img| {
            img.tags = tags.into_iter().map(str::to_owned).collect();
        })
        .await;
        if let Some(comment) = comment {
            comment_on(&t, &image, comment).await;
        }
        if image.tags.contains(&"night".to_owned()) {
            matches.push(image.id.global_id());
        }
    }
    insert_image(&t, &template, 30, "no match at night", |img| {
        img.tags = vec!["night".into()];
    })
    .await;
    let filter = json!({ "search": "lanterns", "tags": ["night"] });
    let mut expected = matches.clone();
    expected.sort();

    for order in ["NEWEST", "RELEVANCE"] {
        let first = t
            .gql(
                &t.bob.token,
                SEARCH,
                json!({ "filter": filter, "order": order, "first": 30 }),
            )
            .await;
        assert_eq!(first["data"]["images"]["totalCount"], 7, "{first}");
        let whole = ids(&first);

        // Pages of two, with a better and newer match inserted after the first page:
        // it lands before the cursor, so the walk neither repeats nor skips.
        let newcomer = async || {
            insert_image(
                &t,
                &template,
                100,
                "lantern lantern lantern lantern",
                |img| {
                    img.tags = vec!["night".into(), "lantern".into()];
                },
            )
            .await;
        };
        let walked = walk_forward(&t, &filter, order, 2, newcomer).await;
        assert_eq!(walked, whole, "{order}: the same order as one big page");
        let mut unique = walked.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique, expected, "{order}: every match exactly once");

        // Backwards the walk gives the same order (the newcomer now included).
        let backward = walk_backward(&t, &filter, order, 2).await;
        let everything = ids(&t
            .gql(
                &t.bob.token,
                SEARCH,
                json!({ "filter": filter, "order": order, "first": 30 }),
            )
            .await);
        assert_eq!(backward, everything, "{order}");
        assert_eq!(everything.len(), 8);
        // Take the newcomer out again for the next order.
        let newcomer_id = everything
            .iter()
            .find(|id| !matches.contains(id))
            .unwrap()
            .clone();
        t.gql(
            &t.alice.token,
            "mutation($i: ID!) { deleteImage(input: { id: $i }) { deletedImageId } }",
            json!({ "i": newcomer_id }),
        )
        .await;
    }

    // Relevance: the tag and the many mentions first, the comment-only match last; the
    // three equal ranks together, newest first and then by id.
    let body = t
        .gql(
            &t.bob.token,
            SEARCH,
            json!({ "filter": filter, "order": "RELEVANCE", "first": 30 }),
        )
        .await;
    let descriptions: Vec<&str> = edges(&body)
        .iter()
        .map(|e| e["node"]["description"].as_str().unwrap())
        .collect();
    assert_eq!(
        descriptions.last(),
        Some(&"a quiet street at dusk"),
        "{descriptions:?}"
    );
    assert!(
        descriptions[..2].contains(&"a quiet street")
            && descriptions[..2].contains(&"lantern lantern lantern, and a lantern"),
        "{descriptions:?}"
    );
    let tied: Vec<usize> = descriptions
        .iter()
        .enumerate()
        .filter(|(_, d)| **d == "same lantern")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(tied.len(), 3);
    assert_eq!(
        tied[2] - tied[0],
        2,
        "equal ranks stay together: {descriptions:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_search_input_is_refused_naming_the_field() {
    let t = TestApp::start().await;
    let template = template_image(&t).await;
    insert_image(&t, &template, 1, "a kettle on the stove", |_| {}).await;
    let cases = [
        (json!({ "filter": { "search": "" } }), "filter.search"),
        (json!({ "filter": { "search": " \t\n " } }), "filter.search"),
        (
            json!({ "filter": { "search": "\u{200B}" } }),
            "filter.search",
        ),
        (
            json!({ "filter": { "search": "x".repeat(501) } }),
            "filter.search",
        ),
        (
            json!({ "filter": { "search": "a\u{0}b" } }),
            "filter.search",
        ),
        (
            json!({ "filter": { "tags": (0..11).map(|i| format!("t{i}")).collect::<Vec<_>>() } }),
            "filter.tags",
        ),
        (
            json!({ "filter": { "tags": ["x".repeat(33)] } }),
            "filter.tags",
        ),
        (json!({ "filter": { "tags": ["  "] } }), "filter.tags"),
        (json!({ "order": "RELEVANCE" }), "orderBy"),
        (
            json!({ "order": "RELEVANCE", "filter": { "tags": ["kettle"] } }),
            "orderBy",
        ),
        (json!({ "filter": { "ownerId": "nope" } }), "id"),
        (
            json!({ "filter": { "ownerId": template.id.global_id() } }),
            "id of type User",
        ),
        (json!({ "filter": { "uploadedAfter": "yesterday" } }), ""),
        (json!({ "filter": { "source": "STOLEN" } }), ""),
        (json!({ "order": "OLDEST" }), ""),
    ];
    for (variables, field) in cases {
        let body = t.gql(&t.alice.token, SEARCH, variables.clone()).await;
        assert_eq!(
            error_code(&body),
            Some("BAD_USER_INPUT"),
            "{variables}: {body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(field), "{variables}: {message}");
        assert!(body["data"]["images"].is_null(), "{body}");
    }
    // The limits themselves pass.
    let longest = format!("kettle {}", "x".repeat(493));
    assert_eq!(longest.chars().count(), 500);
    let body = t
        .gql(
            &t.alice.token,
            SEARCH,
            json!({ "filter": { "search": longest } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let ten: Vec<String> = (0..10).map(|_| "y".repeat(32)).collect();
    let body = t
        .gql(&t.alice.token, SEARCH, json!({ "filter": { "tags": ten } }))
        .await;
    assert!(body["errors"].is_null(), "{body}");

    // Only stop words: an empty page, not an error.
    let body = t
        .gql(
            &t.alice.token,
            SEARCH,
            json!({ "filter": { "search": "the and of" }, "order": "RELEVANCE" }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(body["data"]["images"]["totalCount"], 0);
    assert!(edges(&body).is_empty());

    // A cursor works only in the order that made it.
    let search = json!({ "search": "kettle" });
    let newest = t
        .gql(
            &t.alice.token,
            SEARCH,
            json!({ "filter": search, "first": 1 }),
        )
        .await;
    let relevance = t
        .gql(
            &t.alice.token,
            SEARCH,
            json!({ "filter": search, "order": "RELEVANCE", "first": 1 }),
        )
        .await;
    let newest_cursor = newest["data"]["images"]["pageInfo"]["endCursor"].clone();
    let ranked_cursor = relevance["data"]["images"]["pageInfo"]["endCursor"].clone();
    assert!(newest_cursor.is_string() && ranked_cursor.is_string());
    assert_ne!(newest_cursor, ranked_cursor);
    for variables in [
        json!({ "filter": search, "order": "RELEVANCE", "after": newest_cursor }),
        json!({ "filter": search, "order": "NEWEST", "after": ranked_cursor }),
        json!({ "filter": search, "before": ranked_cursor }),
        json!({ "after": ranked_cursor }),
    ] {
        let body = t.gql(&t.alice.token, SEARCH, variables.clone()).await;
        assert_eq!(
            error_code(&body),
            Some("BAD_USER_INPUT"),
            "{variables}: {body}"
        );
    }
    // And a ranked cursor means nothing to other lists either.
    let body = t
        .gql(
            &t.alice.token,
            "query($a: String) { benchmarkRuns(after: $a) { totalCount } }",
            json!({ "a": ranked_cursor }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
}

const SEARCH_FEED: &str = "query($filter: ImageFilter, $order: ImageOrder) {
  images(filter: $filter, orderBy: $order, first: 10) { edges { cursor node { id url thumbnailUrl description tags commentCount
    owner { name } comments(first: 5) { edges { node { id text author { name } } } } } } pageInfo { endCursor hasNextPage } } }";

#[tokio::test(flavor = "multi_thread")]
async fn a_search_page_with_comments_runs_a_bounded_number_of_statements() {
    let t = TestApp::start().await;
    let template = template_image(&t).await;
    let users = users(&t).await;
    for i in 0..14 {
        let image = insert_image(&t, &template, i + 1, &format!("orchid number {i}"), |img| {
            img.tags = vec!["flower".into()];
        })
        .await;
        let mut conn = t.app.db.conn().await.unwrap();
        for c in 0..(i % 7) {
            let author = &users[(c as usize) % users.len()];
            Comment::insert(&mut conn, image.id, author.id, &format!("comment {c}"))
                .await
                .unwrap();
        }
    }
    t.app.events.wait_connected().await;
    t.gql(&t.bob.token, "{ viewer { name } }", json!({})).await;
    let filter = json!({ "search": "orchids", "tags": ["flower"] });
    let mut counts = Vec::new();
    for order in ["NEWEST", "RELEVANCE"] {
        let before = t.app.db.queries_executed();
        let body = t
            .gql(
                &t.bob.token,
                SEARCH_FEED,
                json!({ "filter": filter, "order": order }),
            )
            .await;
        counts.push(t.app.db.queries_executed() - before);
        let edges = edges(&body);
        assert_eq!(edges.len(), 10, "{body}");
        for edge in edges {
            let node = &edge["node"];
            assert_eq!(
                node["comments"]["edges"].as_array().unwrap().len() as i64,
                node["commentCount"].as_i64().unwrap().min(5)
            );
        }
    }
    // The page with its owners, then the comment pages with their authors (a second
    // batch of those on a busy machine): the same as the feed.
    assert!(
        counts.iter().all(|&n| (2..=3).contains(&n)),
        "statements per request: {counts:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_search_statement_uses_the_gin_index() {
    let t = TestApp::start().await;
    let template = template_image(&t).await;
    // Enough rows that a sequential scan would cost more than the index.
    let mut conn = t.app.db.conn().await.unwrap();
    diesel::sql_query(format!(
        "INSERT INTO images (id, owner_id, content_id, content_type, width, height, byte_size, \
           thumbnail_content_type, description, tags, created_at, edited_at) \
         SELECT gen_random_uuid(), owner_id, gen_random_uuid(), content_type, width, height, \
           byte_size, thumbnail_content_type, \
           'photo ' || n || CASE WHEN n % 1000 = 0 THEN ' of a walrus' ELSE ' of a pigeon' END, \
           ARRAY['tag' || (n % 7)], created_at - n * interval '1 second', edited_at \
         FROM images, generate_series(1, 20000) n WHERE images.id = '{}'",
        template.id
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query("ANALYZE images")
        .execute(&mut conn)
        .await
        .unwrap();
    let filter = imagegraph_db::models::image::ImageFilter {
        search: Some("walrus".into()),
        ..Default::default()
    };
    for order in [
        imagegraph_db::models::image::ImageOrder::Newest,
        imagegraph_db::models::image::ImageOrder::Relevance,
    ] {
        let plan = Image::explain_page(
            &mut conn,
            &filter,
            order,
            &imagegraph_db::page::PageRequest::first(10),
        )
        .await
        .unwrap()
        .join("\n");
        assert!(
            plan.contains("Bitmap Index Scan on images_search"),
            "{order:?}:\n{plan}"
        );
        assert!(!plan.contains("Seq Scan on images"), "{order:?}:\n{plan}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_search_is_answered_within_its_bounds_for_long_comment_threads() {
    // The document counts the newest 50 comments only: a long thread neither grows
    // it without bound nor makes a comment cost more on a busy image.
    let t = TestApp::start().await;
    let template = template_image(&t).await;
    let image = insert_image(&t, &template, 1, "a busy image", |_| {}).await;
    comment_on(&t, &image, "the very first comment mentions a narwhal").await;
    let mut conn = t.app.db.conn().await.unwrap();
    let author = user(&t, "bob").await;
    for i in 0..50 {
        Comment::insert(
            &mut conn,
            image.id,
            author.id,
            &format!("later comment {i}"),
        )
        .await
        .unwrap();
        // Comments are ordered by time; keep them apart.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(found(&t, json!({ "search": "narwhal" })).await.is_empty());
    assert_eq!(found(&t, json!({ "search": "later" })).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn searches_are_planned_for_their_words_and_the_feed_stays_prepared() {
    #[derive(diesel::QueryableByName)]
    struct Prepared {
        #[diesel(sql_type = diesel::sql_types::Text)]
        statement: String,
    }
    let t = TestApp::start().await;
    let template = template_image(&t).await;
    insert_image(&t, &template, 1, "a teapot", |_| {}).await;
    let mut conn = t.app.db.conn().await.unwrap();
    let filters = [
        ImageFilter::default(),
        ImageFilter {
            search: Some("teapot".into()),
            ..Default::default()
        },
        ImageFilter {
            tags: vec!["x".into()],
            ..Default::default()
        },
    ];
    for filter in &filters {
        for _ in 0..3 {
            let page = Image::page(
                &mut conn,
                filter,
                ImageOrder::Newest,
                &PageRequest::first(10),
            )
            .await
            .unwrap();
            assert!(page.items.len() <= 2);
        }
    }
    let relevance = Image::page(
        &mut conn,
        &filters[1],
        ImageOrder::Relevance,
        &PageRequest::first(10),
    )
    .await
    .unwrap();
    assert_eq!(relevance.items.len(), 1);
    let prepared: Vec<Prepared> = diesel::sql_query("SELECT statement FROM pg_prepared_statements")
        .load(&mut conn)
        .await
        .unwrap();
    let pages: Vec<&str> = prepared
        .iter()
        .map(|p| p.statement.as_str())
        .filter(|s| s.contains("FROM images JOIN users"))
        .collect();
    // The feed's statement once; none with a search or tags (a generic plan would not
    // know how rare their words are).
    assert_eq!(pages.len(), 1, "{pages:#?}");
    assert!(
        !pages[0].contains("websearch_to_tsquery") && !pages[0].contains("@>"),
        "{pages:#?}"
    );
}
