#![allow(
    dead_code,
    reason = "each benchmark uses a different part of this module"
)]

//! Shared by the benchmarks: a PostgreSQL server and a fresh migrated database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel_async::{
    AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _, SimpleAsyncConnection as _,
};
use imagegraph_db::local_cluster::{LocalCluster, Options};

/// BENCH_DATABASE_URL, or a private cluster under target/bench-pg (kept alive by the
/// returned handle).
pub(crate) fn server() -> anyhow::Result<(String, Option<LocalCluster>)> {
    Ok(match std::env::var("BENCH_DATABASE_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-pg");
            let cluster = LocalCluster::start(&root, Options { ephemeral: true })?;
            (cluster.url("postgres"), Some(cluster))
        }
    })
}

/// Drops and recreates database `name`, migrated; returns its URL.
pub(crate) async fn fresh_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(admin_url)?;
    url.set_path(&format!("/{name}"));
    let mut admin = AsyncPgConnection::establish(admin_url).await?;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    imagegraph_db::migrate(url.as_str()).await?;
    Ok(url.into())
}

/// The value after `--name` on the command line, if any.
pub(crate) fn flag(name: &str) -> Option<String> {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter()
        .position(|a| a == name)
        .and_then(|i| argv.get(i + 1))
        .cloned()
}

/// `--name`'s value parsed, or `default`.
pub(crate) fn flag_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    flag(name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} {v}: not a valid value"))
    })
}

/// `--name`'s comma-separated numbers, or `default`.
pub(crate) fn flag_list(name: &str, default: Vec<usize>) -> Vec<usize> {
    flag(name).map_or(default, |v| {
        v.split(',').map(|n| n.parse().unwrap()).collect()
    })
}

/// Runs a seed file (`:images` replaced by the count), then `VACUUM ANALYZE` as a
/// statement of its own so autovacuum does not wake up mid-measurement.
pub(crate) async fn seed(db_url: &str, sql: &str, images: i64) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(db_url).await?;
    conn.batch_execute(&sql.replace(":images", &images.to_string()))
        .await?;
    conn.batch_execute("VACUUM ANALYZE").await?;
    Ok(())
}

/// The real service serving `db_url` in-process, with a member to ask as.
pub(crate) struct Served {
    pub db: imagegraph_db::Db,
    pub endpoint: String,
    pub token: String,
    pub client: reqwest::Client,
    _background: imagegraph::startup::Background,
    _data_dir: tempfile::TempDir,
}

/// Starts the router on a free port (no workers, a pool of 16) and creates the member
/// `bench`.
pub(crate) async fn serve(db_url: &str) -> anyhow::Result<Served> {
    let data_dir = tempfile::tempdir()?;
    let mut config = imagegraph::config::Config::defaults();
    config.data_dir = data_dir.path().to_path_buf();
    config.http.public_url = Some("http://localhost:8080".parse().unwrap());
    config.jobs.workers = 0;
    config.database.database_pool_size = 16;
    let db = imagegraph_db::Db::connect(db_url, config.database.database_pool_size).await?;
    let storage = imagegraph::storage::Storage::from_url(None, data_dir.path())?;
    let app = imagegraph::app::App::new(config, db.clone(), storage, vec![7; 32])?;
    let (_, token) =
        imagegraph::use_cases::users::create(&app.db, "bench", imagegraph_db::models::Role::Member)
            .await
            .map_err(|e| anyhow::anyhow!(e.public_message()))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}/graphql", listener.local_addr()?);
    let background = imagegraph::startup::Background::start(&app, false);
    tokio::spawn(imagegraph::http::serve(
        listener,
        app,
        tokio_util::sync::CancellationToken::new(),
    ));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    Ok(Served {
        db,
        endpoint,
        token,
        client,
        _background: background,
        _data_dir: data_dir,
    })
}

/// `warmup` of load (results dropped), then `measured` of it.
pub(crate) async fn measure(
    served: &Served,
    body: &Arc<String>,
    connections: usize,
    warmup: Duration,
    measured: Duration,
) -> LoadResult {
    let (client, endpoint, token) = (&served.client, &served.endpoint, &served.token);
    drive(client, endpoint, token, body, connections, warmup).await;
    drive(client, endpoint, token, body, connections, measured).await
}

/// `cargo bench` passes --bench; `cargo test --bench NAME` does not: then run quick.
pub(crate) fn quick_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench")
}

pub(crate) fn percentile(sorted: &[std::time::Duration], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

pub(crate) struct LoadResult {
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: usize,
}

/// Drives `connections` concurrent clients posting `body` until `duration` is up.
pub(crate) async fn drive(
    client: &reqwest::Client,
    endpoint: &str,
    token: &str,
    body: &Arc<String>,
    connections: usize,
    duration: Duration,
) -> LoadResult {
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (client, endpoint, token, body) = (
                client.clone(),
                endpoint.to_owned(),
                token.to_owned(),
                body.clone(),
            );
            tokio::spawn(async move {
                let (mut latencies, mut errors) = (Vec::new(), 0usize);
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let response = client
                        .post(&endpoint)
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(body.as_ref().clone())
                        .send()
                        .await;
                    let ok = match response {
                        Ok(r) => {
                            r.status().is_success()
                                && r.bytes()
                                    .await
                                    .is_ok_and(|b| !b.windows(9).any(|w| w == b"\"errors\":"))
                        }
                        Err(_) => false,
                    };
                    latencies.push(sent.elapsed());
                    errors += usize::from(!ok);
                }
                (latencies, errors)
            })
        })
        .collect();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for worker in workers {
        let (l, e) = worker.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    LoadResult {
        requests_per_second: latencies.len() as f64 / elapsed,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        errors,
    }
}
