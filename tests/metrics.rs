//! Datadog metrics received on real sockets: names, types, values, tags, service checks,
//! events on transitions, batching, the switches and the environment, and an absent agent.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use healthcheck::{CaptureSink, Check, Component, Error, HealthChecks, MetricsConfig, Status};
use support::{Listener, parse_event, parse_metric, parse_service_check, ran_in_child};

const QUIET: Duration = Duration::from_millis(300);

fn to(listener: &Listener) -> MetricsConfig {
    MetricsConfig::new()
        .destination_url(&listener.url())
        .expect("a valid URL")
}

/// `db` healthy in group `back`, `cache` degraded, `queue` unhealthy and not critical.
fn three_checks(metrics: MetricsConfig) -> HealthChecks {
    HealthChecks::builder()
        .without_registered_checks()
        .metrics(metrics)
        .check(Check::new("db", || async { true }).groups(["back"]))
        .check(Check::blocking("cache", || Component::degraded("slow")))
        .check(Check::new("queue", || async { Err::<(), _>("down\nhard | m:now") }).critical(false))
        .build()
        .expect("valid")
}

#[tokio::test]
async fn each_run_sends_the_documented_metrics() {
    let listener = Listener::udp();
    let health = three_checks(to(&listener).prefix("svc").tag("team:core"));
    let report = health.run().await;
    let lines = listener.lines_through("_sc|svc.service|");

    let metrics: Vec<_> = lines.iter().filter_map(|l| parse_metric(l)).collect();
    let find = |name: &str, check: &str| {
        metrics
            .iter()
            .find(|m| m.name == name && m.tags.iter().any(|t| t == &format!("check:{check}")))
            .unwrap_or_else(|| panic!("no {name} for {check} in {lines:#?}"))
            .clone()
    };

    let timing = find("svc.check.response_time", "db");
    assert_eq!(timing.kind, "ms");
    assert_eq!(
        timing.tags,
        [
            "check:db",
            "status:healthy",
            "raw_status:healthy",
            "group:back",
            "team:core"
        ]
    );
    let reported_ms = report.components["db"].response_time * 1000.0;
    assert!(
        (timing.value - reported_ms).abs() < 0.002,
        "{} vs {reported_ms}",
        timing.value
    );
    assert_eq!(
        find("svc.check.response_time", "cache").tags,
        [
            "check:cache",
            "status:degraded",
            "raw_status:degraded",
            "team:core"
        ]
    );
    assert_eq!(
        find("svc.check.response_time", "queue").tags,
        [
            "check:queue",
            "status:unhealthy",
            "raw_status:unhealthy",
            "team:core"
        ]
    );

    for (check, value) in [("db", 1.0), ("cache", 1.0), ("queue", 0.0)] {
        let gauge = find("svc.check.healthy", check);
        assert_eq!((gauge.kind.as_str(), gauge.value), ("g", value), "{check}");
    }
    assert_eq!(
        find("svc.check.healthy", "db").tags,
        ["check:db", "raw_status:healthy", "group:back", "team:core"]
    );

    let run = metrics
        .iter()
        .find(|m| m.name == "svc.run.duration")
        .expect("run.duration");
    assert_eq!(
        (run.kind.as_str(), run.tags.clone()),
        ("ms", vec!["scope:all".to_owned(), "team:core".to_owned()])
    );
    let service = metrics
        .iter()
        .find(|m| m.name == "svc.service.healthy")
        .expect("service.healthy");
    assert_eq!(
        (service.kind.as_str(), service.value, service.tags.clone()),
        ("g", 1.0, vec!["team:core".to_owned()])
    );

    let checks: Vec<_> = lines
        .iter()
        .filter_map(|l| parse_service_check(l))
        .collect();
    let service_check = |check: &str| {
        checks
            .iter()
            .find(|c| c.name == "svc.check" && c.tags.contains(&format!("check:{check}")))
            .unwrap_or_else(|| panic!("no service check for {check} in {lines:#?}"))
            .clone()
    };
    assert_eq!(
        (service_check("db").status, service_check("db").message),
        (0, None)
    );
    assert_eq!(
        (
            service_check("cache").status,
            service_check("cache").message.as_deref()
        ),
        (1, Some("slow"))
    );
    let queue = service_check("queue");
    assert_eq!(queue.status, 2);
    // Escaped: one line, `m:` last, no pipe or `m:` inside the message.
    assert_eq!(queue.message.as_deref(), Some("down\\nhard / m\\:now"));
    let whole = checks
        .iter()
        .find(|c| c.name == "svc.service")
        .expect("the service check");
    assert_eq!(whole.status, 0);
    assert_eq!(
        whole.message.as_deref(),
        Some("healthy; failing non-critical checks: queue")
    );
    assert_eq!(whole.tags, ["team:core"]);
}

