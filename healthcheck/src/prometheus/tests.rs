//! Scripted executions recorded, the exposition encoded, then read back by real parsers:
//! `prometheus-parse` for the values, and Prometheus's own OpenMetrics parser (the one its scrapes
//! use, through `promtool`, which `.ci/install-servers` installs) for what Prometheus would store.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use prometheus_client::registry::Registry;
use prometheus_parse::{Sample, Scrape, Value};

use super::{DEFAULT_BUCKETS, Prometheus, Recorder};
use crate::{Error, Status};

const HEALTHY: Status = Status::Healthy;
const DEGRADED: Status = Status::Degraded;
const UNHEALTHY: Status = Status::Unhealthy;

/// A recorder for these checks: name and groups.
fn recorder(prometheus: &Prometheus, checks: &[(&str, &[&str])]) -> Recorder {
    try_recorder(prometheus, checks).expect("valid settings")
}

fn try_recorder(prometheus: &Prometheus, checks: &[(&str, &[&str])]) -> Result<Recorder, Error> {
    Recorder::new(
        prometheus,
        checks
            .iter()
            .map(|(name, groups)| (*name, groups.iter().copied())),
    )
}

/// A fixed end time, `seconds` after the epoch.
fn at(seconds: f64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs_f64(seconds)
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// The exposition read by `prometheus-parse`.
fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("prometheus-parse reads it")
}

/// A label value as the text format writes it.
fn escaped(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', r#"\""#)
        .replace('\n', r"\n")
}

/// The samples of `metric` whose labels are exactly `labels` (values as written, escaped).
fn samples<'s>(scrape: &'s Scrape, metric: &str, labels: &[(&str, &str)]) -> Vec<&'s Sample> {
    scrape
        .samples
        .iter()
        .filter(|sample| {
            sample.metric == metric
                && sample.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(key, value)| sample.labels.get(key) == Some(*value))
        })
        .collect()
}

/// The value of the one sample of `metric` with exactly `labels`; `None` when there is none.
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found = samples(scrape, metric, labels);
    assert!(found.len() <= 1, "{metric} {labels:?} twice: {found:?}");
    found.first().map(|sample| match sample.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        ref other => panic!("{metric} {labels:?} is not a single value: {other:?}"),
    })
}

/// `check`'s runs of every result, summed.
fn runs_total(scrape: &Scrape, check: &str) -> f64 {
    ["healthy", "degraded", "unhealthy"]
        .iter()
        .filter_map(|result| {
            value(
                scrape,
                "healthcheck_check_runs_total",
                &[("check", check), ("result", result)],
            )
        })
        .sum()
}

/// The cumulative bucket counts of histogram `metric` with exactly `labels`, by upper bound.
fn buckets(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Vec<(f64, f64)> {
    let found = samples(scrape, metric, labels);
    assert_eq!(found.len(), 1, "{metric} {labels:?}: {found:?}");
    match &found[0].value {
        Value::Histogram(counts) => counts.iter().map(|c| (c.less_than, c.count)).collect(),
        other => panic!("{metric} {labels:?} is not a histogram: {other:?}"),
    }
}

/// The `check_status` state set of `check`: healthy, degraded, unhealthy.
fn state_set(scrape: &Scrape, prefix: &str, check: &str) -> [Option<f64>; 3] {
    ["healthy", "degraded", "unhealthy"].map(|status| {
        value(
            scrape,
            &format!("{prefix}_check_status"),
            &[("check", check), ("status", status)],
        )
    })
}

/// The `# TYPE`, `# UNIT` and `# HELP` lines, by metric family.
fn descriptors(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut families: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# ") else {
            continue;
        };
        if let Some((kind, rest)) = rest.split_once(' ') {
            let (name, what) = rest.split_once(' ').unwrap_or((rest, ""));
            families
                .entry(name.to_owned())
                .or_default()
                .push(format!("{kind} {what}"));
        }
    }
    families
}

