use anyhow::Context as _;
use clap::{Parser, Subcommand};
use imagegraph::config::{Config, DatabaseSettings, GcSettings, LogConfig};
use imagegraph::passwords::{self, Password};
use imagegraph::startup::{Background, Database, build_app};
use imagegraph::use_cases::users;
use imagegraph::{graphql, http};
use imagegraph_db::models::{Role, User, token};
use tokio_util::sync::CancellationToken;

mod malloc;

/// How long in-flight HTTP requests may take to finish once shutdown begins.
const HTTP_DRAIN: std::time::Duration = std::time::Duration::from_secs(20);

#[derive(Parser)]
#[command(
    name = "imagegraph",
    version,
    about = "A self-hostable GraphQL service for images"
)]
struct Cli {
    #[command(flatten)]
    log: LogConfig,
    #[command(subcommand)]
    command: Command,
}

/// Each subcommand takes the settings it uses, and no others: `--help` lists those.
#[derive(Subcommand)]
enum Command {
    /// Serve the GraphQL API (GraphiQL at /).
    Serve(ServerArgs),
    /// Run background job workers only (no HTTP), to scale workers out.
    Worker(ServerArgs),
    /// Apply pending database migrations.
    Migrate(DatabaseSettings),
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Delete stored objects that no image points at.
    Gc {
        /// Leave objects younger than this alone (uploads in flight).
        #[arg(long, default_value_t = 3600)]
        grace_secs: u64,
        #[command(flatten)]
        settings: GcSettings,
    },
    /// Run a benchmark on this node, without a database.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Manage users and their API tokens.
    Users {
        #[command(flatten)]
        settings: DatabaseSettings,
        #[command(subcommand)]
        command: UsersCommand,
    },
}

#[derive(clap::Args)]
struct ServerArgs {
    #[command(flatten)]
    config: Config,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// HPL (Linpack): solve a random dense system by blocked LU; print HPL's report.
    Hpl {
        /// Order of the matrix.
        #[arg(long, default_value_t = 4000)]
        n: usize,
        /// Panel width (default: chosen from n).
        #[arg(long)]
        nb: Option<usize>,
        /// Threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create a user; prints its API token alone on stdout.
    Create {
        name: String,
        #[arg(long)]
        admin: bool,
        /// Also give the user a password (for `login`), read from stdin: one line,
        /// its trailing newline dropped.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password (for `login`), read from stdin: one line, its trailing
    /// newline dropped. The user's tokens keep working.
    Password { name: String },
    /// Mint another API token for a user; prints it alone on stdout.
    Token { name: String },
    /// Revoke every token of a user.
    Revoke { name: String },
    /// List users.
    List,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let exporter = imagegraph::logging::init(cli.log.log_format)?;
    let result = run_command(cli);
    if let Some(exporter) = exporter {
        exporter.shutdown();
    }
    result
}

fn run_command(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Schema => {
            print!("{}", graphql::sdl());
            return Ok(());
        }
        Command::Bench(BenchCommand::Hpl {
            n,
            nb,
            threads,
            seed,
        }) => return bench_hpl(n, nb, threads, seed),
        _ => {}
    }
    // The migration harness blocks in place, which needs the multi-threaded runtime.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = match &cli.command {
        Command::Serve(args) | Command::Worker(args) => args.config.database_settings(),
        Command::Migrate(settings) | Command::Users { settings, .. } => settings.clone(),
        Command::Gc { settings, .. } => settings.database.clone(),
        Command::Schema | Command::Bench(_) => unreachable!("handled before the runtime starts"),
    };
    settings.validate()?;
    let database = Database::resolve(&settings).await?;
    let result = match cli.command {
        Command::Serve(args) => serve(args.config, &database.url).await,
        Command::Worker(args) => worker(args.config, &database.url).await,
        Command::Migrate(_) => imagegraph_db::migrate(&database.url)
            .await
            .map(|n| eprintln!("{n} migration(s) applied")),
        Command::Users { settings, command } => {
            manage_users(&settings, &database.url, command).await
        }
        Command::Gc {
            grace_secs,
            settings,
        } => gc(&settings, &database.url, grace_secs).await,
        Command::Schema | Command::Bench(_) => unreachable!("handled before the runtime starts"),
    };
    database.shutdown().await;
    result
}

async fn serve(config: Config, database_url: &str) -> anyhow::Result<()> {
    let app = build_app(config, database_url).await?;
    if let Some(token) = users::bootstrap_admin(&app.db)
        .await
        .map_err(|e| anyhow::anyhow!(e.public_message()))?
    {
        let path = app.config.data_dir.join("admin-token");
        imagegraph::fsutil::write_private(&path, format!("{token}\n").as_bytes())?;
        println!(
            "\nFirst start: created the user `admin`. Its API token (shown once, also in {}):\n\n    {token}\n",
            path.display()
        );
    }
    let listener = tokio::net::TcpListener::bind(app.config.http.listen_addr)
        .await
        .with_context(|| format!("binding {}", app.config.http.listen_addr))?;
    tracing::info!("GraphiQL on http://{}/", listener.local_addr()?);
    if !http::web_assets_built(&app.config.http.web_dir) {
        tracing::warn!(
            web_dir = %app.config.http.web_dir.display(),
            "GraphiQL and the gallery app are not built: run `scripts/web.sh build` (or set WEB_DIR); the API works without them"
        );
    }
    let background = Background::start(&app, app.config.jobs.workers > 0);
    let shutdown = CancellationToken::new();
    let server = http::serve(listener, app, shutdown.clone());
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            shutdown_signal().await;
            shutdown.cancel();
        }
    });
    // In-flight requests get a bounded time to finish; then the process moves on.
    let drained = tokio::select! {
        () = server => true,
        () = async { shutdown.cancelled().await; tokio::time::sleep(HTTP_DRAIN).await } => false,
    };
    if !drained {
        tracing::warn!(after = ?HTTP_DRAIN, "requests still in flight at shutdown were cut off");
    }
    tracing::info!("stopped serving; stopping workers");
    background.stop().await;
    Ok(())
}

