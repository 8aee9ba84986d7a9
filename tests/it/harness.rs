//! The test harness: a real PostgreSQL (`TEST_DATABASE_URL`, or a private cluster
//! started once per test process), a migrated template database cloned for every
//! test, and the real router served on 127.0.0.1:0.

use std::io::Cursor;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use imagegraph::app::App;
use imagegraph::config::Config;
use imagegraph::startup::Background;
use imagegraph::storage::Storage;
use imagegraph_db::Db;
use imagegraph_db::local_cluster::{LocalCluster, Options};
use imagegraph_db::models::Role;
use serde_json::{Value, json};

struct Server {
    /// URL of a maintenance database on the test server.
    admin_url: String,
    template: String,
    _cluster: Option<LocalCluster>,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

fn with_database(url: &str, database: &str) -> String {
    let mut url = url::Url::parse(url).expect("database URL");
    url.set_path(&format!("/{database}"));
    url.into()
}

/// Runs async setup on its own runtime, so nothing outlives the test that asked first.
fn block_on<F: std::future::Future + Send + 'static>(future: F) -> F::Output
where
    F::Output: Send,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    })
    .join()
    .expect("setup thread panicked")
}

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        let pid = std::process::id();
        let (admin_url, cluster) = match std::env::var("TEST_DATABASE_URL") {
            Ok(url) => (url, None),
            Err(_) => {
                let root = std::env::temp_dir().join(format!("imagegraph-test-{pid}"));
                let mut cluster = LocalCluster::start(&root, Options { ephemeral: true })
                    .expect("starting a test cluster");
                cluster
                    .stop_after_exit_of(pid, &root)
                    .expect("cluster watchdog");
                (cluster.url("postgres"), Some(cluster))
            }
        };
        let template = format!("ig_tpl_{pid}");
        let (admin, tpl) = (admin_url.clone(), template.clone());
        block_on(async move {
            let mut conn = AsyncPgConnection::establish(&admin)
                .await
                .expect("connecting to the test server");
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {tpl}"))
                .execute(&mut conn)
                .await
                .unwrap();
            diesel::sql_query(format!("CREATE DATABASE {tpl}"))
                .execute(&mut conn)
                .await
                .unwrap();
            imagegraph_db::migrate(&with_database(&admin, &tpl))
                .await
                .expect("migrating the template");
        });
        Server {
            admin_url,
            template,
            _cluster: cluster,
        }
    })
}

/// A fresh, migrated, empty database; dropped again when the guard goes.
pub(crate) struct TestDatabase {
    pub url: String,
    name: String,
}

