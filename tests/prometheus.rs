//! The Prometheus exporter as an application uses it (feature `prometheus`): settings, the
//! OpenMetrics text read back by a real parser, and the application's own registry.
//!
//! What each execution records is tested in the module itself (`healthcheck::prometheus`); here,
//! the checks built with it, runs over real HTTP, `GET /metrics` with and without the token,
//! alongside DogStatsD and alone, and an application's own routes next to the SDK's.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use healthcheck::http::server::Server;
use healthcheck::http::{Details, HttpOptions};
use healthcheck::prometheus::Prometheus;
use healthcheck::{Check, Component, Error, HealthChecks, MetricsConfig};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use prometheus_parse::{Scrape, Value};
use support::http_client::{Response, send};

fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("prometheus-parse reads it")
}

#[test]
fn the_exposition_is_openmetrics_text() {
    let prometheus = Prometheus::new().prefix("svc");
    let text = prometheus.encode();
    // No check has run: no family has a series yet, so only the end marker.
    assert_eq!(text, "# EOF\n");
    let scrape = parse(&text);
    assert!(scrape.samples.is_empty(), "{:?}", scrape.samples);
    assert_eq!(
        Prometheus::CONTENT_TYPE,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert_eq!(Prometheus::default().encode(), Prometheus::new().encode());
    let debug = format!("{:?}", prometheus.clone());
    assert!(debug.contains("\"svc\""), "{debug}");
}

#[test]
fn the_application_registry_keeps_its_own_metrics() {
    let mut registry = Registry::default();
    let requests: Counter = Counter::default();
    registry.register("requests", "Requests served", requests.clone());
    requests.inc_by(3);
    Prometheus::new()
        .prefix("svc")
        .buckets([0.01, 0.1, 1.0])
        .register(&mut registry);

    let mut text = String::new();
    encode(&mut text, &registry).expect("encodes");
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert_eq!(text.matches("# EOF").count(), 1, "{text}");
    let scrape = parse(&text);
    let requests = scrape
        .samples
        .iter()
        .find(|sample| sample.metric == "requests_total")
        .expect("the application's counter");
    assert!(
        matches!(requests.value, Value::Untyped(v) | Value::Counter(v) if v == 3.0),
        "{requests:?}"
    );
}

#[test]
fn an_invalid_setting_exports_nothing() {
    for prometheus in [
        Prometheus::new().prefix("my-service"),
        Prometheus::new().buckets([1.0, 0.5]),
        Prometheus::new().buckets([]),
    ] {
        assert_eq!(prometheus.encode(), "# EOF\n", "{prometheus:?}");
        let mut registry = Registry::default();
        prometheus.register(&mut registry);
        let mut text = String::new();
        encode(&mut text, &registry).expect("encodes");
        assert_eq!(text, "# EOF\n", "{prometheus:?}");
    }
}

/// `db` (groups `back`, `storage`) fails its third run and every run from the fifth, and turns
/// unhealthy only after two failures in a row; `cache` is degraded; `queue "1"` is healthy, with a quote in its name.
fn checks(prometheus: Prometheus, metrics: MetricsConfig) -> HealthChecks {
    let runs = Arc::new(AtomicUsize::new(0));
    HealthChecks::builder()
        .without_registered_checks()
        .metrics(metrics)
        .prometheus(prometheus)
        .check(
            Check::new("db", move || {
                let run = runs.fetch_add(1, Ordering::SeqCst);
                async move {
                    if run == 2 || run >= 4 {
                        Err("refused")
                    } else {
                        Ok(())
                    }
                }
            })
            .groups(["back", "storage"])
            .failure_threshold(2),
        )
        .check(Check::new("cache", || async {
            Component::degraded("evictions")
        }))
        .check(Check::new("queue \"1\"", || async { true }))
        .build()
        .expect("valid checks")
}

async fn get(
    address: std::net::SocketAddr,
    path: &'static str,
    token: Option<&'static str>,
) -> Response {
    tokio::task::spawn_blocking(move || {
        let header = token.map(|t| ("Authorization", t));
        send(address, "GET", path, header.as_slice())
    })
    .await
    .expect("the request ran")
}

/// The value of the sample `name` whose labels hold every `(key, value)` of `labels`.
fn sample(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(k).is_some_and(|got| got == *v))
        })
        .unwrap_or_else(|| panic!("no {name} {labels:?} in {:#?}", scrape.samples));
    match found.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        ref other => panic!("{name}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_over_http_show_in_the_metrics_endpoint() {
    let health = checks(Prometheus::new().prefix("svc"), MetricsConfig::disabled());
    let handler = HttpOptions::new()
        .cache_ttl(Duration::ZERO)
        .build(health)
        .expect("valid");
    let server = Server::bind("127.0.0.1:0", handler).await.expect("bind");
    let address = server.local_addr();
    // Three runs: db passes, passes, fails (reported degraded: one failure of two).
    for _ in 0..3 {
        assert_eq!(get(address, "/healthcheck", None).await.status, 200);
    }
    let metrics = get(address, "/metrics", None).await;
    assert_eq!(metrics.status, 200, "{}", metrics.body);
    assert_eq!(
        metrics.header("content-type"),
        Some(Prometheus::CONTENT_TYPE)
    );
    let text = &metrics.body;
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(
        text.contains("# TYPE svc_check_duration_seconds histogram"),
        "{text}"
    );
    assert!(text.contains("# TYPE svc_check_runs counter"), "{text}");
    let scrape = parse(text);
    // The reported status is degraded, the run's own result is counted as it was.
    assert_eq!(
        sample(
            &scrape,
            "svc_check_status",
            &[("check", "db"), ("status", "degraded")]
        ),
        1.0
    );
    assert_eq!(
        sample(
            &scrape,
            "svc_check_status",
            &[("check", "db"), ("status", "unhealthy")]
        ),
        0.0
    );
    assert_eq!(
        sample(
            &scrape,
            "svc_check_runs_total",
            &[("check", "db"), ("result", "healthy")]
        ),
        2.0
    );
    assert_eq!(
        sample(
            &scrape,
            "svc_check_runs_total",
            &[("check", "db"), ("result", "unhealthy")]
        ),
        1.0
    );
    assert_eq!(
        sample(
            &scrape,
            "svc_check_healthy",
            &[("check", "db"), ("group", "storage")]
        ),
        1.0
    );
    assert_eq!(
        sample(&scrape, "svc_check_healthy", &[("check", "cache")]),
        1.0
    );
    assert_eq!(sample(&scrape, "svc_service_healthy", &[]), 1.0);
    assert_eq!(
        sample(
            &scrape,
            "svc_check_duration_seconds_count",
            &[("check", "cache")]
        ),
        3.0
    );
    // The quote in a check's name is escaped in the text (prometheus-parse keeps it escaped).
    assert!(text.contains(r#"check="queue \"1\"""#), "{text}");
    let last = sample(
        &scrape,
        "svc_check_last_run_timestamp_seconds",
        &[("check", "cache")],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    assert!((now - last).abs() < 60.0, "{last} vs {now}");

    // The fourth run passes; the fifth and sixth fail, two in a row: unhealthy, and so is the
    // service.
    let fourth = get(address, "/healthcheck", None).await;
    assert_eq!(
        fourth.status, 200,
        "db passed its fourth run: {}",
        fourth.body
    );
    for _ in 0..2 {
        get(address, "/healthcheck", None).await;
    }
    let scrape = parse(&get(address, "/metrics", None).await.body);
    assert_eq!(
        sample(
            &scrape,
            "svc_check_status",
            &[("check", "db"), ("status", "unhealthy")]
        ),
        1.0
    );
    assert_eq!(sample(&scrape, "svc_service_healthy", &[]), 0.0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_guards_the_metrics_and_never_hides_them() {
    let health = checks(Prometheus::new(), MetricsConfig::disabled());
    health.run().await;
    let handler = HttpOptions::new()
        .details(Details::Token("s3cret".into()))
        .build(health.clone())
        .expect("valid");
    let server = Server::bind("127.0.0.1:0", handler).await.expect("bind");
    let refused = get(server.local_addr(), "/metrics", None).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(!refused.body.contains("healthcheck_check"));
    let scraped = get(server.local_addr(), "/metrics", Some("Bearer s3cret")).await;
    assert_eq!(scraped.status, 200);
    assert!(scraped.body.contains("healthcheck_check_status"));
    server.shutdown().await;

    let handler = HttpOptions::new()
        .details(Details::Never)
        .build(health.clone())
        .expect("valid");
    let server = Server::bind("127.0.0.1:0", handler).await.expect("bind");
    assert_eq!(get(server.local_addr(), "/metrics", None).await.status, 403);
    server.shutdown().await;

    // Elsewhere, or nowhere.
    let handler = HttpOptions::new()
        .metrics_path(Some("/internal/prom".to_owned()))
        .build(health.clone())
        .expect("valid");
    let server = Server::bind("127.0.0.1:0", handler).await.expect("bind");
    assert_eq!(
        get(server.local_addr(), "/internal/prom", None)
            .await
            .status,
        200
    );
    assert_eq!(get(server.local_addr(), "/metrics", None).await.status, 404);
    server.shutdown().await;
    let handler = HttpOptions::new()
        .metrics_path(None)
        .build(health)
        .expect("valid");
    let server = Server::bind("127.0.0.1:0", handler).await.expect("bind");
    assert_eq!(get(server.local_addr(), "/metrics", None).await.status, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn alongside_dogstatsd_both_get_every_run() {
    let listener = support::Listener::udp();
    let metrics = MetricsConfig::new()
        .destination_url(&listener.url())
        .expect("a URL");
    let prometheus = Prometheus::new();
    let health = checks(prometheus.clone(), metrics);
    health.run().await;
    assert!(health.flush_metrics(Duration::from_secs(2)).await);
    let lines = listener.lines(Duration::from_millis(300));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("healthcheck.check.response_time:")),
        "{lines:#?}"
    );
    let scrape = parse(&prometheus.encode());
    assert_eq!(
        sample(
            &scrape,
            "healthcheck_check_runs_total",
            &[("check", "cache"), ("result", "degraded")]
        ),
        1.0
    );
}

#[test]
fn an_invalid_prefix_fails_the_build_and_without_a_server_the_app_serves_them() {
    let error = HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::disabled())
        .prometheus(Prometheus::new().prefix("my-service"))
        .build()
        .expect_err("a dash");
    assert!(matches!(error, Error::InvalidSetting { .. }), "{error}");

    // The application's registry gets the SDK's series, updated by every run.
    let prometheus = Prometheus::new().prefix("svc");
    let mut registry = Registry::default();
    prometheus.register(&mut registry);
    let health = checks(prometheus, MetricsConfig::disabled());
    health.run_blocking().expect("ran");
    let mut text = String::new();
    encode(&mut text, &registry).expect("encodes");
    let scrape = parse(&text);
    assert_eq!(
        sample(
            &scrape,
            "svc_check_runs_total",
            &[("check", "db"), ("result", "healthy")]
        ),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_route_next_to_the_sdks_does_not_collide() {
    // Without Prometheus, status or events, the SDK's router holds none of their paths: the
    // application's own /metrics and /status merge without a conflict.
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::disabled())
        .build()
        .expect("valid");
    let handler = HttpOptions::new().build(health).expect("valid");
    let app: axum::Router = axum::Router::new()
        .route("/metrics", axum::routing::get(|| async { "mine" }))
        .route("/status", axum::routing::get(|| async { "mine too" }))
        .merge(healthcheck::http::axum::router(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let serving = tokio::spawn(async move { axum::serve(listener, app).await });
    assert_eq!(get(address, "/metrics", None).await.body, "mine");
    assert_eq!(get(address, "/status", None).await.body, "mine too");
    assert_eq!(get(address, "/readyz", None).await.status, 200);
    serving.abort();
}
