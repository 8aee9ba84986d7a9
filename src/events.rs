//! Events between processes: published with `pg_notify` inside the transaction that
//! causes them (delivered only if it commits), received by one dedicated LISTEN
//! connection per process and fanned out in memory to subscriptions and workers.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
use futures::StreamExt as _;
use imagegraph_db::{BenchmarkRunId, CommentId, GenerationId, ImageId, UserId};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, OnceCell, broadcast, watch};
use tokio_util::sync::CancellationToken;

const EVENTS_CHANNEL: &str = "imagegraph_events";
const JOBS_CHANNEL: &str = "imagegraph_jobs";
/// How often the listener proves its connection is alive: a dead connection must be
/// noticed quickly, because notifications sent while it is down are lost.
const PING_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Event {
    AnalysisCompleted {
        image_id: ImageId,
    },
    CommentAdded {
        image_id: ImageId,
        comment_id: CommentId,
    },
    GenerationCompleted {
        generation_id: GenerationId,
    },
    BenchmarkProgress {
        run_id: BenchmarkRunId,
        fraction: f64,
        done: bool,
    },
    /// A token of this user was revoked or the user changed (sent by database
    /// triggers): cached copies must go.
    UserChanged {
        user_id: UserId,
    },
}

/// Sends `event` to every process, when the surrounding transaction commits.
pub async fn publish(conn: &mut AsyncPgConnection, event: &Event) -> diesel::QueryResult<()> {
    let payload = serde_json::to_string(event).expect("events serialise");
    diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<Text, _>(EVENTS_CHANNEL)
        .bind::<Text, _>(payload)
        .execute(conn)
        .await?;
    Ok(())
}

/// An event as subscriptions receive it: with room for the one load of the row it is
/// about, which every subscriber of the event shares.
pub struct Delivery {
    pub event: Event,
    row: OnceCell<Option<Arc<dyn Any + Send + Sync>>>,
    loads: Arc<AtomicU64>,
}

impl Delivery {
    fn new(event: Event, loads: Arc<AtomicU64>) -> Self {
        Self {
            event,
            row: OnceCell::new(),
            loads,
        }
    }

    /// What `load` gives, run by the first subscriber to ask; the others wait for it
    /// and get the same. A failed load is not kept: the next subscriber tries again.
    pub async fn shared<T, E, F>(&self, load: impl FnOnce() -> F) -> Result<Option<Arc<T>>, E>
    where
        T: Any + Send + Sync,
        F: Future<Output = Result<Option<T>, E>>,
    {
        let row = self
            .row
            .get_or_try_init(|| async {
                self.loads.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("imagegraph_subscription_loads_total").increment(1);
                let row = load().await?;
                Ok(row.map(|row| Arc::new(row) as Arc<dyn Any + Send + Sync>))
            })
            .await?;
        Ok(row.clone().and_then(|row| row.downcast::<T>().ok()))
    }
}

pub struct EventBus {
    events: broadcast::Sender<Event>,
    /// The same events for subscriptions, each with its shared load.
    deliveries: broadcast::Sender<Arc<Delivery>>,
    /// Rows loaded for deliveries, in all.
    loads: Arc<AtomicU64>,
    jobs: Arc<Notify>,
    connected: watch::Sender<bool>,
    /// Counts connections of the listener: what is cached on the strength of
    /// notifications is valid only within the connection that would have told.
    epoch: AtomicU64,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            events: broadcast::channel(1024).0,
            deliveries: broadcast::channel(1024).0,
            loads: Arc::default(),
            jobs: Arc::new(Notify::new()),
            connected: watch::channel(false).0,
            epoch: AtomicU64::new(0),
        }
    }
}

impl EventBus {
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The events for subscriptions to GraphQL clients.
    pub fn deliveries(&self) -> broadcast::Receiver<Arc<Delivery>> {
        self.deliveries.subscribe()
    }

