use crate::harness::{TestApp, jpeg};

#[tokio::test(flavor = "multi_thread")]
async fn media_urls_are_signed_cacheable_and_typed() {
    let t = TestApp::start().await;
    let bytes = jpeg(500, 300);
    let (_, body) = t
        .upload_file(&t.alice.token, bytes.clone(), "a.jpg", "image/jpeg")
        .await;
    let url = body["data"]["uploadImage"]["image"]["url"]
        .as_str()
        .unwrap()
        .to_owned();

    // No Authorization header: the signature is the credential.
    let response = t.client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(headers["content-length"], bytes.len().to_string().as_str());
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let cached = t
        .client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    assert!(cached.bytes().await.unwrap().is_empty());

    let tampered = url.replacen("sig=", "sig=A", 1);
    assert_eq!(t.client.get(&tampered).send().await.unwrap().status(), 403);
    let unsigned = url.split('?').next().unwrap().to_owned();
    assert_eq!(t.client.get(&unsigned).send().await.unwrap().status(), 403);
    let later = url.replace("exp=", "exp=9");
    assert_eq!(
        t.client.get(&later).send().await.unwrap().status(),
        403,
        "the expiry is signed too"
    );
    let other_object = url.replace(".jpg?", "-thumb.jpg?");
    assert_eq!(
        t.client.get(&other_object).send().await.unwrap().status(),
        403,
        "a signature covers one object"
    );
}
