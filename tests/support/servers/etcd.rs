//! A real single-member `etcd` on free loopback ports.

use std::net::SocketAddr;
use std::process::Command;

use super::{Server, free_port, require, temp_dir};

/// Starts `etcd` with its data in a temporary directory.
pub fn start() -> Server {
    start_with(None)
}

/// Starts `etcd` serving its clients over TLS only, with the certificate and key (PEM) given.
pub fn start_tls(cert_pem: &str, key_pem: &str) -> Server {
    start_with(Some((cert_pem.to_owned(), key_pem.to_owned())))
}

fn start_with(tls: Option<(String, String)>) -> Server {
    let binary = require("etcd", &["/usr/local/bin"]);
    let port = free_port();
    let peer_port = free_port();
    let dir = temp_dir("etcd");
    let data = dir.join("data");
    let scheme = if tls.is_some() { "https" } else { "http" };
    let client = format!("{scheme}://127.0.0.1:{port}");
    let tls_files = tls.map(|(cert, key)| {
        let (cert_file, key_file) = (dir.join("server.pem"), dir.join("server-key.pem"));
        std::fs::write(&cert_file, cert).expect("write the certificate");
        std::fs::write(&key_file, key).expect("write the key");
        (cert_file, key_file)
    });
    let peer = format!("http://127.0.0.1:{peer_port}");
    Server::start(
        "etcd",
        SocketAddr::from(([127, 0, 0, 1], port)),
        dir,
        move || {
            let mut command = Command::new(&binary);
            command
                .arg("--data-dir")
                .arg(&data)
                .args(["--name", "default"])
                .args(["--listen-client-urls", &client])
                .args(["--advertise-client-urls", &client])
                .args(["--listen-peer-urls", &peer])
                .args(["--initial-advertise-peer-urls", &peer])
                .args(["--initial-cluster", &format!("default={peer}")])
                // A single member elects itself at once; short ticks make that, and the
                // expiry of leases, quick.
                .args(["--heartbeat-interval", "50", "--election-timeout", "250"])
                .args(["--log-level", "warn"]);
            if let Some((cert, key)) = &tls_files {
                command
                    .arg("--cert-file")
                    .arg(cert)
                    .arg("--key-file")
                    .arg(key);
            }
            command
        },
    )
}

/// Turns etcd's authentication on at `server`, with the user `root` and `password`.
pub async fn require_password(server: &Server, password: &str) {
    let mut client = etcd_client::Client::connect([endpoint(server)], None)
        .await
        .expect("connect");
    client
        .user_add("root", password, None)
        .await
        .expect("add root");
    client
        .user_grant_role("root", "root")
        .await
        .expect("grant root");
    client.auth_enable().await.expect("enable auth");
}

/// The endpoint of `server`, as etcd-client takes it.
pub fn endpoint(server: &Server) -> String {
    format!("http://{}", server.addr)
}

/// A real etcd cluster of three members on loopback, each killable and restartable on its own.
pub struct Cluster {
    /// The members, `m1`, `m2`, `m3` in order.
    pub members: Vec<Server>,
    /// Their names, in the same order.
    pub names: Vec<String>,
}

impl Cluster {
    /// Starts three members and waits until the cluster has a leader and answers.
    pub fn start() -> Self {
        let binary = require("etcd", &["/usr/local/bin"]);
        let names: Vec<String> = (1..=3).map(|i| format!("m{i}")).collect();
        let ports: Vec<(u16, u16)> = names.iter().map(|_| (free_port(), free_port())).collect();
        let initial = names
            .iter()
            .zip(&ports)
            .map(|(name, (_, peer))| format!("{name}=http://127.0.0.1:{peer}"))
            .collect::<Vec<_>>()
            .join(",");
        let token = format!("healthcheck-{}-{}", std::process::id(), ports[0].0);
        // A member only serves once the cluster has formed, so all start at once.
        let starting: Vec<_> = names
            .iter()
            .zip(&ports)
            .map(|(name, &(port, peer_port))| {
                let (binary, name, initial, token) =
                    (binary.clone(), name.clone(), initial.clone(), token.clone());
                std::thread::spawn(move || {
                    let dir = temp_dir("etcd-cluster");
                    let data = dir.join("data");
                    let client = format!("http://127.0.0.1:{port}");
                    let peer = format!("http://127.0.0.1:{peer_port}");
                    Server::start(
                        "etcd",
                        SocketAddr::from(([127, 0, 0, 1], port)),
                        dir,
                        move || {
                            let mut command = Command::new(&binary);
                            command
                                .arg("--data-dir")
                                .arg(&data)
                                .args(["--name", &name])
                                .args(["--listen-client-urls", &client])
                                .args(["--advertise-client-urls", &client])
                                .args(["--listen-peer-urls", &peer])
                                .args(["--initial-advertise-peer-urls", &peer])
                                .args(["--initial-cluster", &initial])
                                .args(["--initial-cluster-token", &token])
                                .args(["--initial-cluster-state", "new"])
                                // Quick elections, with room for a busy two-core machine.
                                .args(["--heartbeat-interval", "100", "--election-timeout", "1000"])
                                .args(["--log-level", "warn"]);
                            command
                        },
                    )
                })
            })
            .collect();
        let members = starting
            .into_iter()
            .map(|thread| thread.join().expect("an etcd member starts"))
            .collect();
        let cluster = Self { members, names };
        cluster.wait_until_healthy();
        cluster
    }

    /// The client URLs of the members.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(endpoint).collect()
    }

    /// Kills member `i` (0-based) at once, as a crash would.
    pub fn kill(&mut self, i: usize) {
        self.members[i].kill();
    }

    /// Starts member `i` again, on its data, and waits until the cluster is healthy.
    pub fn restart(&mut self, i: usize) {
        self.members[i].restart();
        self.wait_until_healthy();
    }

    /// Waits until every running member says the cluster is healthy (a leader, and a quorum
    /// that answers): etcd's own `/health`.
    pub fn wait_until_healthy(&self) {
        let healthy = super::wait_until(std::time::Duration::from_secs(30), || {
            self.members
                .iter()
                .all(|member| health_says_true(member.addr))
        });
        assert!(
            healthy,
            "the etcd cluster did not become healthy within 30 s"
        );
    }
}

/// Whether `GET /health` at `addr` answers `"health":"true"`.
fn health_says_true(addr: SocketAddr) -> bool {
    use std::io::{Read as _, Write as _};
    let timeout = std::time::Duration::from_secs(2);
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.contains("\"health\":\"true\"")
}
