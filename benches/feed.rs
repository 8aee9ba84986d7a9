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
    let quick = common::quick_mode();
    Args {
        quick,
        images: common::flag_or("--images", if quick { 200 } else { 10_000 }),
        seconds: common::flag_or("--seconds", if quick { 1 } else { 10 }),
        warmup: if quick { 0 } else { 3 },
        concurrency: common::flag_list(
            "--concurrency",
            if quick { vec![4] } else { vec![1, 8, 64] },
        ),
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

    let served = common::serve(&db_url).await?;
    let deep = cursor_at_page(&served, if args.quick { 5 } else { 51 }).await?;
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
            let result = common::measure(
                &served,
                &body,
                connections,
                Duration::from_secs(args.warmup),
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

/// The seed shared with scripts/bench_feed.py: 20 users, `:images` images (one a
/// second, back in time), 5 comments each.
const SEED_SQL: &str = include_str!("seed.sql");

async fn seed(db_url: &str, images: i64) -> anyhow::Result<()> {
    common::seed(db_url, SEED_SQL, images).await
}

async fn cursor_at_page(served: &common::Served, page: usize) -> anyhow::Result<Value> {
    let mut after = Value::Null;
    for _ in 1..page {
        let body: Value = served
            .client
            .post(&served.endpoint)
            .bearer_auth(&served.token)
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
