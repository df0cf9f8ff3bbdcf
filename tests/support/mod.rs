//! Shared helpers of the behaviour tests: child processes with their own environment, and real
//! DogStatsD listeners.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a part.

pub mod browser;
pub mod dns_server;
pub mod fleet_contract;
pub mod fleet_e2e;
pub mod http_client;
pub mod http_server;
pub mod proxy;
pub mod servers;

use std::net::UdpSocket;
#[cfg(unix)]
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The variable that tells a test it runs as the child of [`ran_in_child`].
pub const CHILD: &str = "HEALTHCHECK_TEST_CHILD";

/// Runs one test of this binary in a child process with `env` set, and fails if it fails; then
/// returns `true`. In the child, returns `false` at once, so the test does its own part.
pub fn ran_in_child(test: &str, env: &[(&str, &str)]) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return false;
    }
    let output = child(test, env);
    assert!(
        output.status.success(),
        "the child test failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    true
}

/// Runs `test` of this binary in a child process and asserts that it passed and printed
/// nothing of its own: no line on stdout but the test harness's, nothing on stderr.
pub fn assert_child_prints_nothing(test: &str) {
    let output = child(test, &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let own = format!("test {test} ... ok");
    let printed: Vec<&str> = stdout
        .lines()
        .filter(|l| {
            !(l.is_empty()
                || l.starts_with("running ")
                || l.starts_with(&own)
                || l.starts_with("test result: "))
        })
        .collect();
    assert_eq!(printed, Vec::<&str>::new(), "printed to stdout");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.trim().is_empty(), "printed to stderr: {stderr}");
}

/// Runs one test of this binary in a child process, with `env` set and the variables of
/// Datadog and of the SDK cleared, and returns what it printed.
pub fn child(test: &str, env: &[(&str, &str)]) -> std::process::Output {
    child_command(test, env).output().expect("the child runs")
}