#[test]
fn families_have_their_names_types_units_and_help() {
    let prometheus = Prometheus::new();
    // A family without a series is left out altogether.
    assert_eq!(prometheus.encode(), "# EOF\n");
    let recorder = recorder(&prometheus, &[("db", &[])]);
    recorder.record(0, HEALTHY, HEALTHY, ms(1), at(1.0));
    recorder.service(HEALTHY);
    let text = prometheus.encode();
    let families = descriptors(&text);
    let kinds = |name: &str| -> Vec<String> {
        families[name]
            .iter()
            .filter(|line| !line.starts_with("HELP"))
            .cloned()
            .collect()
    };
    assert_eq!(
        families.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "healthcheck_check_duration_seconds",
            "healthcheck_check_healthy",
            "healthcheck_check_last_run_timestamp_seconds",
            "healthcheck_check_runs",
            "healthcheck_check_status",
            "healthcheck_service_healthy",
        ],
        "{text}"
    );
    assert_eq!(kinds("healthcheck_check_healthy"), ["TYPE gauge"]);
    assert_eq!(kinds("healthcheck_check_status"), ["TYPE gauge"]);
    assert_eq!(
        kinds("healthcheck_check_duration_seconds"),
        ["TYPE histogram", "UNIT seconds"]
    );
    assert_eq!(kinds("healthcheck_check_runs"), ["TYPE counter"]);
    assert_eq!(
        kinds("healthcheck_check_last_run_timestamp_seconds"),
        ["TYPE gauge", "UNIT seconds"]
    );
    assert_eq!(kinds("healthcheck_service_healthy"), ["TYPE gauge"]);
    for (name, lines) in &families {
        let help: Vec<_> = lines.iter().filter(|l| l.starts_with("HELP ")).collect();
        assert_eq!(help.len(), 1, "{name}: {lines:?}");
        assert!(
            help[0].len() > "HELP ".len() + 10 && help[0].ends_with('.'),
            "{name}: {help:?}"
        );
    }
    assert!(text.ends_with("\n# EOF\n"), "{text}");
    assert_eq!(text.matches("# EOF").count(), 1, "{text}");
    assert_eq!(
        Prometheus::CONTENT_TYPE,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
}

#[test]
fn what_accumulates_is_there_from_the_start_and_what_states_comes_with_the_first_run() {
    let prometheus = Prometheus::new();
    let recorder = recorder(&prometheus, &[("db", &["back"]), ("cache", &[])]);
    let scrape = parse(&prometheus.encode());
    for check in ["db", "cache"] {
        for result in ["healthy", "degraded", "unhealthy"] {
            assert_eq!(
                value(
                    &scrape,
                    "healthcheck_check_runs_total",
                    &[("check", check), ("result", result)]
                ),
                Some(0.0),
                "{check} {result}"
            );
        }
        let labels = [("check", check)];
        let counts = buckets(&scrape, "healthcheck_check_duration_seconds", &labels);
        assert_eq!(counts.len(), DEFAULT_BUCKETS.len() + 1);
        assert!(counts.iter().all(|(_, count)| *count == 0.0), "{counts:?}");
        let count = value(&scrape, "healthcheck_check_duration_seconds_count", &labels);
        assert_eq!(count, Some(0.0));
        let sum = value(&scrape, "healthcheck_check_duration_seconds_sum", &labels);
        assert_eq!(sum, Some(0.0));
        // Not known yet: absent, not unhealthy.
        assert_eq!(state_set(&scrape, "healthcheck", check), [None; 3]);
        let last = value(
            &scrape,
            "healthcheck_check_last_run_timestamp_seconds",
            &labels,
        );
        assert_eq!(last, None);
    }
    assert!(
        samples(
            &scrape,
            "healthcheck_check_healthy",
            &[("check", "db"), ("group", "back")]
        )
        .is_empty()
    );
    assert_eq!(value(&scrape, "healthcheck_service_healthy", &[]), None);

    // One execution of `db` only: `db`'s states appear, `cache`'s stay absent.
    recorder.record(0, HEALTHY, HEALTHY, ms(3), at(1_700_000_000.25));
    let scrape = parse(&prometheus.encode());
    assert_eq!(
        state_set(&scrape, "healthcheck", "db"),
        [Some(1.0), Some(0.0), Some(0.0)]
    );
    assert_eq!(state_set(&scrape, "healthcheck", "cache"), [None; 3]);
    assert_eq!(
        value(
            &scrape,
            "healthcheck_check_last_run_timestamp_seconds",
            &[("check", "db")]
        ),
        Some(1_700_000_000.25)
    );
    assert_eq!(value(&scrape, "healthcheck_service_healthy", &[]), None);

    recorder.service(HEALTHY);
    let scrape = parse(&prometheus.encode());
    assert_eq!(
        value(&scrape, "healthcheck_service_healthy", &[]),
        Some(1.0)
    );
}

