//! Real servers for the tests (Redis, PostgreSQL, etcd), started on free loopback ports in
//! temporary directories and stopped when dropped. `.ci/install-servers` installs their Debian
//! packages; a missing binary fails the test with a message that says so.

pub mod etcd;
pub mod memcached;
pub mod postgres;
pub mod redis;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A fresh, empty directory under the system's temporary directory, removed with its server.
pub fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    // Tests of one binary start servers at the same moment: the clock alone does not tell
    // their directories apart (a server's drop would then remove another's).
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "healthcheck-{name}-{}-{nanos}-{n}",
        std::process::id()
    ));
    std::fs::create_dir(&dir).expect("a new temporary directory");
    dir
}

/// The path of `binary`, looked up in `PATH` and in `extra` directories.
pub fn require(binary: &str, extra: &[&str]) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(extra.iter().map(PathBuf::from));
    for dir in dirs {
        let candidate = dir.join(binary);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{binary}` is not installed; `.ci/install-servers` installs the servers the tests need"
    );
}

/// A server process of a test: killed and its directory removed when dropped.
pub struct Server {
    name: &'static str,
    start: Box<dyn Fn() -> Command + Send + Sync>,
    child: Option<Child>,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its data directory.
    pub dir: PathBuf,
}

impl Server {
    /// Starts `start()` (which listens on `addr`, keeping its data in `dir`) and waits until
    /// it accepts connections.
    pub fn start(
        name: &'static str,
        addr: SocketAddr,
        dir: PathBuf,
        start: impl Fn() -> Command + Send + Sync + 'static,
    ) -> Self {
        let mut server = Self {
            name,
            start: Box::new(start),
            child: None,
            addr,
            dir,
        };
        server.restart();
        server
    }

    /// Stops the server at once (SIGKILL), as a crash would; its data stays.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        wait_until(Duration::from_secs(10), || {
            TcpStream::connect(self.addr).is_err()
        });
    }

    /// Starts the server again, on the same address and data, and waits until it is up.
    pub fn restart(&mut self) {
        self.kill();
        let log =
            std::fs::File::create(self.dir.join(format!("{}.log", self.name))).expect("a log file");
        let mut command = (self.start)();
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("a log file"))
            .stderr(log);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", self.name));
        self.child = Some(child);
        let up = wait_until(Duration::from_secs(30), || {
            TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok()
        });
        if !up {
            let log = std::fs::read_to_string(self.dir.join(format!("{}.log", self.name)))
                .unwrap_or_default();
            panic!(
                "{} did not start listening on {} within 30 s:\n{log}",
                self.name, self.addr
            );
        }
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `done` every 50 ms until it holds or `timeout` passes; whether it held.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