#[tokio::test]
async fn a_failing_service_is_critical_and_names_what_fails() {
    let listener = Listener::udp();
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(to(&listener))
        .check(Check::new("db", || async { false }))
        .check(Check::new("search", || async { Err::<(), _>("503") }))
        .check(Check::new("Fine Check, v2", || async { true }))
        .build()
        .expect("valid");
    let group_report = health.run().await;
    assert!(!group_report.service_healthy);
    let lines = listener.lines_through("_sc|healthcheck.service|");
    let service = lines
        .iter()
        .filter_map(|l| parse_service_check(l))
        .find(|c| c.name == "healthcheck.service")
        .expect("the service check");
    assert_eq!(
        (service.status, service.message.as_deref()),
        (2, Some("failing: db, search"))
    );
    let gauge = lines
        .iter()
        .filter_map(|l| parse_metric(l))
        .find(|m| m.name == "healthcheck.service.healthy")
        .expect("service.healthy");
    assert_eq!(gauge.value, 0.0);
    // The check's name, sanitized for a tag value.
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("healthcheck.check.healthy:1|g|#check:fine_check__v2")),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn a_group_run_is_tagged_with_its_scope_and_says_nothing_of_the_service() {
    let listener = Listener::udp();
    let health = three_checks(to(&listener));
    health.run_group("back").await.expect("the group exists");
    assert!(health.flush_metrics(Duration::from_secs(5)).await);
    let lines = listener.lines(Duration::from_millis(300));
    assert!(
        !lines.iter().any(|l| l.contains("healthcheck.service")),
        "a group run spoke for the whole service: {lines:#?}"
    );
    let run = lines
        .iter()
        .filter_map(|l| parse_metric(l))
        .find(|m| m.name == "healthcheck.run.duration")
        .expect("run.duration");
    assert_eq!(run.tags, ["scope:back"]);
    let checked: Vec<_> = lines
        .iter()
        .filter_map(|l| parse_metric(l))
        .filter(|m| m.name == "healthcheck.check.healthy")
        .collect();
    assert_eq!(checked.len(), 1, "only the group's check: {lines:#?}");
}

#[cfg(unix)]
#[tokio::test]
async fn metrics_reach_a_unix_datagram_socket() {
    let listener = Listener::unix();
    let health = three_checks(to(&listener));
    health.run().await;
    let datagrams = listener.datagrams_until(QUIET, |d| d.contains("_sc|healthcheck.service|"));
    let lines = support::lines_of(&datagrams);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("healthcheck.check.response_time:"))
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("_sc|healthcheck.check|2|#check:queue"))
    );
    // Over a Unix socket, a run this small fits in one datagram (up to 8192 bytes).
    assert_eq!(datagrams.len(), 1, "{datagrams:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_checks_go_out_in_full_datagrams() {
    let listener = Listener::udp();
    let mut builder = HealthChecks::builder()
        .without_registered_checks()
        .metrics(to(&listener));
    for i in 0..1000 {
        builder =
            builder.check(Check::new(format!("check_{i:04}"), || async { true }).groups(["bulk"]));
    }
    let health = builder.build().expect("valid");
    // Read while they come: a socket buffer holds less than a thousand checks' metrics.
    let reader = std::thread::spawn(move || {
        listener.datagrams_until(QUIET, |d| d.contains("_sc|healthcheck.service|"))
    });
    health.run().await;
    let datagrams = reader.join().expect("the reader did not panic");
    let lines = support::lines_of(&datagrams);
    assert_eq!(
        lines.len(),
        3 * 1000 + 3,
        "three lines per check, three per run"
    );
    let longest_line = lines.iter().map(|l| l.len() + 1).max().unwrap_or_default();
    for datagram in &datagrams {
        assert!(datagram.len() <= 1432, "{} bytes", datagram.len());
    }
    for datagram in &datagrams[..datagrams.len() - 1] {
        assert!(
            datagram.len() > 1432 - longest_line,
            "a datagram left half empty: {} bytes",
            datagram.len()
        );
    }
    let total: usize = datagrams.iter().map(String::len).sum();
    assert!(datagrams.len() <= total / (1432 - longest_line) + 1);
    assert!(datagrams.len() >= total.div_ceil(1432));
}

