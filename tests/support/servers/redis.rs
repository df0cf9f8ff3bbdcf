//! A real `redis-server` on a free loopback port, without persistence.

use std::net::SocketAddr;
use std::process::Command;

use super::{Server, free_port, require, temp_dir};

/// Starts `redis-server`, with `password` required when given.
pub fn start(password: Option<&str>) -> Server {
    let binary = require("redis-server", &[]);
    let port = free_port();
    let dir = temp_dir("redis");
    let password = password.map(str::to_owned);
    let data = dir.clone();
    Server::start(
        "redis",
        SocketAddr::from(([127, 0, 0, 1], port)),
        dir,
        move || {
            let mut command = Command::new(&binary);
            command
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&data);
            if let Some(password) = &password {
                command.args(["--requirepass", password]);
            }
            command
        },
    )
}

/// The URL of `server`, with `password` when given.
pub fn url(server: &Server, password: Option<&str>) -> String {
    match password {
        Some(password) => format!("redis://:{password}@{}/0", server.addr),
        None => format!("redis://{}/0", server.addr),
    }
}
