//! A process's identity: from the builder, the environment and the machine; malformed values
//! are build errors that name them. Each environment case runs in a child process of its own.

mod support;

use healthcheck::{Error, HealthChecks, MetricsConfig};

fn builder() -> healthcheck::HealthChecksBuilder {
    HealthChecks::builder()
        .without_registered_checks()
        .metrics(MetricsConfig::disabled())
}

#[test]
fn by_default_the_machine_and_the_program_name_it() {
    if support::ran_in_child("by_default_the_machine_and_the_program_name_it", &[]) {
        return;
    }
    let first = builder().build().expect("valid");
    let identity = first.identity();
    let machine = gethostname_via_proc();
    if let Some(machine) = machine {
        assert_eq!(identity.host(), machine);
    }
    assert!(
        identity.service().starts_with("identity"),
        "the test binary's name: {}",
        identity.service()
    );
    assert_eq!(
        identity.instance().len(),
        36,
        "a UUID: {}",
        identity.instance()
    );
    assert!(identity.labels().is_empty());
    // One process, one instance, however many HealthChecks.
    let second = builder().service("other").build().expect("valid");
    assert_eq!(second.identity().instance(), identity.instance());
    assert_eq!(second.identity().service(), "other");
}

/// The machine's host name as Linux tells it, where it does.
fn gethostname_via_proc() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
}

#[test]
fn the_environment_names_it_and_the_builder_wins() {
    if support::ran_in_child(
        "the_environment_names_it_and_the_builder_wins",
        &[
            ("DD_SERVICE", "payments"),
            ("DD_ENV", "prod"),
            ("DD_VERSION", "1.4.2"),
            ("HEALTHCHECK_HOST", "web-7.eu-west-1"),
            ("HEALTHCHECK_INSTANCE", "payments-7f9c"),
        ],
    ) {
        return;
    }
    let health = builder()
        .label("region", "eu-west-1")
        .build()
        .expect("valid");
    let identity = health.identity();
    assert_eq!(identity.service(), "payments");
    assert_eq!(identity.host(), "web-7.eu-west-1");
    assert_eq!(identity.instance(), "payments-7f9c");
    let labels: Vec<(&str, &str)> = identity
        .labels()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            ("env", "prod"),
            ("region", "eu-west-1"),
            ("version", "1.4.2")
        ]
    );

    let mine = builder()
        .service("billing")
        .label("version", "2.0.0")
        .build()
        .expect("valid");
    assert_eq!(mine.identity().service(), "billing");
    assert_eq!(mine.identity().labels()["version"], "2.0.0");
}

#[test]
fn malformed_values_are_errors_naming_them() {
    for (name, value) in [
        ("HEALTHCHECK_HOST", "web\n7"),
        ("HEALTHCHECK_INSTANCE", "a\u{7}b"),
        ("DD_SERVICE", "pay\rments"),
    ] {
        let case = format!("{name}={value:?}");
        if std::env::var("CASE").ok().as_deref() == Some(case.as_str()) {
            let error = builder().build().expect_err("a malformed value");
            assert!(
                matches!(&error, Error::InvalidEnv { name: n, value: v, .. } if *n == name && v == value),
                "{error}"
            );
            assert!(error.to_string().contains("control character"), "{error}");
            return;
        }
        if std::env::var_os(support::CHILD).is_some() {
            continue;
        }
        let output = support::child(
            "malformed_values_are_errors_naming_them",
            &[(name, value), ("CASE", case.as_str())],
        );
        assert!(
            output.status.success(),
            "{case}: {}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
    if std::env::var_os(support::CHILD).is_some() {
        return;
    }
    for (service, label) in [("", "ok"), ("ok", "two\nlines")] {
        let error = builder()
            .service(service)
            .label("zone", label)
            .build()
            .expect_err("a malformed setting");
        assert!(matches!(error, Error::InvalidSetting { .. }), "{error}");
    }
}
