//! Search benchmark (issue 18): seeds images with descriptions, tags and 5 comments
//! each (benches/search_seed.sql), prints the `EXPLAIN (ANALYZE, BUFFERS)` of the
//! search statement, serves the real router in-process and drives a search of two
//! words plus a tag filter, first page of 10 with 5 comments under each, in both
//! orders at several concurrencies, printing requests per second and latency
//! percentiles.
//!
//!     cargo bench --bench search                          # 100,000 images, 1 and 16 connections
//!     cargo bench --bench search -- --images 20000 --seconds 5 --concurrency 1,4,16
//!     cargo bench --bench search -- --search "owl night" --tag grey
//!     cargo test --bench search                           # quick mode (CI): tiny, 1 s
//!
//! Uses BENCH_DATABASE_URL (a server it may create a database on) or a private cluster
//! under target/bench-pg.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use diesel_async::{AsyncConnection as _, AsyncPgConnection, SimpleAsyncConnection as _};
use imagegraph_db::models::image::{ImageFilter, ImageOrder};
use serde_json::{Value, json};

const SEARCH: &str = "query($filter: ImageFilter, $order: ImageOrder) { images(filter: $filter, orderBy: $order, first: 10) { totalCount edges { cursor node { id url thumbnailUrl description tags commentCount owner { name } comments(first: 5) { edges { node { id text author { name } } } } } } pageInfo { endCursor hasNextPage } } }";

struct Args {
    quick: bool,
    images: i64,
    seconds: u64,
    warmup: u64,
    concurrency: Vec<usize>,
    search: String,
    tag: String,
    total_count: bool,
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
            .unwrap_or(if quick { 2_000 } else { 100_000 }),
        seconds: value("--seconds")
            .map(|v| v.parse().unwrap())
            .unwrap_or(if quick { 1 } else { 10 }),
        warmup: if quick { 0 } else { 3 },
        concurrency: value("--concurrency")
            .map(|v| v.split(',').map(|n| n.parse().unwrap()).collect())
            .unwrap_or(if quick { vec![4] } else { vec![1, 16] }),
        search: value("--search").unwrap_or_else(|| "lighthouse fog".to_owned()),
        tag: value("--tag").unwrap_or_else(|| "blue".to_owned()),
        total_count: argv.iter().any(|a| a == "--total-count"),
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
    let db_url = common::fresh_database(&admin_url, "imagegraph_search_bench").await?;
    let seeded = Instant::now();
    seed(&db_url, args.images).await?;
    eprintln!(
        "seeded {} images with descriptions, tags and 5 comments each in {:.1?}",
        args.images,
        seeded.elapsed()
    );

    let data_dir = tempfile::tempdir()?;
    let mut config = imagegraph::config::Config::defaults();
    config.data_dir = data_dir.path().to_path_buf();
    config.http.public_url = Some("http://localhost:8080".parse().unwrap());
    config.jobs.workers = 0;
    config.database.database_pool_size = 16;
    let db = imagegraph_db::Db::connect(&db_url, config.database.database_pool_size).await?;
    let storage = imagegraph::storage::Storage::from_url(None, data_dir.path())?;
    let app = imagegraph::app::App::new(config, db, storage, vec![7; 32])?;
    let (_, token) =
        imagegraph::use_cases::users::create(&app.db, "bench", imagegraph_db::models::Role::Member)
            .await
            .map_err(|e| anyhow::anyhow!(e.public_message()))?;

    let filter = ImageFilter {
        search: Some(args.search.clone()),
        tags: vec![args.tag.clone()],
        ..ImageFilter::default()
    };
    for order in [ImageOrder::Newest, ImageOrder::Relevance] {
        let mut conn = app.db.conn().await?;
        let plan = imagegraph_db::models::Image::explain_page(
            &mut conn,
            &filter,
            order,
            &imagegraph_db::page::PageRequest::first(10),
        )
        .await?;
        println!(
            "\nEXPLAIN (ANALYZE, BUFFERS), {order:?}, search {:?}, tag {:?}:\n{}",
            args.search,
            args.tag,
            plan.join("\n")
        );
    }

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

    let query = if args.total_count {
        SEARCH.to_owned()
    } else {
        SEARCH.replace("totalCount ", "")
    };
    let filter = json!({ "search": args.search, "tags": [args.tag] });
    for order in ["NEWEST", "RELEVANCE"] {
        let body = json!({ "query": SEARCH, "variables": { "filter": filter, "order": order } });
        let answer: Value = client
            .post(&endpoint)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        let edges = answer["data"]["images"]["edges"].as_array();
        anyhow::ensure!(
            edges.is_some_and(|e| !e.is_empty()),
            "the search should find something: {answer}"
        );
        eprintln!(
            "{order}: {} matches, {} on the first page",
            answer["data"]["images"]["totalCount"],
            edges.map_or(0, Vec::len)
        );
    }

    println!(
        "\nsearch {:?} + tag {:?}, first 10 with 5 comments each{}, {} images; {} s per row{}",
        args.search,
        args.tag,
        if args.total_count {
            " and totalCount"
        } else {
            ""
        },
        args.images,
        args.seconds,
        if args.quick { " (quick mode)" } else { "" }
    );
    println!("| order | connections | requests/s | p50 ms | p99 ms | errors |");
    println!("|---|---:|---:|---:|---:|---:|");
    for &connections in &args.concurrency {
        for order in ["NEWEST", "RELEVANCE"] {
            let body = Arc::new(
                json!({ "query": query, "variables": { "filter": filter, "order": order } })
                    .to_string(),
            );
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
                "| {order} | {connections} | {:.0} | {:.2} | {:.2} | {} |",
                result.requests_per_second, result.p50_ms, result.p99_ms, result.errors
            );
            anyhow::ensure!(result.errors == 0, "{} requests failed", result.errors);
        }
    }
    Ok(())
}

/// 20 users, `:images` images with descriptions and tags, 5 comments each.
const SEED_SQL: &str = include_str!("search_seed.sql");

async fn seed(db_url: &str, images: i64) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(db_url).await?;
    conn.batch_execute(&SEED_SQL.replace(":images", &images.to_string()))
        .await?;
    conn.batch_execute("VACUUM ANALYZE").await?;
    Ok(())
}
