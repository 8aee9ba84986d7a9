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
        fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;

        let run_as = if is_root() {
            Some(postgres_user()?)
        } else {
            None
        };
        if let Some((uid, gid)) = run_as {
            check_reachable(&root, uid)?;
            std::os::unix::fs::chown(&root, Some(uid), Some(gid))?;
        }
        fs::set_permissions(&root, fs::Permissions::from_mode(0o700))?;
        let owner = run_as.unwrap_or_else(|| (effective_uid(), effective_gid()));

        let mut cluster = Self {
            bin_dir,
            data_dir,
            socket_dir: PathBuf::new(),
            run_as,
            child: None,
        };
        if !cluster.data_dir.join("PG_VERSION").exists() {
            cluster.initdb(&root, options)?;
        }
        if cluster.is_running() {
            // Its socket is where it was started; that place must still be private.
            cluster.socket_dir = running_socket_dir(&cluster.data_dir)?;
            check_private_dir(&cluster.socket_dir, owner.0)?;
            tracing::info!(data_dir = %cluster.data_dir.display(), "attached to the running private PostgreSQL cluster");
        } else {
            cluster.socket_dir = private_socket_dir(&root, owner, &std::env::temp_dir())?;
            if let Some((uid, _)) = run_as {
                check_reachable(&cluster.socket_dir, uid)?;
            }
            cluster.trust_no_tcp_client()?;
            cluster.spawn_server(&root, options)?;
        }
        cluster.wait_ready(Duration::from_secs(60))?;
        Ok(cluster)
    }

    /// A connection URL for `database` over the cluster's unix socket, and nothing
    /// else: a host in the authority would be tried first, over TCP, and whatever
    /// listens on localhost:5432 would be taken for the private cluster.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres:///{database}?host={}&port={PORT}&user=postgres",
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
        let _remove_private_tmp = RemoveTmpSocketDir(self.tmp_socket_dir());
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
    /// static and so are never dropped. It watches `/proc`, not `kill -0`: as the
    /// `postgres` user it may not signal a root process, and would take that for gone.
    pub fn stop_after_exit_of(&mut self, pid: u32, root: &Path) -> anyhow::Result<()> {
        let tmp_socket_dir = self
            .tmp_socket_dir()
            .map(|dir| format!(" '{}'", dir.display()))
            .unwrap_or_default();
        let script = format!(
            "while [ -e /proc/{pid} ]; do sleep 0.5; done; '{}' stop -m immediate -D '{}' >/dev/null 2>&1; rm -rf '{}'{tmp_socket_dir}",
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

    /// The socket directory, when it is a private one under TMPDIR (the root's path was
    /// too long for a socket) that goes when the server does.
    fn tmp_socket_dir(&self) -> Option<PathBuf> {
        let under_root = self
            .data_dir
            .parent()
            .is_some_and(|root| self.socket_dir.starts_with(root));
        (!under_root && !self.socket_dir.as_os_str().is_empty()).then(|| self.socket_dir.clone())
    }

    /// Nobody may reach the cluster over TCP, whatever starts it: no TCP socket in its
    /// configuration, and only unix-socket lines in `pg_hba.conf` (initdb's `-A trust`
    /// would trust every local TCP client).
    fn trust_no_tcp_client(&self) -> anyhow::Result<()> {
        let conf = self.data_dir.join("postgresql.conf");
        let text =
            fs::read_to_string(&conf).with_context(|| format!("reading {}", conf.display()))?;
        let unix_only = unix_socket_only(&text);
        if unix_only != text {
            fs::write(&conf, unix_only).with_context(|| format!("writing {}", conf.display()))?;
        }
        let hba = self.data_dir.join("pg_hba.conf");
        fs::write(&hba, HBA_CONF).with_context(|| format!("writing {}", hba.display()))?;
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

/// The cluster's whole access policy: superuser, unix socket, no password (the socket
/// directory's rights are the lock).
const HBA_CONF: &str = "# Written by imagegraph: unix socket only, no TCP client is trusted.\n\
local all all trust\n";

const LISTEN_NOWHERE: &str = "listen_addresses = ''";

/// `postgresql.conf` with a last word on `listen_addresses` (the last setting wins).
fn unix_socket_only(conf: &str) -> String {
    let last = conf
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| line.starts_with("listen_addresses"));
    if last == Some(LISTEN_NOWHERE) {
        return conf.to_owned();
    }
    let mut out = conf.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("# imagegraph: unix socket only.\n");
    out.push_str(LISTEN_NOWHERE);
    out.push('\n');
    out
}

/// Where the server's socket goes: `<root>/run`, or when that path is too long for a
/// unix socket, a fresh directory of random name under `tmp`. Either is created here
/// (never reused from someone else), 0700 and owned by `owner`; an existing `<root>/run`
/// is used only when it already is exactly that.
fn private_socket_dir(root: &Path, owner: (u32, u32), tmp: &Path) -> anyhow::Result<PathBuf> {
    let run = root.join("run");
    if run.as_os_str().len() <= MAX_SOCKET_DIR_LEN {
        make_private_dir(&run, owner, true)?;
        return Ok(run);
    }
    for _ in 0..16 {
        let name = format!("imagegraph-pg-{}", random_hex());
        let dir = tmp.join(&name);
        if dir.as_os_str().len() > MAX_SOCKET_DIR_LEN {
            bail!(
                "the private PostgreSQL cluster's socket path would be too long both under {} and under TMPDIR ({}): \
                 choose a shorter DATA_DIR or TMPDIR, or set DATABASE_URL",
                root.display(),
                tmp.display()
            );
        }
        match make_private_dir(&dir, owner, false) {
            Ok(()) => return Ok(dir),
            Err(err)
                if err
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::AlreadyExists) => {}
            Err(err) => return Err(err),
        }
    }
    bail!(
        "could not create a private socket directory under {}",
        tmp.display()
    )
}

/// Creates `dir` with mode 0700 (mkdir never follows a symlink at the last component)
/// and hands it to `owner`; an existing one is accepted only if `reuse` and it passes
/// `check_private_dir`.
fn make_private_dir(dir: &Path, (uid, gid): (u32, u32), reuse: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {
            // lchown: the path was just made a directory by us, but never follow a link.
            std::os::unix::fs::lchown(dir, Some(uid), Some(gid))
                .with_context(|| format!("handing {} to uid {uid}", dir.display()))?;
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists && reuse => {}
        Err(err) => {
            return Err(anyhow::Error::new(err).context(format!("creating {}", dir.display())));
        }
    }
    check_private_dir(dir, uid)
}

/// Refuses a socket directory anyone but `uid` could have planted or could enter: a
/// symlink, not a directory, someone else's, or open to group or others.
fn check_private_dir(dir: &Path, uid: u32) -> anyhow::Result<()> {
    let meta =
        fs::symlink_metadata(dir).with_context(|| format!("inspecting {}", dir.display()))?;
    let problem = if meta.file_type().is_symlink() {
        Some("is a symbolic link".to_owned())
    } else if !meta.is_dir() {
        Some("is not a directory".to_owned())
    } else if meta.uid() != uid {
        Some(format!("is owned by uid {}, not {uid}", meta.uid()))
    } else if meta.mode() & 0o077 != 0 {
        Some(format!("has mode {:o}, not 700", meta.mode() & 0o7777))
    } else {
        None
    };
    match problem {
        Some(problem) => bail!(
            "refusing the private PostgreSQL cluster's socket directory {}: it {problem}; remove it (the service \
             creates it afresh) or set DATABASE_URL",
            dir.display()
        ),
        None => Ok(()),
    }
}

/// The socket directory of a running server, from its `postmaster.pid` (5th line).
fn running_socket_dir(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let pid_file = data_dir.join("postmaster.pid");
    let text =
        fs::read_to_string(&pid_file).with_context(|| format!("reading {}", pid_file.display()))?;
    match text.lines().nth(4).map(str::trim) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => bail!(
            "the running private PostgreSQL cluster has no unix socket (see {})",
            pid_file.display()
        ),
    }
}

