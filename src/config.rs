//! Typed configuration: every setting is a flag and an environment variable, grouped
//! into one struct per concern (each validates itself). `serve` and `worker` take
//! the whole [`Config`]; the other subcommands flatten only the groups they use
//! ([`DatabaseSettings`], [`GcSettings`]), so their `--help` lists only those.
//! `.env.example` documents the same names.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use imagegraph_imaging::UploadLimits;

#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    /// Where the private PostgreSQL cluster, local objects and secrets live.
    #[arg(long, env = "DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,

    #[command(flatten)]
    pub http: HttpConfig,

    #[command(flatten)]
    pub database: DatabaseConfig,

    #[command(flatten)]
    pub storage: StorageConfig,

    #[command(flatten)]
    pub images: ImageConfig,

    #[command(flatten)]
    pub ai: AiConfig,

    #[command(flatten)]
    pub jobs: JobsConfig,

    #[command(flatten)]
    pub usage: UsageConfig,

    #[command(flatten)]
    pub graphql: GraphqlConfig,

    #[command(flatten)]
    pub rate_limits: RateLimitConfig,

    #[command(flatten)]
    pub quotas: QuotaConfig,

    #[command(flatten)]
    pub hpl: HplConfig,

    #[command(flatten)]
    pub pixels: PixelConfig,
}

/// What the commands that only use the database (`migrate`, `users`) need: where it is,
/// or where the private cluster lives.
#[derive(Clone, Debug, clap::Args)]
pub struct DatabaseSettings {
    /// Where the private PostgreSQL cluster lives (when DATABASE_URL is unset).
    #[arg(long, env = "DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,

    #[command(flatten)]
    pub database: DatabaseConfig,
}

impl DatabaseSettings {
    pub fn validate(&self) -> anyhow::Result<()> {
        self.database.validate()
    }
}

/// What `gc` needs: the database and the object store.
#[derive(Clone, Debug, clap::Args)]
pub struct GcSettings {
    #[command(flatten)]
    pub database: DatabaseSettings,

    /// file:///path, s3://bucket/prefix or memory:// (default: DATA_DIR/objects).
    #[arg(
        long,
        env = "STORAGE_URL",
        global = true,
        help_heading = "Storage and media"
    )]
    pub storage_url: Option<String>,
}

#[derive(clap::Parser)]
struct DefaultsOnly {
    #[command(flatten)]
    config: Config,
}

impl Config {
    /// The database part, for `Database::resolve`.
    pub fn database_settings(&self) -> DatabaseSettings {
        DatabaseSettings {
            data_dir: self.data_dir.clone(),
            database: self.database.clone(),
        }
    }

    /// Every setting at its default, ignoring the environment: for tests and benches.
    pub fn defaults() -> Self {
        use clap::{CommandFactory as _, FromArgMatches as _};
        let command = DefaultsOnly::command().mut_args(|arg| arg.env(None::<&str>));
        let matches = command.get_matches_from(["imagegraph"]);
        DefaultsOnly::from_arg_matches(&matches)
            .expect("defaults parse")
            .config
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.http.validate()?;
        self.database.validate()?;
        self.storage.validate()?;
        self.images.validate()?;
        self.ai.validate()?;
        self.jobs.validate()?;
        self.usage.validate()?;
        self.graphql.validate()?;
        self.pixels.validate()?;
        self.rate_limits.validate()
    }

    /// The configured secret, or the one kept in the data directory (created once; two
    /// replicas starting together on one data directory end up with the same one).
    pub fn load_media_secret(&self) -> anyhow::Result<Vec<u8>> {
        if let Some(secret) = &self.storage.media_secret {
            return Ok(secret.as_bytes().to_vec());
        }
        let path = self.data_dir.join("media-secret");
        match std::fs::read_to_string(&path) {
            Ok(secret) => return media_secret_from_file(&path, &secret),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
        }
        let secret: [u8; MIN_MEDIA_SECRET_BYTES] = rand::random();
        std::fs::create_dir_all(&self.data_dir)?;
        if crate::fsutil::create_private_if_absent(&path, hex::encode(secret).as_bytes())
            .with_context(|| format!("writing {}", path.display()))?
        {
            return Ok(secret.to_vec());
        }
        let theirs = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        media_secret_from_file(&path, &theirs)
    }
}

