//! The fleet's costs: what publishing adds to a run (with the in-memory store and with each
//! shared store whose server is installed), one publish of 100 results, and reading a fleet of
//! 1,000 instances × 20 checks, each as a ratio to a baseline measured in the same run.
//!
//! `cargo bench --bench fleet`. Servers are started on loopback like the tests do; a backend
//! whose server is not installed is skipped with a note.

#![allow(clippy::print_stdout)] // Printing is what this program is for.

#[path = "support/timing.rs"]
mod timing;

#[path = "../tests/support/servers/mod.rs"]
#[allow(dead_code, unreachable_pub)]
mod servers;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use timing::median;

use healthcheck::Status;
use healthcheck::fleet::{
    EtcdStore, FleetConfig, FleetRecord, FleetStore, MemoryFleetStore, PostgresStore, RedisStore,
    SqliteStore,
};
use healthcheck::{HealthChecks, MetricsConfig, healthcheck};
use seq_macro::seq;
use serde_json::Map;

seq!(N in 0..1000 {
    #[healthcheck]
    async fn trivial_~N() -> bool {
        black_box(true)
    }
});

fn checks(fleet: FleetConfig, count: usize) -> HealthChecks {
    HealthChecks::builder()
        .filter_registered(move |check| {
            check.name()["trivial_".len()..]
                .parse::<usize>()
                .is_ok_and(|n| n < count)
        })
        .metrics(MetricsConfig::disabled())
        .service("bench")
        .fleet(fleet)
        .build()
        .expect("valid checks")
}

/// Median time of a run + JSON of each of `variants`, taking turns in blocks so that drift on a
/// shared machine hits them all alike. After each run, untimed, the publisher writes what the run
/// handed over and every variant then idles as long (runs of a service come some time apart);
/// what is timed is what publishing adds to the run itself.
fn compare_runs(
    runtime: &tokio::runtime::Runtime,
    variants: &[&HealthChecks],
    blocks: usize,
    per_block: usize,
) -> Vec<Duration> {
    let mut samples = vec![Vec::new(); variants.len()];
    for health in variants {
        runtime.block_on(health.run());
    }
    for _ in 0..blocks {
        for (health, samples) in variants.iter().zip(samples.iter_mut()) {
            for _ in 0..per_block {
                let started = Instant::now();
                let report = runtime.block_on(health.run());
                black_box(report.to_json());
                samples.push(started.elapsed());
                let idle = Instant::now();
                assert!(runtime.block_on(health.flush_fleet(Duration::from_secs(10))));
                std::thread::sleep(IDLE.saturating_sub(idle.elapsed()));
            }
        }
    }
    samples.into_iter().map(median).collect()
}

/// The gap between two runs: longer than the publisher takes to write one run.
const IDLE: Duration = Duration::from_millis(10);