/// 16 hex digits, 62 of whose bits are random (the tail of a v7 UUID): enough that the
/// name cannot be guessed in advance, and mkdir refuses one that exists anyway.
fn random_hex() -> String {
    let uuid = uuid::Uuid::now_v7().simple().to_string();
    uuid[16..].to_owned()
}

fn effective_uid() -> u32 {
    fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX)
}

fn effective_gid() -> u32 {
    fs::metadata("/proc/self")
        .map(|m| m.gid())
        .unwrap_or(u32::MAX)
}

/// Removes a private socket directory under TMPDIR once the server has stopped.
struct RemoveTmpSocketDir(Option<PathBuf>);

impl Drop for RemoveTmpSocketDir {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = fs::remove_dir_all(dir);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::DirBuilderExt as _;

    /// A scratch directory under TMPDIR, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Self {
            let dir = std::env::temp_dir().join(format!("ig-lc-{}", random_hex()));
            fs::create_dir(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn me() -> (u32, u32) {
        (effective_uid(), effective_gid())
    }

    fn refusal(result: anyhow::Result<PathBuf>) -> String {
        format!("{:#}", result.expect_err("refused"))
    }

    #[test]
    fn the_socket_directory_is_created_private_under_the_root() {
        let scratch = Scratch::new();
        let dir = private_socket_dir(&scratch.0, me(), &scratch.0).unwrap();
        assert_eq!(dir, scratch.0.join("run"));
        let meta = fs::symlink_metadata(&dir).unwrap();
        assert!(meta.is_dir());
        assert_eq!(meta.mode() & 0o7777, 0o700);
        assert_eq!(meta.uid(), me().0);
        // A restart finds it as it left it.
        assert_eq!(
            private_socket_dir(&scratch.0, me(), &scratch.0).unwrap(),
            dir
        );
    }

    #[test]
    fn a_symlinked_socket_directory_is_refused() {
        let scratch = Scratch::new();
        let elsewhere = scratch.0.join("elsewhere");
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&elsewhere)
            .unwrap();
        std::os::unix::fs::symlink(&elsewhere, scratch.0.join("run")).unwrap();
        let refused = refusal(private_socket_dir(&scratch.0, me(), &scratch.0));
        assert!(refused.contains("symbolic link"), "{refused}");
    }