static FLAPPING: AtomicBool = AtomicBool::new(true);

#[tokio::test]
async fn events_mark_transitions_only() {
    let listener = Listener::udp();
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(to(&listener))
        .check(Check::new("flapping", || async {
            if FLAPPING.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err("connection refused")
            }
        }))
        .check(Check::new("always_down", || async { Err::<(), _>("never worked") }).critical(false))
        .build()
        .expect("valid");

    let mut events_per_run = Vec::new();
    for healthy in [true, false, false, true, true] {
        FLAPPING.store(healthy, Ordering::SeqCst);
        health.run().await;
        let lines = listener.lines_through("_sc|healthcheck.service|");
        let events: Vec<(String, String, String)> = lines
            .iter()
            .filter_map(|l| parse_event(l))
            .map(|e| (e.title, e.text, e.alert_type))
            .collect();
        events_per_run.push(events);
    }
    let event = |title: &str, text: &str, alert: &str| {
        (title.to_owned(), text.to_owned(), alert.to_owned())
    };
    assert_eq!(
        events_per_run,
        [
            // The first run counts only for the check that fails.
            vec![event(
                "Healthcheck always_down failed",
                "never worked",
                "error"
            )],
            vec![event(
                "Healthcheck flapping failed",
                "connection refused",
                "error"
            )],
            vec![],
            vec![event(
                "Healthcheck flapping recovered",
                "healthy",
                "success"
            )],
            vec![],
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_execution_is_timed_once() {
    let listener = Listener::udp();
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(to(&listener))
        .check(Check::new("slow", || async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            true
        }))
        .build()
        .expect("valid");
    let (a, b) = tokio::join!(health.run(), health.run());
    assert!(a.service_healthy && b.service_healthy);
    let lines = listener.lines(QUIET);
    let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(count("healthcheck.check.response_time:"), 1, "{lines:#?}");
    assert_eq!(count("healthcheck.run.duration:"), 2, "{lines:#?}");
}

#[tokio::test]
async fn metrics_switched_off_send_nothing() {
    let listener = Listener::udp();
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(to(&listener).enabled(false))
        .check(Check::new("db", || async { true }))
        .build()
        .expect("valid");
    assert!(!health.statsd().is_enabled());
    health.run().await;
    health.statsd().gauge("ignored", 1.0, &[]);
    assert!(health.flush_metrics(Duration::from_secs(1)).await);
    assert_eq!(listener.lines(QUIET), Vec::<String>::new());
}

#[tokio::test]
async fn the_application_sends_its_own_metrics_through_the_same_client() {
    let listener = Listener::udp();
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(to(&listener).prefix("shop").tag("team:core"))
        .build()
        .expect("valid");
    let statsd = health.statsd();
    statsd.gauge("queue.depth", 42.0, &["queue:emails"]);
    statsd.increment("orders", &[]);
    statsd.count("orders", -2, &["Kind:Refund"]);
    statsd.histogram("basket.size", 3.5, &[]);
    statsd.distribution("latency", 0.25, &[]);
    statsd.timing("payment", Duration::from_micros(12_345), &[]);
    let sum = statsd.time("sum", &[], || 1 + 1);
    let product = statsd.time_future("product", &[], async { 2 * 3 }).await;
    assert_eq!((sum, product), (2, 6));
    assert!(health.flush_metrics(Duration::from_secs(1)).await);

    let lines = listener.lines(QUIET);
    let expected = [
        "shop.queue.depth:42|g|#queue:emails,team:core",
        "shop.orders:1|c|#team:core",
        "shop.orders:-2|c|#kind:refund,team:core",
        "shop.basket.size:3.5|h|#team:core",
        "shop.latency:0.25|d|#team:core",
        "shop.payment:12.345|ms|#team:core",
    ];
    assert_eq!(&lines[..expected.len()], expected, "{lines:#?}");
    assert!(
        lines[6].starts_with("shop.sum:") && lines[6].ends_with("|ms|#team:core"),
        "{lines:#?}"
    );
    assert!(lines[7].starts_with("shop.product:"), "{lines:#?}");
}

#[tokio::test]
async fn a_custom_sink_gets_the_payloads() {
    let sink = CaptureSink::default();
    let health = three_checks(MetricsConfig::new().sink(sink.clone()));
    health.run().await;
    assert!(health.flush_metrics(Duration::from_secs(1)).await);
    let lines = sink.lines();
    assert_eq!(lines.len(), 3 * 3 + 3 + 1, "{lines:#?}"); // + the event for `queue`
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("_sc|healthcheck.service|0|"))
    );
}