#[test]
fn a_scripted_sequence_reads_back_exactly() {
    let prometheus = Prometheus::new().prefix("svc");
    let recorder = recorder(
        &prometheus,
        &[
            ("db", &["back", "core"]),
            ("cache", &[]),
            ("queue", &["back"]),
        ],
    );
    // db: healthy 3 ms, degraded 30 ms, then unhealthy but reported degraded (flap
    // suppression), 2.5 s.
    recorder.record(0, HEALTHY, HEALTHY, ms(3), at(1_000.0));
    recorder.record(0, DEGRADED, DEGRADED, ms(30), at(2_000.0));
    recorder.record(0, DEGRADED, UNHEALTHY, ms(2_500), at(3_000.5));
    // cache: unhealthy, 20 s (past the last bucket).
    recorder.record(
        1,
        UNHEALTHY,
        UNHEALTHY,
        Duration::from_secs(20),
        at(4_000.0),
    );
    // queue: healthy, exactly on a bucket's bound.
    recorder.record(2, HEALTHY, HEALTHY, ms(100), at(5_000.0));
    recorder.service(UNHEALTHY);

    let text = prometheus.encode();
    let scrape = parse(&text);

    // check_healthy: one series per group, `group=""` without one.
    let healthy = |check: &str, group: &str| {
        value(
            &scrape,
            "svc_check_healthy",
            &[("check", check), ("group", group)],
        )
    };
    assert_eq!(healthy("db", "back"), Some(1.0));
    assert_eq!(healthy("db", "core"), Some(1.0));
    assert_eq!(healthy("db", ""), None);
    assert_eq!(healthy("cache", ""), Some(0.0));
    assert_eq!(healthy("queue", "back"), Some(1.0));
    assert_eq!(
        samples(&scrape, "svc_check_healthy", &[]).len(),
        0,
        "no series without labels"
    );
    assert_eq!(
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == "svc_check_healthy")
            .count(),
        4
    );

    // check_status: the reported status, a state set.
    assert_eq!(
        state_set(&scrape, "svc", "db"),
        [Some(0.0), Some(1.0), Some(0.0)]
    );
    assert_eq!(
        state_set(&scrape, "svc", "cache"),
        [Some(0.0), Some(0.0), Some(1.0)]
    );
    assert_eq!(
        state_set(&scrape, "svc", "queue"),
        [Some(1.0), Some(0.0), Some(0.0)]
    );

    // check_runs_total: by raw result, so the suppressed flap shows.
    let runs = |check: &str, result: &str| {
        value(
            &scrape,
            "svc_check_runs_total",
            &[("check", check), ("result", result)],
        )
    };
    assert_eq!(runs("db", "healthy"), Some(1.0));
    assert_eq!(runs("db", "degraded"), Some(1.0));
    assert_eq!(runs("db", "unhealthy"), Some(1.0));
    assert_eq!(runs("cache", "unhealthy"), Some(1.0));
    assert_eq!(runs("cache", "healthy"), Some(0.0));
    assert_eq!(runs("queue", "healthy"), Some(1.0));
    assert!(text.contains("# TYPE svc_check_runs counter\n"), "{text}");
    assert!(
        !text.contains("svc_check_runs{"),
        "a counter's samples end in _total: {text}"
    );

    // check_duration_seconds: cumulative buckets, count and sum.
    let db = buckets(&scrape, "svc_check_duration_seconds", &[("check", "db")]);
    let expected_db: Vec<(f64, f64)> = DEFAULT_BUCKETS
        .iter()
        .map(|&bound| {
            let count = [0.003, 0.03, 2.5].iter().filter(|&&d| d <= bound).count();
            (bound, count as f64)
        })
        .chain([(f64::INFINITY, 3.0)])
        .collect();
    assert_eq!(db, expected_db);
    let count = value(
        &scrape,
        "svc_check_duration_seconds_count",
        &[("check", "db")],
    );
    assert_eq!(count, Some(3.0));
    let sum = value(
        &scrape,
        "svc_check_duration_seconds_sum",
        &[("check", "db")],
    );
    assert!((sum.expect("a sum") - 2.533).abs() < 1e-9, "{sum:?}");
    let cache = buckets(&scrape, "svc_check_duration_seconds", &[("check", "cache")]);
    assert!(
        cache[..DEFAULT_BUCKETS.len()]
            .iter()
            .all(|(_, c)| *c == 0.0)
    );
    assert_eq!(cache.last(), Some(&(f64::INFINITY, 1.0)));
    let queue = buckets(&scrape, "svc_check_duration_seconds", &[("check", "queue")]);
    let at_bound = queue.iter().find(|(bound, _)| *bound == 0.1);
    assert_eq!(at_bound, Some(&(0.1, 1.0)), "a bound is inclusive");
    let below = queue.iter().find(|(bound, _)| *bound == 0.05);
    assert_eq!(below, Some(&(0.05, 0.0)));

    // check_last_run_timestamp_seconds: the last execution's end.
    let last = |check: &str| {
        value(
            &scrape,
            "svc_check_last_run_timestamp_seconds",
            &[("check", check)],
        )
    };
    assert_eq!(last("db"), Some(3_000.5));
    assert_eq!(last("cache"), Some(4_000.0));
    assert_eq!(last("queue"), Some(5_000.0));

    assert_eq!(value(&scrape, "svc_service_healthy", &[]), Some(0.0));
    assert!(
        !text.contains("healthcheck_"),
        "only the prefix given: {text}"
    );
}

