//! Bringing the process up: database (configured or private), migrations, storage,
//! secrets. Shared by every subcommand that needs them, and by the test harness.

use std::sync::Arc;

use anyhow::Context as _;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::config::{Config, DatabaseConfig, DatabaseSettings};
use crate::storage::Storage;
use imagegraph_db::local_cluster::{self, LocalCluster};
use imagegraph_db::{self, Db};

/// The database to use, and the private cluster behind it when this process runs one.
pub struct Database {
    pub url: String,
    pub cluster: Option<LocalCluster>,
}

impl Database {
    /// `DATABASE_URL` when set; otherwise the private cluster under `DATA_DIR`.
    pub async fn resolve(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        if let Some(url) = &settings.database.database_url {
            return Ok(Self {
                url: url.clone(),
                cluster: None,
            });
        }
        let root = settings.data_dir.join("postgres");
        tokio::task::spawn_blocking(move || {
            let cluster = LocalCluster::start(&root, local_cluster::Options { ephemeral: false })?;
            cluster.ensure_database("imagegraph")?;
            Ok(Self {
                url: cluster.url("imagegraph"),
                cluster: Some(cluster),
            })
        })
        .await?
    }

    /// Stops the private cluster, if this process started one.
    pub async fn shutdown(self) {
        if let Some(mut cluster) = self.cluster {
            let _ = tokio::task::spawn_blocking(move || cluster.stop()).await;
        }
    }
}

/// Migrates and connects: all the commands that manage data need.
pub async fn connect(database_url: &str, database: &DatabaseConfig) -> anyhow::Result<Db> {
    let applied = imagegraph_db::migrate(database_url).await?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    Db::connect(database_url, database.database_pool_size).await
}

/// Migrates, connects and assembles the application state.
pub async fn build_app(config: Config, database_url: &str) -> anyhow::Result<Arc<App>> {
    config.validate()?;
    let db = connect(database_url, &config.database).await?;
    let storage = Storage::from_url(config.storage.storage_url.as_deref(), &config.data_dir)
        .context("opening storage")?;
    tracing::info!(storage = storage.description(), "storage ready");
    let secret = config.load_media_secret()?;
    App::new(config, db, storage, secret)
}

/// The process's background work: the event listener, usage flushing and,
/// when asked, job workers.
pub struct Background {
    shutdown: CancellationToken,
    handles: Vec<JoinHandle<()>>,
    /// Stopped last, so the usage recorded by draining workers is flushed too.
    flusher: (CancellationToken, JoinHandle<()>),
}

impl Background {
    pub fn start(app: &Arc<App>, workers: bool) -> Self {
        let shutdown = CancellationToken::new();
        let forget = tokio::spawn(crate::token_cache::forget_changed_users(
            app.tokens.clone(),
            app.events.subscribe(),
            shutdown.clone(),
        ));
        let listener = {
            let (app, shutdown) = (app.clone(), shutdown.clone());
            tokio::spawn(async move { app.events.listen(app.db.url().to_owned(), shutdown).await })
        };
        let mut handles = vec![listener, forget];
        if workers {
            let name = format!("{}:{}", crate::host::hostname(), std::process::id());
            let count = app.config.jobs.workers;
            handles.extend(crate::jobs::spawn(app, count, &name, &shutdown));
        }
        let flush_stop = CancellationToken::new();
        let interval = std::time::Duration::from_millis(app.config.usage.usage_flush_interval_ms);
        let flusher = tokio::spawn(app.usage.clone().run_flusher(
            app.db.clone(),
            interval,
            flush_stop.clone(),
        ));
        Self {
            shutdown,
            handles,
            flusher: (flush_stop, flusher),
        }
    }

    /// Stops: workers finish their job in hand (or release it after a grace period),
    /// then recorded usage is flushed one last time.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for handle in self.handles {
            let _ = handle.await;
        }
        let (stop, flusher) = self.flusher;
        stop.cancel();
        let _ = flusher.await;
    }
}
