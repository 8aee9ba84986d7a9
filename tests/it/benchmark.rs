//! HPL runs through GraphQL: queued as jobs, progress over a WebSocket, bounds and
//! permissions.

use std::time::Duration;

use serde_json::json;

use crate::harness::{TestApp, error_code, eventually};
use crate::subscriptions::Client;

const RUN: &str = "mutation($input: RunBenchmarkInput!) { runBenchmark(input: $input) { run { id status n blockSize threads seed } } }";

#[tokio::test(flavor = "multi_thread")]
async fn a_run_reports_progress_and_a_passing_residual() {
    let t = TestApp::start().await; // the worker starts once we listen
    let body = t
        .gql(
            &t.alice.token,
            RUN,
            json!({ "input": { "n": 1000, "blockSize": 32, "threads": 1, "seed": 7 } }),
        )
        .await;
    let run = &body["data"]["runBenchmark"]["run"];
    assert_eq!(run["status"], "PENDING", "{body}");
    assert_eq!(
        (
            run["n"].as_i64(),
            run["blockSize"].as_i64(),
            run["threads"].as_i64(),
            run["seed"].as_i64()
        ),
        (Some(1000), Some(32), Some(1), Some(7))
    );
    let id = run["id"].as_str().unwrap().to_owned();

    let mut client = Client::connect(t.addr, Some(&t.alice.token), false)
        .await
        .unwrap();
    client
        .subscribe(
            "p",
            "subscription($id: ID!) { benchmarkProgress(runId: $id) { fraction done run { status gflops residual passed seconds host { cores cpuModel } } } }",
            json!({ "id": id }),
        )
        .await;
    let app = t.app.clone();
    let jobs = tokio::spawn(async move { imagegraph::jobs::run_pending(&app).await });

    let mut fractions = Vec::new();
    let last = loop {
        let event = client
            .next_event(Duration::from_secs(60))
            .await
            .expect("progress events");
        let progress = event["data"]["benchmarkProgress"].clone();
        fractions.push(progress["fraction"].as_f64().unwrap());
        if progress["done"] == true {
            break progress;
        }
        assert_eq!(progress["run"]["status"], "RUNNING");
    };
    assert!(
        fractions.len() >= 2 && fractions[0] < 1.0,
        "progress before the end: {fractions:?}"
    );
    assert!(
        fractions.windows(2).all(|w| w[0] <= w[1]),
        "monotonic: {fractions:?}"
    );
    assert_eq!(*fractions.last().unwrap(), 1.0);
    let run = &last["run"];
    assert_eq!(run["status"], "SUCCEEDED", "{last}");
    assert_eq!(run["passed"], true);
    assert!(run["residual"].as_f64().unwrap() < 16.0);
    assert!(run["gflops"].as_f64().unwrap() > 0.0 && run["seconds"].as_f64().unwrap() > 0.0);
    assert!(run["host"]["cores"].as_i64().unwrap() >= 1);
    assert_eq!(jobs.await.unwrap(), 1);

    let listed = t
        .gql(
            &t.alice.token,
            "{ benchmarkRuns { totalCount nodes { id status } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["data"]["benchmarkRuns"]["nodes"][0]["id"],
        id.as_str()
    );
    assert_eq!(t.count_rows("jobs").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_are_bounded_and_private() {
    let t = TestApp::start_with(|c| c.hpl.hpl_member_max_n = 3000).await;
    let cores = std::thread::available_parallelism().unwrap().get();
    for (token, input) in [
        (&t.alice.token, json!({ "n": 3001 })),
        (&t.admin.token, json!({ "n": 20_001 })),
        (&t.admin.token, json!({ "n": 0 })),
        (&t.admin.token, json!({ "n": 100, "blockSize": 0 })),
        (&t.admin.token, json!({ "n": 100, "blockSize": 15 })),
        (&t.admin.token, json!({ "n": 100, "blockSize": 101 })),
        (&t.admin.token, json!({ "threads": cores + 1 })),
        (&t.admin.token, json!({ "threads": 0 })),
    ] {
        let body = t.gql(token, RUN, json!({ "input": input })).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{input}: {body}");
    }
    assert_eq!(t.count_rows("benchmark_runs").await, 0);

    // Defaults: n 2000, threads all cores, block size chosen from n.
    let body = t.gql(&t.admin.token, RUN, json!({ "input": {} })).await;
    let run = &body["data"]["runBenchmark"]["run"];
    assert_eq!(
        (
            run["n"].as_i64(),
            run["threads"].as_u64(),
            run["seed"].as_i64()
        ),
        (Some(2000), Some(cores as u64), Some(1)),
        "{body}"
    );
    assert!(run["blockSize"].as_i64().unwrap() >= 1);
    let admin_run = run["id"].as_str().unwrap().to_owned();
    let body = t
        .gql(&t.alice.token, RUN, json!({ "input": { "n": 3000 } }))
        .await;
    let alice_run = body["data"]["runBenchmark"]["run"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let query = "query($id: ID!) { benchmarkRun(id: $id) { id owner { name } } }";
    assert_eq!(
        error_code(
            &t.gql(&t.alice.token, query, json!({ "id": admin_run }))
                .await
        ),
        Some("NOT_FOUND")
    );
    assert_eq!(
        t.gql(&t.admin.token, query, json!({ "id": alice_run }))
            .await["data"]["benchmarkRun"]["owner"]["name"],
        "alice"
    );
    let mine = t
        .gql(
            &t.alice.token,
            "{ benchmarkRuns { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(mine["data"]["benchmarkRuns"]["totalCount"], 1);
    let all = t
        .gql(
            &t.admin.token,
            "{ benchmarkRuns { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(all["data"]["benchmarkRuns"]["totalCount"], 2);
    let node = t
        .gql(
            &t.bob.token,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": alice_run }),
        )
        .await;
    // Relay: another's run is, through `node`, as if there were none.
    assert_eq!(node, json!({ "data": { "node": null } }));
}

#[test]
fn the_cli_prints_hpls_report_without_a_database() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_imagegraph"))
        .args([
            "bench",
            "hpl",
            "--n",
            "300",
            "--nb",
            "64",
            "--threads",
            "1",
            "--seed",
            "3",
        ])
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(report.contains("PASSED"), "{report}");
    assert!(
        report
            .lines()
            .any(|l| l.contains(" 300 ") && l.contains(" 64 ")),
        "N and NB in the table: {report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_has_one_run_at_a_time_in_a_lane_of_its_own() {
    let t = TestApp::start().await;
    let status = "query($id: ID!) { benchmarkRun(id: $id) { status } }";
    let body = t
        .gql(
            &t.alice.token,
            RUN,
            json!({ "input": { "n": 4000, "threads": 1 } }),
        )
        .await;
    let run = body["data"]["runBenchmark"]["run"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();

    // A second run waits for nobody: it is refused while the first is pending.
    let body = t
        .gql(&t.alice.token, RUN, json!({ "input": { "n": 100 } }))
        .await;
    assert_eq!(error_code(&body), Some("QUOTA_EXCEEDED"), "{body}");
    let ext = &body["errors"][0]["extensions"];
    assert_eq!(
        (
            ext["quota"].as_str(),
            ext["used"].as_u64(),
            ext["limit"].as_u64()
        ),
        (Some("activeBenchmarkRuns"), Some(1), Some(1))
    );
    assert_eq!(t.count_rows("benchmark_runs").await, 1);

    // One worker for analyses and generations: the run does not take it.
    let workers = t.start_workers(1);
    eventually(
        &t,
        &t.alice.token,
        status,
        json!({ "id": run }),
        Duration::from_secs(60),
        |b| b["data"]["benchmarkRun"]["status"] == "RUNNING",
    )
    .await;
    let image = t.upload_png_analyzed(&t.bob.token, true).await;
    eventually(
        &t,
        &t.bob.token,
        "query($id: ID!) { image(id: $id) { analysis { status } } }",
        json!({ "id": image }),
        Duration::from_secs(30),
        |b| b["data"]["image"]["analysis"]["status"] == "SUCCEEDED",
    )
    .await;
    let body = t.gql(&t.alice.token, status, json!({ "id": run })).await;
    assert_eq!(
        body["data"]["benchmarkRun"]["status"], "RUNNING",
        "the analysis finished while the run held its own lane"
    );

    // Once it is over, the next run may be asked for.
    eventually(
        &t,
        &t.alice.token,
        status,
        json!({ "id": run }),
        Duration::from_secs(300),
        |b| b["data"]["benchmarkRun"]["status"] == "SUCCEEDED",
    )
    .await;
    workers.stop().await;
    let body = t
        .gql(&t.alice.token, RUN, json!({ "input": { "n": 100 } }))
        .await;
    assert!(body["errors"].is_null(), "{body}");
}