impl TestDatabase {
    pub(crate) fn new() -> Self {
        let server = server();
        let name = format!(
            "ig_t_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        );
        let (admin, template, db) = (
            server.admin_url.clone(),
            server.template.clone(),
            name.clone(),
        );
        block_on(async move {
            let mut conn = AsyncPgConnection::establish(&admin).await.unwrap();
            diesel::sql_query(format!("CREATE DATABASE {db} TEMPLATE {template}"))
                .execute(&mut conn)
                .await
                .unwrap();
        });
        Self {
            url: with_database(&server.admin_url, &name),
            name,
        }
    }

    /// An empty database with no tables, for testing migrations themselves.
    pub(crate) fn unmigrated() -> Self {
        let server = server();
        let name = format!(
            "ig_t_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        );
        let (admin, db) = (server.admin_url.clone(), name.clone());
        block_on(async move {
            let mut conn = AsyncPgConnection::establish(&admin).await.unwrap();
            diesel::sql_query(format!("CREATE DATABASE {db}"))
                .execute(&mut conn)
                .await
                .unwrap();
        });
        Self {
            url: with_database(&server.admin_url, &name),
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin, name) = (server().admin_url.clone(), self.name.clone());
        block_on(async move {
            if let Ok(mut conn) = AsyncPgConnection::establish(&admin).await {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            }
        });
    }
}

/// Defaults, made quick for tests: no workers unless a test asks, fast retries.
pub(crate) fn test_config(data_dir: PathBuf) -> Config {
    let mut config = Config::defaults();
    config.data_dir = data_dir;
    config.database.database_pool_size = 8;
    config.storage.media_secret = Some("test-media-secret-test-media-secret".into());
    config.jobs.workers = 0;
    // Limits get their own tests; elsewhere they would only make tests depend on order.
    config.rate_limits.rate_limit_costly_per_minute = 0.0;
    config.rate_limits.rate_limit_anonymous_per_minute = 0.0;
    config.rate_limits.rate_limit_uploads_per_minute = 0.0;
    config.rate_limits.rate_limit_edits_per_minute = 0.0;
    config.rate_limits.rate_limit_comments_per_minute = 0.0;
    config.rate_limits.rate_limit_login_per_minute = 0.0;
    config.rate_limits.rate_limit_login_name_per_minute = 0.0;
    config.rate_limits.rate_limit_accounts_per_minute = 0.0;
    config.http.web_dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/web"));
    config.jobs.job_backoff_ms = 20;
    config.jobs.job_lease_ms = 2_000;
    config.jobs.job_poll_interval_ms = 200;
    config.ai.ai_timeout_ms = 2_000;
    // Tests flush usage themselves; a timed flush would add statements at random.
    config.usage.usage_flush_interval_ms = 3_600_000;
    config
}

/// Job workers started by a test.
pub(crate) struct Workers {
    shutdown: tokio_util::sync::CancellationToken,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    /// Stops them the way `serve` does: the job in hand finishes or is handed back.
    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        for handle in self.handles {
            let _ = handle.await;
        }
    }
}

pub(crate) struct TestUser {
    pub token: String,
}

pub(crate) struct TestApp {
    pub app: Arc<App>,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub admin: TestUser,
    pub alice: TestUser,
    pub bob: TestUser,
    pub database: TestDatabase,
    pub data_dir: tempfile::TempDir,
    _background: Background,
}

impl TestApp {
    pub(crate) async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a server whose config `adjust` may change first.
    pub(crate) async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let database = TestDatabase::new();
        let data_dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = test_config(data_dir.path().to_path_buf());
        config.http.listen_addr = addr;
        adjust(&mut config);
        let db = Db::connect(&database.url, config.database.database_pool_size)
            .await
            .unwrap();
        let storage =
            Storage::from_url(config.storage.storage_url.as_deref(), &config.data_dir).unwrap();
        let secret = config.load_media_secret().unwrap();
        let app = App::new(config, db, storage, secret).unwrap();
        let background = Background::start(&app, app.config.jobs.workers > 0);
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            app.events.wait_connected(),
        )
        .await
        .expect("the event listener connects");

