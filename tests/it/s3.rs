//! The S3 storage path, against a real S3-protocol server (moto) on loopback, through
//! the real binary configured the way an operator would.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::TryStreamExt as _;
use object_store::ObjectStore as _;
use object_store::aws::AmazonS3Builder;
use serde_json::json;

use crate::harness::{
    Killed, TestDatabase, error_code, free_port, jpeg, spawn_imagegraph, wait_for_http,
};

fn moto_server() -> std::path::PathBuf {
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    which("moto_server").expect(
        "moto_server not found: run the README's test command (scripts/test.sh), which installs it",
    )
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| std::path::Path::new(dir).join(program))
        .find(|p| p.exists())
}

#[tokio::test(flavor = "multi_thread")]
async fn images_live_in_s3_when_storage_url_says_so() {
    let s3_port = free_port();
    let _moto = Killed(
        Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &s3_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting moto_server"),
    );
    let endpoint = format!("http://127.0.0.1:{s3_port}");
    wait_for_http(&format!("{endpoint}/"), Duration::from_secs(30)).await;
    let client = reqwest::Client::new();
    assert!(
        client
            .put(format!("{endpoint}/imagegraph-test"))
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );

    let database = TestDatabase::new();
    let port = free_port();
    let data_dir = tempfile::tempdir().unwrap();
    let _server = spawn_imagegraph(
        "serve",
        &[
            ("DATABASE_URL", &database.url),
            ("DATA_DIR", &data_dir.path()),
            ("LISTEN_ADDR", &format!("127.0.0.1:{port}")),
            ("STORAGE_URL", &"s3://imagegraph-test/media"),
            ("AWS_ENDPOINT", &endpoint),
            ("AWS_ACCESS_KEY_ID", &"testing"),
            ("AWS_SECRET_ACCESS_KEY", &"testing"),
            ("AWS_REGION", &"us-east-1"),
        ],
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_for_http(&format!("{base}/readyz"), Duration::from_secs(30)).await;
    let token = std::fs::read_to_string(data_dir.path().join("admin-token"))
        .unwrap()
        .trim()
        .to_owned();

    let bytes = jpeg(640, 480);
    let operations = json!({
        "query": "mutation($f: Upload!) { uploadImage(input: { file: $f }) { image { id url thumbnailUrl } } }",
        "variables": { "f": null },
    });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({ "0": ["variables.f"] }).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(bytes.clone()).file_name("x.jpg"),
        );
    let body: serde_json::Value = client
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let image = &body["data"]["uploadImage"]["image"];
    let id = image["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();

    let bucket = AmazonS3Builder::new()
        .with_bucket_name("imagegraph-test")
        .with_endpoint(&endpoint)
        .with_allow_http(true)
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .with_region("us-east-1")
        .build()
        .unwrap();
    let listed = |bucket: &object_store::aws::AmazonS3| {
        bucket
            .list(Some(&object_store::path::Path::from("media")))
            .map_ok(|m| m.location.to_string())
            .try_collect::<Vec<_>>()
    };
    let keys = listed(&bucket).await.unwrap();
    assert_eq!(
        keys.len(),
        2,
        "original and thumbnail under the prefix: {keys:?}"
    );
    assert!(keys.iter().all(|k| k.starts_with(&format!(
        "media/images/{}/",
        crate::harness::row_id::<imagegraph_db::ImageId>(&id)
    ))));

    let served = client
        .get(image["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let body: serde_json::Value = client
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": "mutation($id: ID!) { deleteImage(input: { id: $id }) { deletedImageId } }", "variables": { "id": id } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(error_code(&body).is_none(), "{body}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !listed(&bucket).await.unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "objects were not deleted from S3"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
