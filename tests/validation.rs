//! What `build()` refuses, with errors that say what is wrong and where; the environment
//! variables; the warning when there is nothing to check.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use healthcheck::{Check, Error, HealthChecks, healthcheck};
use support::ran_in_child;

#[healthcheck]
fn registered() -> bool {
    true
}

fn only_runtime() -> healthcheck::HealthChecksBuilder {
    HealthChecks::builder().without_registered_checks()
}

#[test]
fn an_empty_group_name_is_refused() {
    let line = line!() + 2;
    let error = only_runtime()
        .check(Check::new("cache", || async { true }).groups(["back", ""]))
        .build()
        .expect_err("empty group");
    let Error::EmptyGroup { check, location } = &error else {
        panic!("expected EmptyGroup, got {error:?}");
    };
    assert_eq!(check, "cache");
    assert_eq!(location.line(), line);
    assert!(location.file().ends_with("validation.rs"));
    assert!(
        error.to_string().contains("has an empty group name"),
        "{error}"
    );
}

#[test]
fn an_empty_name_is_refused() {
    let error = only_runtime()
        .check(Check::blocking("", || true))
        .build()
        .expect_err("empty name");
    assert!(matches!(error, Error::EmptyName { .. }), "{error:?}");
}

#[test]
fn zero_timeouts_are_refused() {
    let error = only_runtime()
        .check(Check::new("cache", || async { true }).timeout(Duration::ZERO))
        .build()
        .expect_err("zero timeout");
    assert!(
        matches!(error, Error::ZeroTimeout { ref check, .. } if check == "cache"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string().split(" (").next(),
        Some("health check `cache`"),
        "{error}"
    );

    let error = only_runtime()
        .default_timeout(Duration::ZERO)
        .build()
        .expect_err("zero default timeout");
    assert!(matches!(error, Error::ZeroDefaultTimeout), "{error:?}");
}

#[test]
fn the_default_timeout_is_two_seconds() {
    if std::env::var_os(healthcheck::TIMEOUT_ENV).is_some() {
        return; // Set by whoever runs the tests: the subprocess tests below cover it.
    }
    let health = only_runtime().build().expect("valid");
    assert_eq!(health.default_timeout(), Duration::from_secs(2));
}

#[test]
fn a_malformed_timeout_variable_is_an_error_naming_it_and_its_value() {
    if ran_in_child(
        "a_malformed_timeout_variable_is_an_error_naming_it_and_its_value",
        &[("HEALTHCHECK_TIMEOUT", "fast")],
    ) {
        return;
    }
    let error = HealthChecks::builder()
        .build()
        .expect_err("malformed variable");
    let Error::InvalidEnv { name, value, .. } = &error else {
        panic!("expected InvalidEnv, got {error:?}");
    };
    assert_eq!((*name, value.as_str()), ("HEALTHCHECK_TIMEOUT", "fast"));
    let message = error.to_string();
    assert!(
        message
            .starts_with("environment variable HEALTHCHECK_TIMEOUT has an invalid value \"fast\""),
        "{message}"
    );
    assert!(message.contains("such as `500ms`"), "{message}");
}

#[test]
fn the_timeout_variable_sets_the_default_timeout() {
    if ran_in_child(
        "the_timeout_variable_sets_the_default_timeout",
        &[("HEALTHCHECK_TIMEOUT", "250ms")],
    ) {
        return;
    }
    let health = HealthChecks::builder().build().expect("valid");
    assert_eq!(health.default_timeout(), Duration::from_millis(250));
    // The builder overrides the environment.
    let health = HealthChecks::builder()
        .default_timeout(Duration::from_secs(1))
        .build()
        .expect("valid");
    assert_eq!(health.default_timeout(), Duration::from_secs(1));
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn no_checks_at_all_logs_the_linker_pitfall() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let health = tracing::subscriber::with_default(subscriber, || only_runtime().build())
        .expect("no checks is allowed");
    assert_eq!(health.checks().len(), 0);
    let log = String::from_utf8(captured.0.lock().unwrap_or_else(|e| e.into_inner()).clone())
        .expect("UTF-8");
    assert!(log.contains("WARN"), "{log}");
    assert!(log.contains("no health checks are registered"), "{log}");
    assert!(log.contains("use my_checks_crate as _;"), "{log}");

    // With checks, nothing is said.
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || HealthChecks::builder().build())
        .expect("valid");
    assert!(
        captured
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    );
}