/// The log, for every subcommand.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Logging")]
pub struct LogConfig {
    /// `text` (coloured only on a terminal) or `json` (one object per line). The
    /// filter is `RUST_LOG` (default `info`).
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_enum,
        default_value_t = crate::logging::LogFormat::Text,
        global = true
    )]
    pub log_format: crate::logging::LogFormat,
}

/// A signing key shorter than this could be guessed; `MEDIA_SECRET` itself must be at
/// least this many characters.
const MIN_MEDIA_SECRET_BYTES: usize = 32;

/// The secret kept in `DATA_DIR/media-secret`: hex, of at least 32 bytes.
fn media_secret_from_file(path: &std::path::Path, text: &str) -> anyhow::Result<Vec<u8>> {
    let secret =
        hex::decode(text.trim()).with_context(|| format!("{} is not hex", path.display()))?;
    ensure!(
        secret.len() >= MIN_MEDIA_SECRET_BYTES,
        "{} holds a media secret of {} bytes; at least {MIN_MEDIA_SECRET_BYTES} are needed. Remove the file to have \
         a new one generated (media URLs signed with the old one stop working), or set MEDIA_SECRET",
        path.display(),
        secret.len()
    );
    Ok(secret)
}

/// HTTP: where the service listens and how it treats requests.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "HTTP")]
pub struct HttpConfig {
    /// Address the HTTP server listens on.
    #[arg(
        long,
        env = "LISTEN_ADDR",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen_addr: SocketAddr,

    /// Base of absolute media URLs (default: http://LISTEN_ADDR).
    #[arg(long, env = "PUBLIC_URL", global = true)]
    pub public_url: Option<url::Url>,

    /// Longest an HTTP request may take before it is answered with a retryable error (seconds).
    #[arg(
        long,
        env = "REQUEST_TIMEOUT_SECS",
        default_value_t = 30,
        global = true
    )]
    pub request_timeout_secs: u64,

    /// Origins browsers may call the API from (comma-separated, or `*` for any).
    /// Empty: same-origin only (GraphiQL and the gallery are served by the service).
    #[arg(
        long,
        env = "CORS_ALLOWED_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    pub cors_allowed_origins: Vec<String>,

    /// Take the client address from the last `X-Forwarded-For` entry (set it only behind
    /// a reverse proxy that appends one).
    #[arg(long, env = "TRUST_FORWARDED_FOR", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub trust_forwarded_for: bool,

    /// A WebSocket that has not sent `connection_init` this long after opening is
    /// closed (4408).
    #[arg(
        long,
        env = "WS_CONNECTION_INIT_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub ws_connection_init_timeout_secs: u64,

    /// Largest WebSocket message accepted, in bytes; a larger one closes the socket
    /// (1009).
    #[arg(
        long,
        env = "WS_MAX_MESSAGE_BYTES",
        default_value_t = 65_536,
        global = true
    )]
    pub ws_max_message_bytes: usize,

    /// Longest a WebSocket stays open (seconds); then it is closed as going away
    /// (1001) and clients reconnect, with their token checked again.
    #[arg(
        long,
        env = "WS_MAX_LIFETIME_SECS",
        default_value_t = 86_400,
        global = true
    )]
    pub ws_max_lifetime_secs: u64,

    /// Most WebSockets one user may hold open at once (on this process); another is
    /// closed at its `connection_init` with 1008 (policy violation).
    #[arg(
        long,
        env = "WS_MAX_SOCKETS_PER_USER",
        default_value_t = 16,
        global = true
    )]
    pub ws_max_sockets_per_user: usize,

    /// Most WebSockets one client address may hold open at once (on this process),
    /// signed in or not; more are closed with 1008 (policy violation) on opening.
    #[arg(
        long,
        env = "WS_MAX_SOCKETS_PER_ADDRESS",
        default_value_t = 64,
        global = true
    )]
    pub ws_max_sockets_per_address: usize,

    /// Most subscriptions running at once on one WebSocket; another is answered for
    /// its id with a `QUOTA_EXCEEDED` error, then completed (the socket stays open).
    #[arg(
        long,
        env = "WS_MAX_SUBSCRIPTIONS_PER_SOCKET",
        default_value_t = 32,
        global = true
    )]
    pub ws_max_subscriptions_per_socket: usize,

    /// A connection gets this long (seconds) to send a complete request head, timed
    /// from when it opens or finished its previous response: it bounds both
    /// slow-loris clients and idle keep-alive connections.
    #[arg(
        long,
        env = "HTTP_HEADER_READ_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub http_header_read_timeout_secs: u64,

    /// Most HTTP connections (WebSockets included) open at once; further clients
    /// wait in the kernel's accept queue until one closes.
    #[arg(
        long,
        env = "HTTP_MAX_CONNECTIONS",
        default_value_t = 1_024,
        global = true
    )]
    pub http_max_connections: usize,

    /// Where the built browser assets (GraphiQL, the gallery app) are served from.
    #[arg(long, env = "WEB_DIR", default_value = "web/dist", global = true)]
    pub web_dir: PathBuf,
}

