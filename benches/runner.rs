//! Runner benchmarks: concurrency (the report comes in about the time of the slowest check) and
//! per-check overhead against calling the functions directly.
//!
//! Run with `cargo bench --bench runner`. Prints a Markdown table; BENCHMARKS.md keeps the
//! figures. Every figure is a median over repeated runs in one process, and the overheads are
//! reported as ratios to a baseline measured in the same run, since the machine may be noisy.

#![allow(clippy::print_stdout)] // Printing is what this program is for.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use healthcheck::{HealthChecks, MetricsConfig, healthcheck};
use seq_macro::seq;
use serde::Serialize;

seq!(N in 0..10 {
    #[healthcheck]
    async fn sleep_async_~N() -> bool {
        tokio::time::sleep(Duration::from_millis(100)).await;
        true
    }

    #[healthcheck]
    fn sleep_blocking_~N() -> bool {
        std::thread::sleep(Duration::from_millis(100));
        true
    }
});

seq!(N in 0..1000 {
    #[healthcheck]
    async fn sleep_many_~N() -> bool {
        tokio::time::sleep(Duration::from_millis(100)).await;
        true
    }

    #[healthcheck]
    async fn trivial_async_~N() -> bool {
        black_box(true)
    }

    #[healthcheck]
    fn trivial_blocking_~N() -> bool {
        black_box(true)
    }

    fn direct_~N() -> bool {
        black_box(true)
    }
});

