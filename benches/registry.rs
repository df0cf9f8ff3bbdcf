//! The service registry against a real etcd on loopback: registering 1,000 instances from one
//! process (time, etcd revisions and requests), the latency from a status change to a watcher's
//! event, and the keep-alive traffic of idle registrations.
//!
//! `cargo bench --bench registry`. etcd is started on a free loopback port, as the tests do
//! (`.ci/install-servers` installs it). etcd's requests are counted with its own gRPC counters
//! (`grpc_server_msg_received_total` on its `/metrics`), its revisions with the header of a read.

#![allow(clippy::print_stdout)] // Printing is what this program is for.

#[path = "support/timing.rs"]
mod timing;

#[path = "../tests/support/servers/mod.rs"]
#[allow(dead_code, unreachable_pub)]
mod servers;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use timing::Percentiles;

use healthcheck::registry::{
    DownReason, Instance, InstanceStatus, Registration, Registry, RegistryEvent, RegistryFilter,
};
use healthcheck::{Check, HealthChecks, MetricsConfig};

/// Instances registered from the one process.
const INSTANCES: usize = 1000;
/// Status changes timed from the change to the watcher's event.
const FLIPS: usize = 200;
/// The time to live of the idle registrations, and how long they idle.
const IDLE_TTL: Duration = Duration::from_secs(3);
const IDLE: Duration = Duration::from_secs(6);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let server = servers::etcd::start();
    let etcd = Etcd::new(&runtime, server.addr);
    println!("| scenario | figure | target | result |");
    println!("|---|---|---|---|");
    register_many(&runtime, &etcd);
    event_latency(&runtime, &etcd);
    keep_alive(&runtime, &etcd);
    drop(server);
}

/// What the benchmark asks etcd itself: its revision, and its request counters.
struct Etcd {
    addr: SocketAddr,
    client: etcd_client::Client,
}

impl Etcd {
    fn new(runtime: &tokio::runtime::Runtime, addr: SocketAddr) -> Self {
        let client = runtime
            .block_on(etcd_client::Client::connect(
                [format!("http://{addr}")],
                None,
            ))
            .expect("a client of etcd");
        Self { addr, client }
    }

    /// The store's revision, from the header of a read (a read does not change it).
    fn revision(&self, runtime: &tokio::runtime::Runtime) -> i64 {
        let mut kv = self.client.kv_client();
        let response = runtime
            .block_on(kv.get("/bench-revision", None))
            .expect("a read");
        response.header().expect("a header").revision()
    }

    /// etcd's gRPC counters: request messages received (a unary call is one, a keep-alive
    /// stream one per renewal) and streams opened, per method.
    fn requests(&self) -> Requests {
        let mut stream = TcpStream::connect(self.addr).expect("etcd's client port");
        // HTTP/1.0: the answer is not chunked.
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
            .expect("a request for /metrics");
        let mut text = String::new();
        stream.read_to_string(&mut text).expect("etcd's metrics");
        let mut requests = Requests::default();
        for line in text.lines() {
            let Some((name, rest)) = line.split_once('{') else {
                continue;
            };
            let Some((labels, value)) = rest.rsplit_once("} ") else {
                continue;
            };
            let label = |key: &str| {
                labels
                    .split(',')
                    .find_map(|pair| pair.strip_prefix(key)?.strip_prefix("=\""))
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or("?")
                    .to_owned()
            };
            let value = value.trim().parse::<f64>().unwrap_or(0.0).round() as u64;
            match name {
                "grpc_server_msg_received_total" => {
                    *requests.messages.entry(label("grpc_method")).or_default() += value;
                }
                "grpc_server_started_total" if label("grpc_type") != "unary" => {
                    *requests.streams.entry(label("grpc_method")).or_default() += value;
                }
                _ => {}
            }
        }
        assert!(
            !requests.messages.is_empty(),
            "etcd's /metrics has no gRPC counters"
        );
        requests
    }
}

/// etcd's gRPC counters, or their growth between two readings.
#[derive(Default)]
struct Requests {
    messages: BTreeMap<String, u64>,
    streams: BTreeMap<String, u64>,
}

impl Requests {
    fn since(&self, before: &Self) -> Self {
        let delta = |now: &BTreeMap<String, u64>, then: &BTreeMap<String, u64>| {
            now.iter()
                .map(|(k, v)| (k.clone(), v - then.get(k).copied().unwrap_or(0)))
                .filter(|(_, v)| *v > 0)
                .collect()
        };
        Self {
            messages: delta(&self.messages, &before.messages),
            streams: delta(&self.streams, &before.streams),
        }
    }

    fn total(&self) -> u64 {
        self.messages.values().sum()
    }

    fn method(&self, name: &str) -> u64 {
        self.messages.get(name).copied().unwrap_or(0)
    }

