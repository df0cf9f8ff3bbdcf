//! Flap suppression: `failure_threshold` and `success_threshold` on scripted pass/fail sequences,
//! through the attribute and the `Check` builder; the run's own status kept visible (the
//! `raw_status` field, the history, the metrics' tag); executions, not callers, counted when
//! callers interleave; the probes, service checks and transition events following the reported
//! status.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use healthcheck::http::HttpOptions;
use healthcheck::http::server::Server;
use healthcheck::{Check, Component, Error, HealthChecks, MetricsConfig, Status, healthcheck};
use support::http_client::get;
use support::{Listener, parse_event, parse_metric, parse_service_check};

/// What the attribute-registered check returns next: `true` passes.
static SCRIPT: Mutex<Vec<bool>> = Mutex::new(Vec::new());

#[healthcheck(failure_threshold = 3, success_threshold = 2)]
async fn scripted() -> Result<(), String> {
    let next = SCRIPT.lock().expect("script").pop();
    match next {
        Some(true) | None => Ok(()),
        Some(false) => Err("connection refused".into()),
    }
}

/// A run-time check that follows `script` (front first), with the thresholds given.
fn scripted_check(name: &str, script: &[bool]) -> (Check, Arc<Mutex<Vec<bool>>>) {
    let script = Arc::new(Mutex::new(script.iter().rev().copied().collect::<Vec<_>>()));
    let next = Arc::clone(&script);
    let check = Check::new(name, move || {
        let pass = next.lock().expect("script").pop().unwrap_or(true);
        async move { if pass { Ok(()) } else { Err("refused") } }
    });
    (check, script)
}

fn quiet() -> MetricsConfig {
    MetricsConfig::disabled()
}

use Status::{Degraded as D, Healthy as H, Unhealthy as U};

async fn statuses(health: &HealthChecks, name: &str, runs: usize) -> Vec<(Status, Status)> {
    let mut seen = Vec::new();
    for _ in 0..runs {
        let report = health.run().await;
        let component = &report.components[name];
        seen.push((component.status, component.raw_status()));
    }
    seen
}

#[tokio::test]
async fn the_attribute_suppresses_until_three_failures_and_recovers_after_two_passes() {
    // Popped from the end: pass, fail ×4, pass, fail, pass, pass.
    *SCRIPT.lock().expect("script") =
        vec![true, true, false, true, false, false, false, false, true];
    let health = HealthChecks::builder()
        .metrics(quiet())
        .build()
        .expect("valid");
    let def = health.check("scripted").expect("registered");
    assert_eq!((def.failure_threshold(), def.success_threshold()), (3, 2));
    let seen = statuses(&health, "scripted", 9).await;
    assert_eq!(
        seen,
        [
            (H, H),
            (D, U),
            (D, U),
            (U, U),
            (U, U),
            (U, H),
            (U, U),
            (U, H),
            (H, H),
        ]
    );
    let report = health.run().await;
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("JSON");
    assert_eq!(json["components"]["scripted"]["raw_status"], "healthy");
}

#[tokio::test]
async fn a_threshold_of_one_changes_nothing_and_adds_no_field() {
    let (check, _) = scripted_check("plain", &[true, false, true, false]);
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(quiet())
        .check(check)
        .build()
        .expect("valid");
    assert_eq!(
        statuses(&health, "plain", 4).await,
        [(H, H), (U, U), (H, H), (U, U)]
    );
    let report = health.run().await;
    assert!(!report.components["plain"].extra.contains_key("raw_status"));
}

#[tokio::test]
async fn the_reported_message_says_how_far_the_failures_are() {
    let (check, _) = scripted_check("db", &[false, false, false, true, true]);
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(quiet())
        .check(check.failure_threshold(3).success_threshold(2))
        .build()
        .expect("valid");
    let mut messages = Vec::new();
    for _ in 0..5 {
        let report = health.run().await;
        let db = &report.components["db"];
        messages.push((db.status, db.status_message.clone().unwrap_or_default()));
        // Degraded counts as working: the service stays healthy until the third failure.
        assert_eq!(report.service_healthy, db.status != U);
    }
    assert_eq!(
        messages,
        [
            (D, "failing 1 of 3 before unhealthy: refused".to_owned()),
            (D, "failing 2 of 3 before unhealthy: refused".to_owned()),
            (U, "refused".to_owned()),
            (
                U,
                "recovering: 1 of 2 passing runs before healthy".to_owned()
            ),
            (H, String::new()),
        ]
    );
    // The history has both statuses of each run.
    let history = health.history("db").expect("a check");
    let pairs: Vec<_> = history.iter().map(|e| (e.status, e.raw_status)).collect();
    assert_eq!(pairs, [(D, U), (D, U), (U, U), (U, H), (H, H)]);
}