fn main() {
    if std::env::args().any(|a| a == "--stores-only") {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        stores(&runtime);
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    println!("| scenario | median | target | result |");
    println!("|---|---|---|---|");
    let redis = std::panic::catch_unwind(|| servers::redis::start(None)).ok();
    for count in [20, 1000] {
        let without = checks(FleetConfig::new().read_only(), count);
        let memory = checks(FleetConfig::new().store(MemoryFleetStore::new()), count);
        let mut variants = vec![&without, &memory];
        let with_redis = redis.as_ref().map(|server| {
            let url = servers::redis::url(server, None);
            checks(FleetConfig::new().store_url(url), count)
        });
        variants.extend(with_redis.as_ref());
        let (blocks, per_block) = (20, 25);
        let took = compare_runs(&runtime, &variants, blocks, per_block);
        let base = took[0];
        println!("| {count} trivial checks, run + JSON, no store | {base:.1?} | | |");
        for (store, took) in ["the in-memory store", "Redis"].iter().zip(&took[1..]) {
            println!(
                "| {count} trivial checks, run + JSON, publishing to {store} | {took:.1?} | ≤ 1.1× no store | {:.2}× no store |",
                took.as_secs_f64() / base.as_secs_f64()
            );
        }
    }
    drop(redis);
    stores(&runtime);
}

/// One instance's record of one check.
fn record(service: &str, instance: usize, check: usize) -> FleetRecord {
    FleetRecord {
        service: service.to_owned(),
        check: format!("check_{check:02}"),
        group: "default".to_owned(),
        instance: format!("instance-{instance:04}"),
        host: format!("host-{:03}", instance / 4),
        labels: [("region".to_owned(), "eu-west-1".to_owned())].into(),
        status: Status::Healthy,
        message: None,
        response_time: 0.001_25,
        checked_at: Utc::now(),
        critical: true,
        stale_after: Some(90.0),
        fields: Map::new(),
    }
}

/// Publishing 100 results, and reading a fleet of 1,000 instances × 20 checks, from each store
/// whose server is installed, as ratios to the in-memory store.
fn stores(runtime: &tokio::runtime::Runtime) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let sqlite_dir = servers::temp_dir("bench-sqlite");
    let mut kept = Vec::new();
    let mut stores: Vec<(&str, Arc<dyn FleetStore>)> = vec![
        ("in-memory", Arc::new(MemoryFleetStore::new())),
        (
            "SQLite (one file, WAL)",
            Arc::new(SqliteStore::open(sqlite_dir.join("fleet.db")).expect("a path")),
        ),
    ];
    match std::panic::catch_unwind(|| servers::redis::start(None)) {
        Ok(server) => {
            let url = servers::redis::url(&server, None);
            stores.push(("Redis", Arc::new(RedisStore::new(&url).expect("a URL"))));
            kept.push(Box::new(server) as Box<dyn std::any::Any>);
        }
        Err(_) => println!("(Redis skipped: redis-server is not installed)"),
    }
    match std::panic::catch_unwind(servers::postgres::Postgres::start) {
        Ok(server) => {
            let store = PostgresStore::new(&server.url()).expect("a URL");
            stores.push(("PostgreSQL", Arc::new(store)));
            kept.push(Box::new(server));
        }
        Err(_) => println!("(PostgreSQL skipped: it is not installed)"),
    }
    match std::panic::catch_unwind(servers::etcd::start) {
        Ok(server) => {
            let url = format!("etcd://{}", server.addr);
            stores.push(("etcd", Arc::new(EtcdStore::new(&url).expect("a URL"))));
            kept.push(Box::new(server));
        }
        Err(_) => println!("(etcd skipped: it is not installed)"),
    }
    let ttl = Duration::from_secs(600);
    println!();
    println!(
        "| store | publish 100 results (one instance) | read 1,000 instances × 20 checks | publish, × in-memory | read, × in-memory |"
    );
    println!("|---|---|---|---|---|");
    let mut base: Option<(Duration, Duration)> = None;
    for (name, store) in &stores {
        let service = format!("bench-{nanos}-{}", name.split(' ').next().unwrap_or(name));
        let hundred: Vec<FleetRecord> = (0..100).map(|c| record(&service, 0, c)).collect();
        runtime.block_on(async {
            store.publish(&hundred, ttl).await.expect("publish");
        });
        let publish = median(
            (0..30)
                .map(|_| {
                    let started = Instant::now();
                    runtime
                        .block_on(store.publish(&hundred, ttl))
                        .expect("publish");
                    started.elapsed()
                })
                .collect(),
        );
        // The fleet: 1,000 instances, each publishing its 20 checks.
        let fleet = format!("{service}-fleet");
        runtime.block_on(async {
            for instance in 0..1000 {
                let records: Vec<FleetRecord> =
                    (0..20).map(|c| record(&fleet, instance, c)).collect();
                store.publish(&records, ttl).await.expect("publish");
            }
        });
        let read = median(
            (0..7)
                .map(|_| {
                    let started = Instant::now();
                    let records = runtime.block_on(store.read(Some(&fleet))).expect("read");
                    let took = started.elapsed();
                    assert_eq!(records.len(), 20_000, "{name}");
                    black_box(records);
                    took
                })
                .collect(),
        );
        let (publish_base, read_base) = *base.get_or_insert((publish, read));
        println!(
            "| {name} | {publish:.1?} | {read:.1?} | {:.0}× | {:.1}× |",
            publish.as_secs_f64() / publish_base.as_secs_f64(),
            read.as_secs_f64() / read_base.as_secs_f64(),
        );
    }
    drop(stores);
    drop(kept);
    let _ = std::fs::remove_dir_all(sqlite_dir);
}