#[test]
fn the_state_set_follows_every_transition() {
    let prometheus = Prometheus::new();
    let recorder = recorder(&prometheus, &[("db", &["g"])]);
    let script = [
        (HEALTHY, [1.0, 0.0, 0.0], 1.0),
        (DEGRADED, [0.0, 1.0, 0.0], 1.0),
        (UNHEALTHY, [0.0, 0.0, 1.0], 0.0),
        (UNHEALTHY, [0.0, 0.0, 1.0], 0.0),
        (HEALTHY, [1.0, 0.0, 0.0], 1.0),
        (UNHEALTHY, [0.0, 0.0, 1.0], 0.0),
        (DEGRADED, [0.0, 1.0, 0.0], 1.0),
    ];
    for (step, (status, expected, healthy)) in script.into_iter().enumerate() {
        recorder.record(0, status, status, ms(1), at(step as f64));
        recorder.service(status);
        let scrape = parse(&prometheus.encode());
        assert_eq!(
            state_set(&scrape, "healthcheck", "db"),
            expected.map(Some),
            "step {step}: {status}"
        );
        assert_eq!(
            value(
                &scrape,
                "healthcheck_check_healthy",
                &[("check", "db"), ("group", "g")]
            ),
            Some(healthy),
            "step {step}"
        );
        assert_eq!(
            value(&scrape, "healthcheck_service_healthy", &[]),
            Some(healthy),
            "step {step}"
        );
    }
    let scrape = parse(&prometheus.encode());
    let total = runs_total(&scrape, "db");
    assert_eq!(total, script.len() as f64);
}

