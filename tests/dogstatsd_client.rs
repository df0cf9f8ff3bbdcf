//! The SDK's metrics through an application's `dogstatsd::Client` (feature `dogstatsd`): the
//! same runs sent once through the SDK's own transport and once through a client, both to real
//! UDP sockets, read back and compared.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use healthcheck::{Check, Component, HealthChecks, MetricsConfig};
use support::{Listener, parse_event, parse_metric, parse_service_check, ran_in_child};

const QUIET: Duration = Duration::from_millis(300);

/// A client that sends to `listener` from a free port of its own.
fn client(listener: &Listener, namespace: &str) -> Arc<dogstatsd::Client> {
    let options = dogstatsd::OptionsBuilder::new()
        .from_addr("127.0.0.1:0".to_owned())
        .to_addr(format!("127.0.0.1:{}", listener.port()))
        .namespace(namespace.to_owned())
        .build();
    Arc::new(dogstatsd::Client::new(options).expect("a client on a free port"))
}

/// A component whose response time is set, so that both transports carry the same value.
fn timed(mut component: Component, micros: u64) -> Component {
    component.set_response_time(Duration::from_micros(micros));
    component
}

/// `Primary DB, v2` healthy in two groups; `cache` degraded, with a newline, a `|` and an
/// `m:` in its message; `search` unhealthy, then recovered; `queue` (not critical) healthy,
/// then unhealthy. The second run so sends a `failed` and a `recovered` event.
fn checks(metrics: MetricsConfig, second: &Arc<AtomicBool>) -> HealthChecks {
    let (search_second, queue_second) = (Arc::clone(second), Arc::clone(second));
    HealthChecks::builder()
        .without_registered_checks()
        .metrics(
            metrics
                .prefix("svc")
                .tag("Team:Core Platform")
                .tag("owner:a/b.c-d"),
        )
        .check(
            Check::new("Primary DB, v2", || async {
                timed(Component::healthy(), 412)
            })
            .groups(["Back End", "storage"]),
        )
        .check(Check::new("cache", || async {
            timed(Component::degraded("replica lag\n12 s | m:high"), 12_500)
        }))
        .check(Check::new("search", move || {
            let recovered = search_second.load(Ordering::SeqCst);
            async move {
                if recovered {
                    timed(Component::healthy(), 3_001)
                } else {
                    timed(Component::unhealthy("connection refused"), 1_500_250)
                }
            }
        }))
        .check(
            Check::new("queue", move || {
                let failing = queue_second.load(Ordering::SeqCst);
                async move {
                    if failing {
                        timed(Component::unhealthy("down\r\nhard"), 7)
                    } else {
                        timed(Component::healthy(), 20_020)
                    }
                }
            })
            .critical(false),
        )
        .build()
        .expect("valid")
}

/// What one line says, tags as a set. Durations apart, both transports must agree on it.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Item {
    Metric {
        name: String,
        kind: String,
        value: f64,
        tags: BTreeSet<String>,
    },
    ServiceCheck {
        name: String,
        status: u8,
        message: Option<String>,
        tags: BTreeSet<String>,
    },
    Event {
        title: String,
        text: String,
        alert_type: String,
        tags: BTreeSet<String>,
    },
}

/// The crate writes a service check's message before its tags (`_sc|n|s|m:..|#..`), which the
/// agent reads as well; the shared parser wants `m:` last. The message holds no `|` (the SDK
/// escapes it), so the first `|#` after `m:` starts the tags.
fn message_last(line: &str) -> String {
    let Some((head, rest)) = line.split_once("|m:") else {
        return line.to_owned();
    };
    match rest.split_once("|#") {
        Some((message, tags)) => format!("{head}|#{tags}|m:{message}"),
        None => line.to_owned(),
    }
}

