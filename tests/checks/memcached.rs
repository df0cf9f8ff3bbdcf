//! `checks::memcached`: a real `memcached` on loopback, up, down, restarted, silent.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use healthcheck::{Status, checks};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::servers::{self, memcached};
use crate::{build_error, health_of, run_one};

#[tokio::test]
async fn a_running_server_is_healthy_with_its_version() {
    let server = memcached::start();
    let version = memcached::version();
    for addr in [
        server.addr.to_string(),
        format!("memcache://{}", server.addr),
        format!("tcp://localhost:{}", server.addr.port()),
    ] {
        let component = run_one(checks::memcached("cache", &addr)).await;
        assert_eq!(component.status, Status::Healthy, "{addr}: {component:?}");
        assert_eq!(component.extra["version"], version.as_str(), "{addr}");
        assert_eq!(
            component.status_message.as_deref(),
            Some(format!("memcached {version}").as_str())
        );
    }
}

#[tokio::test]
async fn a_server_that_is_down_is_unhealthy_and_says_why() {
    let port = servers::free_port();
    let component = run_one(checks::memcached("cache", format!("127.0.0.1:{port}"))).await;
    assert_eq!(component.status, Status::Unhealthy);
    let message = component.status_message.unwrap();
    assert!(
        message.starts_with(&format!("cannot connect to 127.0.0.1:{port}: ")),
        "{message}"
    );
    assert!(message.contains("refused"), "{message}");
    assert!(component.extra.get("version").is_none());
}

#[tokio::test]
async fn a_restarted_server_is_healthy_again_without_rebuilding() {
    let mut server = memcached::start();
    let health = health_of([checks::memcached("cache", server.addr.to_string()).into()]);
    let status = |report: &healthcheck::Report| report.components["cache"].status;

    assert_eq!(status(&health.run().await), Status::Healthy);
    // Killed and started again between two runs: the kept connection is dead, the retry with
    // a fresh one answers.
    server.restart();
    let report = health.run().await;
    assert_eq!(status(&report), Status::Healthy, "{}", report.to_json());

    // Down during a run: unhealthy, the retry does not hide it.
    server.kill();
    let report = health.run().await;
    assert_eq!(status(&report), Status::Unhealthy);
    let message = report.components["cache"].status_message.clone().unwrap();
    assert!(message.contains("cannot connect"), "{message}");

    server.restart();
    let report = health.run().await;
    assert_eq!(status(&report), Status::Healthy, "{}", report.to_json());
}

/// A peer that accepts every connection; the first one is never answered, the next ones
/// answer `version` like memcached 9.9.9. How many connections it accepted.
async fn stalls_the_first_connection() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut silent = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            if count.fetch_add(1, Ordering::SeqCst) == 0 {
                silent.push(stream);
                continue;
            }
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line.trim() == "version" {
                        let _ = write.write_all(b"VERSION 9.9.9\r\n").await;
                    }
                }
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_on_time_and_the_next_run_recovers() {
    let (addr, accepted) = stalls_the_first_connection().await;
    let health = health_of([checks::memcached("cache", addr.to_string())
        .timeout(Duration::from_millis(300))
        .into()]);

    let started = Instant::now();
    let report = health.run().await;
    let took = started.elapsed();
    let component = &report.components["cache"];
    assert_eq!(component.status, Status::Unhealthy, "{component:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let message = component.status_message.clone().unwrap();
    assert!(message.contains("timed out"), "{message}");

    // The run cut off mid-command left a connection with a reply owed: it is not reused.
    let report = health.run().await;
    let component = &report.components["cache"];
    assert_eq!(component.status, Status::Healthy, "{component:?}");
    assert_eq!(component.extra["version"], "9.9.9");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);

    // And the fresh one is kept.
    let report = health.run().await;
    assert_eq!(report.components["cache"].status, Status::Healthy);
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[test]
fn a_malformed_address_fails_the_build_naming_the_check() {
    for (addr, says) in [
        ("cache", "port is missing"),
        ("cache:0", "1..=65535"),
        ("memcache://", "host is empty"),
        ("redis://cache:6379", "unknown scheme"),
        ("[::1]:11211", "IPv6"),
    ] {
        let message = build_error(checks::memcached("session cache", addr));
        assert!(message.contains("session cache"), "{message}");
        assert!(message.contains(says), "{addr}: {message}");
    }
}

#[test]
fn credentials_in_the_address_are_refused_without_showing_them() {
    let message = build_error(checks::memcached(
        "cache",
        "memcache://app:hunter2@cache:11211",
    ));
    assert!(message.contains("no authentication"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    let debug = format!(
        "{:?}",
        checks::memcached("cache", "memcache://app:hunter2@cache:11211")
    );
    assert!(!debug.contains("hunter2"), "{debug}");
}

#[test]
fn the_check_survives_the_runtime_that_first_ran_it() {
    let server = memcached::start();
    let health = health_of([checks::memcached("cache", server.addr.to_string()).into()]);
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    };
    let first = runtime();
    let report = first.block_on(health.run());
    assert_eq!(report.components["cache"].status, Status::Healthy);
    drop(first);
    let second = runtime();
    let report = second.block_on(health.run());
    let component = &report.components["cache"];
    assert_eq!(component.status, Status::Healthy, "{component:?}");
    assert_eq!(component.extra["version"], memcached::version().as_str());
}