    /// `LeaseGrant 1000, Txn 1000, ...; streams: LeaseKeepAlive 1000`.
    fn breakdown(&self) -> String {
        let list = |map: &BTreeMap<String, u64>| {
            map.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if self.streams.is_empty() {
            list(&self.messages)
        } else {
            format!(
                "{}; streams opened: {}",
                list(&self.messages),
                list(&self.streams)
            )
        }
    }
}

/// `count` processes' worth of health checks, each with one trivially healthy check.
fn instances(prefix: &str, count: usize) -> Vec<HealthChecks> {
    (0..count)
        .map(|i| {
            HealthChecks::builder()
                .without_registered_checks()
                .metrics(MetricsConfig::disabled())
                .instance(format!("{prefix}-{i}"))
                .service(prefix)
                .check(Check::new("ok", || async { true }))
                .build()
                .expect("valid checks")
        })
        .collect()
}

/// Waits until each registration is in etcd and `UP`.
async fn all_up(registrations: &[Registration]) {
    for registration in registrations {
        assert!(
            registration
                .wait_for(Some(InstanceStatus::Up), Duration::from_secs(120))
                .await,
            "not registered UP within 2 minutes: {:?}",
            registration.state()
        );
    }
}

/// Deregisters every registration at once; how long until all are out.
async fn deregister_all(registrations: Vec<Registration>) -> Duration {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for registration in registrations {
        tasks.spawn(registration.deregister());
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a deregistration task")
            .expect("a deregistration");
    }
    started.elapsed()
}

/// (a) 1,000 instances registered from one process.
fn register_many(runtime: &tokio::runtime::Runtime, etcd: &Etcd) {
    let registry = Registry::etcd(etcd.addr.to_string())
        .prefix("/bench-register")
        .build()
        .expect("a registry");
    let healths = instances("bench", INSTANCES);
    // Connect first, so that the connection is not in the figure.
    runtime
        .block_on(registry.list(&RegistryFilter::new()))
        .expect("etcd answers");
    let revision = etcd.revision(runtime);
    let requests = etcd.requests();
    let started = Instant::now();
    let registrations: Vec<Registration> = healths
        .iter()
        .map(|health| registry.register(Instance::of(health)))
        .collect();
    let returned = started.elapsed();
    runtime.block_on(all_up(&registrations));
    let took = started.elapsed();
    let revisions = etcd.revision(runtime) - revision;
    let requests = etcd.requests().since(&requests);
    let states: Vec<_> = registrations.iter().map(Registration::state).collect();
    let registered_twice = states.iter().filter(|s| s.registrations > 1).count();
    let errors: u64 = states.iter().map(|s| s.errors).sum();
    println!(
        "| {INSTANCES} instances: every `register()` returned | {returned:.1?} | | {:.1} µs per instance |",
        returned.as_secs_f64() * 1e6 / INSTANCES as f64
    );
    println!(
        "| {INSTANCES} instances: all registered `UP` (`wait_for`) | {took:.1?} | | {:.2} ms per instance; {registered_twice} registered more than once, {errors} errors |",
        took.as_secs_f64() * 1e3 / INSTANCES as f64
    );
    println!(
        "| {INSTANCES} instances: etcd revisions | {revisions} | 1 per instance | {:.2} per instance (the keys' transaction) |",
        revisions as f64 / INSTANCES as f64
    );
    println!(
        "| {INSTANCES} instances: etcd requests | {} | | {:.2} per instance: {} |",
        requests.total(),
        requests.total() as f64 / INSTANCES as f64,
        requests.breakdown()
    );
    let started = Instant::now();
    let listed = runtime
        .block_on(registry.list(&RegistryFilter::new().kind("bench")))
        .expect("a listing");
    let list = started.elapsed();
    assert_eq!(listed.len(), INSTANCES, "the listing");
    assert!(listed.iter().all(|record| record.is_up()));
    println!("| `list` of the {INSTANCES}, by type | {list:.1?} | | |");
    let revision = etcd.revision(runtime);
    let requests = etcd.requests();
    let took = runtime.block_on(deregister_all(registrations));
    let revisions = etcd.revision(runtime) - revision;
    let requests = etcd.requests().since(&requests);
    let left = runtime
        .block_on(registry.list(&RegistryFilter::new()))
        .expect("a listing");
    assert!(left.is_empty(), "{} instances left", left.len());
    println!(
        "| {INSTANCES} instances: all deregistered (`deregister` at once) | {took:.1?} | | {revisions} revisions, {} requests: {} |",
        requests.total(),
        requests.breakdown()
    );
}

/// (b) From a status change to the watcher's event.
fn event_latency(runtime: &tokio::runtime::Runtime, etcd: &Etcd) {
    let registry = Registry::etcd(etcd.addr.to_string())
        .prefix("/bench-watch")
        // Only the benchmark's runs change the status.
        .refresh_every(Duration::from_secs(3600))
        .build()
        .expect("a registry");
    let ready = Arc::new(AtomicBool::new(true));
    let flag = Arc::clone(&ready);
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::disabled())
        .instance("latency-0")
        .service("latency")
        .check(Check::new("flag", move || {
            let flag = Arc::clone(&flag);
            async move { flag.load(Ordering::SeqCst) }
        }))
        .build()
        .expect("valid checks");
    let (samples, runs, unexpected) = runtime.block_on(async {
        let mut watch = registry.watch(RegistryFilter::new().kind("latency"));
        let registration = registry.register(Instance::of(&health));
        all_up(std::slice::from_ref(&registration)).await;
        // The watcher has seen it up.
        loop {
            match tokio::time::timeout(Duration::from_secs(10), watch.next()).await {
                Ok(Some(RegistryEvent::Up(_))) => break,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!("the watcher never saw the instance up"),
            }
        }
        let mut samples = Vec::with_capacity(FLIPS);
        let mut runs = Vec::with_capacity(FLIPS);
        let mut unexpected = 0;
        for flip in 0..FLIPS {
            let up = flip % 2 == 1;
            let started = Instant::now();
            ready.store(up, Ordering::SeqCst);
            let report = health.run().await;
            runs.push(started.elapsed());
            assert_eq!(report.service_healthy, up);
            loop {
                let event = tokio::time::timeout(Duration::from_secs(10), watch.next())
                    .await
                    .unwrap_or_else(|_| panic!("no event within 10 s of flip {flip}"))
                    .expect("the watch goes on");
                match event {
                    RegistryEvent::Up(_) if up => break,
                    RegistryEvent::Down(_, DownReason::Unhealthy) if !up => break,
                    _ => unexpected += 1,
                }
            }
            samples.push(started.elapsed());
        }
        registration.deregister().await.expect("a deregistration");
        (samples, runs, unexpected)
    });
    let Percentiles { p50, p99, max } = Percentiles::of(&samples);
    let run_p50 = Percentiles::of(&runs).p50;
    println!(
        "| status change → watcher's event, p50 ({FLIPS} changes, up and down in turn) | {p50:.1?} | | of which `run()` {run_p50:.1?} |"
    );
    println!(
        "| status change → watcher's event, p99 | {p99:.1?} | < 50 ms | {}; max {max:.1?}; {unexpected} other events |",
        if p99 < Duration::from_millis(50) {
            "met"
        } else {
            "**not met**"
        }
    );
}

