//! Load benchmark of the HTTP endpoints: cached `/healthcheck` against a plain "hello" route of
//! the same axum server, driven by wrk over loopback; and the server's memory before and after a
//! million requests.
//!
//! Needs `wrk` (Debian: `apt-get install -y wrk`). Run with `cargo bench --bench http_load`.
//! Prints a Markdown table; BENCHMARKS.md keeps the figures.

#![allow(clippy::print_stdout)] // Printing is what this program is for.

use std::process::Command;
use std::time::Duration;

use healthcheck::http::HttpOptions;
use healthcheck::{Check, Component, HealthChecks, MetricsConfig};

/// What one wrk run measured.
#[derive(Debug, Clone, Copy)]
struct Load {
    requests: u64,
    per_second: f64,
    p99_ms: f64,
}

fn wrk(url: &str, seconds: u32) -> Load {
    let output = Command::new("wrk")
        .args(["-t1", "-c32", &format!("-d{seconds}s"), "--latency", url])
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let number_after = |label: &str| -> Option<&str> {
        text.lines()
            .find(|l| l.trim_start().starts_with(label))
            .and_then(|l| l.trim_start()[label.len()..].split_whitespace().next())
    };
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in {text}"));
    let per_second = number_after("Requests/sec:")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no rate in {text}"));
    let p99 = number_after("99%").unwrap_or_else(|| panic!("no p99 in {text}"));
    Load {
        requests,
        per_second,
        p99_ms: milliseconds(p99),
    }
}

/// wrk's `512.00us`, `1.23ms`, `1.01s` in milliseconds.
fn milliseconds(text: &str) -> f64 {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        _ => f64::NAN,
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("wrk is not installed (Debian: apt-get install -y wrk); nothing measured");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let address = runtime.block_on(async {
        let health = HealthChecks::builder()
            .without_registered_checks()
            .metrics(MetricsConfig::disabled())
            .check(Check::new("db", || async { true }))
            .check(Check::new("cache", || async {
                Ok::<_, String>(serde_json::json!({"hit_rate": 0.93}))
            }))
            .check(Check::blocking("disk", || {
                Component::healthy().field("free_gib", 120)
            }))
            .build()
            .expect("valid");
        let handler = HttpOptions::new().build(health).expect("valid");
        let app = axum::Router::new()
            .route("/hello", axum::routing::get(|| async { "hello" }))
            .merge(healthcheck::http::axum::router(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("bound");
        tokio::spawn(async move { axum::serve(listener, app).await });
        address
    });
    let hello = format!("http://{address}/hello");
    let health = format!("http://{address}/healthcheck");

    wrk(&hello, 2);
    wrk(&health, 2);
    let rss_before = rss_kib();

    // Alternate the routes, so that drift on a shared machine hits both alike.
    let mut hello_runs = Vec::new();
    let mut health_runs = Vec::new();
    for _ in 0..3 {
        hello_runs.push(wrk(&hello, 5));
        health_runs.push(wrk(&health, 5));
    }
    let mut health_requests: u64 = health_runs.iter().map(|l| l.requests).sum();
    while health_requests < 1_000_000 {
        health_requests += wrk(&health, 5).requests;
    }
    std::thread::sleep(Duration::from_millis(500));
    let rss_after = rss_kib();

    let rate = |runs: &[Load]| median(runs.iter().map(|l| l.per_second).collect());
    let p99 = |runs: &[Load]| median(runs.iter().map(|l| l.p99_ms).collect());
    let (hello_rate, health_rate) = (rate(&hello_runs), rate(&health_runs));
    println!("| route | requests/s (median of 3 × 5 s) | p99 latency | ratio to hello |");
    println!("|---|---|---|---|");
    println!(
        "| `GET /hello` (plain axum route) | {hello_rate:.0} | {:.2} ms | 1.00 |",
        p99(&hello_runs)
    );
    println!(
        "| `GET /healthcheck` (cached, TTL 1 s) | {health_rate:.0} | {:.2} ms | {:.2} |",
        p99(&health_runs),
        health_rate / hello_rate
    );
    println!();
    println!(
        "RSS of the server process: {} KiB after warm-up, {} KiB after {} requests to /healthcheck ({:+} KiB).",
        rss_before,
        rss_after,
        health_requests,
        i128::from(rss_after) - i128::from(rss_before)
    );
}