#[tokio::test]
async fn an_absent_agent_changes_nothing_in_the_report() {
    // A port that nobody listens on any more, and a socket path that does not exist.
    let closed = Listener::udp();
    let closed_url = closed.url();
    drop(closed);
    let missing =
        std::env::temp_dir().join(format!("healthcheck-missing-{}.sock", std::process::id()));
    // Over UDP to a closed port, whether a send fails depends on when the ICMP answer to an
    // earlier datagram comes back; the others fail for certain.
    for (url, surely_lost) in [
        (closed_url, false),
        (format!("unix://{}", missing.display()), true),
        ("udp://no-such-host.invalid:8125".to_owned(), true),
    ] {
        let health = three_checks(
            MetricsConfig::new()
                .destination_url(&url)
                .expect("valid URL"),
        );
        for _ in 0..3 {
            let report = health.run().await;
            assert_eq!(report.components.len(), 3, "{url}");
            assert_eq!(report.components["db"].status, Status::Healthy, "{url}");
            assert!(report.service_healthy, "{url}");
        }
        let started = std::time::Instant::now();
        let flushed = health.flush_metrics(Duration::from_secs(30)).await;
        assert!(started.elapsed() < Duration::from_secs(20), "{url}");
        if surely_lost {
            assert!(!flushed, "{url}: metrics were lost, the flush says so");
            assert!(health.statsd().dropped() > 0, "{url}");
        }
        assert_eq!(flushed, health.statsd().dropped() == 0, "{url}");
    }
    assert!(
        !missing.exists(),
        "the SDK never creates the agent's socket file"
    );
}

/// Run as a child whose standard output is captured: with the agent absent in every way, the
/// SDK prints nothing at all.
#[test]
fn an_absent_agent_prints_nothing() {
    if std::env::var_os(support::CHILD).is_some() {
        let missing = std::env::temp_dir().join("healthcheck-missing-agent.sock");
        for url in [
            "udp://127.0.0.1:9".to_owned(),
            format!("unix://{}", missing.display()),
            "udp://no-such-host.invalid:8125".to_owned(),
        ] {
            let health = three_checks(
                MetricsConfig::new()
                    .destination_url(&url)
                    .expect("valid URL"),
            );
            for _ in 0..3 {
                health.run_blocking().expect("no runtime here");
            }
            health.statsd().gauge("g", 1.0, &[]);
            // Lost metrics make it `false`; what matters here is that nothing is printed.
            let _flushed = health.flush_metrics_blocking(Duration::from_secs(30));
        }
        return;
    }
    support::assert_child_prints_nothing("an_absent_agent_prints_nothing");
}

// --- The environment, each case in a child process of its own. ---