#[test]
fn label_values_are_escaped() {
    let weird = "quote \" backslash \\ newline \n end";
    let long = format!("long-{}", "x".repeat(70 * 1024));
    let prometheus = Prometheus::new();
    let recorder = recorder(
        &prometheus,
        &[(weird, &["group \"with\" \\ and \n"]), (&long, &[])],
    );
    recorder.record(0, UNHEALTHY, UNHEALTHY, ms(1), at(1.0));
    recorder.record(1, HEALTHY, HEALTHY, ms(1), at(2.0));
    let text = prometheus.encode();
    assert!(
        text.contains(r#"check="quote \" backslash \\ newline \n end""#),
        "{}",
        &text[..2000.min(text.len())]
    );
    // Every line is one sample or one descriptor: no raw newline got out.
    for line in text.lines() {
        assert!(
            line.starts_with("# ") || line.starts_with("healthcheck_"),
            "{line:?}"
        );
    }

    let scrape = parse(&text);
    let weird_escaped = escaped(weird);
    assert_eq!(
        state_set(&scrape, "healthcheck", &weird_escaped),
        [Some(0.0), Some(0.0), Some(1.0)]
    );
    assert_eq!(
        value(
            &scrape,
            "healthcheck_check_healthy",
            &[
                ("check", &weird_escaped),
                ("group", &escaped("group \"with\" \\ and \n"))
            ]
        ),
        Some(0.0)
    );
    assert_eq!(
        state_set(&scrape, "healthcheck", &long),
        [Some(1.0), Some(0.0), Some(0.0)]
    );
    assert_eq!(
        value(
            &scrape,
            "healthcheck_check_last_run_timestamp_seconds",
            &[("check", &long)]
        ),
        Some(2.0)
    );
}

#[test]
fn the_application_registry_shows_the_same_series() {
    let prometheus = Prometheus::new();
    let mut registry = Registry::default();
    prometheus.register(&mut registry);
    let recorder = recorder(&prometheus, &[("db", &[])]);
    recorder.record(0, DEGRADED, UNHEALTHY, ms(40), at(42.0));
    recorder.service(DEGRADED);

    let mut app = String::new();
    prometheus_client::encoding::text::encode(&mut app, &registry).expect("encodes");
    let own = prometheus.encode();
    let (own, app) = (parse(&own), parse(&app));
    for scrape in [&own, &app] {
        assert_eq!(
            state_set(scrape, "healthcheck", "db"),
            [Some(0.0), Some(1.0), Some(0.0)]
        );
        assert_eq!(
            value(
                scrape,
                "healthcheck_check_runs_total",
                &[("check", "db"), ("result", "unhealthy")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                scrape,
                "healthcheck_check_duration_seconds_count",
                &[("check", "db")]
            ),
            Some(1.0)
        );
        assert_eq!(value(scrape, "healthcheck_service_healthy", &[]), Some(1.0));
    }
    assert_eq!(normalized(&own), normalized(&app));

    // Under the application registry's own prefix and labels.
    let mut prefixed =
        Registry::with_prefix_and_labels("app", [("region".into(), "eu".into())].into_iter());
    prometheus.register(&mut prefixed);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &prefixed).expect("encodes");
    let scrape = parse(&text);
    assert_eq!(
        value(
            &scrape,
            "app_healthcheck_service_healthy",
            &[("region", "eu")]
        ),
        Some(1.0),
        "{text}"
    );
}

/// Every sample as `name{labels} value`, sorted.
fn normalized(scrape: &Scrape) -> Vec<String> {
    let mut samples: Vec<String> = scrape
        .samples
        .iter()
        .map(|s| format!("{}{{{}}} {:?}", s.metric, s.labels, s.value))
        .collect();
    samples.sort();
    samples
}

#[test]
fn two_prometheus_in_one_process_are_independent() {
    let first = Prometheus::new();
    let second = Prometheus::new();
    let first_recorder = recorder(&first, &[("db", &[])]);
    let second_recorder = recorder(&second, &[("db", &[])]);
    first_recorder.record(0, UNHEALTHY, UNHEALTHY, ms(1), at(1.0));
    first_recorder.service(UNHEALTHY);
    let second_scrape = parse(&second.encode());
    assert_eq!(state_set(&second_scrape, "healthcheck", "db"), [None; 3]);
    assert_eq!(
        value(
            &second_scrape,
            "healthcheck_check_runs_total",
            &[("check", "db"), ("result", "unhealthy")]
        ),
        Some(0.0)
    );
    second_recorder.record(0, HEALTHY, HEALTHY, ms(1), at(2.0));
    let first_scrape = parse(&first.encode());
    assert_eq!(
        state_set(&first_scrape, "healthcheck", "db"),
        [Some(0.0), Some(0.0), Some(1.0)]
    );

    // Clones share; a setting makes metrics of its own.
    let clone = first.clone();
    assert_eq!(clone.encode(), first.encode());
    let renamed = clone.prefix("other");
    assert!(!renamed.encode().contains("check=\"db\""));
    assert!(first.encode().contains("check=\"db\""));
}

#[test]
fn custom_buckets_are_the_histogram_bounds() {
    let prometheus = Prometheus::new().buckets([0.1, 1.0]);
    let recorder = recorder(&prometheus, &[("db", &[])]);
    for millis in [50, 500, 5_000] {
        recorder.record(0, HEALTHY, HEALTHY, ms(millis), at(1.0));
    }
    let scrape = parse(&prometheus.encode());
    assert_eq!(
        buckets(
            &scrape,
            "healthcheck_check_duration_seconds",
            &[("check", "db")]
        ),
        [(0.1, 1.0), (1.0, 2.0), (f64::INFINITY, 3.0)]
    );
}

#[test]
fn invalid_settings_fail_the_build_and_export_nothing() {
    for prefix in ["", "9lives", "a-b", "a b", "é", "a.b", "a{b}"] {
        let prometheus = Prometheus::new().prefix(prefix);
        let error = try_recorder(&prometheus, &[("db", &[])]).expect_err(prefix);
        assert!(
            matches!(&error, Error::InvalidSetting { setting: "Prometheus prefix", value, .. } if value == prefix),
            "{prefix:?}: {error:?}"
        );
        assert_eq!(prometheus.encode(), "# EOF\n", "{prefix:?}");
        let mut registry = Registry::default();
        prometheus.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        assert_eq!(text, "# EOF\n", "{prefix:?}");
    }
    for prefix in ["_", ":", "a", "Svc_9:x", "__x"] {
        let prometheus = Prometheus::new().prefix(prefix);
        try_recorder(&prometheus, &[])
            .expect(prefix)
            .service(HEALTHY);
        assert!(
            prometheus
                .encode()
                .contains(&format!("# TYPE {prefix}_service_healthy gauge")),
            "{prefix}"
        );
    }
    let invalid: [&[f64]; 6] = [
        &[],
        &[f64::NAN],
        &[1.0, f64::INFINITY],
        &[f64::NEG_INFINITY, 1.0],
        &[1.0, 0.5],
        &[0.5, 0.5],
    ];
    for buckets in invalid {
        let prometheus = Prometheus::new().buckets(buckets.iter().copied());
        let error = try_recorder(&prometheus, &[]).expect_err("invalid buckets");
        assert!(
            matches!(
                &error,
                Error::InvalidSetting {
                    setting: "Prometheus buckets",
                    ..
                }
            ),
            "{buckets:?}: {error:?}"
        );
        assert!(
            error.to_string().starts_with("invalid Prometheus buckets"),
            "{error}"
        );
        assert_eq!(prometheus.encode(), "# EOF\n", "{buckets:?}");
    }
    Prometheus::new()
        .buckets([-1.0, 0.0, 1e-9])
        .validate()
        .expect("negative and tiny bounds are fine");
    // A later valid setting makes it valid again.
    let fixed = Prometheus::new().prefix("a-b").prefix("ok");
    try_recorder(&fixed, &[]).expect("valid again");
}

#[test]
fn odd_inputs_do_not_panic() {
    let prometheus = Prometheus::new();
    let recorder = recorder(
        &prometheus,
        &[("db", &["g", "g", ""]), ("", &[]), ("db", &[])],
    );
    // An index past the checks is ignored.
    recorder.record(3, HEALTHY, HEALTHY, ms(1), at(1.0));
    recorder.record(usize::MAX, HEALTHY, HEALTHY, ms(1), at(1.0));
    // Before the epoch, a huge duration, a zero duration.
    recorder.record(0, HEALTHY, HEALTHY, Duration::MAX, at(0.0) - ms(1_500));
    recorder.record(1, UNHEALTHY, UNHEALTHY, Duration::ZERO, at(0.0));
    let scrape = parse(&prometheus.encode());
    assert_eq!(
        value(
            &scrape,
            "healthcheck_check_last_run_timestamp_seconds",
            &[("check", "db")]
        ),
        Some(-1.5)
    );
    // A group named twice is one series; "" stays a group of its own.
    let db_healthy = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "healthcheck_check_healthy" && s.labels.get("check") == Some("db"))
        .count();
    assert_eq!(db_healthy, 2);
    assert_eq!(
        state_set(&scrape, "healthcheck", ""),
        [Some(0.0), Some(0.0), Some(1.0)]
    );
    // Two checks of one name share their series.
    recorder.record(2, HEALTHY, HEALTHY, ms(1), at(1.0));
    let scrape = parse(&prometheus.encode());
    assert_eq!(
        value(
            &scrape,
            "healthcheck_check_runs_total",
            &[("check", "db"), ("result", "healthy")]
        ),
        Some(2.0)
    );
}

