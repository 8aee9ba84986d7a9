//! WebSocket subscriptions (graphql-transport-ws and legacy graphql-ws). The token
//! comes in the `connection_init` payload: `{"Authorization": "Bearer <token>"}`.
//!
//! A socket holds no more rights than its token: when the database announces a change
//! of its user (a token revoked, the user deleted, disabled or its role changed, from
//! any replica), operations on the socket are answered as unauthenticated at once, the
//! token is checked again against the database, and the socket is closed with 4403
//! unless it still stands for the same user with the same role. The same check runs
//! after the event listener reconnects (announcements may have been missed), and a
//! check that cannot reach the database is retried, then fails closed. A socket
//! also ends when `connection_init` does not come in time (4408), when a message is
//! too large (1009), after its maximum lifetime and at shutdown (1001, going away, so
//! clients reconnect). A client address holds at most `WS_MAX_SOCKETS_PER_ADDRESS`
//! sockets and a user `WS_MAX_SOCKETS_PER_USER` (counted once `connection_init` names
//! it): one more is closed with 1008 (policy violation) and a reason.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message, close_code};
use axum::extract::{State, WebSocketUpgrade};
use axum::response::Response;
use futures::{SinkExt as _, StreamExt as _};
use imagegraph_db::models::User;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::HttpState;
use super::auth::{ClientAddr, authenticate_value, charge_anonymous};
use crate::app::App;
use crate::events::Event;
use crate::graphql::{Suspended, connection_data};
use crate::use_cases::users::Authenticated;

/// Why the server ended a socket; the first reason wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Shutdown,
    Revoked,
    InitTimeout,
    Lifetime,
    TooLarge,
    AddressSockets,
    UserSockets,
}

impl Ending {
    fn frame(self) -> CloseFrame {
        let (code, reason) = match self {
            Self::Shutdown => (close_code::AWAY, "server shutting down"),
            Self::Revoked => (4403, "Forbidden: the token was revoked or its user changed"),
            Self::InitTimeout => (4408, "Connection initialisation timeout"),
            Self::Lifetime => (close_code::AWAY, "maximum connection lifetime reached"),
            Self::TooLarge => (close_code::SIZE, "message too large"),
            Self::AddressSockets => (close_code::POLICY, "too many sockets from this address"),
            Self::UserSockets => (close_code::POLICY, "too many sockets for this user"),
        };
        CloseFrame {
            code,
            reason: reason.into(),
        }
    }
}

/// The reason a socket ends, set once, and the signal that ends it.
#[derive(Clone, Default)]
struct Closer {
    reason: Arc<Mutex<Option<Ending>>>,
    token: CancellationToken,
}

impl Closer {
    fn close(&self, why: Ending) {
        let mut reason = self
            .reason
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        reason.get_or_insert(why);
        self.token.cancel();
    }