    /// How many rows deliveries have loaded since the process started: one per event
    /// that any subscriber wanted, however many wanted it.
    pub fn shared_loads(&self) -> u64 {
        AtomicU64::load(&self.loads, Ordering::Relaxed)
    }

    /// Workers wait on this for new jobs.
    pub fn jobs_ready(&self) -> Arc<Notify> {
        self.jobs.clone()
    }

    pub fn is_connected(&self) -> bool {
        *self.connected.borrow()
    }

    /// While the listener is connected, a number that changes with every new
    /// connection: notifications may have been missed between two epochs.
    pub fn epoch(&self) -> Option<u64> {
        self.is_connected()
            .then(|| AtomicU64::load(&self.epoch, Ordering::Acquire))
    }

    /// Follows the listener's connection: after it comes back, notifications sent
    /// while it was down are lost, so whoever relied on them must look again.
    pub fn connection(&self) -> watch::Receiver<bool> {
        self.connected.subscribe()
    }

    /// Resolves once the listener is connected (again).
    pub async fn wait_connected(&self) {
        let mut rx = self.connected.subscribe();
        let _ = rx.wait_for(|connected| *connected).await;
    }

    /// Keeps a LISTEN connection open until `shutdown`, reconnecting with backoff after
    /// a drop. After a reconnect workers are woken, since notifications sent while the
    /// connection was down are gone; jobs are durable rows, so none is lost.
    pub async fn listen(&self, database_url: String, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        while !shutdown.is_cancelled() {
            match self.listen_once(&database_url, &shutdown).await {
                Ok(()) => return,
                Err(err) => {
                    self.connected.send_replace(false);
                    tracing::warn!(error = %err, retry_in = ?backoff, "event listener disconnected");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = shutdown.cancelled() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn listen_once(
        &self,
        database_url: &str,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let mut conn = AsyncPgConnection::establish(database_url).await?;
        diesel::sql_query(format!("LISTEN {EVENTS_CHANNEL}"))
            .execute(&mut conn)
            .await?;
        diesel::sql_query(format!("LISTEN {JOBS_CHANNEL}"))
            .execute(&mut conn)
            .await?;
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.connected.send_replace(true);
        self.jobs.notify_waiters();
        loop {
            {
                let mut notifications = std::pin::pin!(conn.notifications_stream());
                let ping = tokio::time::sleep(PING_INTERVAL);
                tokio::pin!(ping);
                loop {
                    tokio::select! {
                        notification = notifications.next() => match notification {
                            Some(Ok(n)) => self.dispatch(&n.channel, &n.payload),
                            Some(Err(err)) => return Err(err.into()),
                            None => anyhow::bail!("notification stream ended"),
                        },
                        () = &mut ping => break,
                        () = shutdown.cancelled() => return Ok(()),
                    }
                }
            }
            // Notifications arriving meanwhile wait in the connection's queue.
            diesel::sql_query("SELECT 1").execute(&mut conn).await?;
        }
    }

    fn dispatch(&self, channel: &str, payload: &str) {
        match channel {
            JOBS_CHANNEL => self.jobs.notify_waiters(),
            EVENTS_CHANNEL => match serde_json::from_str::<Event>(payload) {
                // No receivers is fine: nobody is subscribed.
                Ok(event) => {
                    if self.deliveries.receiver_count() > 0 {
                        let delivery = Delivery::new(event.clone(), self.loads.clone());
                        drop(self.deliveries.send(Arc::new(delivery)));
                    }
                    drop(self.events.send(event));
                }
                Err(err) => tracing::warn!(error = %err, payload, "unreadable event"),
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_have_a_stable_wire_form() {
        let id = uuid::Uuid::nil();
        let event = Event::CommentAdded {
            image_id: ImageId::from_uuid(id),
            comment_id: CommentId::from_uuid(id),
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(
            json,
            r#"{"type":"commentAdded","imageId":"00000000-0000-0000-0000-000000000000","commentId":"00000000-0000-0000-0000-000000000000"}"#
        );
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
    }
}