#[test]
fn the_environment_names_the_agent_the_prefix_and_the_global_tags() {
    if std::env::var_os(support::CHILD).is_some() {
        let health = three_checks(MetricsConfig::new());
        health.run_blocking().expect("no runtime here");
        assert!(health.flush_metrics_blocking(Duration::from_secs(2)));
        return;
    }
    let listener = Listener::udp();
    let port = listener.port().to_string();
    for env in [
        vec![("DD_DOGSTATSD_URL", listener.url())],
        vec![
            ("DD_AGENT_HOST", "127.0.0.1".to_owned()),
            ("DD_DOGSTATSD_PORT", port.clone()),
        ],
    ] {
        let mut env: Vec<(&str, String)> = env;
        env.extend([
            ("HEALTHCHECK_STATSD_PREFIX", "fromenv".to_owned()),
            ("DD_ENV", "prod".to_owned()),
            ("DD_SERVICE", "api".to_owned()),
            ("DD_VERSION", "1.2.3".to_owned()),
            ("DD_TAGS", "zone:eu-1 team:core,rack:7".to_owned()),
        ]);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert!(ran_in_child(
            "the_environment_names_the_agent_the_prefix_and_the_global_tags",
            &env
        ));
        let lines = listener.lines_through("_sc|fromenv.service|");
        let gauge = lines
            .iter()
            .filter_map(|l| parse_metric(l))
            .find(|m| m.name == "fromenv.service.healthy")
            .unwrap_or_else(|| panic!("{env:?}: {lines:#?}"));
        assert_eq!(
            gauge.tags,
            [
                "env:prod",
                "service:api",
                "version:1.2.3",
                "zone:eu-1",
                "team:core",
                "rack:7"
            ],
            "{env:?}"
        );
    }
}

#[test]
fn switched_off_by_the_environment() {
    if std::env::var_os(support::CHILD).is_some() {
        let health = three_checks(MetricsConfig::new());
        assert!(!health.statsd().is_enabled());
        health.run_blocking().expect("no runtime here");
        return;
    }
    let listener = Listener::udp();
    for off in ["false", "0", "off", "NO"] {
        assert!(ran_in_child(
            "switched_off_by_the_environment",
            &[
                ("HEALTHCHECK_STATSD_ENABLED", off),
                ("DD_DOGSTATSD_URL", &listener.url())
            ],
        ));
    }
    assert_eq!(listener.lines(QUIET), Vec::<String>::new());
}