    fn reason(&self) -> Option<Ending> {
        *self
            .reason
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

pub(super) async fn websocket(
    State(state): State<HttpState>,
    client: ClientAddr,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let limits = &state.app.config.http;
    let max_message = limits.ws_max_message_bytes;
    let init_timeout = Duration::from_secs(limits.ws_connection_init_timeout_secs);
    let lifetime = Duration::from_secs(limits.ws_max_lifetime_secs);
    let max_per_user = limits.ws_max_sockets_per_user;
    // The socket outlives the upgrade request's span: its own carries the same id, and
    // each operation on it gets one of its own (`graphql::request_ids`).
    let span = tracing::info_span!(
        "socket",
        request_id = %crate::request_id::current().unwrap_or_default()
    );
    // Taken before the upgrade, so sockets opened at once cannot all pass the check.
    let address_slot = state
        .sockets
        .by_address
        .take(client.0, limits.ws_max_sockets_per_address);
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |mut socket| {
            async move {
                let Some(_address_slot) = address_slot else {
                    let refusal = socket.send(Message::Close(Some(Ending::AddressSockets.frame())));
                    let _ = tokio::time::timeout(CLOSE_GRACE, refusal).await;
                    return;
                };
                let closer = Closer::default();
                // The user's slot, once `connection_init` names the user: held as long as
                // this future, that is as long as the socket.
                let user_slot = Arc::new(Mutex::new(None));
                // However this future ends (even dropped or panicking), the timers and the
                // rights watcher end with it.
                let _ends_tasks = closer.token.clone().drop_guard();
                let initialised = CancellationToken::new();
                let suspended = Suspended::default();
                // Every ending is a reason plus the one token the stream stops on.
                let timers = {
                    let (closer, initialised, shutdown) =
                        (closer.clone(), initialised.clone(), state.shutdown.clone());
                    tokio::spawn(async move {
                        let init = async {
                            tokio::time::sleep(init_timeout).await;
                            if !initialised.is_cancelled() {
                                closer.close(Ending::InitTimeout);
                            }
                            std::future::pending::<()>().await;
                        };
                        tokio::select! {
                            () = shutdown.cancelled() => closer.close(Ending::Shutdown),
                            () = tokio::time::sleep(lifetime) => closer.close(Ending::Lifetime),
                            () = init => {}
                            () = closer.token.cancelled() => {}
                        }
                    })
                };

                let (mut sink, stream) = socket.split();
                let too_large = closer.clone();
                // A read error ends the stream; a too-large message says why.
                let stream = stream
                    .scan((), move |(), message| {
                        std::future::ready(match message {
                            Ok(message) => Some(Ok(message)),
                            Err(err) => {
                                if is_capacity_error(err) {
                                    too_large.close(Ending::TooLarge);
                                }
                                None
                            }
                        })
                    })
                    .take_until(closer.token.clone().cancelled_owned());
                let app = state.app.clone();
                let watcher_closer = closer.clone();
                let (sockets, init_slot) = (state.sockets.clone(), user_slot.clone());
                // A close the protocol layer sends on its own (a refused `connection_init`
                // is 1002 there) says our reason instead when the server ended the socket.
                let rewrite = closer.clone();
                let replies = (&mut sink).with(move |message: Message| {
                    std::future::ready(Ok::<_, axum::Error>(match (message, rewrite.reason()) {
                        (Message::Close(_), Some(ending)) => Message::Close(Some(ending.frame())),
                        (message, _) => message,
                    }))
                });
                let serving = GraphQLWebSocket::new_with_pair(
                    replies,
                    stream,
                    state.websocket_schema.clone(),
                    protocol,
                )
                .on_connection_init(move |payload| async move {
                    initialised.cancel();
                    // Subscribed before the token is checked, so no change between the
                    // check and the watch goes unseen.
                    let changes = app.events.subscribe();
                    let value = ["Authorization", "authorization"].iter().find_map(|key| {
                        payload.get(key).and_then(|v| v.as_str()).map(str::to_owned)
                    });
                    let viewer = match value.as_deref() {
                        None => None,
                        // The cache may not have heard of a change announced just
                        // before `changes` was subscribed: the database decides.
                        Some(value) => match authenticate_value(&app, value).await {
                            Ok(Some(auth)) => crate::use_cases::users::find_token_user(
                                &app.db,
                                bearer_token(value),
                            )
                            .await
                            .ok()
                            .flatten()
                            .map(|user| Authenticated {
                                user,
                                token_id: auth.token_id,
                            }),
                            _ => None,
                        },
                    };
                    if viewer.is_none() {
                        charge_anonymous(&app, &client).map_err(|_| {
                            async_graphql::Error::new("too many requests without a valid token")
                        })?;
                    }
                    match (value, viewer) {
                        (Some(_), None) => Err(async_graphql::Error::new("the token is not valid")),
                        (Some(value), Some(auth)) => {
                            let user = auth.user.clone();
                            let Some(slot) = sockets.by_user.take(user.id, max_per_user) else {
                                watcher_closer.close(Ending::UserSockets);
                                return Err(async_graphql::Error::new(
                                    "too many sockets for this user",
                                ));
                            };
                            *init_slot
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(slot);
                            tokio::spawn(
                                watch_rights(
                                    app.clone(),
                                    user.clone(),
                                    bearer_token(&value).to_owned(),
                                    changes,
                                    suspended.clone(),
                                    watcher_closer,
                                )
                                .in_current_span(),
                            );
                            Ok(connection_data(&app, Some(auth), suspended, client.0))
                        }
                        (None, _) => Ok(connection_data(&app, None, suspended, client.0)),
                    }
                })
                .serve();
                // `serve` stops reading once the socket is to end, but a client that does
                // not read can hold it in a send: past a short grace it is dropped.
                tokio::select! {
                    () = serving => {}
                    () = async {
                        closer.token.cancelled().await;
                        tokio::time::sleep(CLOSE_GRACE).await;
                    } => {}
                }
                if let Some(ending) = closer.reason() {
                    let close = sink.send(Message::Close(Some(ending.frame())));
                    let _ = tokio::time::timeout(CLOSE_GRACE, close).await;
                }
                closer.token.cancel();
                timers.abort();
                let _ = tokio::time::timeout(CLOSE_GRACE, sink.close()).await;
            }
            .instrument(span)
        })
}

/// How long a socket being closed gets to take its close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Checks of a socket's token that may fail (the database away) before it is closed.
const RECHECK_ATTEMPTS: u32 = 5;

/// The token in an `Authorization` value (`Bearer <token>`).
fn bearer_token(value: &str) -> &str {
    value.strip_prefix("Bearer ").map_or("", str::trim)
}

fn is_capacity_error(err: axum::Error) -> bool {
    err.into_inner()
        .downcast::<tungstenite::Error>()
        .is_ok_and(|err| matches!(*err, tungstenite::Error::Capacity(_)))
}

/// Closes the socket (4403) as soon as its token no longer stands for `user` with
/// the rights it had: checked against the database (not the token cache, which may
/// not have heard of the change yet) each time the user is announced as changed and
/// each time the event listener reconnects. While a check is pending the socket is
/// suspended; a check that keeps failing closes it.
async fn watch_rights(
    app: Arc<App>,
    user: User,
    token: String,
    mut changes: broadcast::Receiver<Event>,
    suspended: Suspended,
    closer: Closer,
) {
    let mut connection = app.events.connection();
    connection.mark_unchanged();
    loop {
        let recheck = tokio::select! {
            () = closer.token.cancelled() => return,
            event = changes.recv() => match event {
                Ok(Event::UserChanged { user_id }) => user_id == user.id,
                Ok(_) => false,
                // Missed events may have been about this user.
                Err(broadcast::error::RecvError::Lagged(_)) => true,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            changed = connection.changed() => {
                if changed.is_err() {
                    return;
                }
                *connection.borrow_and_update()
            }
        };
        if !recheck {
            continue;
        }
        suspended.set(true);
        if still_stands(&app, &user, &token).await {
            suspended.set(false);
        } else {
            tracing::info!(user = %user.id, "closing a socket whose token no longer stands");
            closer.close(Ending::Revoked);
            return;
        }
    }
}

/// Whether `token` still belongs to `user` with the same role; `false` too when the
/// database cannot say after a few tries (fail closed: the client may reconnect).
async fn still_stands(app: &App, user: &User, token: &str) -> bool {
    let mut delay = Duration::from_millis(200);
    for _ in 0..RECHECK_ATTEMPTS {
        match crate::use_cases::users::find_token_user(&app.db, token).await {
            Ok(Some(now)) => return now.id == user.id && now.role == user.role,
            Ok(None) => return false,
            Err(err) => {
                tracing::warn!(error = ?err, "could not check a socket's token again; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
    false
}
