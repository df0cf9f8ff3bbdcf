//! The main example: checks of every form, run concurrently under timeouts, printed as the
//! python-panopticon JSON report and as one line per component.
//!
//! Run it with `cargo run --example quickstart`.

#![allow(clippy::print_stdout)] // Printing is what this program is for.

use std::time::Duration;

use healthcheck::{Check, Component, HealthChecks, healthcheck};
use serde::Serialize;

/// `async fn() -> Result<(), E>`: healthy on `Ok`, unhealthy with the error's message on `Err`.
#[healthcheck(timeout = "500ms")]
async fn database() -> Result<(), std::io::Error> {
    tokio::time::sleep(Duration::from_millis(20)).await; // stands for `SELECT 1`
    Ok(())
}

#[derive(Serialize)]
struct Queue {
    queued_jobs: u32,
}

/// `Ok(T)` with a `Serialize` type adds its fields to the component.
#[healthcheck(groups = ["back"])]
async fn background_jobs() -> Result<Queue, String> {
    Ok(Queue { queued_jobs: 423 })
}

/// python-panopticon's style: fill in the component. A plain `fn` runs on the blocking pool.
#[healthcheck(groups = ["back"], critical = false)]
fn disk_space(component: &mut Component) {
    component.set_healthy(true);
    component.set_status_message("plenty");
    component.insert("free_gib", 120);
}

/// Working, with a concern.
#[healthcheck(groups = ["front"], probes = ["liveness", "readiness"])]
fn cdn() -> Component {
    Component::degraded("one edge of three is slow")
}

/// A check past its timeout is reported unhealthy, and the report comes on time.
#[healthcheck(timeout = "100ms", critical = false)]
async fn slow_partner_api() -> bool {
    tokio::time::sleep(Duration::from_secs(10)).await;
    true
}

#[tokio::main]
async fn main() -> Result<(), healthcheck::Error> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();

    // A check that captures state is registered at run time.
    let cache = std::sync::Arc::new(vec!["warm"; 3]);
    let health = HealthChecks::builder()
        .check(Check::new("cache", move || {
            let cache = cache.clone();
            async move { !cache.is_empty() }
        }))
        .build()?;

    let report = health.run().await;
    println!("{}", report.to_json_pretty());
    println!();
    print!("{report}");
    println!(
        "\nservice_healthy: {} (the slow partner API timed out, but it is not critical)",
        report.service_healthy
    );

    let back = health.run_group("back").await?;
    println!("\ngroup `back`:\n{back}");

    // Metrics (on by default, to a local Datadog agent if there is one) leave on a thread of
    // the SDK's own: let them go before the process exits. `false` means some were dropped,
    // as they are when no agent listens.
    let flushed = health.flush_metrics(Duration::from_secs(1)).await;
    println!("metrics flushed: {flushed}");
    Ok(())
}