/// The command that runs one test of this binary in a child process, with `env` set and the
/// variables of Datadog and of the SDK cleared, for a test that drives the child itself.
pub fn child_command(test: &str, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args([test, "--exact", "--test-threads=1"])
        .env(CHILD, "1");
    for (name, _) in std::env::vars() {
        if name.starts_with("DD_") || (name.starts_with("HEALTHCHECK_") && name != CHILD) {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    command
}

/// A DogStatsD "agent": a real socket that the test binds and reads.
pub enum Listener {
    Udp(UdpSocket),
    #[cfg(unix)]
    Unix(UnixDatagram, PathBuf),
}

impl Listener {
    pub fn udp() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP port on loopback");
        // Room for a thousand checks' metrics arriving at once, as an agent configures it
        // (`dogstatsd_so_rcvbuf`); the kernel caps it at `net.core.rmem_max`.
        let socket = socket2::Socket::from(socket);
        let _ = socket.set_recv_buffer_size(4 << 20);
        Listener::Udp(socket.into())
    }

    #[cfg(unix)]
    pub fn unix() -> Self {
        let path = std::env::temp_dir().join(format!(
            "healthcheck-test-{}-{}.sock",
            std::process::id(),
            rand_suffix()
        ));
        let socket = UnixDatagram::bind(&path).expect("bind a Unix datagram socket");
        Listener::Unix(socket, path)
    }

    /// `udp://127.0.0.1:<port>` or `unix:///tmp/...`.
    pub fn url(&self) -> String {
        match self {
            Listener::Udp(socket) => format!("udp://{}", socket.local_addr().expect("bound")),
            #[cfg(unix)]
            Listener::Unix(_, path) => format!("unix://{}", path.display()),
        }
    }

    pub fn port(&self) -> u16 {
        match self {
            Listener::Udp(socket) => socket.local_addr().expect("bound").port(),
            #[cfg(unix)]
            Listener::Unix(..) => 0,
        }
    }

    fn recv(&self, buffer: &mut [u8], timeout: Duration) -> Option<usize> {
        match self {
            Listener::Udp(socket) => {
                socket.set_read_timeout(Some(timeout)).expect("timeout");
                socket.recv(buffer).ok()
            }
            #[cfg(unix)]
            Listener::Unix(socket, _) => {
                socket.set_read_timeout(Some(timeout)).expect("timeout");
                socket.recv(buffer).ok()
            }
        }
    }

    /// Datagrams until one for which `last` is true, or until none has come for `quiet`.
    pub fn datagrams_until(&self, quiet: Duration, last: impl Fn(&str) -> bool) -> Vec<String> {
        let mut datagrams = Vec::new();
        let mut buffer = vec![0; 65_536];
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let Some(n) = self.recv(&mut buffer, quiet) else {
                break;
            };
            let datagram = String::from_utf8_lossy(&buffer[..n]).into_owned();
            let done = last(&datagram);
            datagrams.push(datagram);
            if done {
                break;
            }
        }
        datagrams
    }

    /// Every line received until none has come for `quiet`.
    pub fn lines(&self, quiet: Duration) -> Vec<String> {
        lines_of(&self.datagrams_until(quiet, |_| false))
    }

    /// Lines until one starts with `last`, or until none has come for a while.
    pub fn lines_through(&self, last: &str) -> Vec<String> {
        let datagrams = self.datagrams_until(Duration::from_secs(3), |datagram| {
            datagram.lines().any(|l| l.starts_with(last))
        });
        lines_of(&datagrams)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

pub fn lines_of(datagrams: &[String]) -> Vec<String> {
    datagrams
        .iter()
        .flat_map(|d| d.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(Instant::now().elapsed().as_nanos() as u64);
    hasher.finish()
}

/// One parsed metric line: `name:value|type|#tags`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    pub value: f64,
    pub kind: String,
    pub tags: Vec<String>,
}

pub fn parse_metric(line: &str) -> Option<Metric> {
    if line.starts_with("_sc|") || line.starts_with("_e{") {
        return None;
    }
    let (name, rest) = line.split_once(':')?;
    let mut fields = rest.split('|');
    let value = fields.next()?.parse().ok()?;
    let kind = fields.next()?.to_owned();
    let tags = fields
        .find_map(|f| f.strip_prefix('#'))
        .map(|t| t.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    Some(Metric {
        name: name.to_owned(),
        value,
        kind,
        tags,
    })
}

/// One parsed service check: `_sc|name|status|#tags|m:message`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceCheck {
    pub name: String,
    pub status: u8,
    pub tags: Vec<String>,
    pub message: Option<String>,
}

pub fn parse_service_check(line: &str) -> Option<ServiceCheck> {
    let rest = line.strip_prefix("_sc|")?;
    let (head, message) = match rest.split_once("|m:") {
        Some((head, message)) => (head, Some(message.to_owned())),
        None => (rest, None),
    };
    let mut fields = head.split('|');
    let name = fields.next()?.to_owned();
    let status = fields.next()?.parse().ok()?;
    let tags = fields
        .find_map(|f| f.strip_prefix('#'))
        .map(|t| t.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    Some(ServiceCheck {
        name,
        status,
        tags,
        message,
    })
}

/// One parsed event: `_e{a,b}:title|text|k:key|t:alert|#tags`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub title: String,
    pub text: String,
    pub alert_type: String,
    pub tags: Vec<String>,
}

pub fn parse_event(line: &str) -> Option<Event> {
    let rest = line.strip_prefix("_e{")?;
    let (lengths, rest) = rest.split_once("}:")?;
    let (title_len, text_len) = lengths.split_once(',')?;
    let (title_len, text_len): (usize, usize) = (title_len.parse().ok()?, text_len.parse().ok()?);
    let title = rest.get(..title_len)?.to_owned();
    let text = rest
        .get(title_len + 1..title_len + 1 + text_len)?
        .to_owned();
    let fields = rest.get(title_len + 1 + text_len..)?;
    let mut alert_type = String::new();
    let mut tags = Vec::new();
    for field in fields.split('|').skip(1) {
        if let Some(t) = field.strip_prefix("t:") {
            alert_type = t.to_owned();
        } else if let Some(t) = field.strip_prefix('#') {
            tags = t.split(',').map(str::to_owned).collect();
        }
    }
    Some(Event {
        title,
        text,
        alert_type,
        tags,
    })
}

/// A gate that holds blocking checks until the test opens it: a dependency that hangs.
#[derive(Default)]
pub struct Gate {
    open: std::sync::Mutex<bool>,
    opened: std::sync::Condvar,
}

impl Gate {
    /// Blocks until the gate is open.
    pub fn wait(&self) {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let _open = self
            .opened
            .wait_while(open, |open| !*open)
            .unwrap_or_else(|e| e.into_inner());
    }

    /// Opens the gate for good.
    pub fn open(&self) {
        *self.open.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.opened.notify_all();
    }
}

/// Starts one test of this binary in a child process whose file descriptors are limited to
/// `limit` (by the shell's `ulimit -n`, the workspace forbidding `unsafe`), with stdin and stdout
/// piped: the child reports on stdout, and ends when its stdin closes.
#[cfg(unix)]
pub fn child_with_fd_limit(test: &str, limit: u32) -> std::process::Child {
    use std::process::Stdio;
    let exe = std::env::current_exe().expect("the test binary");
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n {limit} && exec \"$0\" \"$1\" --exact --nocapture --test-threads=1"
        ))
        .arg(exe)
        .arg(test)
        .env(CHILD, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the child starts")
}

/// The resident memory of this process, in bytes, from `/proc/self/status`.
#[cfg(target_os = "linux")]
pub fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .expect("a VmRSS line")
}