#[tokio::test]
async fn interleaved_callers_count_executions_not_callers() {
    let executions = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&executions);
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(quiet())
        .check(
            Check::new("slow", move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Err::<(), _>("down")
                }
            })
            .failure_threshold(3),
        )
        .build()
        .expect("valid");
    // Ten callers at once share one execution: one failure, reported degraded to all of them.
    for round in 1..=3u32 {
        let runs = futures_util::future::join_all((0..10).map(|_| health.run())).await;
        assert_eq!(executions.load(Ordering::SeqCst), round as usize);
        let expected = if round < 3 { D } else { U };
        for report in &runs {
            let slow = &report.components["slow"];
            assert_eq!(slow.status, expected, "round {round}: {slow:?}");
            assert_eq!(slow.raw_status(), U);
        }
    }
    assert_eq!(health.history("slow").expect("a check").len(), 3);
}

#[tokio::test]
async fn a_zero_threshold_is_refused_at_build() {
    let (check, _) = scripted_check("zero", &[]);
    let error = HealthChecks::builder()
        .without_registered_checks()
        .metrics(quiet())
        .check(check.failure_threshold(0))
        .build()
        .expect_err("zero runs");
    assert!(matches!(error, Error::InvalidCheck { ref check, .. } if check == "zero"));
    assert!(error.to_string().contains("at least 1"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probes_follow_the_reported_status() {
    let (check, _) = scripted_check("db", &[false, false, false, true, true]);
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(quiet())
        .check(check.failure_threshold(3).success_threshold(2))
        .build()
        .expect("valid");
    let handler = HttpOptions::new()
        .cache_ttl(Duration::ZERO)
        .build(health)
        .expect("valid");
    let server = Server::bind("127.0.0.1:0", handler).await.expect("bind");
    let address = server.local_addr();
    let codes = tokio::task::spawn_blocking(move || {
        (0..5)
            .map(|_| get(address, "/readyz").status)
            .collect::<Vec<_>>()
    })
    .await
    .expect("ran");
    assert_eq!(codes, [200, 200, 503, 503, 200]);
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_carry_the_raw_status_and_events_follow_the_reported_one() {
    let listener = Listener::udp();
    let (check, _) = scripted_check("db", &[false, false, false, true]);
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(
            MetricsConfig::new()
                .destination_url(&listener.url())
                .expect("a URL")
                .prefix("svc"),
        )
        .check(check.failure_threshold(3))
        .build()
        .expect("valid");
    let mut runs = Vec::new();
    for _ in 0..4 {
        health.run().await;
        assert!(health.flush_metrics(Duration::from_secs(2)).await);
        runs.push(listener.lines(Duration::from_millis(200)));
    }
    let tags_of = |lines: &[String], name: &str| {
        lines
            .iter()
            .filter_map(|l| parse_metric(l))
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no {name} in {lines:#?}"))
            .tags
    };
    let check_of = |lines: &[String]| {
        lines
            .iter()
            .filter_map(|l| parse_service_check(l))
            .find(|c| c.name == "svc.check")
            .unwrap_or_else(|| panic!("no service check in {lines:#?}"))
    };
    let events_of = |lines: &[String]| {
        lines
            .iter()
            .filter_map(|l| parse_event(l))
            .map(|e| e.title)
            .collect::<Vec<_>>()
    };
    // First failure: degraded (WARNING), the raw status in the tag, no "failed" event.
    let first = tags_of(&runs[0], "svc.check.response_time");
    assert!(first.contains(&"status:degraded".to_owned()), "{first:?}");
    assert!(
        first.contains(&"raw_status:unhealthy".to_owned()),
        "{first:?}"
    );
    assert_eq!(check_of(&runs[0]).status, 1);
    assert!(events_of(&runs[0]).is_empty(), "{:?}", runs[0]);
    assert!(events_of(&runs[1]).is_empty(), "{:?}", runs[1]);
    // Third failure: unhealthy, CRITICAL, and the event.
    assert_eq!(check_of(&runs[2]).status, 2);
    assert_eq!(events_of(&runs[2]), ["Healthcheck db failed"]);
    let healthy = tags_of(&runs[2], "svc.check.healthy");
    assert!(
        healthy.contains(&"raw_status:unhealthy".to_owned()),
        "{healthy:?}"
    );
    // Then it passes: recovered.
    assert_eq!(events_of(&runs[3]), ["Healthcheck db recovered"]);
}

#[tokio::test]
async fn a_component_helper_keeps_the_raw_status_when_set_by_hand() {
    // A check that reports a degraded component is a pass for the success threshold.
    let flips = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&flips);
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(quiet())
        .check(
            Check::new("replica", move || {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n == 0 {
                        Component::unhealthy("gone")
                    } else {
                        Component::degraded("lagging")
                    }
                }
            })
            .success_threshold(2),
        )
        .build()
        .expect("valid");
    let seen = statuses(&health, "replica", 3).await;
    assert_eq!(seen, [(U, U), (U, D), (D, D)]);
}
