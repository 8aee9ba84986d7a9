//! Pixel work and large request bodies within the memory budget: work that can never fit is refused at once,
//! work that must wait is refused as retryable after a bounded wait, shapes that
//! make resizing explode are refused on upload or priced before they run, and no
//! request can make the process abort (the server runs in this test process, so a
//! failed allocation would end the test binary).

use std::io::Cursor;
use std::time::{Duration, Instant};

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use serde_json::{Value, json};

use crate::harness::{TestApp, base64_of, error_code, png};

const MB: u64 = 1024 * 1024;

const UPLOAD: &str = "mutation($b: String!) { uploadImage(input: { base64: $b, analyze: false }) { image { id width height byteSize url } } }";
const EDIT: &str = "mutation($input: EditImageInput!) { editImage(input: $input) { image { id width height } preview } }";

fn encoded(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    image.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

/// Pixels a PNG encoder cannot squeeze, so sizes after encoding stay large.
fn noise(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let image = RgbImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [a, b, c, _] = state.to_le_bytes();
        Rgb([a, b, c])
    });
    encoded(&DynamicImage::ImageRgb8(image), ImageFormat::Png)
}

async fn upload(t: &TestApp, bytes: &[u8]) -> Value {
    t.gql(&t.alice.token, UPLOAD, json!({ "b": base64_of(bytes) }))
        .await
}

fn uploaded_id(body: &Value) -> String {
    body["data"]["uploadImage"]["image"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("upload failed: {body}"))
        .to_owned()
}

async fn edit(t: &TestApp, id: &str, save: &str, instructions: Value) -> Value {
    t.gql(
        &t.alice.token,
        EDIT,
        json!({ "input": { "imageId": id, "save": save, "instructions": instructions } }),
    )
    .await
}