#[test]
fn malformed_variables_are_errors_naming_them() {
    if let Ok(case) = std::env::var("CASE") {
        let error = HealthChecks::builder()
            .build()
            .expect_err("a malformed variable");
        let Error::InvalidEnv {
            name,
            value,
            reason,
        } = &error
        else {
            panic!("expected InvalidEnv, got {error:?}");
        };
        let expected = case.split_once('=').expect("NAME=value");
        assert_eq!((*name, value.as_str()), expected, "{reason}");
        assert!(error.to_string().contains(&format!(
            "{} has an invalid value {:?}",
            expected.0, expected.1
        )));
        return;
    }
    for (name, value) in [
        ("DD_DOGSTATSD_URL", "tcp://127.0.0.1:8125"),
        ("DD_DOGSTATSD_URL", "udp://127.0.0.1"),
        ("DD_DOGSTATSD_PORT", "statsd"),
        ("DD_DOGSTATSD_PORT", "70000"),
        ("HEALTHCHECK_STATSD_ENABLED", "maybe"),
    ] {
        let case = format!("{name}={value}");
        let output = support::child(
            "malformed_variables_are_errors_naming_them",
            &[(name, value), ("CASE", &case)],
        );
        assert!(
            output.status.success(),
            "{case}: {}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
}

#[test]
fn a_malformed_destination_in_code_is_an_error_too() {
    let error = MetricsConfig::new()
        .destination_url("http://agent:8125")
        .expect_err("not a DogStatsD URL");
    assert_eq!(
        error.to_string(),
        "invalid metrics destination \"http://agent:8125\": expected udp://host:port or unix:///path/to/socket"
    );
    let _ = Arc::new(());
}

/// A sink that blocks until released: an agent that stopped reading.
#[derive(Debug, Default)]
struct StuckSink {
    released: std::sync::Mutex<bool>,
    wake: std::sync::Condvar,
    sent: std::sync::atomic::AtomicUsize,
}

impl healthcheck::MetricSink for StuckSink {
    fn send(&self, _payload: &[u8]) -> std::io::Result<()> {
        let released = self.released.lock().unwrap_or_else(|e| e.into_inner());
        let _released = self
            .wake
            .wait_while(released, |released| !*released)
            .unwrap_or_else(|e| e.into_inner());
        self.sent.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn a_stuck_sink_drops_and_counts_metrics_instead_of_slowing_the_checks() {
    let sink = Arc::new(StuckSink::default());
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::new().sink(Arc::clone(&sink)))
        .check(Check::new("db", || async { true }))
        .build()
        .expect("valid");
    // More runs than the queue (1024 records) and the thread's batch (64 KiB) hold, while the
    // metrics thread is stuck in its first send.
    for _ in 0..3000 {
        let report = health.run().await;
        assert!(report.service_healthy);
    }
    assert!(health.statsd().dropped() > 0, "the overflow is counted");
    assert!(
        !health.flush_metrics(Duration::from_millis(100)).await,
        "nothing can flush"
    );

    *sink.released.lock().unwrap_or_else(|e| e.into_inner()) = true;
    sink.wake.notify_all();
    assert!(health.flush_metrics(Duration::from_secs(10)).await);
    assert!(sink.sent.load(Ordering::SeqCst) > 0);
}

// --- Oversized messages and lines: truncated or dropped, never a blackout. ---

/// A 66 KB status message of many lines: more than a UDP datagram can hold, escaped or not.
fn huge_message() -> String {
    let mut message = String::new();
    while message.len() < 66 * 1024 {
        message.push_str(&"x".repeat(999));
        message.push('\n');
    }
    message
}

#[tokio::test]
async fn a_huge_status_message_is_truncated_and_shuts_off_nothing() {
    let listener = Listener::udp();
    let message = huge_message();
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(to(&listener))
        .check(Check::new("huge", move || {
            let message = message.clone();
            async move { Err::<(), _>(message) }
        }))
        .check(Check::new("db", || async { true }))
        .build()
        .expect("valid");
    health.run().await;
    // The application's own metric, sent right after the run: no blackout of any kind.
    health.statsd().gauge("after", 1.0, &[]);
    let datagrams = listener.datagrams_until(Duration::from_secs(3), |d| {
        d.lines().any(|l| l.starts_with("healthcheck.after:"))
    });
    for datagram in &datagrams {
        assert!(datagram.len() <= 1432, "a {} byte datagram", datagram.len());
    }
    let lines = support::lines_of(&datagrams);
    assert!(
        lines.iter().any(|l| l == "healthcheck.after:1|g"),
        "the gauge sent after the run is lost: {lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("healthcheck.check.healthy:1|g|#check:db")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("_sc|healthcheck.service|2|")),
        "{lines:#?}"
    );

    let check = lines
        .iter()
        .filter_map(|l| parse_service_check(l))
        .find(|c| c.name == "healthcheck.check" && c.tags.contains(&"check:huge".to_owned()))
        .unwrap_or_else(|| panic!("no service check for `huge` in {} lines", lines.len()));
    assert_eq!(check.status, 2);
    let shown = check.message.expect("a message");
    assert!(shown.starts_with("xxx"), "{shown}");
    assert!(shown.ends_with("…(truncated)"), "{shown}");
    assert!(shown.contains("x\\nx"), "newlines escaped: {shown}");

    let event = lines
        .iter()
        .find(|l| l.starts_with("_e{"))
        .expect("the failure event");
    let parsed = parse_event(event).unwrap_or_else(|| panic!("a malformed event: {event}"));
    assert_eq!(parsed.title, "Healthcheck huge failed");
    assert_eq!(parsed.alert_type, "error");
    assert_eq!(parsed.tags, ["check:huge"]);
    assert!(parsed.text.ends_with("…(truncated)"), "{}", parsed.text);
    assert!(parsed.text.len() <= 4000, "{} bytes", parsed.text.len());

    assert!(health.flush_metrics(Duration::from_secs(5)).await);
    assert_eq!(health.statsd().dropped(), 0);
}

#[tokio::test]
async fn a_line_too_large_to_send_is_dropped_and_counted_alone() {
    let listener = Listener::udp();
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(to(&listener))
        .build()
        .expect("valid");
    let statsd = health.statsd();
    assert!(
        health.flush_metrics(Duration::from_secs(5)).await,
        "nothing sent yet"
    );

    // More than a UDP datagram can carry (65,507 bytes): by its name, and by its tags.
    statsd.gauge(&"n".repeat(70 * 1024), 1.0, &[]);
    let tag = format!("t:{}", "v".repeat(190));
    let tags: Vec<&str> = std::iter::repeat_n(tag.as_str(), 400).collect();
    statsd.gauge("many_tags", 1.0, &tags);
    statsd.gauge("after", 2.0, &["k:v"]);
    assert!(
        !health.flush_metrics(Duration::from_secs(5)).await,
        "a flush that lost lines says so"
    );
    assert_eq!(
        statsd.dropped(),
        2,
        "each oversized line is one dropped payload"
    );
    let lines = listener.lines_through("healthcheck.after:");
    assert!(
        lines.iter().any(|l| l == "healthcheck.after:2|g|#k:v"),
        "the agent was taken for down: {lines:#?}"
    );

    // The next flush reports only what happened since the previous one.
    statsd.gauge("later", 3.0, &[]);
    assert!(health.flush_metrics(Duration::from_secs(5)).await);
    assert_eq!(
        listener.lines_through("healthcheck.later:"),
        ["healthcheck.later:3|g"]
    );
    assert_eq!(statsd.dropped(), 2);
}

#[cfg(unix)]
#[tokio::test]
async fn a_line_too_large_for_a_unix_socket_is_dropped_alone() {
    let listener = Listener::unix();
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(to(&listener))
        .build()
        .expect("valid");
    let statsd = health.statsd();
    // Larger than a Unix datagram socket's send buffer: `EMSGSIZE`.
    statsd.gauge(&"n".repeat(1 << 20), 1.0, &[]);
    statsd.gauge("after", 2.0, &[]);
    assert!(!health.flush_metrics(Duration::from_secs(5)).await);
    assert_eq!(statsd.dropped(), 1);
    assert_eq!(
        listener.lines_through("healthcheck.after:"),
        ["healthcheck.after:2|g"],
        "the agent was taken for down"
    );
    statsd.gauge("later", 3.0, &[]);
    assert!(health.flush_metrics(Duration::from_secs(5)).await);
}

#[cfg(unix)]
#[tokio::test]
async fn a_flush_says_false_when_the_agent_is_missing() {
    let missing = std::env::temp_dir().join(format!(
        "healthcheck-missing-flush-{}.sock",
        std::process::id()
    ));
    let health = three_checks(
        MetricsConfig::new()
            .destination_url(&format!("unix://{}", missing.display()))
            .expect("valid URL"),
    );
    health.run().await;
    assert!(!health.flush_metrics(Duration::from_secs(5)).await);
    assert!(health.statsd().dropped() > 0);
    health.statsd().gauge("g", 1.0, &[]);
    assert!(!health.flush_metrics_blocking(Duration::from_secs(5)));
}

// --- Prefix and tags: validated, errors that name the value. ---

fn build_error(metrics: MetricsConfig) -> Error {
    HealthChecks::builder()
        .without_registered_checks()
        .metrics(metrics.sink(CaptureSink::default()))
        .build()
        .expect_err("an invalid setting")
}

#[test]
fn malformed_prefixes_in_code_are_errors_naming_them() {
    for prefix in [
        "payments:v2",
        "a\nb",
        "a\nfake.metric:1|c",
        "1abc",
        "_abc",
        ".abc",
        "abc.",
        "a..b",
        "a b",
        "a|b",
        "a#b",
        "a,b",
        "pâte",
        &"p".repeat(181),
    ] {
        let error = build_error(MetricsConfig::new().prefix(prefix));
        let Error::InvalidSetting {
            setting,
            value,
            reason,
        } = &error
        else {
            panic!("{prefix:?}: expected InvalidSetting, got {error:?}");
        };
        assert_eq!((*setting, value.as_str()), ("metrics prefix", prefix));
        assert!(!reason.is_empty());
        assert!(
            error
                .to_string()
                .starts_with(&format!("invalid metrics prefix {prefix:?}: ")),
            "{error}"
        );
    }
}

#[test]
fn well_formed_prefixes_are_taken_as_they_are() {
    for (prefix, expected) in [
        ("payments.v2", "payments.v2.service.healthy:1|g"),
        ("Shop_1", "Shop_1.service.healthy:1|g"),
        ("", "service.healthy:1|g"),
    ] {
        let sink = CaptureSink::default();
        let health = HealthChecks::builder()
            .without_registered_checks()
            .metrics(MetricsConfig::new().prefix(prefix).sink(sink.clone()))
            .build()
            .unwrap_or_else(|e| panic!("{prefix:?}: {e}"));
        health.run_blocking().expect("no runtime here");
        assert!(health.flush_metrics_blocking(Duration::from_secs(5)));
        assert!(
            sink.lines().iter().any(|l| l == expected),
            "{prefix:?}: {:#?}",
            sink.lines()
        );
    }
}

#[test]
fn malformed_tags_in_code_are_errors_naming_them() {
    for tag in [
        "team:core\nfake.metric:1|c",
        "a|b",
        "a,b",
        "#a",
        "a\tb",
        "",
        &format!("team:{}", "x".repeat(200)),
    ] {
        let error = build_error(MetricsConfig::new().tag("ok:1").tag(tag));
        let Error::InvalidSetting { setting, value, .. } = &error else {
            panic!("{tag:?}: expected InvalidSetting, got {error:?}");
        };
        assert_eq!((*setting, value.as_str()), ("metrics tag", tag), "{error}");
    }
    // What Datadog itself normalizes is normalized, not refused.
    let sink = CaptureSink::default();
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(
            MetricsConfig::new()
                .tag("Team:Core Platform")
                .tag(format!("k:{}", "x".repeat(198)))
                .sink(sink.clone()),
        )
        .build()
        .expect("valid tags");
    health.statsd().gauge("g", 1.0, &[]);
    assert!(health.flush_metrics_blocking(Duration::from_secs(5)));
    assert_eq!(
        sink.lines(),
        [format!(
            "healthcheck.g:1|g|#team:core_platform,k:{}",
            "x".repeat(198)
        )]
    );
}

#[test]
fn malformed_prefix_and_tag_variables_are_errors_naming_them() {
    if let Ok(case) = std::env::var("CASE") {
        let error = HealthChecks::builder()
            .build()
            .expect_err("a malformed variable");
        let Error::InvalidEnv { name, value, .. } = &error else {
            panic!("expected InvalidEnv, got {error:?}");
        };
        let expected = case.split_once('=').expect("NAME=value");
        assert_eq!((*name, value.as_str()), expected, "{error}");
        return;
    }
    for (name, value) in [
        ("HEALTHCHECK_STATSD_PREFIX", "payments:v2"),
        ("HEALTHCHECK_STATSD_PREFIX", "a\nfake.metric:1|c"),
        ("HEALTHCHECK_STATSD_PREFIX", "1abc"),
        ("HEALTHCHECK_STATSD_PREFIX", "a..b"),
        ("DD_TAGS", "team:core a|b"),
        ("DD_TAGS", "team:core\nfake.metric:1|c"),
        ("DD_TAGS", "#a"),
        ("DD_ENV", "prod\nfake.metric:1|c"),
        ("DD_SERVICE", "api|x"),
        ("DD_VERSION", "1#2"),
    ] {
        let case = format!("{name}={value}");
        let output = support::child(
            "malformed_prefix_and_tag_variables_are_errors_naming_them",
            &[
                (name, value),
                ("CASE", &case),
                ("DD_DOGSTATSD_URL", "udp://127.0.0.1:9"),
            ],
        );
        assert!(
            output.status.success(),
            "{case:?}: {}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
}

#[test]
fn an_empty_prefix_variable_means_the_default() {
    if std::env::var_os(support::CHILD).is_some() {
        let sink = CaptureSink::default();
        let health = HealthChecks::builder()
            .without_registered_checks()
            .metrics(MetricsConfig::new().sink(sink.clone()))
            .build()
            .expect("an empty variable is no variable");
        health.statsd().gauge("g", 1.0, &[]);
        assert!(health.flush_metrics_blocking(Duration::from_secs(5)));
        assert_eq!(sink.lines(), ["healthcheck.g:1|g"]);
        return;
    }
    assert!(ran_in_child(
        "an_empty_prefix_variable_means_the_default",
        &[("HEALTHCHECK_STATSD_PREFIX", "")]
    ));
}
