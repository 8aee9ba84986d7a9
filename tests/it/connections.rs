//! No client holds connections open for free: a slow or idle HTTP connection is
//! dropped after the header-read timeout, connections past the cap wait until one
//! closes, WebSockets are capped per address, per user and in subscriptions per
//! socket, and subscribers of one event share one load of its row.

use std::time::{Duration, Instant};

use diesel_async::RunQueryDsl as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::harness::{TestApp, error_code};
use crate::subscriptions::Client;

const REQUEST: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";

/// Reads until the peer closes (`Some`, with what it sent) or `timeout` passes (`None`).
async fn read_until_closed(stream: &mut TcpStream, timeout: Duration) -> Option<Vec<u8>> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(received),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one complete response to `GET /healthz` (its body is short and sized).
async fn read_response(stream: &mut TcpStream, timeout: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if received.len() >= head_end + 4 + length {
                return Some(text);
            }
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => received.extend_from_slice(&buf[..n]),
            _ => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_loris_client_is_dropped_after_the_header_timeout() {
    let t = TestApp::start_with(|c| c.http.http_header_read_timeout_secs = 1).await;
    let mut stream = TcpStream::connect(t.addr).await.unwrap();
    let started = Instant::now();
    // Part of a request head, then nothing: the head never completes.
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    let received = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("the server closes the connection");
    let waited = started.elapsed();
    eprintln!("a partial request head was dropped after {waited:?}");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "closed after {waited:?}"
    );
    assert!(
        !String::from_utf8_lossy(&received).contains("200 OK"),
        "the partial request was not served"
    );
    // A client that sends nothing at all is dropped the same way.
    let mut silent = TcpStream::connect(t.addr).await.unwrap();
    assert!(
        read_until_closed(&mut silent, Duration::from_secs(3))
            .await
            .is_some(),
        "a silent connection is closed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_keep_alive_connection_is_closed() {
    let t = TestApp::start_with(|c| c.http.http_header_read_timeout_secs = 1).await;
    let mut stream = TcpStream::connect(t.addr).await.unwrap();
    stream.write_all(REQUEST).await.unwrap();
    let first = read_response(&mut stream, Duration::from_secs(5))
        .await
        .expect("a response");
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    // The connection is kept alive for a next request...
    stream.write_all(REQUEST).await.unwrap();
    let second = read_response(&mut stream, Duration::from_secs(5))
        .await
        .expect("a second response on the same connection");
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
    // ...but not for a client that never sends one.
    let idle_since = Instant::now();
    let rest = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("the idle connection is closed");
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    let idle = idle_since.elapsed();
    eprintln!("an idle keep-alive connection was dropped after {idle:?}");
    assert!(
        idle >= Duration::from_millis(900) && idle < Duration::from_secs(3),
        "closed after {idle:?} idle"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_past_the_cap_wait_until_one_closes() {
    let t = TestApp::start_with(|c| c.http.http_max_connections = 2).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(t.addr).await.unwrap();
        stream.write_all(REQUEST).await.unwrap();
        let response = read_response(&mut stream, Duration::from_secs(5))
            .await
            .expect("served within the cap");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        held.push(stream);
    }
    // The kernel completes the handshake, but the server does not take it up.
    let mut third = TcpStream::connect(t.addr).await.unwrap();
    third.write_all(REQUEST).await.unwrap();
    assert!(
        read_response(&mut third, Duration::from_secs(1))
            .await
            .is_none(),
        "a third connection is not served while two are open"
    );
    drop(held.pop());
    let response = read_response(&mut third, Duration::from_secs(5))
        .await
        .expect("served once a connection closed");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_holds_at_most_the_configured_sockets() {
    let t = TestApp::start_with(|c| c.http.ws_max_sockets_per_user = 2).await;
    let mut sockets = Vec::new();
    for _ in 0..2 {
        sockets.push(
            Client::connect(t.addr, Some(&t.alice.token), false)
                .await
                .unwrap(),
        );
    }
    for legacy in [false, true] {
        let mut extra = Client::open(t.addr, legacy).await;
        extra
            .send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", t.alice.token) } }))
            .await;
        assert_eq!(
            extra.close_code(Duration::from_secs(5)).await,
            Some(1008),
            "legacy: {legacy}"
        );
    }
    // Another user has a count of its own, and alice's sockets still answer.
    let mut bob = Client::connect(t.addr, Some(&t.bob.token), false)
        .await
        .unwrap();
    assert_eq!(
        bob.round_trip("b").await.unwrap()["data"]["viewer"]["name"],
        "bob"
    );
    let answer = sockets[0].round_trip("a").await.unwrap();
    assert_eq!(answer["data"]["viewer"]["name"], "alice", "{answer}");
    // A closed socket gives its place back.
    drop(sockets.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match Client::connect(t.addr, Some(&t.alice.token), false).await {
            Ok(_) => break,
            Err(refused) => assert!(Instant::now() < deadline, "still refused: {refused}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_address_holds_at_most_the_configured_sockets() {
    let t = TestApp::start_with(|c| c.http.ws_max_sockets_per_address = 2).await;
    let mut first = Client::connect(t.addr, Some(&t.alice.token), false)
        .await
        .unwrap();
    // Counted from the upgrade on, before any `connection_init`.
    let _second = Client::open(t.addr, false).await;
    let mut third = Client::open(t.addr, false).await;
    assert_eq!(third.close_code(Duration::from_secs(5)).await, Some(1008));
    let answer = first.round_trip("a").await.unwrap();
    assert_eq!(answer["data"]["viewer"]["name"], "alice", "{answer}");
}

const ANY_ANALYSIS: &str = "subscription { analysisCompleted { id } }";

/// Announces an analysis as a worker does, through the database.
async fn announce_analysis(t: &TestApp, image_id: &str) {
    let mut conn = t.app.db.conn().await.unwrap();
    let image_id = crate::harness::row_id::<imagegraph_db::ImageId>(image_id);
    let payload = json!({ "type": "analysisCompleted", "imageId": image_id }).to_string();
    diesel::sql_query("SELECT pg_notify('imagegraph_events', $1)")
        .bind::<diesel::sql_types::Text, _>(payload)
        .execute(&mut conn)
        .await
        .unwrap();
}

/// The next message for subscription `id`, asserting it is a result.
async fn next_for(client: &mut Client, id: &str) -> Value {
    let message = client
        .next_message(Duration::from_secs(5))
        .await
        .unwrap_or_else(|| panic!("nothing for {id}"));
    assert_eq!(message["id"], id, "{message}");
    assert_eq!(message["type"], "next", "{message}");
    message["payload"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_socket_runs_at_most_the_configured_subscriptions() {
    let t = TestApp::start_with(|c| c.http.ws_max_subscriptions_per_socket = 2).await;
    let image = t.upload_png(&t.alice.token).await;
    let mut client = Client::connect(t.addr, Some(&t.alice.token), false)
        .await
        .unwrap();
    client.subscribe("a", ANY_ANALYSIS, json!({})).await;
    client.subscribe("b", ANY_ANALYSIS, json!({})).await;
    client.subscribe("c", ANY_ANALYSIS, json!({})).await;
    let refused = next_for(&mut client, "c").await;
    assert_eq!(error_code(&refused), Some("QUOTA_EXCEEDED"), "{refused}");
    let extensions = &refused["errors"][0]["extensions"];
    assert_eq!(extensions["quota"], "subscriptionsPerSocket", "{refused}");
    assert_eq!(extensions["limit"], 2, "{refused}");
    let done = client.next_message(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        (done["type"].as_str(), done["id"].as_str()),
        (Some("complete"), Some("c"))
    );

    // The socket is still open and the first two still deliver.
    announce_analysis(&t, &image).await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        let message = client.next_message(Duration::from_secs(5)).await.unwrap();
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(
            message["payload"]["data"]["analysisCompleted"]["id"],
            image.as_str()
        );
        seen.push(message["id"].as_str().unwrap().to_owned());
    }
    seen.sort();
    assert_eq!(seen, ["a", "b"]);

    // A stopped subscription gives its place back.
    client.send(json!({ "id": "a", "type": "complete" })).await;
    let stopped = client.next_message(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        (stopped["type"].as_str(), stopped["id"].as_str()),
        (Some("complete"), Some("a"))
    );
    client.subscribe("d", ANY_ANALYSIS, json!({})).await;
    announce_analysis(&t, &image).await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        let message = client.next_message(Duration::from_secs(5)).await.unwrap();
        assert_eq!(message["type"], "next", "{message}");
        assert!(message["payload"]["errors"].is_null(), "{message}");
        seen.push(message["id"].as_str().unwrap().to_owned());
    }
    seen.sort();
    assert_eq!(seen, ["b", "d"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribers_of_one_event_share_one_load() {
    let t = TestApp::start().await;
    let image = t.upload_png(&t.alice.token).await;
    let query = "subscription($id: ID) { analysisCompleted(imageId: $id) { id } }";
    let mut clients = Vec::new();
    for n in 0..10 {
        let token = if n % 2 == 0 {
            &t.alice.token
        } else {
            &t.bob.token
        };
        let mut client = Client::connect(t.addr, Some(token), false).await.unwrap();
        client.subscribe("s", query, json!({ "id": image })).await;
        clients.push(client);
    }
    let before = t.app.events.shared_loads();
    announce_analysis(&t, &image).await;
    for client in &mut clients {
        let payload = next_for(client, "s").await;
        assert_eq!(
            payload["data"]["analysisCompleted"]["id"],
            image.as_str(),
            "{payload}"
        );
    }
    assert_eq!(t.app.events.shared_loads() - before, 1);
}

/// Opens a socket as a trusted proxy would for `client`, sends `connection_init`, and
/// returns the first answer (`connection_ack`, or the close code) with the socket.
async fn open_forwarded_for(t: &TestApp, client: &str) -> (String, impl Sized + use<>) {
    use futures::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

    let mut request = format!("ws://{}/graphql/ws", t.addr)
        .into_client_request()
        .unwrap();
    let headers = request.headers_mut();
    headers.insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    headers.insert("x-forwarded-for", client.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", t.alice.token) } });
    let _ = socket.send(Message::text(init.to_string())).await;
    let answer = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("an answer in time");
    let answer = match answer {
        Some(Ok(Message::Text(text))) => {
            serde_json::from_str::<Value>(&text).unwrap()["type"].to_string()
        }
        Some(Ok(Message::Close(frame))) => frame.map_or(0, |f| u16::from(f.code)).to_string(),
        other => format!("{other:?}"),
    };
    (answer, socket)
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_a_trusted_proxy_sockets_are_counted_per_forwarded_address() {
    let t = TestApp::start_with(|c| {
        c.http.trust_forwarded_for = true;
        c.http.ws_max_sockets_per_address = 1;
    })
    .await;
    let (first, _held) = open_forwarded_for(&t, "203.0.113.1").await;
    assert_eq!(first, "\"connection_ack\"");
    // The same client again is over its cap; another behind the same proxy is not.
    let (again, _) = open_forwarded_for(&t, "203.0.113.1").await;
    assert_eq!(again, "1008");
    let (other, _held_too) = open_forwarded_for(&t, "203.0.113.2").await;
    assert_eq!(other, "\"connection_ack\"");
}