#[test]
fn concurrent_executions_leave_one_consistent_state() {
    const THREADS: usize = 8;
    const EACH: usize = 2_000;
    let prometheus = Prometheus::new();
    let recorder = recorder(&prometheus, &[("db", &["a", "b"])]);
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let recorder = &recorder;
            scope.spawn(move || {
                for i in 0..EACH {
                    let status = [HEALTHY, DEGRADED, UNHEALTHY][(thread + i) % 3];
                    recorder.record(0, status, status, ms(1), at(i as f64));
                }
            });
        }
    });
    let scrape = parse(&prometheus.encode());
    let set = state_set(&scrape, "healthcheck", "db");
    assert_eq!(
        set.iter().filter(|v| **v == Some(1.0)).count(),
        1,
        "{set:?}"
    );
    assert_eq!(set.iter().flatten().count(), 3, "{set:?}");
    let healthy: Vec<_> = ["a", "b"]
        .iter()
        .map(|group| {
            value(
                &scrape,
                "healthcheck_check_healthy",
                &[("check", "db"), ("group", group)],
            )
        })
        .collect();
    let expected = if set[2] == Some(1.0) { 0.0 } else { 1.0 };
    assert_eq!(healthy, [Some(expected), Some(expected)]);
    let total = runs_total(&scrape, "db");
    assert_eq!(total, (THREADS * EACH) as f64);
    assert_eq!(
        value(
            &scrape,
            "healthcheck_check_duration_seconds_count",
            &[("check", "db")]
        ),
        Some((THREADS * EACH) as f64)
    );
}

