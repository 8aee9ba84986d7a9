//! Malformed requests, one table: each must get an error with the expected
//! `extensions.code` (never a 500, never a bare body), the server must stay up, and
//! nothing may be written.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::harness::*;

/// Who sends the request.
#[derive(Clone, Copy)]
enum Who {
    Alice,
    Nobody,
    Header(&'static str),
}

enum Req {
    /// POST with this content type (or none) and body.
    Post(Option<&'static str>, Vec<u8>),
    /// GET /graphql with this query string.
    Get(&'static str),
}

struct Case {
    name: &'static str,
    who: Who,
    req: Req,
    code: &'static str,
}

const JSON: Option<&str> = Some("application/json");
const BOUNDARY: &str = "----imagegraph-bad-input";

fn raw(text: &str) -> Req {
    Req::Post(JSON, text.as_bytes().to_vec())
}

fn gql(query: &str, variables: Value) -> Req {
    raw(&json!({ "query": query, "variables": variables }).to_string())
}

/// A multipart body from (field name, file name, bytes) parts.
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Req {
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let disposition = match file_name {
            Some(file) => format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ),
            None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
        };
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    Req::Post(
        Some(Box::leak(
            format!("multipart/form-data; boundary={BOUNDARY}").into_boxed_str(),
        )),
        body,
    )
}

const UPLOAD_OPS: &[u8] = br#"{"query":"mutation($f: Upload!) { uploadImage(input: { file: $f }) { image { id } } }","variables":{"f":null}}"#;
const UPLOAD_MAP: &[u8] = br#"{"0":["variables.f"]}"#;

fn cursor(text: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn cases(image_id: &str, max_upload: usize) -> Vec<Case> {
    let case = |name, who, req, code| Case {
        name,
        who,
        req,
        code,
    };
    let a = Who::Alice;
    let bad = "BAD_USER_INPUT";
    let comment = "mutation($i: ID!, $t: String!) { addComment(input: { imageId: $i, text: $t }) { comment { id } } }";
    let upload_b64 =
        "mutation($b: String!) { uploadImage(input: { base64: $b }) { image { id } } }";
    let edit = "mutation($in: EditImageInput!) { editImage(input: $in) { image { id } preview } }";
    let login =
        "mutation($n: String!, $p: String!) { login(input: { name: $n, password: $p }) { token } }";
    let edit_with = |instructions: Value| {
        gql(
            edit,
            json!({ "in": { "imageId": image_id, "instructions": instructions, "save": "NEW_VERSION" } }),
        )
    };
    let png = png(300, 300);
    let both = json!({
        "query": "mutation($f: Upload!, $b: String!) { uploadImage(input: { file: $f, base64: $b }) { image { id } } }",
        "variables": { "f": null, "b": base64_of(&png) },
    })
    .to_string();
    let big_image = vec![0x89u8; max_upload + 10_000];
    let images_after = |after: &str| {
        gql(
            "query($a: String) { images(first: 2, after: $a) { edges { cursor } } }",
            json!({ "a": after }),
        )
    };
    let search = "query($f: ImageFilter, $o: ImageOrder, $a: String) { images(filter: $f, orderBy: $o, first: 2, after: $a) { edges { cursor } } }";
    let images_search =
        |filter: Value, order: &str| gql(search, json!({ "f": filter, "o": order }));
    let images_search_after = |text: &str, after: &str| {
        gql(
            search,
            json!({ "f": { "search": text }, "o": "RELEVANCE", "a": after }),
        )
    };
    vec![
        // Not JSON, or not a GraphQL request.
        case("invalid JSON", a, raw("{"), bad),
        case("empty body", a, raw(""), bad),
        case("JSON null", a, raw("null"), bad),
        case("JSON string", a, raw("\"{ viewer { name } }\""), bad),
        case("JSON number", a, raw("42"), bad),
        case("empty batch", a, raw("[]"), bad),
        case("query is a number", a, raw(r#"{"query": 42}"#), bad),
        case("no query", a, raw("{}"), bad),
        case("null query", a, raw(r#"{"query": null}"#), bad),
        case("variables are a string", a, raw(r#"{"query": "{ viewer { name } }", "variables": "x"}"#), bad),
        case("variables are an array", a, raw(r#"{"query": "{ viewer { name } }", "variables": [1]}"#), bad),
        case("operationName is a number", a, raw(r#"{"query": "{ viewer { name } }", "operationName": 5}"#), bad),
        case("lone surrogate", a, raw(r#"{"query": "{ viewer { name } }", "variables": {"x": "\ud800"}}"#), bad),
        case("invalid UTF-8", a, Req::Post(JSON, b"{\"query\": \"{ viewer { name\xff\xfe } }\"}".to_vec()), bad),
        // Wrong content types.
        case("text/plain", a, Req::Post(Some("text/plain"), br#"{"query": "{ viewer { name } }"}"#.to_vec()), "UNSUPPORTED_MEDIA_TYPE"),
        case("XML", a, Req::Post(Some("application/xml"), b"<query/>".to_vec()), "UNSUPPORTED_MEDIA_TYPE"),
        case("no content type", a, Req::Post(None, br#"{"query": "{ viewer { name } }"}"#.to_vec()), "UNSUPPORTED_MEDIA_TYPE"),
        case("form encoded", a, Req::Post(Some("application/x-www-form-urlencoded"), b"query=%7Bviewer%7Bname%7D%7D".to_vec()), "UNSUPPORTED_MEDIA_TYPE"),
        // Documents that do not parse or validate, and unknown operations.
        case("syntax error", a, gql("{ viewer { name }", json!({})), bad),
        case("unknown field", a, gql("{ nope }", json!({})), bad),
        case("unknown operation name", a, raw(r#"{"query": "query A { viewer { name } }", "operationName": "B"}"#), bad),
        case("two operations, no name", a, gql("query A { viewer { name } } query B { viewer { role } }", json!({})), bad),
        case("subscription over HTTP", a, gql("subscription { analysisCompleted { id } }", json!({})), bad),
        case("mutation over GET", a, Req::Get("query=mutation%20%7B%20deleteImage(input%3A%20%7Bid%3A%20%22x%22%7D)%20%7B%20deletedImageId%20%7D%20%7D"), bad),
        case("GET without a query", a, Req::Get(""), bad),
        case("too deep", a, gql(&format!("{{ images {{ edges {{ node {{ {}id{} }} }} }} }}", "parent { ".repeat(12), " }".repeat(12)), json!({})), bad),
        case("too many aliases", a, gql(&format!("{{ {} }}", (0..40).map(|i| format!("v{i}: viewer {{ name }}")).collect::<Vec<_>>().join(" ")), json!({})), bad),
        // Wrong types and nulls.
        case("string variable given a number", a, gql(upload_b64, json!({ "b": 5 })), bad),
        case("null for a non-null variable", a, gql("query($i: ID!) { image(id: $i) { id } }", json!({ "i": null })), bad),
        case("missing required variable", a, gql("query($i: ID!) { image(id: $i) { id } }", json!({})), bad),
        case("undeclared variable", a, gql("{ image(id: $i) { id } }", json!({ "i": image_id })), bad),
        case("unknown argument", a, gql("{ images(top: 3) { totalCount } }", json!({})), bad),
        case("unknown enum value", a, gql(edit, json!({ "in": { "imageId": image_id, "instructions": [{ "grayscale": true }], "save": "SIDEWAYS" } })), bad),
        case("oneOf with two members", a, edit_with(json!([{ "brightness": 1.2, "contrast": 1.1 }])), bad),
        case("oneOf with none", a, edit_with(json!([{}])), bad),
        // Bad ids and cursors.
        case("malformed id", a, gql("{ image(id: \"not-a-uuid\") { id } }", json!({})), bad),
        case("unknown id", a, gql("query($id: ID!) { image(id: $id) { id } }", json!({ "id": imagegraph_db::GlobalId::global_id(imagegraph_db::ImageId::new()) })), "NOT_FOUND"),
        case("bare uuid as id", a, gql("{ image(id: \"0193a5b0-7c1e-7d3a-9f00-000000000000\") { id } }", json!({})), bad),
        case("empty node id", a, gql("{ node(id: \"\") { id } }", json!({})), bad),
        case("id with odd Unicode", a, gql("query($i: ID!) { image(id: $i) { id } }", json!({ "i": "0193a5b0\u{202E}7c1e" })), bad),
        case("garbage cursor", a, images_after("!!not base64!!"), bad),
        case("cursor of another version", a, images_after(&cursor("v2:1700000000000000:0193a5b0-7c1e-7d3a-9f00-000000000000")), bad),
        case("cursor with a bad uuid", a, images_after(&cursor("v1:1700000000000000:nope")), bad),
        case("cursor with a bad time", a, images_after(&cursor("v1:99999999999999999999:0193a5b0-7c1e-7d3a-9f00-000000000000")), bad),
        case("ranked cursor in a list by time", a, images_after(&cursor("r1:3f000000:1700000000000000:0193a5b0-7c1e-7d3a-9f00-000000000000")), bad),
        case("cursor with a NaN rank", a, images_search_after("kettle", &cursor("r1:7fc00000:1700000000000000:0193a5b0-7c1e-7d3a-9f00-000000000000")), bad),
        case("time cursor in a list by relevance", a, images_search_after("kettle", &cursor("v1:1700000000000000:0193a5b0-7c1e-7d3a-9f00-000000000000")), bad),
        // Searches.
        case("blank search", a, images_search(json!({ "search": " " }), "NEWEST"), bad),
        case("search over 500 characters", a, images_search(json!({ "search": "w".repeat(501) }), "NEWEST"), bad),
        case("relevance without a search", a, images_search(json!({ "tags": ["red"] }), "RELEVANCE"), bad),
        case("eleven tags", a, images_search(json!({ "tags": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"] }), "NEWEST"), bad),
        case("a tag over 32 characters", a, images_search(json!({ "tags": ["t".repeat(33)] }), "NEWEST"), bad),
        case("owner id of another type", a, images_search(json!({ "ownerId": image_id }), "NEWEST"), bad),
        case("negative page size", a, gql("{ images(first: -1) { totalCount } }", json!({})), bad),
        case("page too large", a, gql("{ images(first: 1000) { totalCount } }", json!({})), bad),
        case("comment page too large", a, gql("query($i: ID!) { image(id: $i) { comments(first: 81) { totalCount } } }", json!({ "i": image_id })), bad),
        // Text: huge, blank, or hiding things.
        case("huge comment", a, gql(comment, json!({ "i": image_id, "t": "x".repeat(6000) })), bad),
        case("blank comment", a, gql(comment, json!({ "i": image_id, "t": " \n\t " })), bad),
        case("NUL in a comment", a, gql(comment, json!({ "i": image_id, "t": "a\u{0}b" })), bad),
        case("zero-width comment", a, gql(comment, json!({ "i": image_id, "t": "\u{200B}\u{FEFF}\u{200D}" })), bad),
        case("terminal escapes in a comment", a, gql(comment, json!({ "i": image_id, "t": "\u{1b}[31mred" })), bad),
        case("huge prompt", a, gql("mutation($p: String!) { generateImage(input: { prompt: $p }) { generation { id } } }", json!({ "p": "y".repeat(5000) })), bad),
        case("NUL in an edit prompt", a, gql("mutation($i: ID!) { editImageWithPrompt(input: { imageId: $i, prompt: \"bright\\u0000er\" }) { image { id } } }", json!({ "i": image_id })), bad),
        case("huge string over the body limit", a, gql(comment, json!({ "i": image_id, "t": "z".repeat(max_upload / 3 * 4 + (1 << 20) + 10) })), "PAYLOAD_TOO_LARGE"),
        // Images sent as base64.
        case("base64 with bad characters", a, gql(upload_b64, json!({ "b": "@@@@not base64@@@@" })), bad),
        case("base64 of text", a, gql(upload_b64, json!({ "b": base64_of(b"hello, this is not an image at all") })), "UNSUPPORTED_MEDIA_TYPE"),
        case("data URI of HTML", a, gql(upload_b64, json!({ "b": format!("data:text/html;base64,{}", base64_of(b"<script>alert(1)</script>")) })), "UNSUPPORTED_MEDIA_TYPE"),
        case("truncated PNG", a, gql(upload_b64, json!({ "b": base64_of(&png[..png.len() / 2]) })), bad),
        case("both file and base64", a, multipart(&[("operations", None, both.as_bytes()), ("map", None, UPLOAD_MAP), ("0", Some("a.png"), &png)]), bad),
        case("neither file nor base64", a, gql("mutation { uploadImage(input: {}) { image { id } } }", json!({})), bad),
        case("base64 over the size limit", a, gql(upload_b64, json!({ "b": base64_of(&big_image) })), "PAYLOAD_TOO_LARGE"),
        // Multipart requests.
        case("multipart without the file part", a, multipart(&[("operations", None, UPLOAD_OPS), ("map", None, UPLOAD_MAP)]), bad),
        case("multipart with a broken map", a, multipart(&[("operations", None, UPLOAD_OPS), ("map", None, b"{\"0\": [\"variables.f\""), ("0", Some("a.png"), &png)]), bad),
        case("multipart without operations", a, multipart(&[("map", None, UPLOAD_MAP), ("0", Some("a.png"), &png)]), bad),
        case("multipart map to a missing variable", a, multipart(&[("operations", None, UPLOAD_OPS), ("map", None, br#"{"0":["variables.nope"]}"#), ("0", Some("a.png"), &png)]), bad),
        case("multipart map that is not an object", a, multipart(&[("operations", None, UPLOAD_OPS), ("map", None, b"[1, 2]"), ("0", Some("a.png"), &png)]), bad),
        case("multipart file over the limit", a, multipart(&[("operations", None, UPLOAD_OPS), ("map", None, UPLOAD_MAP), ("0", Some("big.png"), &big_image)]), "PAYLOAD_TOO_LARGE"),
        case("multipart with too many files", a, multipart(&[("operations", None, UPLOAD_OPS), ("map", None, br#"{"0":["variables.f"],"1":["variables.f"],"2":["variables.f"],"3":["variables.f"],"4":["variables.f"]}"#), ("0", Some("0.png"), &png), ("1", Some("1.png"), &png), ("2", Some("2.png"), &png), ("3", Some("3.png"), &png), ("4", Some("4.png"), &png)]), bad),
        case("multipart file that is not an image", a, multipart(&[("operations", None, UPLOAD_OPS), ("map", None, UPLOAD_MAP), ("0", Some("notes.txt"), b"just some notes")]), "UNSUPPORTED_MEDIA_TYPE"),
        case("multipart garbage", a, Req::Post(Some("multipart/form-data; boundary=zzz"), b"this is not multipart at all".to_vec()), bad),
        case("multipart without a boundary", a, Req::Post(Some("multipart/form-data"), b"--x\r\n\r\n--x--".to_vec()), bad),
        // Who is asking.
        case("Basic credentials", Who::Header("Basic YWxpY2U6c2VjcmV0"), gql("{ viewer { name } }", json!({})), "UNAUTHENTICATED"),
        case("unknown token", Who::Header("Bearer igt_0000"), gql("{ viewer { name } }", json!({})), "UNAUTHENTICATED"),
        case("mutation without a token", Who::Nobody, gql(comment, json!({ "i": image_id, "t": "hi" })), "UNAUTHENTICATED"),
        case("deleting someone else's image", a, gql("mutation($i: ID!) { deleteImage(input: { id: $i }) { deletedImageId } }", json!({ "i": image_id })), "FORBIDDEN"),
        // Edit instructions out of range.
        case("negative brightness", a, edit_with(json!([{ "brightness": -1.0 }])), bad),
        case("too many instructions", a, edit_with(Value::Array(vec![json!({ "brightness": 1.1 }); 21])), bad),
        case("crop outside the image", a, edit_with(json!([{ "crop": { "x": 250, "y": 0, "width": 100, "height": 10 } }])), bad),
        case("no instructions", a, edit_with(json!([])), bad),
        case("NaN-like factor", a, raw(&format!(r#"{{"query": "mutation {{ editImage(input: {{ imageId: \"{image_id}\", instructions: [{{ contrast: 1e999 }}], save: NEW_VERSION }}) {{ image {{ id }} }} }}"}}"#)), bad),
        // Accounts.
        case("login with a name of spaces", Who::Nobody, gql(login, json!({ "n": "a b", "p": "long enough password" })), bad),
        case("login with a megabyte password", Who::Nobody, gql(login, json!({ "n": "alice", "p": "x".repeat(1 << 20) })), bad),
        case("login with an unknown name", Who::Nobody, gql(login, json!({ "n": "nobody", "p": "long enough password" })), "UNAUTHENTICATED"),
        case("createUser as a member", a, gql("mutation { createUser(input: { name: \"eve\", password: \"long enough password\" }) { user { id } } }", json!({})), "FORBIDDEN"),
        case("a token name of 65 characters", a, gql("mutation($n: String!) { createApiToken(input: { name: $n }) { token } }", json!({ "n": "t".repeat(65) })), bad),
        case("a token name with a newline", a, gql("mutation { createApiToken(input: { name: \"a\\nb\" }) { token } }", json!({})), bad),
        case("revoking an image id", a, gql("mutation($i: ID!) { revokeApiToken(input: { id: $i }) { revokedApiTokenId } }", json!({ "i": image_id })), bad),
        case("a new password of 9 characters", a, gql("mutation { changePassword(input: { currentPassword: \"\", newPassword: \"123456789\" }) { revokedTokenCount } }", json!({})), bad),
        case("users as a member", a, gql("{ users(first: 31) { totalCount } }", json!({})), "FORBIDDEN"),
    ]
}

/// What could have been written: rows of every kind, and stored objects.
async fn snapshot(t: &TestApp) -> Vec<(String, i64)> {
    let mut counts = Vec::new();
    for table in [
        "users",
        "api_tokens",
        "images",
        "comments",
        "jobs",
        "generations",
        "benchmark_runs",
        "ai_calls",
    ] {
        counts.push((table.to_owned(), t.count_rows(table).await));
    }
    counts.push(("objects".to_owned(), t.stored_objects().len() as i64));
    counts
}

#[tokio::test(flavor = "multi_thread")]
async fn every_malformed_request_gets_a_coded_error_and_changes_nothing() {
    let max_upload = 64 * 1024;
    let t = TestApp::start_with(|c| c.images.max_upload_bytes = max_upload).await;
    // Someone else's image, so Alice's requests have a real target.
    let body = t
        .gql(
            &t.admin.token,
            "mutation($b: String!) { uploadImage(input: { base64: $b, analyze: false }) { image { id } } }",
            json!({ "b": base64_of(&png(300, 300)) }),
        )
        .await;
    let image_id = body["data"]["uploadImage"]["image"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = snapshot(&t).await;

    let cases = cases(&image_id, max_upload);
    assert!(cases.len() >= 50, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let mut request = match &case.req {
            Req::Post(content_type, body) => {
                let request = t.client.post(t.url("/graphql")).body(body.clone());
                match content_type {
                    Some(ct) => request.header("content-type", *ct),
                    None => request,
                }
            }
            Req::Get(query) => t.client.get(t.url(&format!("/graphql?{query}"))),
        };
        request = match case.who {
            Who::Alice => request.bearer_auth(&t.alice.token),
            Who::Nobody => request,
            Who::Header(value) => request.header("authorization", value),
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let code = body["errors"][0]["extensions"]["code"].as_str();
        if status.is_server_error() || code != Some(case.code) {
            failures.push(format!(
                "{}: expected {}, got {status} {}",
                case.name,
                case.code,
                text.chars().take(300).collect::<String>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Still up, still answering, and nothing was written.
    let body = t
        .gql(&t.alice.token, "{ viewer { name } }", json!({}))
        .await;
    assert_eq!(body["data"]["viewer"]["name"], "alice");
    assert_eq!(snapshot(&t).await, before);
}