const DIRECT: [fn() -> bool; 1000] = seq!(N in 0..1000 { [#(direct_~N,)*] });

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// The checks of one scenario: those whose name starts with `prefix`.
fn scenario(prefix: &'static str, metrics: MetricsConfig) -> HealthChecks {
    HealthChecks::builder()
        .filter_registered(move |check| check.name().starts_with(prefix))
        .metrics(metrics)
        .build()
        .expect("valid checks")
}

fn time_runs(runtime: &tokio::runtime::Runtime, prefix: &'static str, runs: usize) -> Duration {
    time_health(runtime, &scenario(prefix, MetricsConfig::disabled()), runs)
}

/// Waits for the metrics thread to send everything. A flush also says `false` when metrics were
/// dropped since the previous one (they are counted and reported): a second flush, with nothing
/// new queued, tells that from a metrics thread that does not finish.
fn flush(runtime: &tokio::runtime::Runtime, health: &HealthChecks, timeout: Duration) {
    if !runtime.block_on(health.flush_metrics(timeout)) {
        assert!(
            runtime.block_on(health.flush_metrics(timeout)),
            "the metrics thread did not finish within {timeout:?}"
        );
    }
}

fn time_health(runtime: &tokio::runtime::Runtime, health: &HealthChecks, runs: usize) -> Duration {
    // One warm-up run: threads of the blocking pool, allocator, the runner's notes on each check.
    runtime.block_on(health.run());
    let samples = (0..runs)
        .map(|_| {
            let started = Instant::now();
            let report = runtime.block_on(health.run());
            let json = report.to_json();
            let took = started.elapsed();
            assert!(report.service_healthy, "{report}");
            black_box(json);
            // Untimed: let the metrics thread finish this run's metrics before the next run, as
            // it has the time to between the runs of a real service.
            flush(runtime, health, Duration::from_secs(10));
            took
        })
        .collect();
    median(samples)
}

#[derive(Serialize)]
struct Entry {
    healthy: bool,
    response_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_message: Option<String>,
}

#[derive(Serialize)]
struct Report<'a> {
    service_healthy: bool,
    timestamp: String,
    components: BTreeMap<&'a str, Entry>,
}

/// What a lean sequential library without timeouts does: call each function one after another,
/// time it, collect the results in a map, serialize it.
fn baseline(runs: usize) -> Duration {
    let names: Vec<String> = (0..DIRECT.len()).map(|i| format!("direct_{i}")).collect();
    let samples = (0..runs)
        .map(|_| {
            let started = Instant::now();
            let mut components = BTreeMap::new();
            for (name, check) in names.iter().zip(DIRECT) {
                let call = Instant::now();
                let healthy = check();
                let entry = Entry {
                    healthy,
                    response_time: call.elapsed().as_secs_f64(),
                    status_message: None,
                };
                components.insert(name.as_str(), entry);
            }
            let report = Report {
                service_healthy: components.values().all(|e| e.healthy),
                timestamp: chrono::Utc::now().to_rfc3339(),
                components,
            };
            black_box(serde_json::to_string(&report).expect("serializes"));
            started.elapsed()
        })
        .collect();
    median(samples)
}

fn per_check_us(total: Duration) -> f64 {
    total.as_secs_f64() * 1e6 / 1000.0
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let slowest = Duration::from_millis(100);

    println!("| scenario | median | target | result |");
    println!("|---|---|---|---|");
    for (prefix, label) in [
        ("sleep_async_", "10 async checks, each sleeps 100 ms"),
        ("sleep_blocking_", "10 blocking checks, each sleeps 100 ms"),
    ] {
        let took = time_runs(&runtime, prefix, 20);
        let ratio = took.as_secs_f64() / slowest.as_secs_f64();
        println!("| {label} | {took:.1?} | ≤ 1.1× slowest | {ratio:.3}× slowest |");
    }
    let took = time_runs(&runtime, "sleep_many_", 20);
    println!(
        "| 1000 async checks, each sleeps 100 ms | {took:.1?} | ≤ 150 ms | {:.3}× slowest |",
        took.as_secs_f64() / slowest.as_secs_f64()
    );

    let report = runtime.block_on(scenario("trivial_async_", MetricsConfig::disabled()).run());
    let json = median(
        (0..2000)
            .map(|_| {
                let started = Instant::now();
                black_box(report.to_json());
                started.elapsed()
            })
            .collect(),
    );
    println!(
        "| JSON rendering alone, of the SDK's 1000-component report | {json:.1?} | | {:.3} µs per component |",
        per_check_us(json)
    );
    let trivial_async = scenario("trivial_async_", MetricsConfig::disabled());
    let trivial_blocking = scenario("trivial_blocking_", MetricsConfig::disabled());
    let (mut bases, mut asyncs, mut blockings) = (Vec::new(), Vec::new(), Vec::new());
    let timed = |health: &HealthChecks| {
        let started = Instant::now();
        let report = runtime.block_on(health.run());
        black_box(report.to_json());
        let took = started.elapsed();
        assert!(report.service_healthy, "{report}");
        took
    };
    timed(&trivial_async);
    timed(&trivial_blocking);
    // Blocks of 100 runs of each, taking turns, so that drift on a shared machine hits them
    // alike while each block runs with warm caches.
    for _ in 0..20 {
        for _ in 0..100 {
            bases.push(baseline(1));
        }
        for _ in 0..100 {
            asyncs.push(timed(&trivial_async));
        }
        for _ in 0..100 {
            blockings.push(timed(&trivial_blocking));
        }
    }
    let base = median(bases);
    println!(
        "| baseline: 1000 direct calls, timed, serialized | {base:.1?} | | {:.3} µs per check |",
        per_check_us(base)
    );
    for (label, samples, target) in [
        (
            "1000 trivial async checks, report + JSON",
            asyncs,
            "≤ 1.0× baseline",
        ),
        (
            "1000 trivial blocking checks, report + JSON",
            blockings,
            "≤ 1.5× baseline",
        ),
    ] {
        let took = median(samples);
        println!(
            "| {label} | {took:.1?} | {target} | {:.3} µs per check ({:.2}× baseline) |",
            per_check_us(took),
            took.as_secs_f64() / base.as_secs_f64()
        );
    }

    handler_cost(&runtime);
    metrics_cost(&runtime);
}

/// `GET <path>` on a keep-alive connection: the body's length, once the whole response is read.
fn http_get(stream: &mut std::net::TcpStream, path: &str, buffer: &mut Vec<u8>) -> usize {
    use std::io::{Read, Write};
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n").as_bytes())
        .expect("send");
    buffer.clear();
    let mut filled = 0;
    let mut expected: Option<usize> = None;
    loop {
        if buffer.len() < filled + 262_144 {
            buffer.resize(filled + 262_144, 0);
        }
        let n = stream.read(&mut buffer[filled..]).expect("read");
        assert!(n > 0, "the server closed the connection");
        filled += n;
        if expected.is_none() {
            let Some(end) = buffer[..filled].windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            assert!(head.starts_with("http/1.1 200"), "{head}");
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("a Content-Length");
            expected = Some(end + 4 + length);
        }
        if let Some(total) = expected.filter(|total| filled >= *total) {
            return total;
        }
    }
}

/// 1000 trivial async checks through the HTTP handler with the response cache off: in process,
/// and over loopback HTTP from an axum server, against `run()` + `to_json()` in the same run.
fn handler_cost(runtime: &tokio::runtime::Runtime) {
    use healthcheck::http::{HealthRequest, HttpOptions};

    let health = scenario("trivial_async_", MetricsConfig::disabled());
    let handler = HttpOptions::new()
        .cache_ttl(Duration::ZERO)
        .build(health.clone())
        .expect("valid options");
    let headers = http::HeaderMap::new();
    let request = HealthRequest {
        method: &http::Method::GET,
        path: "/healthcheck",
        query: None,
        headers: &headers,
    };
    let address = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("bound");
        // The same bytes as a report, served as they are: what the transport alone costs.
        let body = axum::body::Bytes::from(health.run().await.to_json());
        let app: axum::Router = healthcheck::http::axum::router(handler.clone()).route(
            "/static",
            axum::routing::get(move || {
                let body = body.clone();
                async move { ([("content-type", "application/json")], body) }
            }),
        );
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        address
    });
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut buffer = Vec::new();
    // Warm-up, then blocks of 100 requests each way, taking turns, so that drift on a shared
    // machine hits them alike while each block runs with warm caches.
    runtime.block_on(health.run());
    runtime.block_on(handler.handle(request));
    http_get(&mut stream, "/healthcheck", &mut buffer);
    http_get(&mut stream, "/static", &mut buffer);
    let (mut directs, mut in_processes, mut over_https) = (Vec::new(), Vec::new(), Vec::new());
    let mut statics = Vec::new();
    for _ in 0..20 {
        for _ in 0..100 {
            let started = Instant::now();
            black_box(runtime.block_on(health.run()).to_json());
            directs.push(started.elapsed());
        }
        for _ in 0..100 {
            let started = Instant::now();
            let response = runtime.block_on(handler.handle(request));
            in_processes.push(started.elapsed());
            assert_eq!(response.status, http::StatusCode::OK);
            black_box(response);
        }
        for _ in 0..100 {
            let started = Instant::now();
            black_box(http_get(&mut stream, "/healthcheck", &mut buffer));
            over_https.push(started.elapsed());
        }
        for _ in 0..100 {
            let started = Instant::now();
            black_box(http_get(&mut stream, "/static", &mut buffer));
            statics.push(started.elapsed());
        }
    }
    let (direct, in_process, over_http) =
        (median(directs), median(in_processes), median(over_https));
    let transport = median(statics);
    let ratio = |took: Duration| took.as_secs_f64() / direct.as_secs_f64();
    println!(
        "| 1000 trivial async checks: `run()` + `to_json()` | {direct:.1?} | | {:.3} µs per check |",
        per_check_us(direct)
    );
    println!(
        "| the same through the HTTP handler, cache off, in process | {in_process:.1?} | ≤ 1.15× run + JSON | {:.2}× run + JSON |",
        ratio(in_process)
    );
    println!(
        "| the same over loopback HTTP (axum, keep-alive) | {over_http:.1?} | ≤ 1.3× run + JSON | {:.2}× run + JSON |",
        ratio(over_http)
    );
    println!(
        "| transport alone: the same bytes from a plain axum route | {transport:.1?} | | over HTTP − transport = {:.2}× run + JSON |",
        (over_http.as_secs_f64() - transport.as_secs_f64()) / direct.as_secs_f64()
    );
}

