// Every option at once, on each form, sync and async.

use healthcheck::{Component, healthcheck};

#[healthcheck(
    name = "primary database",
    groups = ["back", "storage"],
    timeout = "500ms",
    critical = false,
    probes = ["liveness", "readiness", "startup"],
    failure_threshold = 3,
    success_threshold = 2,
    crate = "::healthcheck",
)]
fn database() -> Result<(), std::io::Error> {
    Ok(())
}

#[healthcheck(
    crate = "healthcheck",
    probes = ["startup"],
    critical = true,
    timeout = "1m 30s",
    groups = ["front"],
    name = "cache",
)]
async fn cache(component: &mut Component) {
    component.set_healthy(true);
}

// Every option may also be given alone, and an empty group list is the same as none.
#[healthcheck(name = "named")]
fn only_name() -> bool {
    true
}

#[healthcheck(groups = [])]
fn no_groups() -> bool {
    true
}

#[healthcheck(timeout = "2s")]
async fn only_timeout() -> bool {
    true
}

#[healthcheck(critical = false)]
fn only_critical() -> bool {
    true
}

#[healthcheck(probes = ["liveness"])]
fn only_probes() -> bool {
    true
}

#[healthcheck(failure_threshold = 5)]
async fn only_failure_threshold() -> bool {
    true
}

#[healthcheck(success_threshold = 1)]
fn only_success_threshold() -> bool {
    true
}

#[healthcheck()]
fn empty_parentheses() -> bool {
    true
}

fn main() {}
