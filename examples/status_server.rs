//! A daemon with no web framework: its status server on a port of its own (`[::]:5151`, as the
//! daemon library's), with `/ping`, `/status` (workers, configuration with secrets masked),
//! `/environ`, the HTML page at `/status.html`, and JSON events over HTTP (`POST /events`) and
//! UDP on the same port; a supervised worker; stopped gracefully on Ctrl-C.
//!
//! Run it with `cargo run --example status_server`, then `curl localhost:5151/status`,
//! `curl -d '{"kind":"reload"}' localhost:5151/events`, or
//! `echo '{"kind":"reload"}' | nc -u -w1 localhost 5151`.

use std::time::Duration;

use healthcheck::events::Events;
use healthcheck::http::HttpOptions;
use healthcheck::http::server::Server;
use healthcheck::status::{ServiceStatus, StatusPage};
use healthcheck::workers::{Stop, Workers};
use healthcheck::{HealthChecks, healthcheck};

#[healthcheck(probes = ["liveness", "readiness"])]
async fn queue() -> Result<serde_json::Value, String> {
    Ok(serde_json::json!({"queued_jobs": 3}))
}

#[derive(serde::Serialize)]
struct Config {
    listen: &'static str,
    database_url: &'static str,
    api_token: &'static str,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let workers = Workers::builder().build();
    workers.spawn("consumer", |mut stop: Stop| async move {
        // ... consume a queue until told to stop; an error or a panic restarts it.
        stop.stopped().await;
        Ok::<(), std::io::Error>(())
    })?;
    let events = Events::builder()
        .handler(|event| async move {
            tracing::info!(body = %event.body, source = ?event.source, "an event");
            Ok::<(), std::io::Error>(())
        })
        .build()?;
    let config = Config {
        listen: "[::]:5151",
        database_url: "postgres://app:s3cret@db/app",
        api_token: "tok-123", // shown as *** HIDDEN ***
    };
    let health = HealthChecks::builder().checks(workers.checks()).build()?;
    let handler = HttpOptions::new()
        .refresh_every(Duration::from_secs(5))
        .status(
            ServiceStatus::new()
                .environ(healthcheck::environ!())
                .workers(workers.clone())
                .events(events.clone())
                .config(&config)?,
        )
        .environ(healthcheck::environ!())
        .status_page(StatusPage::new())
        .events(events.clone())
        .build(health)?;
    let server = Server::bind("[::]:5151", handler.clone()).await?;
    tokio::signal::ctrl_c().await?;
    // Readiness turns 503 at once; give the load balancers a moment, then stop.
    handler.begin_shutdown();
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.shutdown().await;
    events.close(Duration::from_secs(5)).await;
    workers.shutdown(Duration::from_secs(5)).await;
    Ok(())
}
