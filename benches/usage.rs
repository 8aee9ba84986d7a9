//! What usage recording costs: a trivial query under load with recording on and off,
//! alternated over several rounds so drift on a shared machine affects both alike.
//!
//!     cargo bench --bench usage
//!     cargo test --bench usage        # quick mode (CI)

mod common;

use std::sync::Arc;
use std::time::Duration;

use imagegraph_db::models::Role;
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let quick = common::quick_mode();
    let (admin_url, _cluster) = common::server()?;
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async {
        let db_url = common::fresh_database(&admin_url, "imagegraph_bench_usage").await?;
        let (rounds, seconds, connections) = if quick { (1, 1, 4) } else { (5, 5, 8) };
        let on = serve(&db_url, true).await?;
        let off = serve(&db_url, false).await?;
        let (_, token) =
            imagegraph::use_cases::users::create(&on.1, "usagebench", Role::Member).await.map_err(|e| anyhow::anyhow!(e.public_message()))?;
        let body = Arc::new(json!({ "query": "query Trivial { viewer { id } }" }).to_string());
        let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
        let (mut rps_on, mut rps_off, mut p50_on, mut p50_off) = (0.0, 0.0, 0.0, 0.0);
        for _ in 0..rounds {
            for (endpoint, rps, p50) in [(&on.0, &mut rps_on, &mut p50_on), (&off.0, &mut rps_off, &mut p50_off)] {
                let result = common::drive(&client, endpoint, &token, &body, connections, Duration::from_secs(seconds)).await;
                anyhow::ensure!(result.errors == 0, "{} requests failed", result.errors);
                *rps += result.requests_per_second / rounds as f64;
                *p50 += result.p50_ms / rounds as f64;
            }
        }
        println!("\ntrivial query `{{ viewer {{ id }} }}`, {connections} connections, {rounds} x {seconds} s each way");
        println!("| usage recording | requests/s | p50 ms |\n|---|---:|---:|");
        println!("| off | {rps_off:.0} | {p50_off:.3} |");
        println!("| on | {rps_on:.0} | {p50_on:.3} |");
        println!("throughput cost of recording: {:.2}%", (rps_off - rps_on) / rps_off * 100.0);
        Ok(())
    })
}

async fn serve(db_url: &str, usage: bool) -> anyhow::Result<(String, imagegraph_db::Db)> {
    let mut config = imagegraph::config::Config::defaults();
    config.jobs.workers = 0;
    config.usage.usage_metrics = usage;
    config.storage.storage_url = Some("memory://".into());
    let db = imagegraph_db::Db::connect(db_url, 16).await?;
    let storage = imagegraph::storage::Storage::from_url(
        config.storage.storage_url.as_deref(),
        std::path::Path::new("."),
    )?;
    let app = imagegraph::app::App::new(config, db.clone(), storage, vec![5; 32])?;
    let background = imagegraph::startup::Background::start(&app, false);
    std::mem::forget(background); // runs until the process exits
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}/graphql", listener.local_addr()?);
    tokio::spawn(imagegraph::http::serve(
        listener,
        app,
        tokio_util::sync::CancellationToken::new(),
    ));
    Ok((endpoint, db))
}