/// (c) What idle registrations cost etcd.
fn keep_alive(runtime: &tokio::runtime::Runtime, etcd: &Etcd) {
    let registry = Registry::etcd(etcd.addr.to_string())
        .prefix("/bench-keepalive")
        .ttl(IDLE_TTL)
        .build()
        .expect("a registry");
    let healths = instances("idle", INSTANCES);
    let registrations: Vec<Registration> = healths
        .iter()
        .map(|health| registry.register(Instance::of(health)))
        .collect();
    runtime.block_on(all_up(&registrations));
    // Past the registrations' own first renewals.
    std::thread::sleep(IDLE_TTL);
    let before: Vec<_> = registrations.iter().map(Registration::state).collect();
    let revision = etcd.revision(runtime);
    let requests = etcd.requests();
    let started = Instant::now();
    std::thread::sleep(IDLE);
    let revisions = etcd.revision(runtime) - revision;
    let requests = etcd.requests().since(&requests);
    let idled = started.elapsed().as_secs_f64();
    let after: Vec<_> = registrations.iter().map(Registration::state).collect();
    let still = after.iter().filter(|s| s.registered).count();
    let again: u64 = after
        .iter()
        .zip(&before)
        .map(|(a, b)| a.registrations - b.registrations)
        .sum();
    let errors: u64 = after
        .iter()
        .zip(&before)
        .map(|(a, b)| a.errors - b.errors)
        .sum();
    let per_second = |count: u64| count as f64 / INSTANCES as f64 / idled;
    println!(
        "| {INSTANCES} idle registrations, TTL {} s, over {idled:.1} s: etcd revisions | {revisions} | 0 | {still} still registered, {again} registered again, {errors} errors |",
        IDLE_TTL.as_secs()
    );
    println!(
        "| the same: keep-alives per instance per second | {:.2} | 3 / TTL = {:.2} | all requests: {:.2} per instance per second ({}) |",
        per_second(requests.method("LeaseKeepAlive")),
        3.0 / IDLE_TTL.as_secs_f64(),
        per_second(requests.total()),
        requests.breakdown()
    );
    runtime.block_on(deregister_all(registrations));
}
