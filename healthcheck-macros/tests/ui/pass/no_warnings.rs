//! The expansion must add no warning, even under strict lints: this file compiles with them
//! denied.

#![deny(unused_qualifications, unused, missing_docs)]
#![deny(warnings, rust_2018_idioms, unreachable_pub, missing_debug_implementations)]
#![forbid(unsafe_code)]

use healthcheck::{Component, Status, healthcheck};

/// A documented public check.
#[healthcheck(name = "public", groups = ["back"], timeout = "1s", critical = false)]
pub fn public_check() -> bool {
    true
}

#[healthcheck(probes = ["liveness", "readiness"])]
fn private_check() -> Result<(), std::io::Error> {
    Ok(())
}

#[healthcheck]
async fn async_check() -> Status {
    Status::Healthy
}

#[healthcheck]
fn fills(component: &mut Component) {
    component.set_healthy(true);
}

#[healthcheck]
async fn async_fills(component: &mut Component) {
    component.set_healthy(true);
}

mod checks {
    use healthcheck::healthcheck;

    #[healthcheck]
    pub(crate) fn in_module() -> Result<serde_json::Value, String> {
        Ok(serde_json::Value::Null)
    }
}

fn main() {}
