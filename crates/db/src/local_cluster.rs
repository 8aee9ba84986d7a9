//! A private PostgreSQL cluster under the data directory, for the zero-setup default
//! and for tests: `initdb` once, then `postgres` listening on a unix socket only.
//!
//! PostgreSQL refuses to run as root, so when we are root every server binary runs as
//! the `postgres` system user and the cluster's directory is handed to it.

use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

const PORT: u16 = 5432;
/// Unix socket paths are limited to 107 bytes; leave room for `/.s.PGSQL.5432`.
const MAX_SOCKET_DIR_LEN: usize = 90;

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Trade durability for speed (fsync off): for throwaway test clusters only.
    pub ephemeral: bool,
}

pub struct LocalCluster {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    run_as: Option<(u32, u32)>,
    /// Set when this process started the server (and so must stop it).
    child: Option<Child>,
}

impl LocalCluster {
    /// Starts (or attaches to an already running) cluster rooted at `root`. Blocking.
    pub fn start(root: &Path, options: Options) -> anyhow::Result<Self> {
        let bin_dir = find_bin_dir()?;
        let root = std::path::absolute(root)?;
        let data_dir = root.join("data");
        let socket_dir = socket_dir_for(&root);
        fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        fs::create_dir_all(&socket_dir)?;

        let run_as = if is_root() {
            Some(postgres_user()?)
        } else {
            None
        };
        if let Some((uid, gid)) = run_as {
            check_reachable(&root, uid)?;
            std::os::unix::fs::chown(&root, Some(uid), Some(gid))?;
            std::os::unix::fs::chown(&socket_dir, Some(uid), Some(gid))?;
        }
        fs::set_permissions(&root, fs::Permissions::from_mode(0o700))?;

        let mut cluster = Self {
            bin_dir,
            data_dir,
            socket_dir,
            run_as,
            child: None,
        };
        if !cluster.data_dir.join("PG_VERSION").exists() {
            cluster.initdb(&root, options)?;
        }
        if cluster.is_running() {
            tracing::info!(data_dir = %cluster.data_dir.display(), "attached to the running private PostgreSQL cluster");
        } else {
            cluster.spawn_server(&root, options)?;
        }
        cluster.wait_ready(Duration::from_secs(60))?;
        Ok(cluster)
    }

