//! What an instance does when its real fleet store goes away and comes back: the same case for
//! SQLite's, Redis's, PostgreSQL's and etcd's servers.

use std::time::{Duration, Instant};

use healthcheck::fleet::{FleetConfig, FleetFilter};
use healthcheck::http::HttpOptions;
use healthcheck::http::server::Server as HttpServer;
use healthcheck::{Check, HealthChecks, MetricsConfig};

use super::http_client::get;
use super::servers::Server;
use super::servers::postgres::Postgres;

/// A store's server that a test can crash and start again.
pub trait Outage {
    /// Stops the server at once, as a crash would.
    fn kill(&mut self);
    /// Starts it again on the same address and data.
    fn restart(&mut self);
}

impl Outage for Server {
    fn kill(&mut self) {
        Server::kill(self);
    }
    fn restart(&mut self) {
        Server::restart(self);
    }
}

impl Outage for Postgres {
    fn kill(&mut self) {
        Postgres::kill(self);
    }
    fn restart(&mut self) {
        Postgres::restart(self);
    }
}

/// An instance of `service` publishing to the store at `url` every 200 ms.
pub fn instance(url: &str, service: &str, host: &str) -> HealthChecks {
    HealthChecks::builder()
        .without_registered_checks()
        .service(service)
        .host(host)
        .instance(format!("{host}-1"))
        .metrics(MetricsConfig::new().enabled(false))
        .check(Check::new("database", || async { true }).groups(["db"]))
        .check(Check::new("queue", || async { true }))
        .fleet(
            FleetConfig::new()
                .store_url(url)
                .publish_every(Duration::from_millis(200)),
        )
        .build()
        .expect("a valid store URL")
}

/// The store is killed mid-run: runs go on unchanged, `/fleet` answers 503 saying the store is
/// unreachable, the outage is counted, and publishing resumes by itself once the store is back.
/// `secret` (the password in `url`, if any) never shows. Needs a multi-threaded runtime.
pub async fn survives_an_outage(url: &str, secret: Option<&str>, server: &mut impl Outage) {
    let service = super::fleet_contract::unique_service("outage");
    let health = instance(url, &service, "web-1");
    let handler = HttpOptions::new()
        .cache_ttl(Duration::ZERO)
        .build(health.clone())
        .expect("valid");
    let http = HttpServer::bind("127.0.0.1:0", handler)
        .await
        .expect("bind");
    let address = http.local_addr();
    let hides = |text: &str| {
        if let Some(secret) = secret {
            assert!(!text.contains(secret), "the password shows: {text}");
        }
    };

    assert!(health.run().await.service_healthy);
    assert!(
        health.flush_fleet(Duration::from_secs(10)).await,
        "published"
    );
    let fleet = tokio::task::spawn_blocking(move || get(address, "/fleet"))
        .await
        .expect("no panic");
    assert_eq!(fleet.status, 200, "{}", fleet.body);
    assert_eq!(
        fleet.json()["services"][service.as_str()]["database"]["db"][0]["host"],
        "web-1"
    );

    tokio::task::block_in_place(|| server.kill());

    // Runs go on as if there were no store.
    for _ in 0..3 {
        let started = Instant::now();
        let report = health.run().await;
        assert!(report.service_healthy, "{report:?}");
        assert!(report.components.values().all(|c| c.healthy));
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "a run waited for the store: {:?}",
            started.elapsed()
        );
    }
    let fleet = tokio::task::spawn_blocking(move || get(address, "/fleet"))
        .await
        .expect("no panic");
    assert_eq!(fleet.status, 503, "{}", fleet.body);
    let body = fleet.json();
    assert_eq!(body["healthy"], false);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("the fleet store could not be read")),
        "{body}"
    );
    hides(&fleet.body);
    let ready = tokio::task::spawn_blocking(move || get(address, "/readyz"))
        .await
        .expect("no panic");
    assert_eq!(
        ready.status, 200,
        "the instance's own health does not depend on the store"
    );

    // The outage is visible and counted.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let status = health.fleet_status().expect("publishes");
        if status.failures > 0 {
            break status;
        }
        assert!(Instant::now() < deadline, "no failure counted: {status:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.connected, "{status:?}");
    hides(&format!("{status:?}"));

    // Back: publishing resumes with no restart of anything but the store.
    tokio::task::block_in_place(|| server.restart());
    let published = status.published;
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let status = health.fleet_status().expect("publishes");
        if status.connected && status.published > published {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "publishing did not resume: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let view = health
        .fleet()
        .read(&FleetFilter::new())
        .await
        .expect("readable again");
    assert!(view.healthy, "{:?}", view.failing);
    let fleet = tokio::task::spawn_blocking(move || get(address, "/fleet"))
        .await
        .expect("no panic");
    assert_eq!(fleet.status, 200, "{}", fleet.body);
    http.shutdown().await;
}