    #[test]
    fn a_socket_directory_open_to_others_or_not_a_directory_is_refused() {
        let scratch = Scratch::new();
        let run = scratch.0.join("run");
        fs::DirBuilder::new().mode(0o755).create(&run).unwrap();
        fs::set_permissions(&run, fs::Permissions::from_mode(0o755)).unwrap();
        let refused = refusal(private_socket_dir(&scratch.0, me(), &scratch.0));
        assert!(refused.contains("mode 755"), "{refused}");

        fs::remove_dir(&run).unwrap();
        fs::write(&run, b"").unwrap();
        let refused = refusal(private_socket_dir(&scratch.0, me(), &scratch.0));
        assert!(refused.contains("not a directory"), "{refused}");
    }

    #[test]
    fn a_socket_directory_owned_by_someone_else_is_refused() {
        let scratch = Scratch::new();
        let run = scratch.0.join("run");
        fs::DirBuilder::new().mode(0o700).create(&run).unwrap();
        // As root, really someone else's (nobody's); otherwise the cluster's user is
        // taken to be another uid than the directory's.
        let (owner, expected) = if me().0 == 0 {
            std::os::unix::fs::chown(&run, Some(65_534), Some(65_534)).unwrap();
            (65_534, me())
        } else {
            (me().0, (me().0 + 1, me().1))
        };
        let refused = refusal(private_socket_dir(&scratch.0, expected, &scratch.0));
        assert!(
            refused.contains(&format!("owned by uid {owner}")),
            "{refused}"
        );
    }

    #[test]
    fn a_root_too_long_for_a_socket_gets_a_fresh_private_directory_under_tmp() {
        let scratch = Scratch::new();
        let root = scratch.0.join("r".repeat(100));
        let tmp = scratch.0.join("tmp");
        fs::create_dir(&tmp).unwrap();
        let first = private_socket_dir(&root, me(), &tmp).unwrap();
        let second = private_socket_dir(&root, me(), &tmp).unwrap();
        assert_ne!(first, second, "never a predictable, shared path");
        for dir in [&first, &second] {
            assert_eq!(dir.parent(), Some(tmp.as_path()));
            assert!(dir.as_os_str().len() <= MAX_SOCKET_DIR_LEN);
            let meta = fs::symlink_metadata(dir).unwrap();
            assert!(meta.is_dir() && !meta.file_type().is_symlink());
            assert_eq!(meta.mode() & 0o7777, 0o700);
        }
        assert!(!root.join("run").exists());
    }

    #[test]
    fn the_url_names_the_socket_and_no_tcp_host() {
        let cluster = LocalCluster {
            bin_dir: PathBuf::new(),
            data_dir: PathBuf::from("/srv/ig/postgres/data"),
            socket_dir: PathBuf::from("/srv/ig/postgres/run"),
            run_as: None,
            child: None,
        };
        assert_eq!(
            cluster.url("imagegraph"),
            "postgres:///imagegraph?host=/srv/ig/postgres/run&port=5432&user=postgres"
        );
    }

    #[test]
    fn the_configuration_trusts_no_tcp_client() {
        let initdb = "#listen_addresses = 'localhost'\nport = 5432\n";
        let conf = unix_socket_only(initdb);
        assert!(conf.starts_with(initdb));
        assert_eq!(conf.lines().last(), Some("listen_addresses = ''"));
        assert_eq!(unix_socket_only(&conf), conf, "written once");
        let opened = format!("{conf}listen_addresses = '*'");
        assert_eq!(
            unix_socket_only(&opened).lines().last(),
            Some("listen_addresses = ''"),
            "a later line that opens TCP is overridden"
        );

        let rules: Vec<&str> = HBA_CONF
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect();
        assert_eq!(rules, ["local all all trust"]);
    }
}
