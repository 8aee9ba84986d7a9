//! Shared by the benchmarks: a PostgreSQL server and a fresh migrated database.

use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
use imagegraph::db::local_cluster::{LocalCluster, Options};

/// BENCH_DATABASE_URL, or a private cluster under target/bench-pg (kept alive by the
/// returned handle).
pub fn server() -> anyhow::Result<(String, Option<LocalCluster>)> {
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
pub async fn fresh_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(admin_url)?;
    url.set_path(&format!("/{name}"));
    let mut admin = AsyncPgConnection::establish(admin_url).await?;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    imagegraph::db::migrate(url.as_str()).await?;
    Ok(url.into())
}

/// `cargo bench` passes --bench; `cargo test --bench NAME` does not: then run quick.
pub fn quick_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench")
}

pub fn percentile(sorted: &[std::time::Duration], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}