fn parse(line: &str) -> Item {
    let set = |tags: Vec<String>| tags.into_iter().collect::<BTreeSet<_>>();
    if line.starts_with("_sc|") {
        let check = parse_service_check(&message_last(line)).expect("a service check");
        return Item::ServiceCheck {
            name: check.name,
            status: check.status,
            message: check.message,
            tags: set(check.tags),
        };
    }
    if let Some(event) = parse_event(line) {
        return Item::Event {
            title: event.title,
            text: event.text,
            alert_type: event.alert_type,
            tags: set(event.tags),
        };
    }
    let metric = parse_metric(line).unwrap_or_else(|| panic!("not a DogStatsD line: {line}"));
    Item::Metric {
        name: metric.name,
        kind: metric.kind,
        value: metric.value,
        tags: set(metric.tags),
    }
}

/// The tags of a line, as written.
fn tags_of(line: &str) -> Vec<String> {
    if line.starts_with("_sc|") {
        return parse_service_check(&message_last(line))
            .expect("a service check")
            .tags;
    }
    if let Some(event) = parse_event(line) {
        return event.tags;
    }
    parse_metric(line).expect("a metric").tags
}

/// `item` without the tags that come from `DD_ENV`, `DD_SERVICE`, `DD_VERSION`, `DD_TAGS`.
fn without_environment(mut item: Item) -> Item {
    let (Item::Metric { tags, .. } | Item::ServiceCheck { tags, .. } | Item::Event { tags, .. }) =
        &mut item;
    tags.retain(|tag| {
        !["env:", "service:", "version:", "zone:", "rack:"]
            .iter()
            .any(|key| tag.starts_with(key))
    });
    item
}

/// Two runs through `metrics`, the lines of each, in the order received.
fn two_runs(metrics: MetricsConfig, listener: &Listener) -> [Vec<String>; 2] {
    let second = Arc::new(AtomicBool::new(false));
    let health = checks(metrics, &second);
    let run = || {
        health.run_blocking().expect("no runtime here");
        assert!(health.flush_metrics_blocking(Duration::from_secs(5)));
        listener.lines(QUIET)
    };
    let first = run();
    second.store(true, Ordering::SeqCst);
    [first, run()]
}

