//! The built-in checkers of `healthcheck::checks`, each against the real thing on loopback:
//! servers started by the test set-up, healthy and failing (down, wrong answer, too slow, wrong
//! credentials that must not show).

#[path = "../support/mod.rs"]
mod support;

mod all;
mod disk;
mod dns;
mod etcd;
mod http;
mod memcached;
mod memory;
mod postgres;
mod redis;
mod tcp;

use healthcheck::{Check, ComponentReport, HealthChecks, Report};

/// Builds a `HealthChecks` of `checks` alone (no registered checks, no metrics).
pub fn health_of(checks: impl IntoIterator<Item = Check>) -> HealthChecks {
    checks
        .into_iter()
        .fold(
            HealthChecks::builder().without_registered_checks(),
            |builder, check| builder.check(check),
        )
        .build()
        .expect("the checks build")
}

/// Runs `check` alone and returns its component.
pub async fn run_one(check: impl Into<Check>) -> ComponentReport {
    let check = check.into();
    let name = check.name().to_owned();
    let report: Report = health_of([check]).run().await;
    report.components[&name].clone()
}

/// The message `build()` gives for `check`, which must not build.
pub fn build_error(check: impl Into<Check>) -> String {
    match HealthChecks::builder()
        .without_registered_checks()
        .check(check)
        .build()
    {
        Ok(_) => panic!("the check built"),
        Err(e) => e.to_string(),
    }
}
