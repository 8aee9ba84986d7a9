//! Job queue benchmark: how fast an idle worker picks up a new job (NOTIFY, not the
//! poll interval), and how many jobs per second the queue moves with a near-zero-cost
//! job (offline description of an 8x6 PNG).
//!
//!     cargo bench --bench queue              # 50 pickups, 2,000 jobs per row
//!     cargo test --bench queue               # quick mode (CI)

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use imagegraph::app::App;
use imagegraph::events::Event;
use imagegraph::startup::Background;
use imagegraph_db::models::{Role, User};

fn main() -> anyhow::Result<()> {
    let quick = common::quick_mode();
    let (admin_url, _cluster) = common::server()?;
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async {
        let db_url = common::fresh_database(&admin_url, "imagegraph_bench_queue").await?;
        let pickups = if quick { 5 } else { 50 };
        let jobs = if quick { 50 } else { 2_000 };

        let latency = pickup_latency(&db_url, pickups).await?;
        println!("\nupload committed -> analysis finished, one idle worker, poll interval 5 s ({pickups} uploads)");
        println!("| p50 ms | p99 ms | max ms |\n|---:|---:|---:|");
        println!(
            "| {:.2} | {:.2} | {:.2} |",
            common::percentile(&latency, 0.5),
            common::percentile(&latency, 0.99),
            common::percentile(&latency, 1.0)
        );

        println!("\nthroughput, {jobs} queued analysis jobs (offline provider, 8x6 PNG)");
        println!("| workers | seconds | jobs/s |\n|---:|---:|---:|");
        for workers in if quick { vec![2] } else { vec![1, 2, 4, 8] } {
            let seconds = throughput(&db_url, workers, jobs).await?;
            println!("| {workers} | {seconds:.2} | {:.0} |", jobs as f64 / seconds);
        }
        Ok(())
    })
}

async fn app(db_url: &str, workers: usize) -> anyhow::Result<(Arc<App>, User)> {
    let mut config = imagegraph::config::Config::defaults();
    config.jobs.workers = workers;
    config.storage.storage_url = Some("memory://".into());
    config.database.database_pool_size = (workers as u32 + 4).max(8);
    let db = imagegraph_db::Db::connect(db_url, config.database.database_pool_size).await?;
    let storage = imagegraph::storage::Storage::from_url(
        config.storage.storage_url.as_deref(),
        std::path::Path::new("."),
    )?;
    let app = App::new(config, db, storage, vec![3; 32])?;
    let name = format!("bench{}", uuid::Uuid::now_v7().simple());
    let (user, _) = imagegraph::use_cases::users::create(&app.db, &name[..30], Role::Member)
        .await
        .map_err(|e| anyhow::anyhow!(e.public_message()))?;
    Ok((app, user))
}

fn tiny_png() -> Vec<u8> {
    let mut out = Vec::new();
    image::DynamicImage::new_rgb8(8, 6)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

async fn pickup_latency(db_url: &str, uploads: usize) -> anyhow::Result<Vec<Duration>> {
    let (app, user) = app(db_url, 1).await?;
    let background = Background::start(&app, true);
    app.events.wait_connected().await;
    let mut events = app.events.subscribe();
    let mut latencies = Vec::new();
    for _ in 0..uploads {
        let started = Instant::now();
        let image = imagegraph::use_cases::images::upload(&app, &user, tiny_png(), true)
            .await
            .map_err(|e| anyhow::anyhow!(e.public_message()))?;
        loop {
            if let Event::AnalysisCompleted { image_id } = events.recv().await?
                && image_id == image.id
            {
                break;
            }
        }
        latencies.push(started.elapsed());
        // Let the worker go idle again, so each upload measures a wake-up.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    background.stop().await;
    latencies.sort();
    Ok(latencies)
}

async fn throughput(db_url: &str, workers: usize, jobs: usize) -> anyhow::Result<f64> {
    let (app, user) = app(db_url, workers).await?;
    // Queue everything first (no workers yet), then time the drain.
    let png = Bytes::from(tiny_png());
    for _ in 0..jobs {
        imagegraph::use_cases::images::store(
            &app,
            &user,
            png.clone(),
            imagegraph::use_cases::images::NewImage {
                source: imagegraph_db::models::image::ImageSource::Upload,
                prompt: None,
                parent_id: None,
                analyze: true,
                edits: None,
            },
            None,
        )
        .await
        .map_err(|e| anyhow::anyhow!(e.public_message()))?;
    }
    let mut events = app.events.subscribe();
    let listener = Background::start(&app, false);
    app.events.wait_connected().await;
    let started = Instant::now();
    let background = Background::start(&app, true);
    let mut done = 0;
    while done < jobs {
        if let Event::AnalysisCompleted { .. } = events.recv().await? {
            done += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    background.stop().await;
    listener.stop().await;
    Ok(seconds)
}