/// PostgreSQL.
#[derive(Clone, clap::Args)]
#[command(next_help_heading = "Database")]
pub struct DatabaseConfig {
    /// PostgreSQL URL; without it a private cluster runs under DATA_DIR.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// Maximum connections in the database pool.
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 16, global = true)]
    pub database_pool_size: u32,
}

/// Where image files go, and the signed URLs that serve them.
#[derive(Clone, clap::Args)]
#[command(next_help_heading = "Storage and media")]
pub struct StorageConfig {
    /// file:///path, s3://bucket/prefix or memory:// (default: DATA_DIR/objects).
    #[arg(long, env = "STORAGE_URL", global = true)]
    pub storage_url: Option<String>,

    /// Secret for signing media URLs; replicas must share it (default: generated
    /// once into DATA_DIR/media-secret).
    #[arg(long, env = "MEDIA_SECRET", hide_env_values = true, global = true)]
    pub media_secret: Option<String>,

    /// How long a signed media URL stays valid, at least (it is valid for up to twice this).
    #[arg(
        long,
        env = "MEDIA_URL_TTL_SECS",
        default_value_t = 3600,
        global = true
    )]
    pub media_url_ttl_secs: u64,
}

/// What an uploaded image may be.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Images")]
pub struct ImageConfig {
    /// Largest accepted image file, in bytes.
    #[arg(long, env = "MAX_UPLOAD_BYTES", default_value_t = 25 * 1024 * 1024, global = true)]
    pub max_upload_bytes: usize,

    /// Largest accepted image, in pixels (width x height), checked from the header.
    #[arg(
        long,
        env = "MAX_IMAGE_PIXELS",
        default_value_t = 50_000_000,
        global = true
    )]
    pub max_image_pixels: u64,
}

/// The AI provider.
#[derive(Clone, clap::Args)]
#[command(next_help_heading = "AI provider")]
pub struct AiConfig {
    /// OpenAI API key. With neither this nor OPENAI_BASE_URL, images are described
    /// offline from their pixels and generation is unavailable.
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true, global = true)]
    pub openai_api_key: Option<String>,

    /// Base URL of an OpenAI-compatible API (Ollama, vLLM, LocalAI); default OpenAI's.
    #[arg(long, env = "OPENAI_BASE_URL", global = true)]
    pub openai_base_url: Option<String>,

    /// Model that describes images.
    #[arg(
        long,
        env = "OPENAI_VISION_MODEL",
        default_value = "gpt-4o-mini",
        global = true
    )]
    pub openai_vision_model: String,

    /// Instruction sent with each image to describe.
    #[arg(
        long,
        env = "OPENAI_DESCRIBE_PROMPT",
        default_value = "Give a description of this image.",
        global = true
    )]
    pub openai_describe_prompt: String,

    /// Upper bound on the tokens of one description.
    #[arg(long, env = "OPENAI_MAX_TOKENS", default_value_t = 300, global = true)]
    pub openai_max_tokens: u32,

    /// Model that generates images (gpt-image-1, dall-e-3, ...).
    #[arg(
        long,
        env = "OPENAI_IMAGE_MODEL",
        default_value = "gpt-image-1",
        global = true
    )]
    pub openai_image_model: String,

    /// Model that plans edits from plain-language prompts, by tool calling.
    #[arg(
        long,
        env = "OPENAI_PLANNER_MODEL",
        default_value = "gpt-4o-mini",
        global = true
    )]
    pub openai_planner_model: String,

    /// Timeout of one call to the AI provider, in milliseconds.
    #[arg(long, env = "AI_TIMEOUT_MS", default_value_t = 120_000, global = true)]
    pub ai_timeout_ms: u64,
}