async fn worker(config: Config, database_url: &str) -> anyhow::Result<()> {
    let app = build_app(config, database_url).await?;
    anyhow::ensure!(
        app.config.jobs.workers > 0,
        "WORKERS is 0: a worker process needs at least one"
    );
    let background = Background::start(&app, true);
    tracing::info!(workers = app.config.jobs.workers, "workers running");
    shutdown_signal().await;
    background.stop().await;
    Ok(())
}

async fn gc(settings: &GcSettings, database_url: &str, grace_secs: u64) -> anyhow::Result<()> {
    let db = imagegraph::startup::connect(database_url, &settings.database.database).await?;
    let storage = imagegraph::storage::Storage::from_url(
        settings.storage_url.as_deref(),
        &settings.database.data_dir,
    )
    .context("opening storage")?;
    let report =
        imagegraph::use_cases::gc::sweep(&db, &storage, std::time::Duration::from_secs(grace_secs))
            .await
            .map_err(|e| anyhow::anyhow!(e.public_message()))?;
    eprintln!(
        "scanned {} object(s), deleted {} orphan(s)",
        report.scanned, report.deleted
    );
    Ok(())
}

async fn manage_users(
    settings: &DatabaseSettings,
    database_url: &str,
    command: UsersCommand,
) -> anyhow::Result<()> {
    let db = imagegraph::startup::connect(database_url, &settings.database).await?;
    let fail = |e: imagegraph::error::Error| anyhow::anyhow!(e.public_message());
    let find = |name: String| {
        let db = db.clone();
        async move {
            let mut conn = db.conn().await?;
            User::find_by_name(&mut conn, &name)
                .await?
                .with_context(|| format!("no user named `{name}`"))
        }
    };
    match command {
        UsersCommand::Create {
            name,
            admin,
            password_stdin,
        } => {
            let role = if admin { Role::Admin } else { Role::Member };
            let token = if password_stdin {
                let password = read_password()?;
                let hasher = passwords::PasswordHasher::new(1);
                let user = users::create_with_password(&db, &hasher, &name, role, password)
                    .await
                    .map_err(fail)?;
                let mut conn = db.conn().await?;
                users::mint(&mut conn, &user).await.map_err(fail)?
            } else {
                users::create(&db, &name, role).await.map_err(fail)?.1
            };
            println!("{token}");
        }
        UsersCommand::Password { name } => {
            let password = read_password()?;
            let hasher = passwords::PasswordHasher::new(1);
            let user = users::set_password(&db, &hasher, &name, password)
                .await
                .map_err(fail)?;
            eprintln!("set the password of `{}`", user.name);
        }
        UsersCommand::Token { name } => {
            let user = find(name).await?;
            let mut conn = db.conn().await?;
            println!("{}", users::mint(&mut conn, &user).await.map_err(fail)?);
        }
        UsersCommand::Revoke { name } => {
            let user = find(name).await?;
            let mut conn = db.conn().await?;
            let n = token::revoke_all(&mut conn, user.id).await?;
            eprintln!("revoked {n} token(s) of `{}`", user.name);
        }
        UsersCommand::List => {
            let mut conn = db.conn().await?;
            for user in User::list(&mut conn).await? {
                println!("{}\t{}\t{}", user.id, user.role.as_str(), user.name);
            }
        }
    }
    Ok(())
}

/// One line of stdin with its trailing newline (`\n` or `\r\n`) dropped, and nothing
/// else changed: spaces may be part of a password.
fn read_password() -> anyhow::Result<Password> {
    use std::io::Read as _;
    let mut input = String::new();
    std::io::stdin()
        .take(passwords::MAX_PASSWORD_BYTES as u64 + 3)
        .read_to_string(&mut input)
        .context("reading the password from stdin")?;
    let password = input.strip_suffix('\n').map_or(input.as_str(), |line| {
        line.strip_suffix('\r').unwrap_or(line)
    });
    anyhow::ensure!(
        !password.contains('\n'),
        "the password must be one line on stdin"
    );
    Ok(Password::new(password.to_owned()))
}

fn bench_hpl(n: usize, nb: Option<usize>, threads: Option<usize>, seed: u64) -> anyhow::Result<()> {
    let params = imagegraph_hpl::HplParams {
        n,
        nb: nb.unwrap_or_else(|| imagegraph_hpl::default_block_size(n)),
        threads: threads.unwrap_or(imagegraph::host::cores() as usize),
        seed,
    };
    eprintln!(
        "HPL: N={} NB={} threads={} seed={} on {}",
        params.n,
        params.nb,
        params.threads,
        params.seed,
        imagegraph::host::cpu_model()
    );
    let mut last = 0;
    let report = imagegraph_hpl::run(&params, &mut |fraction| {
        let percent = (fraction * 100.0) as u32;
        if percent >= last + 10 {
            last = percent;
            eprintln!("  {percent}%");
        }
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", imagegraph_hpl::format_report(&report));
    anyhow::ensure!(report.passed, "the residual check FAILED");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}