#[test]
fn debug_is_short() {
    let prometheus = Prometheus::new();
    let recorder = recorder(&prometheus, &[("db", &[])]);
    recorder.record(0, HEALTHY, HEALTHY, ms(1), at(1.0));
    let debug = format!("{prometheus:?}");
    assert!(
        debug.starts_with("Prometheus { prefix: \"healthcheck\""),
        "{debug}"
    );
    assert!(!debug.contains("db"), "{debug}");
    assert_eq!(format!("{recorder:?}"), "Recorder { checks: 1, .. }");
}

/// Prometheus's own OpenMetrics parser, the one its scrapes use, reads the exposition: through
/// `promtool tsdb create-blocks-from openmetrics` (backfilling wants a timestamp on every sample,
/// so one is added), then `promtool tsdb dump` lists the series it stored, label values
/// unescaped (and quoted as Go does, which for these values is as Rust's `{:?}` does).
#[test]
fn prometheus_itself_reads_the_exposition() {
    let weird = "quote \" backslash \\ newline \n end";
    let prometheus = Prometheus::new().buckets([0.01, 1.0]);
    let recorder = recorder(&prometheus, &[(weird, &["back"]), ("db", &[])]);
    recorder.record(0, DEGRADED, UNHEALTHY, ms(5), at(1_700_000_000.5));
    recorder.record(1, HEALTHY, HEALTHY, ms(50), at(1_700_000_001.0));
    recorder.service(DEGRADED);
    let text = prometheus.encode();
    let series = promtool_series(&text);

    let samples = text.lines().filter(|line| !line.starts_with('#')).count();
    assert_eq!(
        series.len(),
        samples,
        "one stored series per sample: {series:#?}"
    );
    let quoted = format!("{weird:?}");
    let has = |wanted: &str| series.iter().any(|s| s == wanted);
    for wanted in [
        format!("{{__name__=\"healthcheck_check_status\", check={quoted}, status=\"degraded\"}} 1"),
        format!(
            "{{__name__=\"healthcheck_check_runs_total\", check={quoted}, result=\"unhealthy\"}} 1"
        ),
        format!("{{__name__=\"healthcheck_check_healthy\", check={quoted}, group=\"back\"}} 1"),
        // An empty label value is no label, to Prometheus.
        "{__name__=\"healthcheck_check_healthy\", check=\"db\"} 1".to_owned(),
        "{__name__=\"healthcheck_check_duration_seconds_bucket\", check=\"db\", le=\"0.01\"} 0"
            .to_owned(),
        "{__name__=\"healthcheck_check_duration_seconds_bucket\", check=\"db\", le=\"1.0\"} 1"
            .to_owned(),
        "{__name__=\"healthcheck_check_duration_seconds_bucket\", check=\"db\", le=\"+Inf\"} 1"
            .to_owned(),
        "{__name__=\"healthcheck_check_duration_seconds_count\", check=\"db\"} 1".to_owned(),
        "{__name__=\"healthcheck_check_last_run_timestamp_seconds\", check=\"db\"} 1.700000001e+09"
            .to_owned(),
        "{__name__=\"healthcheck_service_healthy\"} 1".to_owned(),
    ] {
        assert!(has(&wanted), "{wanted} not in {series:#?}");
    }
}