        let mut users = Vec::new();
        for (name, role) in [
            ("admin", Role::Admin),
            ("alice", Role::Member),
            ("bob", Role::Member),
        ] {
            let (_, token) = imagegraph::use_cases::users::create(&app.db, name, role)
                .await
                .unwrap();
            users.push(TestUser { token });
        }
        tokio::spawn(imagegraph::http::serve(
            listener,
            app.clone(),
            tokio_util::sync::CancellationToken::new(),
        ));
        let [admin, alice, bob] = <[TestUser; 3]>::try_from(users).ok().unwrap();
        Self {
            app,
            addr,
            client: reqwest::Client::new(),
            admin,
            alice,
            bob,
            database,
            data_dir,
            _background: background,
        }
    }

    /// Runs every job that is due now, in this task, and returns how many ran: a
    /// test needs no worker and no polling to see its jobs' effects.
    pub(crate) async fn run_jobs(&self) -> usize {
        imagegraph::jobs::run_pending(&self.app).await
    }

    /// Starts `count` job workers on this app, as `serve` does, until `stop`.
    pub(crate) fn start_workers(&self, count: usize) -> Workers {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let handles = imagegraph::jobs::spawn(&self.app, count, "test", &shutdown);
        Workers { shutdown, handles }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends a GraphQL request as JSON; returns the response body.
    pub(crate) async fn gql(&self, token: &str, query: &str, variables: Value) -> Value {
        self.gql_response(
            Some(token),
            json!({ "query": query, "variables": variables }),
        )
        .await
        .1
    }

    pub(crate) async fn gql_response(
        &self,
        token: Option<&str>,
        body: Value,
    ) -> (reqwest::StatusCode, Value) {
        let mut request = self.client.post(self.url("/graphql")).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}")),
        )
    }

    /// Uploads through the GraphQL multipart request spec.
    pub(crate) async fn upload_file(
        &self,
        token: &str,
        bytes: Vec<u8>,
        file_name: &str,
        mime: &str,
    ) -> (reqwest::StatusCode, Value) {
        let operations = json!({
            "query": "mutation($file: Upload!) { uploadImage(input: { file: $file }) { image { id contentType width height byteSize url thumbnailUrl } } }",
            "variables": { "file": null },
        });
        let form = reqwest::multipart::Form::new()
            .text("operations", operations.to_string())
            .text("map", json!({ "0": ["variables.file"] }).to_string())
            .part(
                "0",
                reqwest::multipart::Part::bytes(bytes)
                    .file_name(file_name.to_owned())
                    .mime_str(mime)
                    .unwrap(),
            );
        self.multipart(token, form).await
    }

    pub(crate) async fn multipart(
        &self,
        token: &str,
        form: reqwest::multipart::Form,
    ) -> (reqwest::StatusCode, Value) {
        let response = self
            .client
            .post(self.url("/graphql"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}")),
        )
    }

    /// Uploads a small PNG as base64 (no analysis) and returns the new image's id.
    pub(crate) async fn upload_png(&self, token: &str) -> String {
        self.upload_png_analyzed(token, false).await
    }

    pub(crate) async fn upload_png_analyzed(&self, token: &str, analyze: bool) -> String {
        let body = self
            .gql(
                token,
                "mutation($b: String!, $a: Boolean!) { uploadImage(input: { base64: $b, analyze: $a }) { image { id } } }",
                json!({ "b": base64_of(&png(8, 6)), "a": analyze }),
            )
            .await;
        body["data"]["uploadImage"]["image"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("upload failed: {body}"))
            .to_owned()
    }

    pub(crate) async fn add_comment(&self, token: &str, image_id: &str, text: &str) -> Value {
        self.gql(
            token,
            "mutation($i: ID!, $t: String!) { addComment(input: { imageId: $i, text: $t }) { comment { id text } } }",
            json!({ "i": image_id, "t": text }),
        )
        .await
    }

    pub(crate) async fn count_rows(&self, table: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.app.db.conn().await.unwrap();
        let row: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .get_result(&mut conn)
            .await
            .unwrap();
        row.n
    }

    /// Files under the local object store.
    pub(crate) fn stored_objects(&self) -> Vec<PathBuf> {
        walk(&self.data_dir.path().join("objects"))
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The `extensions.code` of the first error, if any.
pub(crate) fn error_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

pub(crate) fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    image.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

fn gradient(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 128])
    }))
}

pub(crate) fn png(width: u32, height: u32) -> Vec<u8> {
    encode(gradient(width, height), ImageFormat::Png)
}

pub(crate) fn jpeg(width: u32, height: u32) -> Vec<u8> {
    encode(gradient(width, height), ImageFormat::Jpeg)
}

pub(crate) fn gif(width: u32, height: u32) -> Vec<u8> {
    encode(
        DynamicImage::ImageRgba8(gradient(width, height).into_rgba8()),
        ImageFormat::Gif,
    )
}

pub(crate) fn webp(width: u32, height: u32) -> Vec<u8> {
    encode(gradient(width, height), ImageFormat::WebP)
}

/// A TCP port free at the time of asking, for child processes that need a fixed one.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `url` answers with a success status.
pub(crate) async fn wait_for_http(url: &str, timeout: std::time::Duration) {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Ok(response) = reqwest::get(url).await
            && response.status().is_success()
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{url} did not come up within {timeout:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Polls `query` until `done` holds for its answer; panics with the last answer after
/// `timeout`.
pub(crate) async fn eventually(
    t: &TestApp,
    token: &str,
    query: &str,
    variables: Value,
    timeout: std::time::Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let body = t.gql(token, query, variables.clone()).await;
        if done(&body) {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not done after {timeout:?}: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A child process killed when the guard goes, so a failing test leaves none behind.
pub(crate) struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `imagegraph <subcommand>` as a child process with only `PATH` and `env` in its
/// environment (nothing inherited from the test run), output discarded; it is killed
/// when the guard goes.
pub(crate) fn spawn_imagegraph(
    subcommand: &str,
    env: &[(&str, &dyn AsRef<std::ffi::OsStr>)],
) -> Killed {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_imagegraph"));
    command
        .arg(subcommand)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (key, value) in env {
        command.env(key, value.as_ref());
    }
    Killed(command.spawn().expect("starting imagegraph"))
}

/// The row id behind a global id from the API (panics on another type).
pub(crate) fn row_id<T: imagegraph_db::GlobalId>(global: &str) -> T {
    T::from_global_id(global).unwrap_or_else(|| panic!("not a {} id: {global}", T::TYPE_NAME))
}
