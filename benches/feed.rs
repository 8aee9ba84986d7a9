//! Feed benchmark: seeds images with comments, serves the real router in-process and
//! drives the feed query (PEERS.md's shape) at several concurrencies, printing
//! requests per second and latency percentiles.
//!
//!     cargo bench --bench feed                    # 10,000 images, 10 s per row
//!     cargo bench --bench feed -- --seconds 20 --concurrency 8,64
//!     cargo test --bench feed                     # quick mode (CI): tiny, 1 s
//!
//! Uses BENCH_DATABASE_URL (a server it may create a database on) or a private cluster
//! under target/bench-pg.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use diesel_async::{AsyncConnection as _, AsyncPgConnection, SimpleAsyncConnection as _};
use serde_json::{Value, json};

const FEED: &str = "query($after: String) { images(first: 10, after: $after) { edges { cursor node { id url thumbnailUrl description commentCount owner { name } comments(first: 5) { edges { node { id text author { name } } } } } } pageInfo { endCursor hasNextPage } } }";

struct Args {
    quick: bool,
    images: i64,
    seconds: u64,
    warmup: u64,
    concurrency: Vec<usize>,
}

fn args() -> Args {
    let argv: Vec<String> = std::env::args().collect();
    let quick = common::quick_mode();
    let value = |name: &str| {
        argv.iter()
            .position(|a| a == name)
            .and_then(|i| argv.get(i + 1))
            .cloned()
    };
    Args {
        quick,
        images: value("--images")
            .map(|v| v.parse().unwrap())
            .unwrap_or(if quick { 200 } else { 10_000 }),
        seconds: value("--seconds")
            .map(|v| v.parse().unwrap())
            .unwrap_or(if quick { 1 } else { 10 }),
        warmup: if quick { 0 } else { 3 },
        concurrency: value("--concurrency")
            .map(|v| v.split(',').map(|n| n.parse().unwrap()).collect())
            .unwrap_or(if quick { vec![4] } else { vec![1, 8, 64] }),
    }
}

fn main() -> anyhow::Result<()> {
    let args = args();
    let (admin_url, _cluster) = common::server()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args, admin_url))
}

async fn run(args: Args, admin_url: String) -> anyhow::Result<()> {
    let db_url = common::fresh_database(&admin_url, "imagegraph_bench").await?;
    let seeded = Instant::now();
    seed(&db_url, args.images).await?;
    eprintln!(
        "seeded {} images x 5 comments in {:.1?}",
        args.images,
        seeded.elapsed()
    );

    let data_dir = tempfile::tempdir()?;
    let mut config = bench_config(data_dir.path());
    config.database.database_pool_size = 16;
    let db = imagegraph_db::Db::connect(&db_url, config.database.database_pool_size).await?;
    let storage = imagegraph::storage::Storage::from_url(None, data_dir.path())?;
    let app = imagegraph::app::App::new(config, db, storage, vec![7; 32])?;
    let (_, token) =
        imagegraph::use_cases::users::create(&app.db, "bench", imagegraph_db::models::Role::Member)
            .await
            .map_err(|e| anyhow::anyhow!(e.public_message()))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}/graphql", listener.local_addr()?);
    let _background = imagegraph::startup::Background::start(&app, false);
    tokio::spawn(imagegraph::http::serve(
        listener,
        app,
        tokio_util::sync::CancellationToken::new(),
    ));

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let deep = cursor_at_page(&client, &endpoint, &token, if args.quick { 5 } else { 51 }).await?;
    println!(
        "\nfeed query, {} images; {} s per row{}",
        args.images,
        args.seconds,
        if args.quick { " (quick mode)" } else { "" }
    );
    println!("| page | connections | requests/s | p50 ms | p99 ms | errors |");
    println!("|---|---:|---:|---:|---:|---:|");
    for &connections in &args.concurrency {
        for (label, after) in [
            ("1", Value::Null),
            (if args.quick { "6" } else { "52" }, deep.clone()),
        ] {
            let body =
                Arc::new(json!({ "query": FEED, "variables": { "after": after } }).to_string());
            let warmup = Duration::from_secs(args.warmup);
            common::drive(&client, &endpoint, &token, &body, connections, warmup).await;
            let result = common::drive(
                &client,
                &endpoint,
                &token,
                &body,
                connections,
                Duration::from_secs(args.seconds),
            )
            .await;
            println!(
                "| {label} | {connections} | {:.0} | {:.2} | {:.2} | {} |",
                result.requests_per_second, result.p50_ms, result.p99_ms, result.errors
            );
            anyhow::ensure!(result.errors == 0, "{} requests failed", result.errors);
        }
    }
    Ok(())
}

fn bench_config(data_dir: &std::path::Path) -> imagegraph::config::Config {
    let mut config = imagegraph::config::Config::defaults();
    config.data_dir = data_dir.to_path_buf();
    config.http.public_url = Some("http://localhost:8080".parse().unwrap());
    config.jobs.workers = 0;
    config
}

/// The seed shared with scripts/bench_feed.py: 20 users, `:images` images (one a
/// second, back in time), 5 comments each.
const SEED_SQL: &str = include_str!("seed.sql");

async fn seed(db_url: &str, images: i64) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(db_url).await?;
    conn.batch_execute(&SEED_SQL.replace(":images", &images.to_string()))
        .await?;
    conn.batch_execute("VACUUM ANALYZE").await?;
    Ok(())
}

async fn cursor_at_page(
    client: &reqwest::Client,
    endpoint: &str,
    token: &str,
    page: usize,
) -> anyhow::Result<Value> {
    let mut after = Value::Null;
    for _ in 1..page {
        let body: Value = client
            .post(endpoint)
            .bearer_auth(token)
            .json(&json!({ "query": FEED, "variables": { "after": after } }))
            .send()
            .await?
            .json()
            .await?;
        after = body["data"]["images"]["pageInfo"]["endCursor"].clone();
        anyhow::ensure!(after.is_string(), "walking the feed failed: {body}");
    }
    Ok(after)
}
