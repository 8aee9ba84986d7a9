#![allow(
    dead_code,
    reason = "each benchmark uses a different part of this module"
)]

//! Shared by the benchmarks: a PostgreSQL server and a fresh migrated database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
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