/// A DogStatsD "agent" on loopback that counts the lines it receives.
struct Agent {
    url: String,
    lines: Arc<AtomicUsize>,
}

impl Agent {
    fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let socket = socket2::Socket::from(socket);
        let _ = socket.set_recv_buffer_size(4 << 20);
        let socket: UdpSocket = socket.into();
        let url = format!("udp://{}", socket.local_addr().expect("bound"));
        let lines = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&lines);
        std::thread::spawn(move || {
            let mut buffer = vec![0; 65_536];
            while let Ok(n) = socket.recv(&mut buffer) {
                let newlines = buffer[..n].iter().filter(|b| **b == b'\n').count();
                counter.fetch_add(newlines, Ordering::Relaxed);
            }
        });
        Self { url, lines }
    }
}

/// 1000 trivial async checks with metrics on, sent to a real UDP listener, against metrics off:
/// the caller's median latency, and the throughput of back-to-back runs including the time the
/// metrics thread needs to send everything (so that a thread that falls behind shows).
fn metrics_cost(runtime: &tokio::runtime::Runtime) {
    const RUNS: usize = 500;
    let agent = Agent::start();
    let off = scenario("trivial_async_", MetricsConfig::disabled());
    let on = scenario(
        "trivial_async_",
        MetricsConfig::new()
            .destination_url(&agent.url)
            .expect("valid URL"),
    );
    let off_latency = time_health(runtime, &off, 2000);
    let on_latency = time_health(runtime, &on, 2000);
    flush(runtime, &on, Duration::from_secs(10));

    let throughput = |health: &HealthChecks| {
        let started = Instant::now();
        for _ in 0..RUNS {
            black_box(runtime.block_on(health.run()).to_json());
        }
        flush(runtime, health, Duration::from_secs(30));
        started.elapsed() / u32::try_from(RUNS).expect("small")
    };
    let before = agent.lines.load(Ordering::Relaxed);
    let off_each = throughput(&off);
    let on_each = throughput(&on);
    std::thread::sleep(Duration::from_millis(200));
    let received = agent.lines.load(Ordering::Relaxed) - before;
    let expected = RUNS * (3 * 1000 + 3);
    let dropped = on.statsd().dropped();

    println!(
        "| 1000 trivial async checks, metrics off: median run | {off_latency:.1?} | | {:.3} µs per check |",
        per_check_us(off_latency)
    );
    println!(
        "| 1000 trivial async checks, metrics on (UDP): median run | {on_latency:.1?} | < 1.5× off | {:.2}× off |",
        on_latency.as_secs_f64() / off_latency.as_secs_f64()
    );
    println!("| {RUNS} back-to-back runs + flush, metrics off: per run | {off_each:.1?} | | |");
    println!(
        "| {RUNS} back-to-back runs + flush, metrics on (UDP): per run | {on_each:.1?} | < 1.5× off | {:.2}× off; {received} of {expected} lines received, {dropped} runs or datagrams dropped |",
        on_each.as_secs_f64() / off_each.as_secs_f64()
    );
}
