//! The Prometheus exporter: encoding the exposition of 1,000 checks (what `GET <base>/metrics`
//! costs), and recording one execution (what every run of a check adds to the runner).
//!
//! Last, what it adds to a whole run: the same checks built twice, with and without Prometheus,
//! run alternately (DogStatsD off in both), as the ratio of their median run times.
//!
//! `cargo bench --bench prometheus`. Prints a Markdown table. Encoding is timed call by call,
//! as p50 and p99; recording is timed in batches, each a loop over every check, as the median of
//! the batches' time per call. Recording reaches the crate-internal recorder through the hidden
//! `__bench` module.

#![allow(clippy::print_stdout)] // Printing is what this program is for.

#[path = "support/timing.rs"]
mod timing;

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use timing::{Percentiles, median, ms, ns};

use healthcheck::Status;
use healthcheck::prometheus::__bench::BenchRecorder;
use healthcheck::prometheus::Prometheus;

/// Checks in the exposition.
const CHECKS: usize = 1000;
/// Executions recorded per check before encoding.
const RUNS_EACH: usize = 3;
/// Timed encodes, after as many untimed ones.
const ENCODES: usize = 200;
/// Batches of recording, each `CHECKS` calls.
const BATCHES: usize = 200;

const STATUSES: [Status; 3] = [Status::Healthy, Status::Degraded, Status::Unhealthy];

fn main() {
    // `check_0000` … with one group, every third with two.
    let names: Vec<String> = (0..CHECKS).map(|i| format!("check_{i:04}")).collect();
    let groups: Vec<Vec<String>> = (0..CHECKS)
        .map(|i| {
            let mut groups = vec![format!("group_{}", i % 10)];
            if i % 3 == 0 {
                groups.push("critical".to_owned());
            }
            groups
        })
        .collect();
    let group_refs: Vec<Vec<&str>> = groups
        .iter()
        .map(|g| g.iter().map(String::as_str).collect())
        .collect();
    let checks: Vec<(&str, &[&str])> = names
        .iter()
        .zip(&group_refs)
        .map(|(name, groups)| (name.as_str(), groups.as_slice()))
        .collect();

    let prometheus = Prometheus::new();
    let started = Instant::now();
    let recorder = BenchRecorder::new(&prometheus, &checks).expect("valid settings");
    let built = started.elapsed();

    // First executions: each check's state series are made by its first.
    let started = Instant::now();
    for index in 0..CHECKS {
        recorder.record(
            index,
            Status::Healthy,
            Status::Healthy,
            duration(index),
            SystemTime::now(),
        );
    }
    let first = started.elapsed();
    for run in 1..RUNS_EACH {
        for index in 0..CHECKS {
            let status = STATUSES[(index + run) % 3];
            let raw = if index % 7 == 0 {
                Status::Unhealthy
            } else {
                status
            };
            recorder.record(index, status, raw, duration(index + run), SystemTime::now());
        }
    }
    recorder.service(Status::Degraded);

    // Encoding.
    for _ in 0..ENCODES {
        black_box(prometheus.encode());
    }
    let mut times = Vec::with_capacity(ENCODES);
    let mut bytes = 0;
    for _ in 0..ENCODES {
        let started = Instant::now();
        let text = black_box(prometheus.encode());
        times.push(started.elapsed());
        bytes = text.len();
    }
    let text = prometheus.encode();
    let samples = text.lines().filter(|l| !l.starts_with('#')).count();
    assert!(text.ends_with("# EOF\n"));
    assert!(
        samples >= CHECKS * 25,
        "every check's series are there: {samples} samples"
    );
    let encode = Percentiles::of(&times);

    // Recording, steady state (every series exists): the status as before, as at most runs;
    // then a new status at every call, the most writing there is.
    let same = record_batches(&recorder, |_| Status::Healthy);
    let changing = record_batches(&recorder, |batch| STATUSES[batch % 3]);

    // Two threads at once (the machine has two cores), a new status at every call: each over
    // its half of the checks; then both over the same checks, contending for each check's
    // histogram, lock and gauges.
    let halves = two_threads(&recorder, |thread, index| index % 2 == thread);
    let shared = two_threads(&recorder, |_, _| true);

    let mut service = Vec::with_capacity(BATCHES);
    for batch in 0..BATCHES {
        let status = STATUSES[batch % 3];
        let started = Instant::now();
        for _ in 0..CHECKS {
            recorder.service(black_box(status));
        }
        service.push(started.elapsed() / CHECKS as u32);
    }
    let service = median(service);

    println!("| scenario | figure |");
    println!("|---|---:|");
    println!(
        "| `encode()`, {CHECKS} checks × {RUNS_EACH} runs recorded, {ENCODES} calls: p50 | {} |",
        ms(encode.p50)
    );
    println!("| `encode()`: p99 | {} |", ms(encode.p99));
    println!("| `encode()`: max | {} |", ms(encode.max));
    println!(
        "| `encode()`: size | {} bytes ({:.0} per check), {samples} samples |",
        bytes,
        bytes as f64 / CHECKS as f64
    );
    println!(
        "| `Recorder::new` for {CHECKS} checks (every handle resolved) | {} |",
        ms(built)
    );
    println!(
        "| `record`, each check's first execution (makes its state series) | {} per call |",
        ns(first / CHECKS as u32)
    );
    println!(
        "| `record`, steady state, status unchanged ({BATCHES} batches of {CHECKS}, median) | {} per call |",
        ns(same)
    );
    println!(
        "| `record`, steady state, status changed at every call | {} per call |",
        ns(changing)
    );
    println!(
        "| `record`, two threads on different checks | {} per call |",
        ns(halves)
    );
    println!(
        "| `record`, two threads on the same checks | {} per call |",
        ns(shared)
    );
    println!("| `service` | {} per call |", ns(service));
    for checks in [1, 10] {
        let (off, on) = run_overhead(checks);
        println!(
            "| a run of {checks} check(s), Prometheus off → on ({RUN_ROUNDS} rounds of {RUN_BATCH}, median) | {} → {} per run: **{:.2}×** |",
            ns(off),
            ns(on),
            on.as_secs_f64() / off.as_secs_f64()
        );
    }
}