fn message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thin_strip_resized_for_a_preview_does_not_take_the_process_down() {
    // The reproduced crash: an image stored while shapes were not checked (here:
    // with the checks off) resized with both sides given. Horizontal first, the
    // resize held 1000 x 40,000,000 pixels (120 GB) and the process aborted.
    let t = TestApp::start_with(|config| {
        config.pixels.max_image_side = 0;
        config.pixels.max_aspect_ratio = 0;
    })
    .await;
    let strip = {
        use image::ImageEncoder as _;
        use image::codecs::png::{CompressionType, FilterType, PngEncoder};
        let mut out = Vec::new();
        PngEncoder::new_with_quality(&mut out, CompressionType::Best, FilterType::NoFilter)
            .write_image(
                &vec![0; 120_000_000],
                1,
                40_000_000,
                image::ExtendedColorType::Rgb8,
            )
            .unwrap();
        out
    };
    assert!(strip.len() < 1 << 20, "{} bytes", strip.len());
    let id = uploaded_id(&upload(&t, &strip).await);
    let started = Instant::now();
    let body = edit(
        &t,
        &id,
        "PREVIEW",
        json!([{ "resize": { "width": 1000, "height": 1000, "fit": "FILL" } }]),
    )
    .await;
    // Its resampling tables alone are a few GB: more than the whole budget.
    assert_eq!(error_code(&body), Some("PAYLOAD_TOO_LARGE"), "{body}");
    assert!(message(&body).contains("the budget is 1024 MB"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(t.app.pixels.in_use(), 0);
    // Any downscale of the 40,000,000-pixel side needs tables that large, even
    // to a small size.
    let body = edit(
        &t,
        &id,
        "PREVIEW",
        json!([{ "resize": { "width": 1, "height": 500, "fit": "FILL" } }]),
    )
    .await;
    assert_eq!(error_code(&body), Some("PAYLOAD_TOO_LARGE"), "{body}");
    // Still serving, and cheap work on the same strip still runs.
    let body = edit(
        &t,
        &id,
        "PREVIEW",
        json!([{ "crop": { "x": 0, "y": 0, "width": 1, "height": 1000 } }]),
    )
    .await;
    assert!(
        body["data"]["editImage"]["preview"]
            .as_str()
            .is_some_and(|url| url.starts_with("data:image/")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_with_a_side_or_an_aspect_ratio_over_the_limits_are_refused() {
    let t = TestApp::start().await;
    let long = encoded(&DynamicImage::new_luma8(70_000, 1), ImageFormat::Png);
    let body = upload(&t, &long).await;
    assert_eq!(error_code(&body), Some("PAYLOAD_TOO_LARGE"), "{body}");
    assert!(message(&body).contains("65535"), "{body}");
    let thin = encoded(&DynamicImage::new_rgb8(3000, 2), ImageFormat::Png);
    let body = upload(&t, &thin).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert!(message(&body).contains("1000 times"), "{body}");
    // The thin attack image itself never gets in under the defaults.
    let strip = encoded(&DynamicImage::new_rgb8(1, 100_000), ImageFormat::Png);
    assert_eq!(
        error_code(&upload(&t, &strip).await),
        Some("PAYLOAD_TOO_LARGE")
    );
    // Within both limits, a long image is fine.
    uploaded_id(&upload(&t, &png(2000, 2)).await);
    assert_eq!(t.count_rows("images").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn work_larger_than_the_whole_budget_is_refused_at_once() {
    let t = TestApp::start_with(|config| {
        config.pixels.memory_budget_mb = 16;
        config.pixels.memory_budget_wait_ms = 30_000;
    })
    .await;
    let id = uploaded_id(&upload(&t, &png(600, 400)).await);
    let started = Instant::now();
    let body = edit(
        &t,
        &id,
        "NEW_VERSION",
        json!([{ "resize": { "width": 4000, "height": 4000, "fit": "FILL" } }]),
    )
    .await;
    assert_eq!(error_code(&body), Some("PAYLOAD_TOO_LARGE"), "{body}");
    assert!(message(&body).contains("the budget is 16 MB"), "{body}");
    // An upload too large to decode within the budget is refused as well.
    let body = upload(&t, &png(3000, 2000)).await;
    assert_eq!(error_code(&body), Some("PAYLOAD_TOO_LARGE"), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "refused without waiting: {:?}",
        started.elapsed()
    );
    assert_eq!(t.count_rows("images").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn work_that_must_wait_is_refused_as_retryable_after_the_wait() {
    let t = TestApp::start_with(|config| {
        config.pixels.memory_budget_mb = 64;
        config.pixels.memory_budget_wait_ms = 300;
    })
    .await;
    let id = uploaded_id(&upload(&t, &png(64, 48)).await);
    // Other work holds nearly all of it.
    let held = t.app.pixels.acquire(62 * MB).await.unwrap();
    let started = Instant::now();
    let body = upload(&t, &png(64, 48)).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(error_code(&body), Some("SERVICE_UNAVAILABLE"), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["retryable"], true, "{body}");
    let body = edit(&t, &id, "PREVIEW", json!([{ "grayscale": true }])).await;
    assert_eq!(error_code(&body), Some("SERVICE_UNAVAILABLE"), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["retryable"], true, "{body}");
    let rendered = imagegraph::telemetry::handle().render();
    assert!(
        rendered
            .contains(r#"imagegraph_memory_budget_refusals_total{pool="pixels",reason="timeout"}"#),
        "{rendered}"
    );
    // Once the memory is given back, the same requests go through.
    drop(held);
    uploaded_id(&upload(&t, &png(64, 48)).await);
    let body = edit(&t, &id, "PREVIEW", json!([{ "grayscale": true }])).await;
    assert!(body["data"]["editImage"]["preview"].is_string(), "{body}");
    assert_eq!(t.app.pixels.in_use(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn large_bodies_wait_for_room_before_they_are_read() {
    let t = TestApp::start_with(|config| {
        config.pixels.memory_budget_mb = 64;
        config.pixels.memory_budget_wait_ms = 300;
    })
    .await;
    assert_eq!(t.app.bodies.capacity(), 16 * MB, "a quarter of the budget");
    let big = noise(400, 400);
    assert!(big.len() > 256 * 1024);
    let held = t.app.bodies.acquire(16 * MB).await.unwrap();
    let started = Instant::now();
    let (status, body) = t
        .gql_response(
            Some(&t.alice.token),
            json!({ "query": UPLOAD, "variables": { "b": base64_of(&big) } }),
        )
        .await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (503, Some("SERVICE_UNAVAILABLE")),
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["retryable"], true, "{body}");
    // Small requests do not ask the body budget.
    uploaded_id(&upload(&t, &png(8, 8)).await);
    assert_eq!(
        t.count_rows("images").await,
        1,
        "the refused upload stored nothing"
    );
    drop(held);
    uploaded_id(&upload(&t, &big).await);
    assert_eq!(
        t.app.bodies.in_use(),
        0,
        "the room is given back after the response"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sixteen_bit_images_are_stored_as_eight_bit() {
    let t = TestApp::start().await;
    let deep = DynamicImage::ImageRgb16(image::ImageBuffer::from_fn(40, 30, |x, y| {
        image::Rgb([(x * 1000) as u16, (y * 2000) as u16, 65535])
    }));
    let body = upload(&t, &encoded(&deep, ImageFormat::Png)).await;
    let image = &body["data"]["uploadImage"]["image"];
    assert_eq!(
        (image["width"].as_i64(), image["height"].as_i64()),
        (Some(40), Some(30)),
        "{body}"
    );
    let response = t
        .client
        .get(image["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let stored = response.bytes().await.unwrap();
    assert_eq!(image["byteSize"].as_u64(), Some(stored.len() as u64));
    let stored = image::load_from_memory(&stored).unwrap();
    assert_eq!(stored.color(), image::ColorType::Rgb8);
    assert_eq!(stored.to_rgb8(), deep.to_rgb8());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edit_result_larger_than_an_upload_may_be_is_not_stored() {
    let t = TestApp::start_with(|config| {
        config.images.max_upload_bytes = 200_000;
    })
    .await;
    let id = uploaded_id(&upload(&t, &noise(150, 150)).await);
    let body = edit(
        &t,
        &id,
        "NEW_VERSION",
        json!([{ "resize": { "width": 1000, "height": 1000, "fit": "FILL" } }]),
    )
    .await;
    assert_eq!(error_code(&body), Some("PAYLOAD_TOO_LARGE"), "{body}");
    assert!(message(&body).contains("200000 bytes"), "{body}");
    assert_eq!(t.count_rows("images").await, 1);
}