/// Background job workers.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Jobs")]
pub struct JobsConfig {
    /// Background workers `serve` runs in-process (0: leave jobs to `imagegraph worker`).
    #[arg(long, env = "WORKERS", default_value_t = 2, global = true)]
    pub workers: usize,

    /// Attempts a job gets before it is given up.
    #[arg(long, env = "JOB_MAX_ATTEMPTS", default_value_t = 5, global = true)]
    pub job_max_attempts: i32,

    /// A job whose worker stops renewing its lease for this long runs elsewhere (ms).
    #[arg(long, env = "JOB_LEASE_MS", default_value_t = 60_000, global = true)]
    pub job_lease_ms: u64,

    /// First retry delay (ms); doubles per attempt, with jitter, up to 5 minutes.
    #[arg(long, env = "JOB_BACKOFF_MS", default_value_t = 2_000, global = true)]
    pub job_backoff_ms: u64,

    /// On shutdown, in-flight jobs get this long (ms) to finish before they are handed
    /// back to the queue for another worker.
    #[arg(
        long,
        env = "JOB_SHUTDOWN_GRACE_MS",
        default_value_t = 10_000,
        global = true
    )]
    pub job_shutdown_grace_ms: u64,

    /// Idle workers look for due jobs at least this often (ms); NOTIFY wakes them sooner.
    #[arg(
        long,
        env = "JOB_POLL_INTERVAL_MS",
        default_value_t = 5_000,
        global = true
    )]
    pub job_poll_interval_ms: u64,
}

/// Usage metrics and the Prometheus endpoint.
#[derive(Clone, clap::Args)]
#[command(next_help_heading = "Usage metrics")]
pub struct UsageConfig {
    /// Record usage metrics (per user and global) for the `metrics` queries.
    #[arg(long, env = "USAGE_METRICS", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub usage_metrics: bool,

    /// How often recorded usage is written to PostgreSQL (ms): the most a killed process can lose.
    #[arg(
        long,
        env = "USAGE_FLUSH_INTERVAL_MS",
        default_value_t = 5_000,
        global = true
    )]
    pub usage_flush_interval_ms: u64,

    /// How long minute buckets are kept (hours); older figures come from hour buckets.
    #[arg(
        long,
        env = "USAGE_MINUTE_RETENTION_HOURS",
        default_value_t = 48,
        global = true
    )]
    pub usage_minute_retention_hours: i64,

    /// How long hour buckets are kept (days); day buckets are kept for good.
    #[arg(
        long,
        env = "USAGE_HOUR_RETENTION_DAYS",
        default_value_t = 90,
        global = true
    )]
    pub usage_hour_retention_days: i64,

    /// Most distinct names (operations, fields, functions, error codes) counted per
    /// process; later ones are counted as `other`, in PostgreSQL and in Prometheus.
    #[arg(long, env = "USAGE_MAX_LABELS", default_value_t = 1_000, global = true)]
    pub usage_max_labels: usize,

    /// Bearer token required by `/metrics` (Prometheus); unset leaves it open.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true, global = true)]
    pub metrics_token: Option<String>,
}

/// Limits on GraphQL documents.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "GraphQL")]
pub struct GraphqlConfig {
    /// Deepest selection nesting a GraphQL operation may have.
    #[arg(long, env = "MAX_QUERY_DEPTH", default_value_t = 12, global = true)]
    pub max_query_depth: usize,

    /// Highest complexity an operation may have: each field costs 1, and a connection
    /// multiplies its children by the page size it asks for.
    #[arg(
        long,
        env = "MAX_QUERY_COMPLEXITY",
        default_value_t = 5_000,
        global = true
    )]
    pub max_query_complexity: usize,

    /// Most aliased fields in one GraphQL document.
    #[arg(long, env = "MAX_QUERY_ALIASES", default_value_t = 30, global = true)]
    pub max_query_aliases: usize,

    /// Longest GraphQL document accepted, in bytes.
    #[arg(long, env = "MAX_QUERY_BYTES", default_value_t = 32_768, global = true)]
    pub max_query_bytes: usize,

    /// Most operations in one batched request.
    #[arg(
        long,
        env = "MAX_BATCH_OPERATIONS",
        default_value_t = 10,
        global = true
    )]
    pub max_batch_operations: usize,

    /// Parsed GraphQL documents remembered per schema (a document seen before skips
    /// parsing, the limits and, for the same variables, validation); also where
    /// persisted queries are kept. 0 remembers nothing.
    #[arg(
        long,
        env = "GRAPHQL_DOCUMENT_CACHE_ENTRIES",
        default_value_t = 1_000,
        global = true
    )]
    pub graphql_document_cache_entries: usize,

    /// Memory for those documents, per schema, in MiB (estimated); a document is kept
    /// only if it needs at most 1/64 of it. 0 remembers nothing.
    #[arg(
        long,
        env = "GRAPHQL_DOCUMENT_CACHE_MB",
        default_value_t = 16,
        global = true
    )]
    pub graphql_document_cache_mb: usize,

    /// Answer introspection queries (GraphiQL needs them); turn off to hide the schema.
    #[arg(long, env = "GRAPHQL_INTROSPECTION", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub graphql_introspection: bool,
}

