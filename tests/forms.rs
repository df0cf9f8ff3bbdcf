//! Every accepted form of a check, sync and async, spread over modules, and the report they make.

use std::time::Duration;

use healthcheck::{Check, Component, HealthChecks, Report, Status, healthcheck};
use serde_json::{Value, json};

mod storage {
    use super::*;

    #[healthcheck]
    async fn async_bool_true() -> bool {
        true
    }

    #[healthcheck(critical = false)]
    fn sync_bool_false() -> bool {
        false
    }

    #[healthcheck]
    async fn async_result_ok() -> Result<(), std::io::Error> {
        tokio::task::yield_now().await;
        Ok(())
    }

    #[healthcheck(critical = false)]
    fn sync_result_err() -> Result<(), std::io::Error> {
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        ))
    }
}

mod jobs {
    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Queue {
        queued_jobs: u32,
        workers: Vec<&'static str>,
    }

    #[healthcheck(groups = ["back"])]
    async fn async_result_struct() -> Result<Queue, String> {
        Ok(Queue {
            queued_jobs: 423,
            workers: vec!["a", "b"],
        })
    }

    #[healthcheck(groups = ["back"])]
    fn sync_result_value() -> Result<Value, String> {
        Ok(json!({"lag_seconds": 1.5, "healthy": false}))
    }

    /// python-panopticon's style.
    #[healthcheck(groups = ["back", "front"])]
    fn sync_fills_component(component: &mut Component) {
        component.set_healthy(true);
        component.set_status_message("ok");
        component.insert("queued_jobs", 423);
    }

    #[healthcheck(groups = ["front"])]
    async fn async_fills_component(component: &mut Component) {
        tokio::task::yield_now().await;
        component.insert("visitors", 7);
        component.set_degraded("slow");
    }

    /// Forgets to say anything: keeps the pending status.
    #[healthcheck(critical = false)]
    fn sync_fills_nothing(_component: &mut Component) {}
}

mod outcomes {
    use super::*;

    #[healthcheck(name = "renamed-component")]
    fn sync_component() -> Component {
        Component::healthy().field("region", "eu-west-1")
    }

    #[healthcheck]
    async fn async_component_with_own_time() -> Component {
        let mut component = Component::degraded("replica lag");
        component.set_response_time(Duration::from_millis(1500));
        component
    }

    #[healthcheck(critical = false)]
    async fn async_status() -> Status {
        Status::Unhealthy
    }

    #[healthcheck(critical = false)]
    fn sync_panics() -> bool {
        panic!("boom")
    }

    #[healthcheck(critical = false)]
    async fn async_panics() -> bool {
        tokio::task::yield_now().await;
        panic!("{}", String::from("async boom"))
    }

    #[healthcheck]
    fn r#type() -> bool {
        true
    }

    /// Named like the expansion's internals: must still call itself, once.
    #[healthcheck]
    fn __healthcheck_body() -> Status {
        Status::Healthy
    }
}

async fn report() -> Report {
    HealthChecks::builder()
        .build()
        .expect("the registered checks are valid")
        .run()
        .await
}

fn component<'a>(report: &'a Report, name: &str) -> &'a healthcheck::ComponentReport {
    report
        .components
        .get(name)
        .unwrap_or_else(|| panic!("component `{name}` missing from {report:#?}"))
}

#[tokio::test]
async fn every_form_reports_its_status_and_message() {
    let report = report().await;
    let cases: &[(&str, Status, Option<&str>)] = &[
        ("async_bool_true", Status::Healthy, None),
        (
            "sync_bool_false",
            Status::Unhealthy,
            Some("check returned false"),
        ),
        ("async_result_ok", Status::Healthy, None),
        (
            "sync_result_err",
            Status::Unhealthy,
            Some("connection refused"),
        ),
        ("async_result_struct", Status::Healthy, None),
        ("sync_result_value", Status::Healthy, None),
        ("sync_fills_component", Status::Healthy, Some("ok")),
        ("async_fills_component", Status::Degraded, Some("slow")),
        (
            "sync_fills_nothing",
            Status::Unhealthy,
            Some("Health check didn't provide a status."),
        ),
        ("renamed-component", Status::Healthy, None),
        (
            "async_component_with_own_time",
            Status::Degraded,
            Some("replica lag"),
        ),
        ("async_status", Status::Unhealthy, None),
        ("sync_panics", Status::Unhealthy, Some("panicked: boom")),
        (
            "async_panics",
            Status::Unhealthy,
            Some("panicked: async boom"),
        ),
        ("type", Status::Healthy, None),
        ("alive", Status::Healthy, None),
        ("__healthcheck_body", Status::Healthy, None),
    ];
    for (name, status, message) in cases {
        let c = component(&report, name);
        assert_eq!(c.status, *status, "status of {name}");
        assert_eq!(c.healthy, status.is_healthy(), "healthy of {name}");
        assert_eq!(c.status_message.as_deref(), *message, "message of {name}");
    }
    assert_eq!(report.components.len(), cases.len(), "{report:#?}");
}

