//! The service registry: this program registers itself in etcd as an instance of `payments`,
//! follows the registry with a watch that prints each event, lists the instances, then shuts
//! down gracefully: `DOWN` (shutting down) at once, then out of the registry.
//!
//! `cargo run --example registry`, against the etcd at `ETCD_ENDPOINTS` (default
//! `127.0.0.1:2379`; several as `h1:2379,h2:2379`). One on loopback: `etcd --data-dir
//! "$(mktemp -d)"`. Run two at once to see each other's events.

#![allow(clippy::print_stdout)] // Printing is what this example is for.

use std::time::Duration;

use healthcheck::registry::{Instance, InstanceStatus, Registry, RegistryEvent, RegistryFilter};
use healthcheck::{Check, HealthChecks, MetricsConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `http://h1:2379,http://h2:2379` (etcd-client's form, as the `checks` example takes it)
    // or `h1:2379,h2:2379`.
    let endpoints = std::env::var("ETCD_ENDPOINTS").unwrap_or_else(|_| "127.0.0.1:2379".into());
    let endpoints = endpoints
        .split(',')
        .map(|e| e.trim().trim_start_matches("http://"))
        .collect::<Vec<_>>()
        .join(",");
    let registry = Registry::etcd(endpoints)
        .ttl(Duration::from_secs(5)) // a crashed instance is gone after 5 s
        .build()?;

    let health = HealthChecks::builder()
        .without_registered_checks()
        .service("payments")
        .metrics(MetricsConfig::disabled())
        // Healthy while the registration is in etcd, degraded while it is not (liveness only).
        .check(registry.check())
        // A readiness check: the registered status follows it.
        .check(Check::new("database", || async { true }))
        .build()?;

    // Every instance of `payments`, this one included: first as they are, then each change.
    let mut watch = registry.watch(RegistryFilter::new().kind("payments"));
    let watcher = tokio::spawn(async move {
        while let Some(event) = watch.next().await {
            match event {
                RegistryEvent::Up(instance) => {
                    println!("watch: {} on {} is UP", instance.id, instance.host);
                }
                RegistryEvent::Down(instance, reason) => {
                    println!(
                        "watch: {} on {} is DOWN ({reason})",
                        instance.id, instance.host
                    );
                }
            }
        }
    });

    let registration = registry.register(
        Instance::of(&health)
            .region("eu-west-1")
            .endpoint("http://127.0.0.1:8080")
            .metadata("zone", "b"),
    );
    let id = registration.id();
    if !registration
        .wait_for(Some(InstanceStatus::Up), Duration::from_secs(10))
        .await
    {
        return Err(format!("not registered within 10 s: {:?}", registration.state()).into());
    }
    let lease = registration.state().lease.unwrap_or_default();
    println!("registered {id} on lease {lease:x}");
    tokio::time::sleep(Duration::from_millis(200)).await;

    let instances = registry
        .list(&RegistryFilter::new().kind("payments"))
        .await?;
    println!("{} instance(s) of payments:", instances.len());
    for instance in &instances {
        println!(
            "  {} {} on {} since {}, region {}, endpoints {:?}",
            instance.id,
            instance.status,
            instance.host,
            instance.since.format("%H:%M:%S"),
            instance.region.as_deref().unwrap_or("-"),
            instance.endpoints,
        );
    }
    println!("is {id} up? {}", registry.is_up(&id).await?);
    let report = health.run().await;
    if let Some(component) = report.components.get("registry") {
        println!(
            "the registry check: {} ({})",
            component.status,
            component.status_message.as_deref().unwrap_or("-")
        );
    }

    // A graceful shutdown: out of rotation at once, then out of the registry.
    health.begin_shutdown();
    registration
        .wait_for(Some(InstanceStatus::Down), Duration::from_secs(10))
        .await;
    let state = registration.state();
    let status = state.status.map(|s| s.to_string()).unwrap_or_default();
    let reason = state.reason.map(|r| r.to_string()).unwrap_or_default();
    println!("shutting down: {id} is {status} ({reason})");
    tokio::time::sleep(Duration::from_millis(200)).await;
    registration.deregister().await?;
    println!("deregistered {id}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    watcher.abort();
    Ok(())
}
