//! `checks::redis`: a real `redis-server`, healthy, down and back, hanging, with a wrong
//! password, above a memory threshold, on the application's connection.

use std::time::{Duration, Instant};

use healthcheck::{Status, checks};

use crate::support::servers::redis;
use crate::{build_error, health_of, run_one};

/// A plain connection for the test's own commands.
async fn connection(url: &str) -> ::redis::aio::MultiplexedConnection {
    ::redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_server_that_answers_is_healthy_with_its_version() {
    let server = redis::start(None);
    let component = run_one(checks::redis("cache", redis::url(&server, None))).await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
    let version = component.extra["redis_version"].as_str().unwrap();
    assert!(
        version.chars().next().is_some_and(|c| c.is_ascii_digit()),
        "{version}"
    );
    assert_eq!(
        component.status_message.unwrap(),
        format!("Redis {version} answered PING")
    );
    assert!(
        component.extra.get("used_memory").is_none(),
        "no threshold, no INFO memory"
    );
}

#[tokio::test]
async fn the_applications_connections_are_checked_through() {
    let server = redis::start(None);
    let client = ::redis::Client::open(redis::url(&server, None)).unwrap();
    let manager = ::redis::aio::ConnectionManager::new(client.clone())
        .await
        .unwrap();
    let component = run_one(checks::redis("cache", manager)).await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
    let multiplexed = client.get_multiplexed_async_connection().await.unwrap();
    let component = run_one(checks::redis("cache", multiplexed)).await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
}

#[tokio::test]
async fn a_wrong_password_is_unhealthy_and_never_shows() {
    let right = "rd-Right-s3cret";
    let wrong = "rd-Wrong-pass-71";
    let server = redis::start(Some(right));
    let check = checks::redis("cache", redis::url(&server, Some(wrong)));
    assert!(!format!("{check:?}").contains(wrong));
    let component = run_one(check).await;
    assert_eq!(component.status, Status::Unhealthy, "{component:?}");
    let message = component.status_message.clone().unwrap();
    assert!(
        message.to_lowercase().contains("authentication failed"),
        "{message}"
    );
    assert!(
        message.contains("***"),
        "the URL is shown masked: {message}"
    );
    let json = serde_json::to_string(&component).unwrap();
    assert!(!json.contains(wrong), "{json}");

    let component = run_one(checks::redis("cache", redis::url(&server, Some(right)))).await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_goes_down_is_unhealthy_and_healthy_again_once_back() {
    let mut server = redis::start(None);
    // What is tested is the status and the message, not how fast: a loaded machine that
    // stalls a run for the default 2 s must not read as a hang.
    let check = checks::redis("cache", redis::url(&server, None)).timeout(Duration::from_secs(10));
    let health = health_of([check.into()]);
    let status = |report: &healthcheck::Report| report.components["cache"].status;
    assert_eq!(status(&health.run().await), Status::Healthy);

    // Stopping and starting the server blocks: off the runtime's workers, which run the
    // connection's task.
    tokio::task::block_in_place(|| server.kill());
    let report = health.run().await;
    let component = &report.components["cache"];
    assert_eq!(component.status, Status::Unhealthy, "{component:?}");
    let message = component.status_message.clone().unwrap();
    assert!(message.contains("failed PING"), "{message}");
    assert!(message.contains(&server.addr.to_string()), "{message}");

    tokio::task::block_in_place(|| server.restart());
    let report = health.run().await;
    assert_eq!(status(&report), Status::Healthy, "{}", report.to_json());
}

#[tokio::test]
async fn a_server_that_hangs_times_out_on_time() {
    let server = redis::start(None);
    let stalled = crate::support::proxy::delaying(server.addr, Duration::from_secs(3600)).await;
    let started = Instant::now();
    let component = run_one(
        checks::redis("cache", format!("redis://{stalled}/0")).timeout(Duration::from_millis(300)),
    )
    .await;
    let took = started.elapsed();
    assert_eq!(component.status, Status::Unhealthy, "{component:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(
        component.status_message.unwrap().contains("timed out"),
        "the timeout is the reason"
    );
}

#[tokio::test]
async fn memory_above_a_threshold_is_degraded_with_the_figures() {
    let server = redis::start(None);
    let url = redis::url(&server, None);
    let mut plain = connection(&url).await;
    let _: () = ::redis::cmd("SET")
        .arg("ballast")
        .arg(vec![b'x'; 512 * 1024])
        .query_async(&mut plain)
        .await
        .unwrap();

    // No maxmemory: the fraction is of the host's memory, and that is said.
    let component = run_one(checks::redis("cache", &url).max_memory_usage(0.99)).await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
    assert_eq!(component.extra["maxmemory"], 0);
    assert!(component.extra["used_memory"].as_u64().unwrap() > 512 * 1024);
    let message = component.status_message.unwrap();
    assert!(message.contains("no maxmemory set"), "{message}");

    // A byte threshold below what is used.
    let component = run_one(checks::redis("cache", &url).max_used_memory(1024)).await;
    assert_eq!(component.status, Status::Degraded, "{component:?}");
    let message = component.status_message.unwrap();
    assert!(message.contains("above 1.0 KiB"), "{message}");

    // A maxmemory the data fills most of.
    let used = component.extra["used_memory"].as_u64().unwrap();
    let limit = used + used / 4;
    let _: () = ::redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(limit)
        .query_async(&mut plain)
        .await
        .unwrap();
    let component = run_one(checks::redis("cache", &url).max_memory_usage(0.5)).await;
    assert_eq!(component.status, Status::Degraded, "{component:?}");
    assert_eq!(component.extra["maxmemory"], limit);
    let message = component.status_message.unwrap();
    assert!(message.contains("of maxmemory"), "{message}");
    assert!(message.contains("above 50%"), "{message}");

    let component = run_one(checks::redis("cache", &url).max_memory_usage(1.0)).await;
    assert_eq!(component.status, Status::Healthy, "{component:?}");
}

#[test]
fn a_malformed_url_or_threshold_fails_the_build_without_its_password() {
    for (url, says) in [
        ("redis://:hunter2@cache:port/0", "invalid Redis URL"),
        ("http://:hunter2@cache:6379", "invalid Redis URL"),
    ] {
        let message = build_error(checks::redis("main cache", url));
        assert!(message.contains("main cache"), "{message}");
        assert!(message.contains(says), "{url}: {message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
    for fraction in [0.0, 1.5, f64::NAN] {
        let message =
            build_error(checks::redis("cache", "redis://cache:6379").max_memory_usage(fraction));
        assert!(message.contains("fraction in (0, 1]"), "{message}");
    }
}

#[test]
fn the_check_survives_the_runtime_that_first_ran_it() {
    let server = redis::start(None);
    let health = health_of([checks::redis("cache", redis::url(&server, None)).into()]);
    for _ in 0..2 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let report = runtime.block_on(health.run());
        assert_eq!(
            report.components["cache"].status,
            Status::Healthy,
            "{}",
            report.to_json()
        );
        drop(runtime);
    }
}