    /// A connection URL for `database` over the cluster's unix socket.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@localhost:{PORT}/{database}?host={}",
            self.socket_dir.display()
        )
    }

    /// Creates `database` unless it exists. Blocking.
    pub fn ensure_database(&self, database: &str) -> anyhow::Result<()> {
        let exists = self
            .pg_command("psql")
            .args([
                "-h",
                &self.socket_dir.to_string_lossy(),
                "-p",
                &PORT.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", "postgres", "-tAc"])
            .arg(format!(
                "SELECT 1 FROM pg_database WHERE datname = '{database}'"
            ))
            .output()
            .context("running psql")?;
        if !exists.status.success() {
            bail!("psql failed: {}", String::from_utf8_lossy(&exists.stderr));
        }
        if String::from_utf8_lossy(&exists.stdout).trim() == "1" {
            return Ok(());
        }
        let created = self
            .pg_command("createdb")
            .args([
                "-h",
                &self.socket_dir.to_string_lossy(),
                "-p",
                &PORT.to_string(),
                "-U",
                "postgres",
            ])
            .arg(database)
            .output()
            .context("running createdb")?;
        if !created.status.success() {
            bail!(
                "createdb failed: {}",
                String::from_utf8_lossy(&created.stderr)
            );
        }
        Ok(())
    }

    /// Stops the server if this process started it. Blocking; safe to call twice.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let stopped = self
            .pg_command("pg_ctl")
            .args(["stop", "-m", "fast", "-w", "-t", "30", "-D"])
            .arg(&self.data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !matches!(stopped, Ok(status) if status.success()) {
            tracing::warn!("pg_ctl stop failed; killing the private PostgreSQL server");
            let _ = child.kill();
        }
        let _ = child.wait();
        tracing::info!("private PostgreSQL cluster stopped");
    }

    /// Hands the cluster to a watchdog that stops it, and deletes `root`, once process
    /// `pid` is gone, however it ends. For throwaway clusters (tests), which live in a
    /// static and so are never dropped.
    pub fn stop_after_exit_of(&mut self, pid: u32, root: &Path) -> anyhow::Result<()> {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; '{}' stop -m immediate -D '{}' >/dev/null 2>&1; rm -rf '{}'",
            self.bin_dir.join("pg_ctl").display(),
            self.data_dir.display(),
            root.display(),
        );
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(script)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        cmd.spawn().context("starting the cluster watchdog")?;
        // The watchdog owns the server's end now.
        self.child = None;
        Ok(())
    }

    fn initdb(&self, root: &Path, options: Options) -> anyhow::Result<()> {
        tracing::info!(data_dir = %self.data_dir.display(), "initialising a private PostgreSQL cluster");
        let mut cmd = self.pg_command("initdb");
        cmd.args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-instructions",
            "-D",
        ])
        .arg(&self.data_dir);
        if options.ephemeral {
            cmd.arg("--no-sync");
        }
        let out = cmd.current_dir(root).output().context("running initdb")?;
        if !out.status.success() {
            bail!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    fn spawn_server(&mut self, root: &Path, options: Options) -> anyhow::Result<()> {
        let log_path = root.join("postgres.log");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        if let Some((uid, gid)) = self.run_as {
            std::os::unix::fs::chown(&log_path, Some(uid), Some(gid))?;
        }
        let mut cmd = self.pg_command("postgres");
        cmd.arg("-D")
            .arg(&self.data_dir)
            .arg("-k")
            .arg(&self.socket_dir)
            .args([
                "-p",
                &PORT.to_string(),
                "-c",
                "listen_addresses=",
                "-c",
                "max_connections=200",
            ]);
        if options.ephemeral {
            cmd.args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]);
        }
        // Own process group: a Ctrl-C in the terminal reaches us, not PostgreSQL, so
        // the service can drain its work before it stops the database.
        cmd.process_group(0)
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = cmd.spawn().context("starting postgres")?;
        self.child = Some(child);
        Ok(())
    }

    fn is_running(&self) -> bool {
        self.pg_command("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(&self.data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let ready = Command::new(self.bin_dir.join("pg_isready"))
                .args([
                    "-q",
                    "-h",
                    &self.socket_dir.to_string_lossy(),
                    "-p",
                    &PORT.to_string(),
                ])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                self.child = None;
                bail!(
                    "postgres exited ({status}) during startup; see {}",
                    self.data_dir.with_file_name("postgres.log").display()
                );
            }
            if Instant::now() > deadline {
                bail!("postgres did not become ready within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn pg_command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

fn find_bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    candidates.sort();
    candidates.pop().map(|(_, bin)| bin).context(
        "no DATABASE_URL is set and PostgreSQL's server binaries (initdb, postgres) were not found: \
         install them (Debian: `apt-get install postgresql`) or set DATABASE_URL",
    )
}

fn socket_dir_for(root: &Path) -> PathBuf {
    if root.as_os_str().len() <= MAX_SOCKET_DIR_LEN {
        return root.to_path_buf();
    }
    // A short, stable path derived from the root, so every process finds the same one.
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(root.as_os_str().as_encoded_bytes());
    std::env::temp_dir().join(format!("imagegraph-pg-{}", hex::encode(&digest[..6])))
}

fn is_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn postgres_user() -> anyhow::Result<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&"postgres") && fields.len() > 3)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        })
        .context(
            "running as root, the private cluster must run as the `postgres` system user, which does not \
             exist: install PostgreSQL's Debian package, run as another user, or set DATABASE_URL",
        )
}

/// As root the server runs as `postgres`, which must be able to walk down to `root`.
fn check_reachable(root: &Path, uid: u32) -> anyhow::Result<()> {
    for dir in root.ancestors().skip(1) {
        let meta = fs::metadata(dir)?;
        let mode = meta.mode();
        let reachable = mode & 0o001 != 0 || (meta.uid() == uid && mode & 0o100 != 0);
        if !reachable {
            bail!(
                "running as root, the private PostgreSQL cluster runs as the `postgres` user, who cannot \
                 enter {}: choose a DATA_DIR it can reach (for example /var/lib/imagegraph) or set DATABASE_URL",
                dir.display()
            );
        }
    }
    Ok(())
}
