//! PostgreSQL access: the connection pool, embedded migrations, row models and the
//! private cluster used when no `DATABASE_URL` is given.

pub mod local_cluster;
pub mod models;
pub mod page;
pub mod schema;
mod text_enum;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel_async::pooled_connection::bb8::{Pool, PooledConnection};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures::FutureExt as _;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type PoolError = diesel_async::pooled_connection::bb8::RunError;
pub type Conn<'a> = PooledConnection<'a, AsyncPgConnection>;

/// The database handle shared by the whole process.
#[derive(Clone)]
pub struct Db {
    pool: Pool<AsyncPgConnection>,
    queries: Arc<AtomicU64>,
    url: Arc<str>,
}

impl Db {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let queries = Arc::new(AtomicU64::new(0));
        let counter = queries.clone();
        let mut config = ManagerConfig::default();
        // Fast: checking for an open transaction is enough; a broken connection
        // surfaces on first use and bb8 replaces it.
        config.recycling_method = RecyclingMethod::Fast;
        config.custom_setup = Box::new(move |url| {
            let counter = counter.clone();
            let url = url.to_owned();
            async move {
                let mut conn = AsyncPgConnection::establish(&url).await?;
                conn.set_instrumentation(QueryCounter(counter));
                Ok(conn)
            }
            .boxed()
        });
        let manager = AsyncDieselConnectionManager::new_with_config(url, config);
        let pool = Pool::builder()
            .max_size(max_connections)
            .connection_timeout(std::time::Duration::from_secs(10))
            .build(manager)
            .await
            .context("building the database pool")?;
        Ok(Self {
            pool,
            queries,
            url: url.into(),
        })
    }

    /// The URL the pool connects to, for dedicated connections (LISTEN).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub async fn conn(&self) -> Result<Conn<'_>, PoolError> {
        self.pool.get().await
    }

    pub fn pool_state(&self) -> bb8::State {
        self.pool.state()
    }

    /// Statements sent to PostgreSQL by this pool since it was built; tests use it to
    /// prove that nested fields are batched.
    pub fn queries_executed(&self) -> u64 {
        AtomicU64::load(&self.queries, Ordering::Relaxed)
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        let mut conn = self.conn().await?;
        diesel::sql_query("SELECT 1").execute(&mut conn).await?;
        Ok(())
    }
}

struct QueryCounter(Arc<AtomicU64>);

impl Instrumentation for QueryCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs pending migrations under an advisory lock, so replicas starting together
/// migrate once. Needs the multi-threaded runtime (the harness blocks in place).
pub async fn migrate(url: &str) -> anyhow::Result<usize> {
    const MIGRATION_LOCK: i64 = 0x1a6e_9a4f;
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .context("connecting to PostgreSQL to migrate")?;
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        .execute(&mut conn)
        .await?;
    let mut harness = AsyncMigrationHarness::new(conn);
    let applied = harness
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| anyhow::anyhow!("running migrations: {e}"))?
        .len();
    let mut conn = harness.into_inner();
    diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
        .execute(&mut conn)
        .await?;
    Ok(applied)
}
