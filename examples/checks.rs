//! The built-in checkers: an HTTP endpoint, a TCP port, a DNS name, the disk and the memory of
//! this process's container, and — when their addresses are in the environment — PostgreSQL,
//! Redis, memcached and etcd, all in one report. The HTTP endpoint is served by the program
//! itself, so it runs with no server around.
//!
//! Run it with `cargo run --example checks`; add `DATABASE_URL=postgres://…`,
//! `REDIS_URL=redis://…`, `MEMCACHED_ADDR=host:11211` or `ETCD_ENDPOINTS=http://h1:2379,…` to
//! check those too. A password in any of them never shows in the report.

#![allow(clippy::print_stdout)] // Printing is what this program is for.

use std::time::Duration;

use healthcheck::{HealthChecks, checks};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A downstream service of our own on a free port: `/health` answers 200 with a body.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let downstream = listener.local_addr()?;
    let app = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut builder = HealthChecks::builder()
        .without_registered_checks()
        .default_timeout(Duration::from_secs(2))
        .check(
            checks::http("downstream", format!("http://{downstream}/health"))
                .body_contains("ok")
                .groups(["deps"]),
        )
        .check(checks::tcp("downstream_port", downstream.to_string()).groups(["deps"]))
        .check(checks::dns("localhost_resolves", "localhost").critical(false))
        .check(
            checks::disk("disk", ".")
                .degraded_below("10%")
                .unhealthy_below("2%"),
        )
        .check(
            checks::memory("memory")
                .degraded_below("10%")
                .unhealthy_below("5%"),
        );
    if let Ok(url) = std::env::var("DATABASE_URL") {
        builder = builder.check(checks::postgres("postgres", url).groups(["deps"]));
    }
    if let Ok(url) = std::env::var("REDIS_URL") {
        builder = builder.check(
            checks::redis("redis", url)
                .max_memory_usage(0.9)
                .groups(["deps"]),
        );
    }
    if let Ok(addr) = std::env::var("MEMCACHED_ADDR") {
        builder = builder.check(checks::memcached("memcached", addr).groups(["deps"]));
    }
    if let Ok(endpoints) = std::env::var("ETCD_ENDPOINTS") {
        builder = builder.check(checks::etcd("etcd", endpoints.split(',')).groups(["deps"]));
    }
    // A malformed URL or address is an error here, naming the check, not a check that fails.
    let health = builder.build()?;

    let report = health.run().await;
    println!("{}", report.to_json_pretty());
    println!();
    println!("{report}");
    Ok(())
}