/// The series `promtool` stores from `text`, each as `{labels} value` (the timestamp dropped).
fn promtool_series(text: &str) -> Vec<String> {
    static RUN: AtomicUsize = AtomicUsize::new(0);
    match Command::new("promtool").arg("--version").output() {
        Ok(output) if output.status.success() => {}
        other => panic!(
            "`promtool` does not run ({other:?}); `.ci/install-servers` installs Debian's \
             `prometheus` package, which has it"
        ),
    }
    let dir = std::env::temp_dir().join(format!(
        "healthcheck-promtool-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let cleanup = RemoveOnDrop(dir.clone());
    let stamped: String = text
        .lines()
        .map(|line| {
            if line.starts_with('#') {
                format!("{line}\n")
            } else {
                format!("{line} 1700000000\n")
            }
        })
        .collect();
    let input = dir.join("exposition.txt");
    std::fs::write(&input, stamped).expect("the exposition written");
    let blocks = dir.join("blocks");
    let created = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&input)
        .arg(&blocks)
        .output()
        .expect("promtool runs");
    assert!(
        created.status.success(),
        "promtool rejects the exposition: {}\n{}",
        String::from_utf8_lossy(&created.stderr),
        String::from_utf8_lossy(&created.stdout)
    );
    // `dump` opens the directory as a database, which has a write-ahead log.
    std::fs::create_dir_all(blocks.join("wal")).expect("a wal directory");
    let dumped = Command::new("promtool")
        .args(["tsdb", "dump"])
        .arg(&blocks)
        .output()
        .expect("promtool runs");
    assert!(
        dumped.status.success(),
        "promtool tsdb dump: {}",
        String::from_utf8_lossy(&dumped.stderr)
    );
    drop(cleanup);
    String::from_utf8(dumped.stdout)
        .expect("UTF-8")
        .lines()
        .map(|line| {
            line.strip_suffix(" 1700000000000")
                .unwrap_or_else(|| panic!("no timestamp: {line}"))
                .to_owned()
        })
        .collect()
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
