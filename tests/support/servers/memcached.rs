//! A real `memcached` on a free loopback port (TCP only, no UDP).

use std::net::SocketAddr;
use std::process::Command;

use super::{Server, free_port, require, temp_dir};

/// Starts `memcached` on 127.0.0.1 and a free port.
pub fn start() -> Server {
    let binary = require("memcached", &["/usr/bin"]);
    let port = free_port();
    Server::start(
        "memcached",
        SocketAddr::from(([127, 0, 0, 1], port)),
        temp_dir("memcached"),
        move || {
            let mut command = Command::new(&binary);
            command.args(["-l", "127.0.0.1", "-p", &port.to_string(), "-U", "0"]);
            // memcached refuses to run as root unless told which user to become.
            command.args(["-u", "nobody"]);
            command
        },
    )
}

/// The version `memcached -V` prints, such as `1.6.18`.
pub fn version() -> String {
    let output = Command::new(require("memcached", &["/usr/bin"]))
        .arg("-V")
        .output()
        .expect("memcached -V runs");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .trim_start_matches("memcached ")
        .to_owned()
}
