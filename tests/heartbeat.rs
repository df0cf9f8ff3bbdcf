//! Heartbeats: dead-man switches beaten from the code and over HTTP, fresh or stale, good or
//! failed, with a start-up grace period and a token.

mod support;

use std::time::Duration;

use healthcheck::http::server::Server;
use healthcheck::http::{Details, HttpOptions};
use healthcheck::{Beat, Check, Error, HealthChecks, Heartbeat, MetricsConfig, Status};
use support::http_client::{get, send};

fn builder() -> healthcheck::HealthChecksBuilder {
    HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::disabled())
}

fn message(health: &HealthChecks, name: &str) -> (Status, Option<String>) {
    let report = health.run_blocking().expect("no runtime here");
    let component = &report.components[name];
    (component.status, component.status_message.clone())
}

#[test]
fn a_heartbeat_is_healthy_while_its_last_beat_is_fresh() {
    let health = builder()
        .heartbeat(Heartbeat::new("job", Duration::from_millis(300)).groups(["workers"]))
        .build()
        .expect("valid");
    assert_eq!(
        message(&health, "job"),
        (Status::Unhealthy, Some("no heartbeat yet".to_owned()))
    );

    health
        .beat_with("job", Beat::ok().message("42 rows").field("rows", 42))
        .expect("a heartbeat");
    let report = health.run_blocking().expect("no runtime here");
    let job = &report.components["job"];
    assert_eq!(
        (job.status, job.status_message.as_deref()),
        (Status::Healthy, Some("42 rows"))
    );
    assert_eq!(job.extra["rows"], 42);
    assert!(
        job.extra["last_beat"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(job.groups, ["workers"]);
    assert!(report.service_healthy);

    health.beat_failed("job", "disk full").expect("a heartbeat");
    assert_eq!(
        message(&health, "job"),
        (Status::Unhealthy, Some("disk full".to_owned()))
    );

    health.beat("job").expect("a heartbeat");
    assert_eq!(message(&health, "job").0, Status::Healthy);
    std::thread::sleep(Duration::from_millis(400));
    let (status, text) = message(&health, "job");
    assert_eq!(status, Status::Unhealthy);
    let text = text.unwrap_or_default();
    assert!(
        text.starts_with("no heartbeat for ") && text.ends_with(" (expected within 300.0 ms)"),
        "{text}"
    );
}

#[test]
fn a_grace_period_covers_a_heartbeat_that_has_not_beaten_yet() {
    let health = builder()
        .heartbeat(
            Heartbeat::new("consumer", Duration::from_secs(60))
                .grace_period(Duration::from_millis(200)),
        )
        .build()
        .expect("valid");
    assert_eq!(
        message(&health, "consumer"),
        (
            Status::Healthy,
            Some("no heartbeat yet (starting up)".to_owned())
        )
    );
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(
        message(&health, "consumer"),
        (Status::Unhealthy, Some("no heartbeat yet".to_owned()))
    );
}

#[test]
fn heartbeats_are_checked_like_checks() {
    let health = builder()
        .heartbeat(Heartbeat::new("backup", Duration::from_secs(60)).critical(false))
        .check(Check::new("db", || async { true }))
        .build()
        .expect("valid");
    let report = health.run_blocking().expect("no runtime here");
    assert_eq!(report.status, Status::Degraded, "a non-critical heartbeat");
    assert!(matches!(
        health.beat("nope"),
        Err(Error::UnknownHeartbeat(name)) if name == "nope"
    ));
    assert!(matches!(health.beat("db"), Err(Error::UnknownHeartbeat(_))));

    let duplicate = builder()
        .heartbeat(Heartbeat::new("db", Duration::from_secs(1)))
        .check(Check::new("db", || async { true }))
        .build()
        .expect_err("two components named db");
    assert!(
        matches!(duplicate, Error::DuplicateName { .. }),
        "{duplicate}"
    );
    let zero = builder()
        .heartbeat(Heartbeat::new("job", Duration::ZERO))
        .build()
        .expect_err("a zero max_age");
    assert!(zero.to_string().contains("zero max_age"), "{zero}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_is_beaten_over_http() {
    let health = builder()
        .heartbeat(Heartbeat::new("nightly backup", Duration::from_secs(60)))
        .build()
        .expect("valid");
    let handler = HttpOptions::new()
        .cache_ttl(Duration::ZERO)
        .base_path("/health")
        .build(health)
        .expect("valid");
    let server = Server::bind("127.0.0.1:0", handler).await.expect("bind");
    let address = server.local_addr();
    tokio::task::spawn_blocking(move || {
        assert_eq!(get(address, "/health/readyz").status, 503);

        let beat = send(address, "POST", "/health/heartbeat/nightly%20backup", &[]);
        assert_eq!(beat.status, 200, "{}", beat.body);
        assert_eq!(
            beat.json(),
            serde_json::json!({"heartbeat": "nightly backup", "ok": true})
        );
        assert_eq!(beat.header("cache-control"), Some("no-store"));
        assert_eq!(get(address, "/health/readyz").status, 200);

        let failed = send(
            address,
            "POST",
            "/health/heartbeat/nightly%20backup?failed=disk+full",
            &[],
        );
        assert_eq!(failed.json()["ok"], false);
        let ready = get(address, "/health/readyz");
        assert_eq!(
            (ready.status, ready.body.as_str()),
            (
                503,
                "[-]nightly backup failed: disk full\nreadyz check failed"
            )
        );

        let good = send(
            address,
            "POST",
            "/health/heartbeat/nightly%20backup?message=412+GiB",
            &[],
        );
        assert_eq!(good.status, 200);
        let report = get(address, "/health/healthcheck").json();
        assert_eq!(
            report["components"]["nightly backup"]["status_message"],
            "412 GiB"
        );

        let wrong_method = get(address, "/health/heartbeat/nightly%20backup");
        assert_eq!(wrong_method.status, 405);
        assert_eq!(wrong_method.header("allow"), Some("POST"));
        let unknown = send(address, "POST", "/health/heartbeat/nope", &[]);
        assert_eq!(unknown.status, 404);
        assert!(
            unknown.body.contains("no heartbeat is named `nope`"),
            "{}",
            unknown.body
        );
    })
    .await
    .expect("no panic");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_details_token_only_its_holders_may_beat() {
    let health = builder()
        .heartbeat(Heartbeat::new("job", Duration::from_secs(60)))
        .build()
        .expect("valid");
    let handler = HttpOptions::new()
        .cache_ttl(Duration::ZERO)
        .details(Details::Token("s3cret".to_owned()))
        .build(health)
        .expect("valid");
    let app: axum::Router = healthcheck::http::axum::router(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("bound");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    tokio::task::spawn_blocking(move || {
        let anonymous = send(address, "POST", "/heartbeat/job", &[]);
        assert_eq!(anonymous.status, 401);
        assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
        let wrong = send(
            address,
            "POST",
            "/heartbeat/job",
            &[("Authorization", "Bearer guess")],
        );
        assert_eq!(wrong.status, 401);
        assert_eq!(get(address, "/readyz").status, 503, "no beat got through");
        let holder = send(
            address,
            "POST",
            "/heartbeat/job",
            &[("Authorization", "Bearer s3cret")],
        );
        assert_eq!(holder.status, 200, "{}", holder.body);
        assert_eq!(get(address, "/readyz").status, 200);
    })
    .await
    .expect("no panic");
    server.abort();
}
