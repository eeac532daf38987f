//! A throwaway PostgreSQL 15 cluster for the tests of the registry's production store: its
//! own data directory and Unix socket in a temporary directory, no TCP, gone when dropped.
//!
//! It runs Debian's `postgresql-15` binaries (`scripts/setup` installs them). `initdb` refuses
//! to run as root, and CI runs as root: then every server command runs as the `postgres` user
//! the Debian package made, in a directory it owns.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where Debian's `postgresql-15` puts its server programs.
pub const POSTGRES_BIN: &str = "/usr/lib/postgresql/15/bin";
/// The database [`PgCluster::start`] makes.
pub const DATABASE: &str = "sajili";

/// A PostgreSQL server of its own, listening only on a socket in its directory.
pub struct PgCluster {
    /// The temporary directory: data, socket and log. Removed when dropped.
    dir: tempfile::TempDir,
    /// Whether the server commands run as the `postgres` user (the tests run as root).
    as_postgres: bool,
    /// Whether the server should be running (Drop stops it).
    running: bool,
    /// Names for [`PgCluster::fresh_database`].
    databases: AtomicUsize,
}

impl PgCluster {
    /// Makes a cluster (trust authentication, fsync on) in a new directory under /tmp, starts
    /// it and creates the database [`DATABASE`]. Panics, saying to run `scripts/setup`, when
    /// PostgreSQL 15 is not installed: a test of the production store must not pass by not
    /// running.
    pub fn start() -> PgCluster {
        let initdb = Path::new(POSTGRES_BIN).join("initdb");
        assert!(
            initdb.is_file(),
            "PostgreSQL 15 is not installed ({} is missing): run scripts/setup, which installs \
             the Debian package postgresql-15",
            initdb.display()
        );
        let as_postgres = running_as_root();
        // Under /tmp, not $TMPDIR: the socket's path must stay under 108 bytes, and the
        // `postgres` user must be able to reach the directory (root's home is closed to it).
        let dir = tempfile::Builder::new()
            .prefix("sajili-pg-")
            .tempdir_in("/tmp")
            .expect("make a directory for the PostgreSQL cluster");
        if as_postgres {
            let status = Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path())
                .status()
                .expect("run chown");
            assert!(
                status.success(),
                "chown postgres {} failed: is the postgres user there? run scripts/setup",
                dir.path().display()
            );
        }
        let mut cluster = PgCluster {
            dir,
            as_postgres,
            running: false,
            databases: AtomicUsize::new(0),
        };
        let data = cluster.data_dir();
        cluster.server_command(
            "initdb",
            &[
                "--pgdata",
                path_text(&data),
                "--username",
                "postgres",
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--no-locale",
                // initdb's own writes need no fsync: the directory is thrown away.
                "--no-sync",
            ],
        );
        let settings = format!(
            "\n# sajili tests: socket only, in the cluster's own directory\n\
             listen_addresses = ''\n\
             unix_socket_directories = '{}'\n\
             fsync = on\n\
             max_connections = 100\n",
            path_text(cluster.dir.path())
        );
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("read postgresql.conf");
        text.push_str(&settings);
        std::fs::write(&conf, text).expect("write postgresql.conf");
        cluster.start_server();
        cluster.create_database(DATABASE);
        cluster
    }

    /// A URL for the database [`DATABASE`] that the `postgres` crate takes: the socket's
    /// directory as the percent-encoded host.
    pub fn url(&self) -> String {
        self.url_for(DATABASE)
    }

    /// The directory the server's socket is in (libpq's `host` for a socket).
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A URL for the database `name` of this cluster.
    pub fn url_for(&self, name: &str) -> String {
        format!(
            "postgres://postgres@{}/{name}",
            percent_encode(path_text(self.dir.path()))
        )
    }

    /// Creates a new, empty database and returns its URL: one per check, so checks share a
    /// server but not their rows.
    pub fn fresh_database(&self) -> String {
        let number = self.databases.fetch_add(1, Ordering::Relaxed);
        let name = format!("check_{number}");
        self.create_database(&name);
        self.url_for(&name)
    }

    /// Creates the database `name`.
    pub fn create_database(&self, name: &str) {
        self.server_command(
            "createdb",
            &[
                "--host",
                path_text(self.dir.path()),
                "--username",
                "postgres",
                name,
            ],
        );
    }

    /// Stops the server (fast shutdown: open connections are cut, as in an outage).
    pub fn stop(&mut self) {
        self.server_command(
            "pg_ctl",
            &[
                "stop",
                "--wait",
                "--mode",
                "fast",
                "--pgdata",
                path_text(&self.data_dir()),
            ],
        );
        self.running = false;
    }

    /// Starts the server again after [`PgCluster::stop`].
    pub fn start_again(&mut self) {
        self.start_server();
    }

    /// Restarts the server (fast shutdown, then start): every open connection breaks.
    pub fn restart(&mut self) {
        self.stop();
        self.start_server();
    }

    /// The server's log so far, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn start_server(&mut self) {
        let log = self.log_path();
        self.server_command(
            "pg_ctl",
            &[
                "start",
                "--wait",
                "--pgdata",
                path_text(&self.data_dir()),
                "--log",
                path_text(&log),
            ],
        );
        self.running = true;
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// Runs one of PostgreSQL's programs (as `postgres` when we are root) and panics with its
    /// output and the server's log if it fails.
    fn server_command(&self, program: &str, args: &[&str]) {
        let output = self.try_server_command(program, args);
        assert!(
            output.status.success(),
            "{program} {} failed ({}):\n{}{}\nserver log:\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.log()
        );
    }

    fn try_server_command(&self, program: &str, args: &[&str]) -> Output {
        let path = Path::new(POSTGRES_BIN).join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&path);
            command
        } else {
            Command::new(&path)
        };
        command
            .args(args)
            // A directory the `postgres` user may enter (the test's may be closed to it).
            .current_dir(self.dir.path())
            .env_remove("PGDATA")
            .env_remove("PGHOST")
            .env_remove("PGPORT")
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", path.display()))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running {
            // Immediate: nothing in a throwaway cluster needs a clean shutdown.
            let _ = self.try_server_command(
                "pg_ctl",
                &[
                    "stop",
                    "--wait",
                    "--mode",
                    "immediate",
                    "--pgdata",
                    path_text(&self.data_dir()),
                ],
            );
        }
    }
}

/// Whether this process runs as root (then initdb refuses to run as us).
fn running_as_root() -> bool {
    let output = Command::new("id").arg("-u").output().expect("run id -u");
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

fn path_text(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Percent-encodes what a URL's host may not hold (a socket directory's slashes).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}
