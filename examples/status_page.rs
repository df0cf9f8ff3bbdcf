//! The HTML status page of a service with a few checks, their history and a fleet of three
//! hosts (one of them gone quiet), served on a port of its own.
//!
//! Run it with `cargo run --example status_page`, then open <http://127.0.0.1:5151/status.html>.
//! `cargo run --example status_page -- 127.0.0.1:0` takes a free port; the first line it prints
//! is the page's address (`scripts/status-page-screenshot` uses that for the README's picture).
#![allow(clippy::print_stdout)] // The page's address is what this program tells.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use healthcheck::fleet::{FleetConfig, FleetStore, MemoryFleetStore};
use healthcheck::http::HttpOptions;
use healthcheck::http::server::Server;
use healthcheck::status::StatusPage;
use healthcheck::{Check, Component, HealthChecks, MetricsConfig};

/// One instance of `orders` on `host`, sharing `store` with the others.
fn instance(store: &Arc<dyn FleetStore>, host: &str, runs: Arc<AtomicUsize>) -> HealthChecks {
    let replica = Arc::clone(&runs);
    HealthChecks::builder()
        .without_registered_checks()
        .service("orders")
        .host(host)
        // One process plays three hosts: each needs an instance id of its own.
        .instance(format!("{host}-a1"))
        .metrics(MetricsConfig::disabled())
        .fleet(
            FleetConfig::new()
                .shared_store(Arc::clone(store))
                .publish_every(Duration::from_millis(500))
                .freshness(Duration::from_secs(2)),
        )
        .check(
            Check::new("postgres", move || {
                // A primary that answers in 2 to 9 ms.
                let run = runs.fetch_add(1, Ordering::Relaxed);
                async move {
                    tokio::time::sleep(Duration::from_millis(2 + (run * 7 % 8) as u64)).await;
                    Ok::<_, String>(())
                }
            })
            .groups(["database"]),
        )
        .check(
            Check::new("postgres-replica", move || {
                // Lagging now and then.
                let run = replica.load(Ordering::Relaxed);
                async move {
                    tokio::time::sleep(Duration::from_millis(3)).await;
                    if run % 9 == 4 {
                        Component::degraded("replication lag is 12 s")
                    } else {
                        Component::healthy()
                    }
                }
            })
            .groups(["database"]),
        )
        .check(
            Check::new("redis", || async {
                tokio::time::sleep(Duration::from_micros(700)).await;
                Ok::<_, String>(())
            })
            .groups(["cache"]),
        )
        .check(
            Check::new("payment-gateway", || async {
                tokio::time::sleep(Duration::from_millis(4)).await;
                Err::<(), _>("POST https://pay.example.com/health: 502 Bad Gateway")
            })
            .groups(["upstream"])
            .critical(false),
        )
        .build()
        .expect("valid checks")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:5151".to_owned());
    let store: Arc<dyn FleetStore> = Arc::new(MemoryFleetStore::new());

    // web-3 published once and went quiet: its results turn stale.
    let quiet = instance(&store, "web-3", Arc::new(AtomicUsize::new(0)));
    quiet.run().await;
    quiet.flush_fleet(Duration::from_secs(1)).await;
    drop(quiet);

    let web2 = instance(&store, "web-2", Arc::new(AtomicUsize::new(3)));
    let web1 = instance(&store, "web-1", Arc::new(AtomicUsize::new(0)));
    for _ in 0..40 {
        web2.run().await;
        web1.run().await;
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    for instance in [&web1, &web2] {
        instance.run().await;
        instance.flush_fleet(Duration::from_secs(1)).await;
    }

    let handler = HttpOptions::new()
        .status_page(StatusPage::new().title("orders"))
        .build(web1.clone())?;
    let server = Server::bind(address.as_str(), handler).await?;
    println!("http://{}/status.html", server.local_addr());
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