/// Per-user and per-address rate limits.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Rate limits")]
pub struct RateLimitConfig {
    /// Costly mutations (AI analysis, uploads that trigger it, generation, prompt
    /// edits, benchmark runs) a user may make in a burst.
    #[arg(
        long,
        env = "RATE_LIMIT_COSTLY_BURST",
        default_value_t = 20,
        global = true
    )]
    pub rate_limit_costly_burst: u32,

    /// How fast a user's allowance of costly mutations refills, per minute (0: no limit).
    #[arg(
        long,
        env = "RATE_LIMIT_COSTLY_PER_MINUTE",
        default_value_t = 2.0,
        global = true
    )]
    pub rate_limit_costly_per_minute: f64,

    /// Requests without a valid token one client address may make in a burst.
    #[arg(
        long,
        env = "RATE_LIMIT_ANONYMOUS_BURST",
        default_value_t = 60,
        global = true
    )]
    pub rate_limit_anonymous_burst: u32,

    /// How fast an address's allowance of requests without a valid token refills, per
    /// minute (0: no limit).
    #[arg(
        long,
        env = "RATE_LIMIT_ANONYMOUS_PER_MINUTE",
        default_value_t = 60.0,
        global = true
    )]
    pub rate_limit_anonymous_per_minute: f64,

    /// Uploads (and images saved by edits) a user may make in a burst.
    #[arg(
        long,
        env = "RATE_LIMIT_UPLOADS_BURST",
        default_value_t = 30,
        global = true
    )]
    pub rate_limit_uploads_burst: u32,

    /// How fast a user's allowance of uploads refills, per minute (0: no limit).
    #[arg(
        long,
        env = "RATE_LIMIT_UPLOADS_PER_MINUTE",
        default_value_t = 30.0,
        global = true
    )]
    pub rate_limit_uploads_per_minute: f64,

    /// Edits (saved, replaced or previewed) a user may make in a burst.
    #[arg(
        long,
        env = "RATE_LIMIT_EDITS_BURST",
        default_value_t = 30,
        global = true
    )]
    pub rate_limit_edits_burst: u32,

    /// How fast a user's allowance of edits refills, per minute (0: no limit).
    #[arg(
        long,
        env = "RATE_LIMIT_EDITS_PER_MINUTE",
        default_value_t = 60.0,
        global = true
    )]
    pub rate_limit_edits_per_minute: f64,

    /// Comments written (added or changed) a user may make in a burst.
    #[arg(
        long,
        env = "RATE_LIMIT_COMMENTS_BURST",
        default_value_t = 20,
        global = true
    )]
    pub rate_limit_comments_burst: u32,

    /// How fast a user's allowance of comments refills, per minute (0: no limit).
    #[arg(
        long,
        env = "RATE_LIMIT_COMMENTS_PER_MINUTE",
        default_value_t = 30.0,
        global = true
    )]
    pub rate_limit_comments_per_minute: f64,

    /// Sign-in attempts (`login`) one client address may make in a burst.
    #[arg(
        long,
        env = "RATE_LIMIT_LOGIN_BURST",
        default_value_t = 10,
        global = true
    )]
    pub rate_limit_login_burst: u32,

    /// How fast an address's allowance of sign-in attempts refills, per minute (0: no
    /// limit).
    #[arg(
        long,
        env = "RATE_LIMIT_LOGIN_PER_MINUTE",
        default_value_t = 10.0,
        global = true
    )]
    pub rate_limit_login_per_minute: f64,

    /// Failed sign-in attempts (and failed `changePassword` checks) one user name may
    /// take in a burst from one address; from all addresses together, ten times as
    /// many. Only failures count, and one address cannot spend a name's whole
    /// allowance, so nobody locks an account out from one address; guessing one
    /// account's password from many addresses stays bounded.
    #[arg(
        long,
        env = "RATE_LIMIT_LOGIN_NAME_BURST",
        default_value_t = 5,
        global = true
    )]
    pub rate_limit_login_name_burst: u32,

    /// How fast a name's allowance of failed sign-in attempts refills, per minute, per
    /// address (ten times that from all addresses; 0: no limit).
    #[arg(
        long,
        env = "RATE_LIMIT_LOGIN_NAME_PER_MINUTE",
        default_value_t = 5.0,
        global = true
    )]
    pub rate_limit_login_name_per_minute: f64,

    /// Account changes (createUser, updateUser, createApiToken, revokeApiToken,
    /// changePassword) a user may make in a burst.
    #[arg(
        long,
        env = "RATE_LIMIT_ACCOUNTS_BURST",
        default_value_t = 20,
        global = true
    )]
    pub rate_limit_accounts_burst: u32,

    /// How fast a user's allowance of account changes refills, per minute (0: no limit).
    #[arg(
        long,
        env = "RATE_LIMIT_ACCOUNTS_PER_MINUTE",
        default_value_t = 20.0,
        global = true
    )]
    pub rate_limit_accounts_per_minute: f64,

    /// Password hashes (Argon2id, about 19 MiB and tens of milliseconds of a core each)
    /// computed at once; more wait their turn (0: half the cores, at least one).
    #[arg(
        long,
        env = "PASSWORD_HASH_CONCURRENCY",
        default_value_t = 0,
        global = true
    )]
    pub password_hash_concurrency: usize,
}

