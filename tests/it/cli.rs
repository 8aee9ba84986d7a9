//! The binary's subcommands, run as real processes.

use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{TestApp, TestDatabase, free_port, wait_for_http};

fn imagegraph(args: &[&str], database_url: &str, data_dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_imagegraph"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("DATA_DIR", data_dir)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn users_create_prints_a_token_that_works_and_revoke_ends_it() {
    let t = TestApp::start().await;
    let data_dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| imagegraph(args, &t.database.url, data_dir.path());

    let out = run(&["users", "create", "carol"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "the token alone on stdout: {stdout:?}"
    );
    let carol = stdout.trim().to_owned();
    let body = t.gql(&carol, "{ viewer { name role } }", json!({})).await;
    assert_eq!(
        body["data"]["viewer"],
        json!({ "name": "carol", "role": "MEMBER" })
    );

    let out = run(&["users", "create", "dave", "--admin"]);
    let dave = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(
        t.gql(&dave, "{ viewer { role } }", json!({})).await["data"]["viewer"]["role"],
        "ADMIN"
    );

    let out = run(&["users", "create", "carol"]);
    assert!(!out.status.success(), "duplicate names are refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));

    let second = String::from_utf8(run(&["users", "token", "carol"]).stdout)
        .unwrap()
        .trim()
        .to_owned();
    assert_ne!(second, carol);
    assert_eq!(
        t.gql(&second, "{ viewer { name } }", json!({})).await["data"]["viewer"]["name"],
        "carol"
    );

    assert!(run(&["users", "revoke", "carol"]).status.success());
    // Another process revoked them: this one hears of it by NOTIFY, a moment later.
    let revoked = Instant::now();
    for token in [&carol, &second] {
        loop {
            let (status, _) = t
                .gql_response(Some(token), json!({ "query": "{ viewer { name } }" }))
                .await;
            if status == 401 {
                break;
            }
            assert!(
                revoked.elapsed() < Duration::from_secs(1),
                "still {status} a second after revocation"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let listed = String::from_utf8(run(&["users", "list"]).stdout).unwrap();
    assert!(
        listed.contains("\tADMIN\tdave") && listed.contains("\tMEMBER\tcarol"),
        "{listed}"
    );
}

#[test]
fn migrate_applies_pending_migrations_once() {
    let database = TestDatabase::unmigrated();
    let data_dir = tempfile::tempdir().unwrap();
    let out = imagegraph(&["migrate"], &database.url, data_dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let migrations =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/crates/db/migrations"))
            .unwrap()
            .count();
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("{migrations} migration(s) applied"))
    );
    let again = imagegraph(&["migrate"], &database.url, data_dir.path());
    assert!(String::from_utf8_lossy(&again.stderr).contains("0 migration(s) applied"));
}

#[test]
fn schema_subcommand_prints_the_sdl() {
    let out = Command::new(env!("CARGO_BIN_EXE_imagegraph"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        imagegraph::graphql::sdl()
    );
}

/// `serve` with no DATABASE_URL: a private cluster, the first admin, the GraphiQL notice, and a
/// clean stop on SIGTERM that takes the cluster down too.
#[tokio::test(flavor = "multi_thread")]
async fn zero_setup_serve_runs_its_own_cluster_and_stops_it() {
    let data_dir = tempfile::tempdir().unwrap();
    // As root the cluster runs as `postgres`, which must be able to enter DATA_DIR.
    std::fs::set_permissions(data_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let start = |port: u16| {
        Command::new(env!("CARGO_BIN_EXE_imagegraph"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATA_DIR", data_dir.path().join("data"))
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("WEB_DIR", data_dir.path().join("web-not-built"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let stop = |child: std::process::Child| {
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "serve exits cleanly on SIGTERM: {:?}",
            out.status
        );
        String::from_utf8(out.stdout).unwrap()
    };

    let port = free_port();
    let child = start(port);
    let base = format!("http://127.0.0.1:{port}");
    wait_for_http(&format!("{base}/readyz"), Duration::from_secs(60)).await;
    let token_file = data_dir.path().join("data/admin-token");
    assert_eq!(
        std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();

    let client = reqwest::Client::new();
    let viewer: serde_json::Value = client
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": "{ viewer { name role } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        viewer["data"]["viewer"],
        json!({ "name": "admin", "role": "ADMIN" })
    );
    // Without built browser assets, `/` says so and how to build them.
    let page = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status(), 503);
    let page = page.text().await.unwrap();
    assert!(page.contains("scripts/web.sh build"), "{page}");

    let stdout = stop(child);
    assert!(
        stdout.contains(&token),
        "the first start prints the admin token"
    );
    let pid_file = data_dir.path().join("data/postgres/data/postmaster.pid");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pid_file.exists() {
        assert!(
            Instant::now() < deadline,
            "the private cluster was not stopped"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // A second start reuses the cluster and its users, and prints no new token.
    let port = free_port();
    let child = start(port);
    wait_for_http(
        &format!("http://127.0.0.1:{port}/readyz"),
        Duration::from_secs(60),
    )
    .await;
    let (status, _) = {
        let r = client
            .post(format!("http://127.0.0.1:{port}/graphql"))
            .bearer_auth(&token)
            .json(&json!({ "query": "{ viewer { name } }" }))
            .send()
            .await
            .unwrap();
        (r.status(), ())
    };
    assert_eq!(status, 200);
    assert!(!stop(child).contains("igt_"), "no second token");
}

#[test]
fn serve_refuses_a_media_secret_file_shorter_than_32_bytes() {
    let database = TestDatabase::new();
    let data_dir = tempfile::tempdir().unwrap();
    let secret_file = data_dir.path().join("media-secret");
    // 31 bytes, hex-encoded: signatures made with it could be forged.
    std::fs::write(&secret_file, format!("{}\n", "ab".repeat(31))).unwrap();
    let port = free_port();
    let out = Command::new(env!("CARGO_BIN_EXE_imagegraph"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &database.url)
        .env("DATA_DIR", data_dir.path())
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("media-secret holds a media secret of 31 bytes; at least 32 are needed"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&secret_file).unwrap(),
        format!("{}\n", "ab".repeat(31)),
        "the file is left for its owner to deal with"
    );

    // 32 bytes are enough, and a generated secret is that long too.
    std::fs::write(&secret_file, "cd".repeat(32)).unwrap();
    let mut server = crate::harness::spawn_imagegraph(
        "serve",
        &[
            ("DATABASE_URL", &database.url),
            ("DATA_DIR", &data_dir.path()),
            ("LISTEN_ADDR", &format!("127.0.0.1:{port}")),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            server.0.try_wait().unwrap().is_none(),
            "serve accepts a 32-byte secret"
        );
        assert!(Instant::now() < deadline, "serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `serve` and `worker` take every server setting; the other subcommands list only
/// what they use, so their few options are easy to find.
#[test]
fn each_subcommand_lists_only_the_settings_it_uses() {
    let help = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_imagegraph"))
            .args(args)
            .arg("--help")
            .env_clear()
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let server_only = [
        "--listen-addr",
        "--max-upload-bytes",
        "--openai-api-key",
        "--workers",
        "--rate-limit-costly-burst",
        "--media-secret",
        "--memory-budget-mb",
        "--metrics-token",
    ];
    let database = ["--database-url", "--database-pool-size", "--data-dir"];
    for command in [&["serve"][..], &["worker"]] {
        let text = help(command);
        for flag in server_only
            .iter()
            .chain(&database)
            .chain(&["--storage-url"])
        {
            assert!(text.contains(flag), "{command:?} lacks {flag}:\n{text}");
        }
    }
    let narrow: [(&[&str], &[&str]); 7] = [
        (&["users"], &database),
        (&["users", "create"], &database),
        (&["users", "list"], &database),
        (&["migrate"], &database),
        (
            &["gc"],
            &[
                "--database-url",
                "--data-dir",
                "--storage-url",
                "--grace-secs",
            ],
        ),
        (&["schema"], &[]),
        (&["bench", "hpl"], &["--n", "--threads"]),
    ];
    for (command, expected) in narrow {
        let text = help(command);
        for flag in expected {
            assert!(text.contains(flag), "{command:?} lacks {flag}:\n{text}");
        }
        for flag in server_only {
            assert!(!text.contains(flag), "{command:?} lists {flag}:\n{text}");
        }
        assert!(text.contains("--log-format"), "{command:?}:\n{text}");
        if !command.starts_with(&["gc"]) {
            assert!(!text.contains("--storage-url"), "{command:?}:\n{text}");
        }
        if matches!(command, ["schema"] | ["bench", "hpl"]) {
            assert!(!text.contains("--database-url"), "{command:?}:\n{text}");
        }
    }
}
