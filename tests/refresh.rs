//! Background refresh under stress: it outlives the runtime that built the handler, survives a
//! panic, refreshes each check on its own schedule, and never serves an old result as current.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ::http::{HeaderMap, Method, StatusCode};
use healthcheck::http::{
    HealthHandler, HealthRequest, MemoryStore, ResultStore, StoreFuture, StoredResult,
};
use healthcheck::{Check, HealthChecks, MetricsConfig, Status};

/// `GET path` on the handler: status and body.
async fn get(handler: &HealthHandler, path: &str, query: Option<&str>) -> (StatusCode, String) {
    let headers = HeaderMap::new();
    let response = handler
        .handle(HealthRequest {
            method: &Method::GET,
            path,
            query,
            headers: &headers,
        })
        .await;
    (
        response.status,
        String::from_utf8_lossy(&response.body).into_owned(),
    )
}

/// Asks until `done` holds for the answer to `GET /readyz?verbose`, for at most `limit`; the
/// last answer.
async fn until(
    handler: &HealthHandler,
    limit: Duration,
    done: impl Fn(StatusCode, &str) -> bool,
) -> (StatusCode, String) {
    let started = Instant::now();
    loop {
        let (status, body) = get(handler, "/readyz", Some("verbose")).await;
        if done(status, &body) || started.elapsed() > limit {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A check whose health the test switches.
fn switch(name: &'static str, up: &Arc<AtomicBool>) -> Check {
    let up = Arc::clone(up);
    Check::new(name, move || {
        let up = up.load(Ordering::SeqCst);
        async move {
            if up {
                Ok(())
            } else {
                Err("connection refused")
            }
        }
    })
    .timeout(Duration::from_millis(100))
}

fn builder() -> healthcheck::HealthChecksBuilder {
    HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::disabled())
}

#[test]
fn the_refresh_outlives_the_runtime_that_built_the_handler() {
    let up = Arc::new(AtomicBool::new(true));
    let first = tokio::runtime::Runtime::new().expect("runtime");
    let handler = first.block_on(async {
        let health = builder().check(switch("db", &up)).build().expect("valid");
        let handler = healthcheck::http::HttpOptions::new()
            .cache_ttl(Duration::ZERO)
            .refresh_every(Duration::from_millis(30))
            .build(health)
            .expect("valid options");
        let (status, body) = until(&handler, Duration::from_secs(5), |s, _| s.is_success()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        handler
    });
    drop(first);

    up.store(false, Ordering::SeqCst);
    let second = tokio::runtime::Runtime::new().expect("runtime");
    second.block_on(async {
        let (status, body) = until(&handler, Duration::from_secs(5), |s, _| {
            s == StatusCode::SERVICE_UNAVAILABLE
        })
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(
            body.contains("[-]db failed: connection refused"),
            "the refresh stopped with its runtime: {body}"
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refresh_survives_a_panicking_reduce_function() {
    let up = Arc::new(AtomicBool::new(true));
    let panicked = Arc::new(AtomicBool::new(false));
    let health = {
        let panicked = Arc::clone(&panicked);
        builder()
            .check(switch("db", &up))
            .reduce(move |components| {
                assert!(
                    panicked.swap(true, Ordering::SeqCst),
                    "a reduce function that panics once"
                );
                healthcheck::default_reduce(components)
            })
            .build()
            .expect("valid")
    };
    let handler = healthcheck::http::HttpOptions::new()
        .cache_ttl(Duration::ZERO)
        .refresh_every(Duration::from_millis(30))
        .build(health)
        .expect("valid options");
    let (status, body) = until(&handler, Duration::from_secs(5), |s, _| s.is_success()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(panicked.load(Ordering::SeqCst));

    up.store(false, Ordering::SeqCst);
    let (status, body) = until(&handler, Duration::from_secs(5), |s, _| !s.is_success()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("[-]db failed: connection refused"), "{body}");
}

#[test]
fn a_panicking_reduce_function_makes_the_service_unhealthy() {
    let health = builder()
        .check(Check::new("db", || async { true }))
        .reduce(|_| panic!("a broken rule"))
        .build()
        .expect("valid");
    let report = health.run_blocking().expect("no runtime here");
    assert_eq!(report.status, Status::Unhealthy);
    assert!(!report.service_healthy);
    assert!(report.components["db"].healthy);
}

/// A store that keeps the first `keep` saves and silently loses every later one: a stand-in for
/// a refresh that has stopped producing results.
#[derive(Debug)]
struct LosesSaves {
    inner: MemoryStore,
    keep: usize,
    saves: AtomicUsize,
}

impl ResultStore for LosesSaves {
    fn load<'a>(&'a self, checks: &'a [&'a str]) -> StoreFuture<'a, Vec<Option<StoredResult>>> {
        self.inner.load(checks)
    }

    fn save<'a>(&'a self, results: Vec<(String, StoredResult)>) -> StoreFuture<'a, ()> {
        if self.saves.fetch_add(1, Ordering::SeqCst) < self.keep {
            self.inner.save(results)
        } else {
            Box::pin(std::future::ready(()))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_refreshed_result_is_never_served_as_current() {
    let up = Arc::new(AtomicBool::new(true));
    let health = builder().check(switch("db", &up)).build().expect("valid");
    let handler = healthcheck::http::HttpOptions::new()
        .cache_ttl(Duration::ZERO)
        .refresh_every(Duration::from_millis(30))
        .store(LosesSaves {
            inner: MemoryStore::new(),
            keep: 1,
            saves: AtomicUsize::new(0),
        })
        .build(health)
        .expect("valid options");
    let (status, body) = until(&handler, Duration::from_secs(5), |s, _| s.is_success()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // 3 × 30 ms + the check's 100 ms timeout: past 190 ms the healthy result is stale.
    let stale_at = Instant::now();
    let (status, body) = until(&handler, Duration::from_secs(5), |s, _| !s.is_success()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body.contains("[-]db failed: no fresh result since "),
        "{body}"
    );
    assert!(
        stale_at.elapsed() < Duration::from_secs(1),
        "{:?}",
        stale_at.elapsed()
    );
    let (_, report) = get(&handler, "/healthcheck", None).await;
    assert!(report.contains(r#""service_healthy":false"#), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_refreshed_check_delays_no_other() {
    let fast_runs = Arc::new(AtomicUsize::new(0));
    let health = {
        let fast_runs = Arc::clone(&fast_runs);
        builder()
            .check(Check::new("fast", move || {
                fast_runs.fetch_add(1, Ordering::SeqCst);
                async { true }
            }))
            .check(
                Check::new("slow", std::future::pending::<bool>)
                    .timeout(Duration::from_millis(500)),
            )
            .build()
            .expect("valid")
    };
    let _handler = healthcheck::http::HttpOptions::new()
        .cache_ttl(Duration::ZERO)
        .refresh_every(Duration::from_millis(200))
        .refresh_check_every("fast", Duration::from_millis(50))
        .build(health)
        .expect("valid options");
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let runs = fast_runs.load(Ordering::SeqCst);
    // About 20 runs on its own schedule; waiting for the slow one would allow 2 or 3.
    assert!(runs >= 12, "fast ran {runs} times in 1 s");
}