/// What one member may keep stored; admins are exempt.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Quotas")]
pub struct QuotaConfig {
    /// Most images (versions included) a member may own (0: no limit).
    #[arg(
        long,
        env = "QUOTA_MAX_IMAGES",
        default_value_t = 10_000,
        global = true
    )]
    pub quota_max_images: u64,

    /// Most bytes of image files a member may own, in MiB (0: no limit).
    #[arg(
        long,
        env = "QUOTA_MAX_STORED_MB",
        default_value_t = 5_120,
        global = true
    )]
    pub quota_max_stored_mb: u64,
}

/// The HPL benchmark.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Benchmark")]
pub struct HplConfig {
    /// Largest HPL order `n` an admin may run (memory: 8 n^2 bytes).
    #[arg(long, env = "HPL_MAX_N", default_value_t = 20_000, global = true)]
    pub hpl_max_n: i32,

    /// Largest HPL order `n` a member may run.
    #[arg(long, env = "HPL_MEMBER_MAX_N", default_value_t = 4_000, global = true)]
    pub hpl_member_max_n: i32,
}

impl HttpConfig {
    fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            self.request_timeout_secs > 0
                && self.ws_connection_init_timeout_secs > 0
                && self.ws_max_lifetime_secs > 0,
            "REQUEST_TIMEOUT_SECS, WS_CONNECTION_INIT_TIMEOUT_SECS and WS_MAX_LIFETIME_SECS must be positive"
        );
        ensure!(
            self.ws_max_message_bytes >= 1024,
            "WS_MAX_MESSAGE_BYTES must be at least 1024"
        );
        ensure!(
            self.ws_max_sockets_per_user > 0
                && self.ws_max_sockets_per_address > 0
                && self.ws_max_subscriptions_per_socket > 0
                && self.http_header_read_timeout_secs > 0
                && self.http_max_connections > 0,
            "WS_MAX_SOCKETS_PER_USER, WS_MAX_SOCKETS_PER_ADDRESS, WS_MAX_SUBSCRIPTIONS_PER_SOCKET, \
             HTTP_HEADER_READ_TIMEOUT_SECS and HTTP_MAX_CONNECTIONS must be positive"
        );
        for origin in &self.cors_allowed_origins {
            let valid = origin == "*"
                || url::Url::parse(origin).is_ok_and(|url| {
                    matches!(url.scheme(), "http" | "https")
                        && url.has_host()
                        && url.path() == "/"
                        && url.query().is_none()
                });
            if !valid {
                bail!(
                    "CORS_ALLOWED_ORIGINS: `{origin}` is not `*` or an origin like https://app.example.com"
                );
            }
        }
        Ok(())
    }

    pub fn public_url(&self) -> url::Url {
        self.public_url.clone().unwrap_or_else(|| {
            url::Url::parse(&format!("http://{}", self.listen_addr))
                .expect("a socket address makes a valid URL")
        })
    }
}