/// Each run through both transports, item by item.
fn compare_both_transports() {
    let own = Listener::udp();
    let theirs = Listener::udp();
    let sdk_runs = two_runs(
        MetricsConfig::new()
            .destination_url(&own.url())
            .expect("a URL"),
        &own,
    );
    let client_runs = two_runs(
        MetricsConfig::new().dogstatsd_client(client(&theirs, "")),
        &theirs,
    );

    for (run, (sdk, client)) in sdk_runs.iter().zip(&client_runs).enumerate() {
        // The crate writes the message before the tags; the SDK last.
        for line in client
            .iter()
            .filter(|l| l.starts_with("_sc|") && l.contains("|m:"))
        {
            let (_, after) = line.split_once("|m:").expect("a message");
            assert!(after.contains("|#"), "run {run}: {line}");
        }
        let mut sdk: Vec<Item> = sdk.iter().map(|l| parse(l)).collect();
        let mut client: Vec<Item> = client.iter().map(|l| parse(l)).collect();
        assert_eq!(sdk.len(), client.len(), "run {run}: {sdk:#?}\n{client:#?}");
        for item in sdk.iter_mut().chain(&mut client) {
            if let Item::Metric {
                name, kind, value, ..
            } = item
            {
                if name == "svc.run.duration" {
                    // Two runs of their own: the only value that may differ.
                    assert!(*value > 0.0, "run {run}: {name}");
                    *value = 0.0;
                }
                // The one allowed difference: a timing (`ms`) on the SDK's transport is a
                // histogram (`h`) through the client, in the same fractional milliseconds.
                if name.ends_with("response_time") || name.ends_with("run.duration") {
                    assert!(kind == "ms" || kind == "h", "run {run}: {name} is {kind}");
                }
            }
        }
        let durations = |items: &[Item]| -> Vec<String> {
            items
                .iter()
                .filter_map(|item| match item {
                    Item::Metric { name, kind, .. }
                        if name.ends_with("response_time") || name.ends_with("run.duration") =>
                    {
                        Some(kind.clone())
                    }
                    _ => None,
                })
                .collect()
        };
        assert_eq!(durations(&sdk), ["ms"; 5], "run {run}");
        assert_eq!(durations(&client), ["h"; 5], "run {run}");
        for item in &mut sdk {
            if let Item::Metric { kind, .. } = item {
                if kind == "ms" {
                    "h".clone_into(kind);
                }
            }
        }
        sdk.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
        client.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
        for (ours, through_client) in sdk.iter().zip(&client) {
            match (ours, through_client) {
                (
                    Item::Metric {
                        value: a,
                        name,
                        kind,
                        tags,
                    },
                    Item::Metric {
                        value: b,
                        name: name_b,
                        kind: kind_b,
                        tags: tags_b,
                    },
                ) => {
                    assert_eq!((name, kind, tags), (name_b, kind_b, tags_b), "run {run}");
                    assert!((a - b).abs() < 0.001, "run {run}: {name} {a} vs {b}");
                }
                _ => assert_eq!(ours, through_client, "run {run}"),
            }
        }
    }

    // No tag twice on any line, the unified service tags included.
    for line in sdk_runs.iter().chain(&client_runs).flatten() {
        let tags = tags_of(line);
        let unique: BTreeSet<&String> = tags.iter().collect();
        assert_eq!(unique.len(), tags.len(), "{line}");
        if std::env::var_os("DD_ENV").is_some() {
            for tag in [
                "env:prod",
                "service:api",
                "version:1.2.3",
                "zone:eu-1",
                "rack:7",
            ] {
                assert!(tags.iter().any(|t| t == tag), "{tag} in {line}");
            }
        }
    }

    // What the comparison stood on: escaped messages, sanitized tags, the events.
    let items: Vec<Item> = client_runs
        .iter()
        .flatten()
        .map(|l| without_environment(parse(l)))
        .collect();
    let tags = |list: &[&str]| {
        list.iter()
            .map(|t| (*t).to_owned())
            .collect::<BTreeSet<_>>()
    };
    assert!(
        items.contains(&Item::ServiceCheck {
            name: "svc.check".to_owned(),
            status: 1,
            message: Some("replica lag\\n12 s / m\\:high".to_owned()),
            tags: tags(&["check:cache", "team:core_platform", "owner:a/b.c-d"]),
        }),
        "{items:#?}"
    );
    assert!(
        items.contains(&Item::Metric {
            name: "svc.check.response_time".to_owned(),
            kind: "h".to_owned(),
            value: 0.412,
            tags: tags(&[
                "check:primary_db__v2",
                "status:healthy",
                "raw_status:healthy",
                "group:back_end",
                "group:storage",
                "team:core_platform",
                "owner:a/b.c-d",
            ]),
        }),
        "{items:#?}"
    );
    let events: Vec<(&str, &str, &str)> = items
        .iter()
        .filter_map(|item| match item {
            Item::Event {
                title,
                text,
                alert_type,
                ..
            } => Some((title.as_str(), text.as_str(), alert_type.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        events,
        [
            ("Healthcheck search failed", "connection refused", "error"),
            ("Healthcheck queue failed", "down\\nhard", "error"),
            ("Healthcheck search recovered", "healthy", "success"),
        ]
    );
}

#[test]
fn the_client_carries_what_the_sdks_own_transport_sends() {
    if std::env::var_os(support::CHILD).is_some() {
        compare_both_transports();
        return;
    }
    // With the unified service tags in the environment too: the client adds `env:`,
    // `service:` and `version:` itself, the SDK `DD_TAGS`, and neither twice.
    for env in [
        &[][..],
        &[
            ("DD_ENV", "prod"),
            ("DD_SERVICE", "api"),
            ("DD_VERSION", "1.2.3"),
            ("DD_TAGS", "zone:eu-1 rack:7"),
        ][..],
    ] {
        assert!(ran_in_child(
            "the_client_carries_what_the_sdks_own_transport_sends",
            env
        ));
    }
}

#[tokio::test]
async fn the_namespace_comes_first_on_metrics_only_and_statsd_goes_through_the_client() {
    let listener = Listener::udp();
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(
            MetricsConfig::new()
                .prefix("svc")
                .dogstatsd_client(client(&listener, "app")),
        )
        .check(Check::new("db", || async { true }))
        .build()
        .expect("valid");
    health.run().await;
    let statsd = health.statsd();
    statsd.timing("render", Duration::from_micros(1_250), &["Page:Home"]);
    statsd.count("jobs", -2, &[]);
    assert!(health.flush_metrics(Duration::from_secs(5)).await);
    let lines = listener.lines(QUIET);
    let names: BTreeSet<&str> = lines
        .iter()
        .map(|l| {
            l.strip_prefix("_sc|")
                .unwrap_or(l)
                .split(['|', ':'])
                .next()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "app.svc.check.response_time",
            "app.svc.check.healthy",
            "app.svc.run.duration",
            "app.svc.service.healthy",
            "svc.check",
            "svc.service",
            "app.svc.render",
            "app.svc.jobs",
        ]),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("app.svc.render:1.25|h|#page:home")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("app.svc.jobs:-2|c")),
        "{lines:#?}"
    );
    assert_eq!(health.statsd().dropped(), 0);
}

/// A call the client cannot make (a line longer than any UDP datagram) is dropped and counted,
/// like a payload the SDK's own transport cannot send, and the next one goes out.
#[tokio::test]
async fn a_failed_client_call_is_counted_as_dropped() {
    let listener = Listener::udp();
    let health = HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::new().dogstatsd_client(client(&listener, "")))
        .build()
        .expect("valid");
    let statsd = health.statsd();
    let tag = format!("big:{}", "x".repeat(190));
    let tags: Vec<&str> = std::iter::repeat_n(tag.as_str(), 400).collect();
    statsd.gauge("many_tags", 1.0, &tags);
    statsd.gauge("after", 1.0, &[]);
    assert!(!health.flush_metrics(Duration::from_secs(5)).await);
    assert_eq!(statsd.dropped(), 1);
    let lines = listener.lines(QUIET);
    assert!(
        lines.iter().any(|l| l.starts_with("healthcheck.after:1|g")),
        "{lines:#?}"
    );
}

