//! A real PostgreSQL for the tests: `initdb` in a temporary directory, then `postgres` on a
//! free loopback port, with a password for the test role (SCRAM), statements logged, and
//! durability off for speed. As root (initdb and postgres refuse root) both run as the
//! `postgres` user.

use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use super::{Server, free_port, require, temp_dir, wait_until};

/// The test role.
pub const USER: &str = "healthcheck";
/// Its password: the tests check it never shows.
pub const PASSWORD: &str = "pg-s3cret-Zq7";

const BIN_DIRS: &[&str] = &[
    "/usr/lib/postgresql/17/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/15/bin",
    "/usr/lib/postgresql/14/bin",
    "/usr/lib/postgresql/13/bin",
];

/// A PostgreSQL server of the tests.
pub struct Postgres {
    server: Server,
}

impl Postgres {
    /// A server of its own, for a test that kills and restarts it.
    pub fn start() -> Self {
        let dir = temp_dir("postgres");
        let port = free_port();
        let data = dir.join("data");
        let owner = Owner::for_servers();
        owner.chown(&dir);
        let pwfile = dir.join("pwfile");
        std::fs::write(&pwfile, PASSWORD).expect("the password file");
        owner.chown(&pwfile);
        let initdb = require("initdb", BIN_DIRS);
        let output = owner
            .command(&initdb)
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                USER,
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .args(["--no-sync", "--no-instructions"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("initdb runs");
        assert!(
            output.status.success(),
            "initdb failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let postgres = require("postgres", BIN_DIRS);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let socket_dir = dir.clone();
        let server = Server::start("postgres", addr, dir, move || {
            let mut command = owner.command(&postgres);
            command
                .arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string()])
                .arg("-k")
                .arg(&socket_dir);
            for setting in [
                "listen_addresses=127.0.0.1",
                // Fast, and still keeps what was committed when the server is killed (the
                // tests kill it): the WAL reaches the OS at each commit.
                "fsync=off",
                "full_page_writes=off",
                "shared_buffers=16MB",
                "max_connections=40",
                "log_statement=all",
                "log_line_prefix=%a|",
            ] {
                command.args(["-c", setting]);
            }
            command
        });
        let postgres = Self { server };
        postgres.wait_until_ready();
        postgres
    }

    /// Waits until the server takes queries, not only connections (after a crash it answers
    /// "the database system is starting up" while it recovers).
    fn wait_until_ready(&self) {
        let pg_isready = require("pg_isready", BIN_DIRS);
        let port = self.server.addr.port().to_string();
        let ready = wait_until(Duration::from_secs(30), || {
            Command::new(&pg_isready)
                .args([
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port,
                    "-U",
                    USER,
                    "-d",
                    "postgres",
                ])
                .status()
                .is_ok_and(|status| status.success())
        });
        assert!(ready, "PostgreSQL did not become ready:\n{}", self.log());
    }

    /// The server this test binary shares between its tests that neither stop it nor depend on
    /// what others write. It dies with the binary.
    pub fn shared() -> &'static Postgres {
        static SHARED: OnceLock<Postgres> = OnceLock::new();
        SHARED.get_or_init(|| {
            remove_dirs_of_dead_binaries();
            // The server dies with the thread that started it (`--pdeathsig`): one that lives as
            // long as the binary.
            let (sender, receiver) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = sender.send(Postgres::start());
                loop {
                    std::thread::park();
                }
            });
            receiver.recv().expect("the shared PostgreSQL starts")
        })
    }

    /// `postgres://healthcheck:<password>@127.0.0.1:<port>/postgres`, with `query` if not empty.
    pub fn url(&self) -> String {
        self.url_with(PASSWORD, "")
    }

    /// The URL with another password, and a query (`application_name=x`) if not empty.
    pub fn url_with(&self, password: &str, query: &str) -> String {
        let mut url = format!("postgres://{USER}:{password}@{}/postgres", self.server.addr);
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        url
    }

    /// A plain client of the test role, for writing rows the store did not write.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(
            &format!(
                "host=127.0.0.1 port={} user={USER} password={PASSWORD} dbname=postgres",
                self.server.addr.port()
            ),
            tokio_postgres::NoTls,
        )
        .await
        .expect("a plain connection to the test PostgreSQL");
        tokio::spawn(connection);
        client
    }

    /// What the server logged so far (every statement, each line prefixed by its application
    /// name and `|`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.server.dir().join("postgres.log")).unwrap_or_default()
    }

    /// Kills the server at once (SIGKILL), as a crash would, and waits until its backends are
    /// gone too, so that it can start again on the same data.
    pub fn kill(&mut self) {
        self.server.kill();
        let data = self.server.dir().join("data");
        let gone = wait_until(Duration::from_secs(10), || !any_process_in(&data));
        assert!(
            gone,
            "the backends of the killed PostgreSQL are still running"
        );
    }

    /// Starts it again, on the same port and data.
    pub fn restart(&mut self) {
        self.kill();
        self.server.restart();
        self.wait_until_ready();
    }

    /// Whether it accepts connections.
    pub fn is_up(&self) -> bool {
        TcpStream::connect_timeout(&self.server.addr, Duration::from_millis(200)).is_ok()
    }
}

/// Removes the directories of the shared servers of earlier test binaries (a shared server is
/// never dropped, so its directory stays behind).
fn remove_dirs_of_dead_binaries() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|name| name.strip_prefix("healthcheck-postgres-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether a process works in `dir` (PostgreSQL's processes all do in their data directory).
fn any_process_in(dir: &Path) -> bool {
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return false;
    };
    processes
        .flatten()
        .any(|process| std::fs::read_link(process.path().join("cwd")).is_ok_and(|cwd| cwd == dir))
}

/// Who runs the server: the `postgres` user when the tests run as root, else the current user.
#[derive(Clone)]
struct Owner {
    /// `(uid, gid)` of `postgres`, when switching to it.
    switch_to: Option<(u32, u32)>,
}

impl Owner {
    fn for_servers() -> Self {
        let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        if !root {
            return Self { switch_to: None };
        }
        let id = |flag: &str| -> u32 {
            let output = Command::new("id")
                .args([flag, "postgres"])
                .output()
                .expect("`id` runs");
            String::from_utf8_lossy(&output.stdout)
                .trim()
                .parse()
                .expect("the tests run as root: a `postgres` user must exist to run PostgreSQL")
        };
        Self {
            switch_to: Some((id("-u"), id("-g"))),
        }
    }

    fn chown(&self, path: &Path) {
        if let Some((uid, gid)) = self.switch_to {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown to postgres");
        }
    }

    /// `program` run as the owner by `setpriv`, which then execs it (so that killing the child
    /// kills the server), and killed when the thread that started it ends.
    fn command(&self, program: &PathBuf) -> Command {
        let mut command = Command::new(require("setpriv", &["/usr/bin", "/bin"]));
        if self.switch_to.is_some() {
            command.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]);
        }
        command.args(["--pdeathsig", "KILL", "--"]).arg(program);
        command
    }
}