impl DatabaseConfig {
    fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            self.database_pool_size > 0,
            "DATABASE_POOL_SIZE must be at least 1"
        );
        Ok(())
    }
}

impl StorageConfig {
    fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            self.media_url_ttl_secs >= 60,
            "MEDIA_URL_TTL_SECS must be at least 60"
        );
        if let Some(secret) = &self.media_secret {
            ensure!(
                secret.len() >= MIN_MEDIA_SECRET_BYTES,
                "MEDIA_SECRET must be at least {MIN_MEDIA_SECRET_BYTES} characters"
            );
        }
        Ok(())
    }
}

impl ImageConfig {
    fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            self.max_upload_bytes > 0 && self.max_image_pixels > 0,
            "MAX_UPLOAD_BYTES and MAX_IMAGE_PIXELS must be positive"
        );
        Ok(())
    }

    pub fn upload_limits(&self) -> UploadLimits {
        UploadLimits {
            max_bytes: self.max_upload_bytes,
            max_pixels: self.max_image_pixels,
            // Shapes are checked on upload only (`PixelConfig::upload_limits`).
            max_side: 0,
            max_aspect_ratio: 0,
        }
    }
}

impl AiConfig {
    fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            self.openai_max_tokens > 0 && self.ai_timeout_ms > 0,
            "OPENAI_MAX_TOKENS and AI_TIMEOUT_MS must be positive"
        );
        Ok(())
    }
}

impl JobsConfig {
    fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            self.job_max_attempts >= 1 && self.job_lease_ms >= 100 && self.job_poll_interval_ms > 0,
            "JOB_MAX_ATTEMPTS must be at least 1, JOB_LEASE_MS at least 100, JOB_POLL_INTERVAL_MS positive"
        );
        Ok(())
    }

    pub fn worker_config(&self) -> imagegraph_jobs::WorkerConfig {
        imagegraph_jobs::WorkerConfig {
            lease: Duration::from_millis(self.job_lease_ms),
            max_attempts: self.job_max_attempts,
            poll_interval: Duration::from_millis(self.job_poll_interval_ms),
            backoff_base: Duration::from_millis(self.job_backoff_ms),
            backoff_cap: Duration::from_secs(300),
            shutdown_grace: Duration::from_millis(self.job_shutdown_grace_ms),
        }
    }
}

impl UsageConfig {
    fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            self.usage_flush_interval_ms > 0
                && self.usage_minute_retention_hours >= 1
                && self.usage_hour_retention_days >= 1
                && self.usage_max_labels >= 1,
            "USAGE_FLUSH_INTERVAL_MS, USAGE_MINUTE_RETENTION_HOURS, USAGE_HOUR_RETENTION_DAYS and USAGE_MAX_LABELS must be positive"
        );
        Ok(())
    }
}

impl GraphqlConfig {
    fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            self.max_query_depth > 0
                && self.max_query_complexity > 0
                && self.max_query_bytes > 0
                && self.max_batch_operations > 0,
            "MAX_QUERY_DEPTH, MAX_QUERY_COMPLEXITY, MAX_QUERY_BYTES and MAX_BATCH_OPERATIONS must be positive"
        );
        ensure!(
            self.graphql_document_cache_mb <= 4096,
            "GRAPHQL_DOCUMENT_CACHE_MB is at most 4096"
        );
        Ok(())
    }
}

impl RateLimitConfig {
    fn validate(&self) -> anyhow::Result<()> {
        for (name, rate, burst) in [
            (
                "COSTLY",
                self.rate_limit_costly_per_minute,
                self.rate_limit_costly_burst,
            ),
            (
                "ANONYMOUS",
                self.rate_limit_anonymous_per_minute,
                self.rate_limit_anonymous_burst,
            ),
            (
                "UPLOADS",
                self.rate_limit_uploads_per_minute,
                self.rate_limit_uploads_burst,
            ),
            (
                "EDITS",
                self.rate_limit_edits_per_minute,
                self.rate_limit_edits_burst,
            ),
            (
                "COMMENTS",
                self.rate_limit_comments_per_minute,
                self.rate_limit_comments_burst,
            ),
            (
                "LOGIN",
                self.rate_limit_login_per_minute,
                self.rate_limit_login_burst,
            ),
            (
                "LOGIN_NAME",
                self.rate_limit_login_name_per_minute,
                self.rate_limit_login_name_burst,
            ),
            (
                "ACCOUNTS",
                self.rate_limit_accounts_per_minute,
                self.rate_limit_accounts_burst,
            ),
        ] {
            ensure!(
                rate.is_finite() && rate >= 0.0,
                "RATE_LIMIT_{name}_PER_MINUTE must be a number of at least 0"
            );
            ensure!(burst > 0, "RATE_LIMIT_{name}_BURST must be at least 1");
        }
        Ok(())
    }
}

