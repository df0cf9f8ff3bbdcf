//! What the SDK sends to Datadog: a stand-in agent on loopback prints every DogStatsD line it
//! receives from one run of the checks, and from the application's own metrics.
//!
//! Run it with `cargo run --example datadog`.

#![allow(clippy::print_stdout)] // Printing is what this program is for.

use std::net::UdpSocket;
use std::time::Duration;

use healthcheck::{Check, Component, HealthChecks, MetricsConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let agent = UdpSocket::bind("127.0.0.1:0")?;
    agent.set_read_timeout(Some(Duration::from_millis(200)))?;
    let url = format!("udp://{}", agent.local_addr()?);

    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::new().destination_url(&url)?.tag("team:core"))
        .check(Check::new("database", || async { true }).groups(["back"]))
        .check(Check::blocking("cache", || {
            Component::degraded("hit rate 40%")
        }))
        .check(
            Check::new("search", || async { Err::<(), _>("connection refused") }).critical(false),
        )
        .build()?;

    let report = health.run().await;
    health
        .statsd()
        .gauge("queue.depth", 42.0, &["queue:emails"]);
    health.flush_metrics(Duration::from_secs(1)).await;

    print!("{report}");
    println!("\nsent to {url}:");
    let mut buffer = [0; 65_536];
    while let Ok(n) = agent.recv(&mut buffer) {
        println!("--- datagram of {n} bytes");
        print!("{}", String::from_utf8_lossy(&buffer[..n]));
    }
    Ok(())
}
