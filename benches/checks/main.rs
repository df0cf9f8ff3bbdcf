//! What each built-in checker costs over the raw client call it wraps, against a healthy local
//! server: the median time of one `HealthChecks::run` of the checker alone, as a ratio to the
//! median of the same call made with the client directly, measured in turns within one run.
//!
//! `cargo bench --bench checks` (all kinds) or `cargo bench --bench checks -- tcp http` (some).
//! Servers are started on loopback like the tests do.

#![allow(clippy::print_stdout)] // Printing is what this program is for.

#[path = "../../tests/support/servers/mod.rs"]
#[allow(dead_code, unreachable_pub)]
mod servers;

#[path = "../../tests/support/dns_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod dns_server;

#[path = "../../tests/support/http_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod http_server;

mod disk;
mod dns;
mod etcd;
mod http;
mod memcached;
mod memory;
mod postgres;
mod redis;
mod tcp;

use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

use healthcheck::{Check, HealthChecks, MetricsConfig};

/// Blocks of each side per comparison, and calls per block.
const BLOCKS: usize = 30;
const PER_BLOCK: usize = 100;

/// One comparison's result.
pub(crate) struct Row {
    kind: &'static str,
    raw: Duration,
    check: Duration,
}

/// Compares `raw` (one call of the client) with a run of `check` alone, in turns.
pub(crate) fn compare<F, Fut>(
    runtime: &tokio::runtime::Runtime,
    kind: &'static str,
    mut raw: F,
    check: impl Into<Check>,
) -> Row
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::disabled())
        .check(check)
        .build()
        .expect("the checker builds");
    // Warm up both: connections, pools, caches.
    for _ in 0..PER_BLOCK {
        assert!(runtime.block_on(raw()), "{kind}: the raw call fails");
        let report = runtime.block_on(health.run());
        assert!(report.service_healthy, "{kind}: {}", report.to_json());
    }
    let mut raw_samples = Vec::with_capacity(BLOCKS * PER_BLOCK);
    let mut check_samples = Vec::with_capacity(BLOCKS * PER_BLOCK);
    // Turns in ABBA order, so that neither side always follows the other.
    for block in 0..BLOCKS {
        for side in [block % 2, 1 - block % 2] {
            for _ in 0..PER_BLOCK {
                let started = Instant::now();
                if side == 0 {
                    black_box(runtime.block_on(raw()));
                    raw_samples.push(started.elapsed());
                } else {
                    black_box(runtime.block_on(health.run()));
                    check_samples.push(started.elapsed());
                }
            }
        }
    }
    Row {
        kind,
        raw: median(raw_samples),
        check: median(check_samples),
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runs = |kind: &str| wanted.is_empty() || wanted.iter().any(|w| w == kind);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut rows = Vec::new();
    if runs("runner") {
        // The SDK's own cost per run: a check that is pending once (as every checker is while
        // its I/O is in flight), against the same future awaited directly.
        rows.push(compare(
            &runtime,
            "runner",
            || async {
                tokio::task::yield_now().await;
                true
            },
            Check::new("runner", || async {
                tokio::task::yield_now().await;
                true
            }),
        ));
    }
    if runs("tcp") {
        rows.push(tcp::bench(&runtime));
    }
    if runs("http") {
        rows.push(http::bench(&runtime));
    }
    if runs("disk") {
        rows.extend(disk::bench(&runtime));
    }
    if runs("memory") {
        rows.extend(memory::bench(&runtime));
    }
    if runs("dns") {
        rows.extend(dns::bench(&runtime));
    }
    if runs("memcached") {
        rows.push(memcached::bench(&runtime));
    }
    if runs("postgres") {
        rows.push(postgres::bench(&runtime));
    }
    if runs("redis") {
        rows.push(redis::bench(&runtime));
    }
    if runs("etcd") {
        rows.push(etcd::bench(&runtime));
    }
    println!("| kind | raw call | checker | ratio |");
    println!("|---|---:|---:|---:|");
    for row in rows {
        println!(
            "| {} | {:.1} µs | {:.1} µs | {:.2}× |",
            row.kind,
            row.raw.as_secs_f64() * 1e6,
            row.check.as_secs_f64() * 1e6,
            row.check.as_secs_f64() / row.raw.as_secs_f64()
        );
    }
}
