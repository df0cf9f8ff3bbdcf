//! A fleet in one program: three instances of `payments` (one with a failing database) and a
//! backup job publish into one shared store, and the fleet view reads them as check → group →
//! host, by two rules. With `HEALTHCHECK_STORE=sqlite:///tmp/fleet.db` (or `redis://...`) set,
//! the instances publish there instead, and other processes see them.
//!
//! `cargo run --example fleet`

#![allow(clippy::print_stdout)] // Printing is what this example is for.

use std::sync::Arc;
use std::time::Duration;

use healthcheck::fleet::{FleetConfig, FleetFilter, FleetReduce, FleetStore, MemoryFleetStore};
use healthcheck::{Check, HealthChecks, Heartbeat, MetricsConfig};

fn instance(store: &Arc<dyn FleetStore>, host: &str, database_up: bool) -> HealthChecks {
    HealthChecks::builder()
        .without_registered_checks()
        .service("payments")
        .host(host)
        .instance(format!("{host}-1"))
        .label("region", "eu-west-1")
        .metrics(MetricsConfig::disabled())
        .check(
            Check::new("database", move || async move {
                if database_up {
                    Ok(())
                } else {
                    Err("connection refused")
                }
            })
            .groups(["db"]),
        )
        .heartbeat(Heartbeat::new(
            "nightly_backup",
            Duration::from_secs(25 * 3600),
        ))
        .fleet(fleet_config(store))
        .build()
        .expect("valid checks")
}

fn fleet_config(store: &Arc<dyn FleetStore>) -> FleetConfig {
    if std::env::var_os(healthcheck::fleet::STORE_ENV).is_some() {
        FleetConfig::new() // the store the variable names
    } else {
        FleetConfig::new().shared_store(Arc::clone(store))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store: Arc<dyn FleetStore> = Arc::new(MemoryFleetStore::new());
    let web = [
        instance(&store, "web-1", true),
        instance(&store, "web-2", true),
        instance(&store, "web-3", false),
    ];
    // The backup job beats on its own host; every instance reports the heartbeat through the
    // store.
    let job = instance(&store, "batch-1", true);
    job.beat_with("nightly_backup", healthcheck::Beat::ok().message("412 GiB"))?;
    job.flush_fleet(Duration::from_secs(5)).await;

    for health in &web {
        let report = health.run().await;
        println!("{}: {report}", health.identity().host());
        health.flush_fleet(Duration::from_secs(5)).await;
    }

    let fleet = web[0].fleet();
    let view = fleet.read(&FleetFilter::new()).await?;
    println!(
        "\nthe fleet, every instance healthy (the default rule): {}",
        view.healthy
    );
    for reason in &view.failing {
        println!("  failing: {reason}");
    }
    print!("{}", view.to_text());

    let lenient = fleet.with_reduce(FleetReduce::OnePerGroup);
    let view = lenient.read(&FleetFilter::new().check("database")).await?;
    println!(
        "\nat least one healthy instance per group: {}",
        view.healthy
    );
    println!("\nas JSON: {}", view.to_json());
    Ok(())
}
