//! Subscriptions with a real WebSocket client, on both protocols.

use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::harness::{TestApp, error_code};

pub(crate) struct Client {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    legacy: bool,
}

impl Client {
    /// Connects and authenticates; `legacy` picks `graphql-ws` over `graphql-transport-ws`.
    pub(crate) async fn connect(
        addr: std::net::SocketAddr,
        token: Option<&str>,
        legacy: bool,
    ) -> Result<Self, String> {
        let mut client = Self::open(addr, legacy).await;
        let payload = token.map_or(
            json!({}),
            |t| json!({ "Authorization": format!("Bearer {t}") }),
        );
        client
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        match client.next_message(Duration::from_secs(5)).await {
            Some(m) if m["type"] == "connection_ack" => Ok(client),
            other => Err(format!("{other:?}")),
        }
    }

    /// Opens the socket without saying anything.
    pub(crate) async fn open(addr: std::net::SocketAddr, legacy: bool) -> Self {
        let mut request = format!("ws://{addr}/graphql/ws")
            .into_client_request()
            .unwrap();
        let protocol = if legacy {
            "graphql-ws"
        } else {
            "graphql-transport-ws"
        };
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocol.parse().unwrap());
        let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
        Self { socket, legacy }
    }

    pub(crate) async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
    }

    pub(crate) async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let kind = if self.legacy { "start" } else { "subscribe" };
        self.send(json!({ "id": id, "type": kind, "payload": { "query": query, "variables": variables } })).await;
        // Nothing acknowledges a subscription; give the server a moment to register it.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    /// Runs `{ viewer { name } }` on the socket and returns the answer's payload: proof
    /// that the socket is open and what rights it has.
    pub(crate) async fn round_trip(&mut self, id: &str) -> Option<Value> {
        let kind = if self.legacy { "start" } else { "subscribe" };
        self.send(json!({ "id": id, "type": kind, "payload": { "query": "{ viewer { name } }" } }))
            .await;
        let message = self.next_message(Duration::from_secs(5)).await?;
        Some(message["payload"].clone())
    }

    /// The next protocol message other than keep-alives, if one comes in time.
    pub(crate) async fn next_message(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()??
                .ok()?;
            let Message::Text(text) = message else {
                continue;
            };
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] != "ka" && value["type"] != "ping" && value["type"] != "pong" {
                return Some(value);
            }
        }
    }

    /// Waits for the server to close the connection; returns the close code.
    pub(crate) async fn close_code(&mut self, timeout: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()??
            {
                Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    /// The payload of the next event of subscription `id`.
    pub(crate) async fn next_event(&mut self, timeout: Duration) -> Option<Value> {
        let message = self.next_message(timeout).await?;
        let expected = if self.legacy { "data" } else { "next" };
        assert_eq!(message["type"], expected, "{message}");
        Some(message["payload"].clone())
    }
}

/// The code of a refused subscription: a protocol `error`, or a result with `errors`.
pub(crate) fn subscription_error_code(message: &Value) -> Option<&str> {
    match message["type"].as_str()? {
        "error" => message["payload"][0]["extensions"]["code"].as_str(),
        "next" | "data" => {
            assert!(message["payload"]["data"].is_null(), "{message}");
            error_code(&message["payload"])
        }
        _ => None,
    }
}

const ANALYSIS_COMPLETED: &str = "subscription($id: ID) { analysisCompleted(imageId: $id) { id description analysis { status model } } }";

#[tokio::test(flavor = "multi_thread")]
async fn analysis_completed_arrives_once_on_both_protocols() {
    let t = TestApp::start().await; // no workers yet: the job waits until we listen
    let id = t.upload_png_analyzed(&t.alice.token, true).await;
    let mut modern = Client::connect(t.addr, Some(&t.alice.token), false)
        .await
        .unwrap();
    let mut legacy = Client::connect(t.addr, Some(&t.bob.token), true)
        .await
        .unwrap();
    modern
        .subscribe("a", ANALYSIS_COMPLETED, json!({ "id": id }))
        .await;
    legacy.subscribe("b", ANALYSIS_COMPLETED, json!({})).await;

    assert_eq!(t.run_jobs().await, 1);

    for client in [&mut modern, &mut legacy] {
        let event = client
            .next_event(Duration::from_secs(10))
            .await
            .expect("an event");
        let image = &event["data"]["analysisCompleted"];
        assert_eq!(image["id"], id.as_str());
        assert_eq!(image["analysis"]["status"], "SUCCEEDED");
        assert_eq!(image["analysis"]["model"], "imagegraph-offline-1");
        assert!(image["description"].as_str().unwrap().starts_with("A 8x6"));
        assert!(
            client
                .next_message(Duration::from_millis(700))
                .await
                .is_none(),
            "fires exactly once"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn comment_added_follows_one_image() {
    let t = TestApp::start().await;
    let image = t.upload_png(&t.alice.token).await;
    let other = t.upload_png(&t.alice.token).await;
    let mut client = Client::connect(t.addr, Some(&t.alice.token), false)
        .await
        .unwrap();
    client
        .subscribe("c", "subscription($id: ID!) { commentAdded(imageId: $id) { text author { name } image { id } } }", json!({ "id": image }))
        .await;
    t.add_comment(&t.bob.token, &other, "elsewhere").await;
    t.add_comment(&t.bob.token, &image, "here").await;
    let event = client
        .next_event(Duration::from_secs(5))
        .await
        .expect("an event");
    assert_eq!(
        event["data"]["commentAdded"],
        json!({ "text": "here", "author": { "name": "bob" }, "image": { "id": image } })
    );
    assert!(
        client
            .next_message(Duration::from_millis(500))
            .await
            .is_none()
    );

    client
        .subscribe(
            "d",
            "subscription($id: ID!) { commentAdded(imageId: $id) { text } }",
            json!({ "id": imagegraph_db::GlobalId::global_id(imagegraph_db::ImageId::new()) }),
        )
        .await;
    let error = client.next_message(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        subscription_error_code(&error),
        Some("NOT_FOUND"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn subscriptions_need_a_valid_token() {
    let t = TestApp::start().await;
    assert!(
        Client::connect(t.addr, Some("igt_wrong"), false)
            .await
            .is_err(),
        "a bad token is refused at connection_init"
    );
    let mut anonymous = Client::connect(t.addr, None, false).await.unwrap();
    anonymous
        .subscribe("x", ANALYSIS_COMPLETED, json!({}))
        .await;
    let error = anonymous
        .next_message(Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        subscription_error_code(&error),
        Some("UNAUTHENTICATED"),
        "{error}"
    );
}