/// Run as a child whose output is captured: through an unbatched client whose agent is absent
/// (a closed UDP port, an unresolvable host), runs, the application's own metrics and a flush
/// print nothing — the crate's prints are on paths the SDK never takes (a client built with a
/// `socket_path` it cannot reach, or with batching: the application's own choices).
#[test]
fn an_absent_agent_behind_the_client_prints_nothing() {
    if std::env::var_os(support::CHILD).is_some() {
        for to in ["127.0.0.1:9", "no-such-host.invalid:8125"] {
            let options = dogstatsd::OptionsBuilder::new()
                .from_addr("127.0.0.1:0".to_owned())
                .to_addr(to.to_owned())
                .build();
            let client = Arc::new(dogstatsd::Client::new(options).expect("a client"));
            let health = HealthChecks::builder()
                .without_registered_checks()
                .metrics(MetricsConfig::new().dogstatsd_client(client))
                .check(Check::new("db", || async { Err::<(), _>("down\nhard") }))
                .build()
                .expect("valid");
            for _ in 0..3 {
                health.run_blocking().expect("no runtime here");
            }
            health.statsd().gauge("g", 1.0, &[]);
            let _flushed = health.flush_metrics_blocking(Duration::from_secs(30));
        }
        return;
    }
    support::assert_child_prints_nothing("an_absent_agent_behind_the_client_prints_nothing");
}
