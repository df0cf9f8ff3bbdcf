//! A worker with no web framework: the health endpoints on a port of their own (`[::]:5151`,
//! as the daemon library's status server), stopped gracefully on Ctrl-C.
//!
//! Run it with `cargo run --example status_server`, then `curl localhost:5151/ping`.

use std::time::Duration;

use healthcheck::http::HttpOptions;
use healthcheck::http::server::Server;
use healthcheck::{HealthChecks, healthcheck};

#[healthcheck(probes = ["liveness", "readiness"])]
async fn queue() -> Result<serde_json::Value, String> {
    Ok(serde_json::json!({"queued_jobs": 3}))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let handler = HttpOptions::new()
        .refresh_every(Duration::from_secs(5))
        .build(HealthChecks::builder().build()?)?;
    let server = Server::bind("[::]:5151", handler.clone()).await?;
    tokio::signal::ctrl_c().await?;
    // Readiness turns 503 at once; give the load balancers a moment, then stop.
    handler.begin_shutdown();
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.shutdown().await;
    Ok(())
}