/// Rounds of the run-overhead comparison, each one batch with and one without, alternately.
const RUN_ROUNDS: usize = 300;
/// Runs per batch.
const RUN_BATCH: u32 = 200;

/// The median time of a run of `checks` ready-at-once checks without, then with, Prometheus.
fn run_overhead(checks: usize) -> (Duration, Duration) {
    use healthcheck::{Check, HealthChecks, MetricsConfig};
    let build = |prometheus: Option<Prometheus>| {
        let mut builder = HealthChecks::builder()
            .without_registered_checks()
            .metrics(MetricsConfig::disabled());
        for i in 0..checks {
            builder = builder.check(Check::new(format!("check_{i}"), || async { true }));
        }
        if let Some(prometheus) = prometheus {
            builder = builder.prometheus(prometheus);
        }
        builder.build().expect("valid checks")
    };
    let off = build(None);
    let on = build(Some(Prometheus::new()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let time = |health: &HealthChecks| {
            let health = health.clone();
            async move {
                let started = Instant::now();
                for _ in 0..RUN_BATCH {
                    black_box(health.run().await);
                }
                started.elapsed() / RUN_BATCH
            }
        };
        // Warm both.
        time(&off).await;
        time(&on).await;
        let mut offs = Vec::with_capacity(RUN_ROUNDS);
        let mut ons = Vec::with_capacity(RUN_ROUNDS);
        for _ in 0..RUN_ROUNDS {
            offs.push(time(&off).await);
            ons.push(time(&on).await);
        }
        (median(offs), median(ons))
    })
}

/// The median time per `record` call over `BATCHES` loops over every check, each batch with the
/// status `status(batch)`.
fn record_batches(recorder: &BenchRecorder, status: fn(usize) -> Status) -> Duration {
    let now = SystemTime::now();
    let mut per_call = Vec::with_capacity(BATCHES);
    for batch in 0..BATCHES {
        let status = status(batch);
        let started = Instant::now();
        for index in 0..CHECKS {
            recorder.record(
                black_box(index),
                status,
                status,
                black_box(Duration::from_micros(1_500)),
                now,
            );
        }
        per_call.push(started.elapsed() / CHECKS as u32);
    }
    median(per_call)
}

/// A duration that spreads the checks over the buckets: 0.2 ms to about 2 s.
fn duration(seed: usize) -> Duration {
    Duration::from_micros(200 * (1 << (seed % 14)))
}

/// The median time per `record` call when two threads record at once, each the checks that
/// `mine(thread, index)` picks, `BATCHES` times.
fn two_threads(recorder: &BenchRecorder, mine: fn(usize, usize) -> bool) -> Duration {
    let now = SystemTime::now();
    let per_thread: Vec<Vec<Duration>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|thread| {
                scope.spawn(move || {
                    let indexes: Vec<usize> = (0..CHECKS).filter(|&i| mine(thread, i)).collect();
                    let mut per_call = Vec::with_capacity(BATCHES);
                    for batch in 0..BATCHES {
                        let status = STATUSES[(batch + thread) % 3];
                        let started = Instant::now();
                        for &index in &indexes {
                            recorder.record(
                                black_box(index),
                                status,
                                status,
                                Duration::from_micros(1_500),
                                now,
                            );
                        }
                        per_call.push(started.elapsed() / indexes.len() as u32);
                    }
                    per_call
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("the thread ends"))
            .collect()
    });
    median(per_thread.into_iter().flatten().collect())
}