/// Secrets and credentials stay out of logs.
fn set(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "<set>")
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("database_url", &set(&self.database_url))
            .field("database_pool_size", &self.database_pool_size)
            .finish()
    }
}

impl fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageConfig")
            .field("storage_url", &self.storage_url)
            .field("media_secret", &set(&self.media_secret))
            .field("media_url_ttl_secs", &self.media_url_ttl_secs)
            .finish()
    }
}

impl fmt::Debug for AiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AiConfig")
            .field("openai_api_key", &set(&self.openai_api_key))
            .field("openai_base_url", &self.openai_base_url)
            .field("openai_vision_model", &self.openai_vision_model)
            .field("openai_image_model", &self.openai_image_model)
            .field("openai_planner_model", &self.openai_planner_model)
            .field("ai_timeout_ms", &self.ai_timeout_ms)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for UsageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsageConfig")
            .field("usage_metrics", &self.usage_metrics)
            .field("usage_flush_interval_ms", &self.usage_flush_interval_ms)
            .field("metrics_token", &set(&self.metrics_token))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        let mut config = Config::defaults();
        config.database.database_url = Some("postgres://u:hunter2@db/x".into());
        config.storage.media_secret = Some("m".repeat(40));
        config.ai.openai_api_key = Some("sk-secret-key".into());
        config.usage.metrics_token = Some("scrape-token".into());
        let debug = format!("{config:?}");
        for secret in ["hunter2", "mmmm", "sk-secret-key", "scrape-token"] {
            assert!(!debug.contains(secret), "{secret} leaked: {debug}");
        }
        assert!(debug.contains("<set>"));
    }

    #[test]
    fn each_concern_validates_itself() {
        assert!(Config::defaults().validate().is_ok());
        let mut config = Config::defaults();
        config.jobs.job_max_attempts = 0;
        assert!(config.validate().is_err());
        let mut config = Config::defaults();
        config.http.cors_allowed_origins = vec!["not a url".into()];
        assert!(config.validate().is_err());
    }
}

/// Memory for pixel work, and the shapes an upload may have.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Pixel work")]
pub struct PixelConfig {
    /// Memory all decodes, thumbnails, edits and previews may hold at once, in MiB.
    /// Work that needs more is refused; work that must wait for room waits.
    #[arg(long, env = "MEMORY_BUDGET_MB", default_value_t = 1024, global = true)]
    pub memory_budget_mb: u64,

    /// Longest pixel work waits for room in the memory budget before it is refused
    /// as retryable, in milliseconds.
    #[arg(
        long,
        env = "MEMORY_BUDGET_WAIT_MS",
        default_value_t = 10_000,
        global = true
    )]
    pub memory_budget_wait_ms: u64,

    /// Longest side of an uploaded image, in pixels (0: no limit).
    #[arg(long, env = "MAX_IMAGE_SIDE", default_value_t = 65_535, global = true)]
    pub max_image_side: u32,

    /// Most times an upload's long side may be its short side (0: no limit).
    #[arg(long, env = "MAX_ASPECT_RATIO", default_value_t = 1000, global = true)]
    pub max_aspect_ratio: u32,
}

impl PixelConfig {
    fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            (1..=4 * 1024 * 1024).contains(&self.memory_budget_mb),
            "MEMORY_BUDGET_MB must be between 1 and 4194304"
        );
        Ok(())
    }

    pub fn wait(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.memory_budget_wait_ms)
    }

    /// What an upload may be: the image limits and the shape limits.
    pub fn upload_limits(&self, images: &ImageConfig) -> UploadLimits {
        UploadLimits {
            max_side: self.max_image_side,
            max_aspect_ratio: self.max_aspect_ratio,
            ..images.upload_limits()
        }
    }
}