#[tokio::test]
async fn extras_sit_flat_and_cannot_overwrite_reserved_keys() {
    let report = report().await;
    let json: Value = serde_json::from_str(&report.to_json()).expect("the report is JSON");
    let components = &json["components"];
    assert_eq!(components["async_result_struct"]["queued_jobs"], 423);
    assert_eq!(
        components["async_result_struct"]["workers"],
        json!(["a", "b"])
    );
    assert_eq!(components["sync_result_value"]["lag_seconds"], 1.5);
    // The value said `healthy: false`; the check said Ok, and the report keeps the truth.
    assert_eq!(components["sync_result_value"]["healthy"], true);
    assert_eq!(components["sync_fills_component"]["queued_jobs"], 423);
    assert_eq!(components["async_fills_component"]["visitors"], 7);
    assert_eq!(components["renamed-component"]["region"], "eu-west-1");
}

#[tokio::test]
async fn report_has_the_panopticon_keys_and_types() {
    let report = report().await;
    let text = report.to_json();
    let positions: Vec<usize> = ["service_healthy", "status", "timestamp", "components"]
        .iter()
        .map(|key| text.find(&format!("\"{key}\":")).expect("the key is there"))
        .collect();
    assert!(positions.is_sorted(), "top-level keys in order: {text}");
    let json: Value = serde_json::from_str(&text).expect("the report is JSON");
    assert_eq!(json.as_object().map(|o| o.len()), Some(4));
    assert!(json["service_healthy"].is_boolean());
    assert!(json["status"].is_string());

    let timestamp = json["timestamp"].as_str().expect("a string");
    // RFC 3339, UTC, milliseconds, `Z`: 2014-09-03T23:09:38.702Z
    assert_eq!(timestamp.len(), 24, "{timestamp}");
    assert!(
        timestamp.ends_with('Z') && timestamp.as_bytes()[19] == b'.',
        "{timestamp}"
    );
    chrono::DateTime::parse_from_rfc3339(timestamp).expect("RFC 3339");

    for (name, component) in json["components"].as_object().expect("an object") {
        assert!(component["healthy"].is_boolean(), "{name}");
        assert!(component["response_time"].is_f64(), "{name}");
        assert!(component["critical"].is_boolean(), "{name}");
        assert!(
            ["healthy", "degraded", "unhealthy"]
                .contains(&component["status"].as_str().unwrap_or("")),
            "{name}"
        );
        if let Some(message) = component.get("status_message") {
            assert!(message.is_string(), "{name}");
        }
    }
    let names: Vec<&String> = json["components"]
        .as_object()
        .expect("an object")
        .keys()
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "components are sorted by name");
}

#[tokio::test]
async fn groups_and_criticality_show_in_the_report() {
    let report = report().await;
    assert_eq!(
        component(&report, "sync_fills_component").groups,
        ["back", "front"]
    );
    assert!(component(&report, "async_bool_true").groups.is_empty());
    assert!(!component(&report, "sync_bool_false").critical);
    assert!(component(&report, "async_bool_true").critical);
    let json: Value = serde_json::from_str(&report.to_json()).expect("the report is JSON");
    assert!(
        json["components"]["async_bool_true"]
            .get("groups")
            .is_none()
    );
}

#[tokio::test]
async fn response_times_are_measured_or_taken_from_the_check() {
    let report = report().await;
    assert_eq!(
        component(&report, "async_component_with_own_time").response_time,
        1.5
    );
    for (name, c) in &report.components {
        assert!(
            c.response_time >= 0.0 && c.response_time < 1.6,
            "{name}: {}",
            c.response_time
        );
    }
}

#[tokio::test]
async fn the_service_is_healthy_when_every_critical_check_works() {
    // Every critical check above is healthy or degraded; non-critical ones fail.
    let report = report().await;
    assert!(report.service_healthy, "{report}");
    assert_eq!(report.status, Status::Degraded);

    let strict = HealthChecks::builder()
        .reduce(|components| {
            components
                .values()
                .map(|c| c.status)
                .max()
                .unwrap_or(Status::Healthy)
        })
        .build()
        .expect("valid");
    let report = strict.run().await;
    assert!(!report.service_healthy);
    assert_eq!(report.status, Status::Unhealthy);
}

#[tokio::test]
async fn a_critical_failure_makes_the_service_unhealthy() {
    let health = HealthChecks::builder()
        .without_registered_checks()
        .check(Check::new("up", || async { true }))
        .check(Check::blocking("down", || Err::<(), _>("refused")))
        .build()
        .expect("valid");
    let report = health.run().await;
    assert!(!report.service_healthy);
    assert_eq!(report.status, Status::Unhealthy);
    assert_eq!(
        report.components["down"].status_message.as_deref(),
        Some("refused")
    );
}

