//! The HTTP/1.1 server: an accept loop of our own, so that holding a connection open
//! costs a client something. A connection must send a complete request head within
//! `HTTP_HEADER_READ_TIMEOUT_SECS`, timed from when it opens and again from the end
//! of each response (hyper starts its header timer whenever it waits for a head, so
//! an idle keep-alive connection is dropped after the same time), and at most
//! `HTTP_MAX_CONNECTIONS` are open at once: past that the loop stops accepting and
//! further clients wait in the kernel's queue until one closes.
//!
//! Only HTTP/1.1 is served: hyper's HTTP/2 has no header-read timeout, and clients
//! reach us through a proxy or directly over cleartext HTTP/1.1 anyway.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{Service as _, service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::app::App;

/// Serves the app's router on `listener` until `shutdown`; then stops accepting, lets
/// requests in flight finish (WebSockets close themselves on the same token) and
/// returns once every connection is closed.
pub async fn serve(listener: TcpListener, app: Arc<App>, shutdown: CancellationToken) {
    let limits = &app.config.http;
    let max = limits
        .http_max_connections
        .clamp(1, u32::MAX as usize)
        .min(Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.http_header_read_timeout_secs));
    let router = super::router(app.clone(), shutdown.clone());
    loop {
        // The slot is taken before accepting: when all are held, connections wait in
        // the kernel's accept queue instead of costing us a task and buffers.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(&err).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(Held {
            stream,
            _slot: slot,
        });
        let service = TowerToHyperService::new(router.clone());
        // What `into_make_service_with_connect_info` does: handlers read the peer
        // address (per-address limits) from this extension.
        let service = service_fn(move |mut request: Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            service.call(request)
        });
        let connection = builder.serve_connection(io, service).with_upgrades();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = shutdown.cancelled() => {
                    // Finishes the request in hand, then closes; an idle connection
                    // closes at once.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(err) = result {
                tracing::debug!(error = %err, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    // Each connection holds its slot until its socket is closed, upgraded ones too:
    // with every slot back, nothing is left open.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// Errors of one connection (reset before it was accepted) are ignored; others, such
/// as running out of file descriptors, are logged and waited out.
async fn accept_failed(err: &io::Error) {
    if matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %err, "accepting a connection failed; retrying in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// A connection's socket with its slot: the slot is given back when the socket is
/// dropped, which for a WebSocket is when the socket ends, not when hyper hands it
/// over after the upgrade.
struct Held {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
}

impl AsyncRead for Held {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Held {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
