//! A real single-member `etcd` on free loopback ports.

use std::net::SocketAddr;
use std::process::Command;

use super::{Server, free_port, require, temp_dir};

/// Starts `etcd` with its data in a temporary directory.
pub fn start() -> Server {
    let binary = require("etcd", &["/usr/local/bin"]);
    let port = free_port();
    let peer_port = free_port();
    let dir = temp_dir("etcd");
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
            command
        },
    )
}

/// The endpoint of `server`, as etcd-client takes it.
pub fn endpoint(server: &Server) -> String {
    format!("http://{}", server.addr)
}