#[tokio::test]
async fn runtime_registered_checks_report_like_annotated_ones() {
    let pool = std::sync::Arc::new(String::from("pool"));
    let health = HealthChecks::builder()
        .filter_registered(|check| check.name() == "sync_fills_component")
        .check(
            Check::new("async_closure", {
                let pool = pool.clone();
                move || {
                    let pool = pool.clone();
                    async move { Ok::<_, String>(json!({"pool": *pool})) }
                }
            })
            .groups(["back"]),
        )
        .check(
            Check::blocking("blocking_closure", move || {
                let mut component = Component::pending();
                component.set_healthy(!pool.is_empty());
                component
            })
            .critical(false),
        )
        .build()
        .expect("valid");
    let names: Vec<&str> = health.checks().map(|c| c.name()).collect();
    assert_eq!(
        names,
        ["async_closure", "blocking_closure", "sync_fills_component"]
    );

    let report = health.run().await;
    assert_eq!(report.components["async_closure"].extra["pool"], "pool");
    assert_eq!(report.components["async_closure"].groups, ["back"]);
    assert_eq!(
        report.components["blocking_closure"].status,
        Status::Healthy
    );
    assert!(!report.components["blocking_closure"].critical);

    let back = health.run_group("back").await.expect("the group exists");
    let names: Vec<&String> = back.components.keys().collect();
    assert_eq!(names, ["async_closure", "sync_fills_component"]);
}

#[tokio::test]
async fn groups_and_single_checks_can_be_run_alone() {
    let health = HealthChecks::builder().build().expect("valid");
    let front = health.run_group("front").await.expect("the group exists");
    let names: Vec<&String> = front.components.keys().collect();
    assert_eq!(names, ["async_fills_component", "sync_fills_component"]);

    let one = health.run_check("type").await.expect("the check exists");
    assert_eq!(one.components.keys().collect::<Vec<_>>(), ["type"]);

    let groups: Vec<&str> = health.groups().collect();
    assert_eq!(groups, ["back", "front"]);

    let unknown = health.run_group("nope").await.expect_err("no such group");
    assert_eq!(unknown.to_string(), "no health check is in group `nope`");
    let unknown = health.run_check("nope").await.expect_err("no such check");
    assert_eq!(unknown.to_string(), "no health check is named `nope`");
}

#[tokio::test]
async fn probes_select_checks() {
    #[healthcheck(probes = ["liveness", "startup"], critical = false)]
    fn alive() -> bool {
        true
    }
    let health = HealthChecks::builder().build().expect("valid");
    let live = health
        .run_selection(&healthcheck::Selection::Probe(healthcheck::Probe::Liveness))
        .await
        .expect("valid selection");
    assert_eq!(live.components.keys().collect::<Vec<_>>(), ["alive"]);
    let ready = health
        .run_selection(&healthcheck::Selection::Probe(
            healthcheck::Probe::Readiness,
        ))
        .await
        .expect("valid selection");
    assert!(!ready.contains("alive") && ready.contains("type"));
}

#[tokio::test]
async fn the_report_reads_back_and_prints_for_people() {
    let report = report().await;
    let back: Report = serde_json::from_str(&report.to_json()).expect("the report reads back");
    assert_eq!(back, report);

    let text = report.to_string();
    assert_eq!(text.lines().count(), report.components.len());
    let line = text
        .lines()
        .find(|l| l.starts_with("sync_result_err -> "))
        .expect("a line per component");
    assert!(line.starts_with("sync_result_err -> FAIL ("), "{line}");
    assert!(line.ends_with(") connection refused"), "{line}");
    assert!(
        text.contains("async_component_with_own_time -> DEGRADED (1.50 s) replica lag"),
        "{text}"
    );
}

#[tokio::test]
async fn a_panicking_check_is_timed_up_to_its_panic() {
    let health = HealthChecks::builder()
        .without_registered_checks()
        .check(Check::new("inline", || async {
            // Panics in its first poll, after 5 ms of work.
            std::thread::sleep(Duration::from_millis(5));
            panic_late()
        }))
        .check(Check::new("background", || async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            panic_late()
        }))
        .check(Check::blocking("blocking", || {
            std::thread::sleep(Duration::from_millis(5));
            panic_late()
        }))
        .build()
        .expect("valid");
    let report = health.run().await;
    for (name, component) in &report.components {
        assert_eq!(
            component.status_message.as_deref(),
            Some("panicked: late"),
            "{name}"
        );
        assert!(
            component.response_time >= 0.005,
            "{name}: {}",
            component.response_time
        );
    }
}

fn panic_late() -> bool {
    panic!("late")
}
